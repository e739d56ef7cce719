/*  vb_journal — the broker's event ring on disk, so seq and replay survive a restart.
 *
 *  One file, <state dir>/events.journal, a vb_recfile of JSON records:
 *
 *      {"t":"event","event":{...published event, seq and wseq included...}}
 *      {"t":"marks","next_seq":N,"wseq":{"<worker id>":W,...}}   written by compaction
 *
 *  Loading replays the file: every event (oldest first) and the per-worker dedupe high-water
 *  marks, which are the "marks" record merged with the highest wseq of each worker's events; the
 *  next seq is one above the highest seq seen (or the marks' next_seq). A torn tail is cut off
 *  with a warning.
 *
 *  Durability: vb_journal_append() writes each event with write(2) at once, before the broker
 *  acknowledges or publishes it, so a kill -9 of the broker loses nothing it acknowledged.
 *  vb_journal_sync() (fdatasync) runs once per batch of worker messages, so a power loss can lose
 *  at most the events of the last batch (acknowledged a few hundred microseconds earlier).
 *
 *  Bounded: when the file holds more than twice the ring's capacity (and at least
 *  VB_JOURNAL_COMPACT_MIN records), the owner rewrites it atomically from the ring with
 *  vb_journal_compact(): one marks record plus the retained events.
 */
#ifndef VB_JOURNAL_H
#define VB_JOURNAL_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"
#include "vb_proto.h"

#define VB_JOURNAL_MAGIC "VBBEJ1\n"   /* 7 chars + NUL = the 8-byte file header */
#define VB_JOURNAL_FILE "events.journal"
#define VB_JOURNAL_COMPACT_MIN 1024

typedef struct _vb_journal_t vb_journal_t;

/*  What loading found, handed over in file order. ON_EVENT takes the event (sets *EVENT_P to
 *  NULL or leaves it to be destroyed). ON_MARK gets each worker's dedupe high-water mark once,
 *  after all events. */
typedef void (*vb_journal_event_fn) (vb_event_t **event_p, void *arg);
typedef void (*vb_journal_mark_fn) (const char *worker, uint64_t wseq, void *arg);

/*  Open or create DIR/events.journal and load it through the callbacks (either may be NULL).
 *  CAPACITY is the ring's, for the compaction threshold. NULL with ERR (INTERNAL naming the file
 *  and errno; INVALID_ARG when the file is not an event journal, which is left untouched). */
vb_journal_t *vb_journal_open (const char *dir, size_t capacity, vb_journal_event_fn on_event,
                               vb_journal_mark_fn on_mark, void *arg, vb_error_t *err);

/*  Close (without syncing), free and null *SELF_P. */
void vb_journal_destroy (vb_journal_t **self_p);

/*  One above the highest seq in the file or its marks (1 for a new journal). */
uint64_t vb_journal_next_seq (const vb_journal_t *self);

/*  Write EVENT (borrowed; its seq stamped). Returns 0, or -1 with ERR. */
int vb_journal_append (vb_journal_t *self, const vb_event_t *event, vb_error_t *err);

/*  fdatasync when anything was written since the last sync. Returns 0 or -1 with ERR. */
int vb_journal_sync (vb_journal_t *self, vb_error_t *err);

/*  Has the file grown past twice the capacity? */
bool vb_journal_wants_compaction (const vb_journal_t *self);

/*  Replace the file atomically with a marks record (NEXT_SEQ and MARKS: worker id -> uint64_t *
 *  wseq, borrowed) plus EVENTS[0..COUNT) (borrowed, oldest first). Returns 0, or -1 with ERR;
 *  the old file is intact then and appends go on. */
int vb_journal_compact (vb_journal_t *self, uint64_t next_seq, zhashx_t *marks,
                        const vb_event_t *const *events, size_t count, vb_error_t *err);

/*  Records in the file (for tests and the compaction threshold). */
size_t vb_journal_records (const vb_journal_t *self);

#endif
