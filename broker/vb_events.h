/*  vb_events — the broker's event sequencer and in-memory replay ring.
 *
 *  Every event a worker sends carries the worker's own sequence number (wseq). Workers resend
 *  unacknowledged events after reconnecting, so the same event can arrive twice: the sequencer
 *  remembers the highest wseq seen per worker id and refuses anything at or below it. An accepted
 *  event gets the next broker-global seq (1, 2, 3, ...) and goes into a ring of fixed capacity;
 *  when the ring is full the oldest event is dropped. events.replay reads the ring: events after
 *  a given seq, optionally only those whose topic ("host/driver/domain") starts with a prefix.
 *  No sockets here; the broker publishes what append() returns.
 */
#ifndef VB_EVENTS_H
#define VB_EVENTS_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"
#include "vb_proto.h"

#define VB_EVENTS_DEFAULT_CAPACITY 100000
#define VB_EVENTS_REPLAY_DEFAULT_LIMIT 1000
#define VB_EVENTS_REPLAY_MAX_LIMIT 10000

typedef struct _vb_events_t vb_events_t;

/*  A ring holding CAPACITY events (>= 1), in memory only. NULL on allocation failure. */
vb_events_t *vb_events_new (size_t capacity);

/*  The same ring kept on disk in STATE_DIR (vb_journal, <STATE_DIR>/events.journal): the events
 *  and per-worker dedupe marks of earlier runs are loaded (the newest CAPACITY events stay in the
 *  ring), seq continues after the highest ever stamped, and append() writes every accepted event
 *  to the journal before it returns it. STATE_DIR NULL = vb_events_new(). NULL with ERR when the
 *  journal cannot be opened or read. */
vb_events_t *vb_events_open (size_t capacity, const char *state_dir, vb_error_t *err);

/*  Make what append() wrote durable (one fdatasync), called once per batch of worker messages.
 *  A no-op without a journal or when nothing was written. Returns 0, or -1 with ERR. */
int vb_events_sync (vb_events_t *self, vb_error_t *err);
void vb_events_destroy (vb_events_t **self_p);

/*  Offer the event *EVENT_P (taken; *EVENT_P is set to NULL). Its worker, host, driver and
 *  domain must be set. A duplicate (wseq not above the highest seen from that worker) is
 *  destroyed and NULL returned. Otherwise the event is stamped with the next seq, stored, and
 *  returned (borrowed, valid until it falls out of the ring). NULL also on allocation failure.
 *  *GAP_OUT (may be NULL) gets how many wseq numbers were skipped before this event (0 when none
 *  or when the worker is new to this broker). */
const vb_event_t *vb_events_append (vb_events_t *self, vb_event_t **event_p, uint64_t *gap_out);

/*  The highest wseq accepted from WORKER (0 = none). */
uint64_t vb_events_last_wseq (vb_events_t *self, const char *worker);

/*  Seq of the oldest and the newest event held (both 0 when empty). */
uint64_t vb_events_first_seq (const vb_events_t *self);
uint64_t vb_events_last_seq (const vb_events_t *self);

/*  The events.replay result: {"events": [event, ...], "first_seq", "last_seq"}, with up to
 *  LIMIT (0 = default, capped at VB_EVENTS_REPLAY_MAX_LIMIT) events whose seq > SINCE and whose
 *  topic starts with PREFIX (NULL or "" = all), oldest first. NULL on allocation failure. */
json_object *vb_events_replay (vb_events_t *self, uint64_t since, const char *prefix,
                               size_t limit);

#endif
