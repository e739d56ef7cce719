/*  vb_event_journal — a worker's events on disk until the broker acknowledges them.
 *
 *  The worker core numbers its events (wseq) and must lose none across kill -9: each event is
 *  appended here before it is sent, made durable (fdatasync) before it leaves the process, and
 *  trimmed once EVENT_ACK covers it. The file (<driver state dir>/events-<worker id>.journal) is a
 *  vb_recfile of JSON records:
 *
 *      {"t":"event","wseq":N,"body":{...EVENT body...}}   an event, in wseq order
 *      {"t":"ack","wseq":N}                               everything up to N is with the broker
 *      {"t":"high","wseq":N}                              the highest wseq ever used (compaction)
 *
 *  Appends are buffered in memory and written with one write + fdatasync by
 *  vb_event_journal_sync(), which the core calls once per batch of events, before sending them.
 *  Ack records are written with the next sync (losing one only means a resend, which the broker
 *  drops as a duplicate). When the acknowledged records outnumber the live ones (and there are
 *  at least VB_EVENT_JOURNAL_COMPACT_MIN), the file is rewritten atomically as one "high" record
 *  plus the unacknowledged events. The high-water mark survives compaction, so wseq continues
 *  after a restart even when everything had been acknowledged.
 *
 *  Opening loads the unacknowledged events (vb_event_journal_take_loaded) and the high-water
 *  mark. A torn or corrupt tail (a kill -9 in the middle of a write) is cut off with a warning;
 *  what was before it is kept.
 */
#ifndef VB_EVENT_JOURNAL_H
#define VB_EVENT_JOURNAL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"

#define VB_EVENT_JOURNAL_MAGIC "VBWEJ1\n"   /* 7 chars + NUL = the 8-byte file header */
#define VB_EVENT_JOURNAL_COMPACT_MIN 1024

typedef struct _vb_event_journal_t vb_event_journal_t;

/*  Open or create the journal at PATH and load it. NULL with ERR (INTERNAL: the file cannot be
 *  read or written; INVALID_ARG: PATH is some other file, which is left alone). */
vb_event_journal_t *vb_event_journal_open (const char *path, vb_error_t *err);

/*  Write what is buffered (without waiting for the disk), close, free, null *SELF_P. */
void vb_event_journal_destroy (vb_event_journal_t **self_p);

/*  The journal file name for worker ID in directory DIR: "<DIR>/events-<ID>.journal", with every
 *  byte of ID outside [A-Za-z0-9_.+-] replaced by '_' and, when one was, the id's hash appended
 *  so that two ids never share a file. Caller frees; NULL on allocation failure. */
char *vb_event_journal_path (const char *dir, const char *id);

/*  The highest wseq ever appended (0 for a new journal): the next event gets this + 1. */
uint64_t vb_event_journal_high_wseq (const vb_event_journal_t *self);

/*  Events not acknowledged, in the file and in the buffer. */
size_t vb_event_journal_live (const vb_event_journal_t *self);

/*  The unacknowledged events found when the journal was opened, oldest first, as an array of
 *  EVENT bodies (each with its "wseq"). Caller owns; later calls return an empty array. NULL on
 *  allocation failure. */
json_object *vb_event_journal_take_loaded (vb_event_journal_t *self);

/*  Buffer event BODY (borrowed; serialised now) numbered WSEQ, which must be above the high-water
 *  mark. Returns 0, or -1 with ERR (INVALID_ARG for a wseq that does not increase, INTERNAL when
 *  out of memory). Nothing reaches the disk before vb_event_journal_sync(). */
int vb_event_journal_append (vb_event_journal_t *self, uint64_t wseq, json_object *body,
                             vb_error_t *err);

/*  Is anything buffered that is not on disk yet? */
bool vb_event_journal_dirty (const vb_event_journal_t *self);

/*  Write the buffer to the file without waiting for the disk. What is written survives a kill -9
 *  of the process (it is in the kernel's page cache); only vb_event_journal_sync() makes it
 *  survive a power loss. Returns 0 (also when nothing was buffered), or -1 with ERR (INTERNAL
 *  naming the file and errno); the buffer is kept for the next try. */
int vb_event_journal_write (vb_event_journal_t *self, vb_error_t *err);

/*  Write the buffer and fdatasync the file (when anything was written since the last sync).
 *  Returns 0, or -1 with ERR (INTERNAL naming the file and errno). */
int vb_event_journal_sync (vb_event_journal_t *self, vb_error_t *err);

/*  Has anything been written since the last fdatasync? */
bool vb_event_journal_unsynced (const vb_event_journal_t *self);

/*  Everything up to WSEQ is acknowledged: drop it and buffer an ack record; compact when the
 *  acknowledged part has grown large. Returns 0, or -1 with ERR when a compaction failed (the
 *  journal stays usable; the old file is intact). */
int vb_event_journal_ack (vb_event_journal_t *self, uint64_t wseq, vb_error_t *err);

/*  Rewrite the file as the high-water mark plus the unacknowledged events (atomic). Returns 0 or
 *  -1 with ERR. */
int vb_event_journal_compact (vb_event_journal_t *self, vb_error_t *err);

#endif
