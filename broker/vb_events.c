/*  vb_events — sequencer and replay ring (see vb_events.h). */
#include "vb_events.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vb_journal.h"
#include "vb_log.h"

typedef struct {
    vb_event_t *event;
    char *topic;
} slot_t;

struct _vb_events_t {
    slot_t *slots;
    size_t capacity;
    size_t head;        /* index of the oldest event */
    size_t count;
    uint64_t next_seq;  /* seq the next accepted event gets */
    zhashx_t *wseqs;    /* worker id -> uint64_t * highest accepted wseq */
    vb_journal_t *journal;  /* NULL = memory only */
};

static void
s_free_destructor (void **item)
{
    free (*item);
    *item = NULL;
}

vb_events_t *
vb_events_new (size_t capacity)
{
    if (capacity == 0)
        return NULL;
    vb_events_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc (capacity, sizeof *self->slots);
    self->wseqs = zhashx_new ();
    if (!self->slots || !self->wseqs) {
        free (self->slots);
        zhashx_destroy (&self->wseqs);
        free (self);
        return NULL;
    }
    zhashx_set_destructor (self->wseqs, s_free_destructor);
    self->capacity = capacity;
    self->next_seq = 1;
    return self;
}

static void
s_slot_clear (slot_t *slot)
{
    vb_event_destroy (&slot->event);
    free (slot->topic);
    slot->topic = NULL;
}

void
vb_events_destroy (vb_events_t **self_p)
{
    vb_events_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->capacity; i++)
        s_slot_clear (&self->slots[i]);
    free (self->slots);
    zhashx_destroy (&self->wseqs);
    vb_journal_destroy (&self->journal);
    free (self);
    *self_p = NULL;
}

/*  Put EVENT (stamped) and its TOPIC (both taken) into the ring, dropping the oldest when full. */
static void
s_store (vb_events_t *self, vb_event_t *event, char *topic)
{
    size_t index;
    if (self->count == self->capacity) {
        index = self->head;
        s_slot_clear (&self->slots[index]);
        self->head = (self->head + 1) % self->capacity;
    }
    else {
        index = (self->head + self->count) % self->capacity;
        self->count++;
    }
    self->slots[index].event = event;
    self->slots[index].topic = topic;
}

/*  Raise WORKER's dedupe mark to WSEQ. Returns 0 or -1 on allocation failure. */
static int
s_mark (vb_events_t *self, const char *worker, uint64_t wseq)
{
    uint64_t *last = zhashx_lookup (self->wseqs, worker);
    if (!last) {
        last = malloc (sizeof *last);
        if (!last)
            return -1;
        *last = 0;
        zhashx_insert (self->wseqs, worker, last);
    }
    if (wseq > *last)
        *last = wseq;
    return 0;
}

static void
s_load_event (vb_event_t **event_p, void *arg)
{
    vb_events_t *self = arg;
    vb_event_t *event = *event_p;
    char *topic = vb_event_topic (event);
    if (!topic)
        return;   /* out of memory: the caller destroys the event */
    *event_p = NULL;
    if (event->seq >= self->next_seq)
        self->next_seq = event->seq + 1;
    s_store (self, event, topic);
}

static void
s_load_mark (const char *worker, uint64_t wseq, void *arg)
{
    vb_events_t *self = arg;
    if (s_mark (self, worker, wseq) != 0)
        vb_error_log ("out of memory loading the dedupe mark of worker %s", worker);
}

vb_events_t *
vb_events_open (size_t capacity, const char *state_dir, vb_error_t *err)
{
    vb_events_t *self = vb_events_new (capacity);
    if (!self) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory creating an event ring of %zu",
                      capacity);
        return NULL;
    }
    if (!state_dir)
        return self;
    self->journal = vb_journal_open (state_dir, capacity, s_load_event, s_load_mark, self, err);
    if (!self->journal) {
        vb_events_destroy (&self);
        return NULL;
    }
    uint64_t next = vb_journal_next_seq (self->journal);
    if (next > self->next_seq)
        self->next_seq = next;
    if (self->next_seq > 1)
        vb_info ("event journal loaded: %zu events retained (seq %" PRIu64 "..%" PRIu64 "), "
                 "%zu workers known; seq continues at %" PRIu64, self->count,
                 vb_events_first_seq (self), vb_events_last_seq (self),
                 zhashx_size (self->wseqs), self->next_seq);
    return self;
}

int
vb_events_sync (vb_events_t *self, vb_error_t *err)
{
    return self->journal ? vb_journal_sync (self->journal, err) : 0;
}

/*  Rewrite the journal from the ring and the marks once it holds twice the capacity. */
static void
s_compact (vb_events_t *self)
{
    const vb_event_t **events = malloc ((self->count ? self->count : 1) * sizeof *events);
    if (!events) {
        vb_error_log ("out of memory compacting the event journal; it keeps growing");
        return;
    }
    for (size_t i = 0; i < self->count; i++)
        events[i] = self->slots[(self->head + i) % self->capacity].event;
    vb_error_t err = {0};
    if (vb_journal_compact (self->journal, self->next_seq, self->wseqs,
                            (const vb_event_t *const *) events, self->count, &err) != 0)
        vb_error_log ("%s", err.message);
    free (events);
}

uint64_t
vb_events_last_wseq (vb_events_t *self, const char *worker)
{
    uint64_t *last = worker ? zhashx_lookup (self->wseqs, worker) : NULL;
    return last ? *last : 0;
}

const vb_event_t *
vb_events_append (vb_events_t *self, vb_event_t **event_p, uint64_t *gap_out)
{
    vb_event_t *event = *event_p;
    *event_p = NULL;
    if (gap_out)
        *gap_out = 0;
    if (!event)
        return NULL;
    if (!event->worker || !event->host || !event->driver || !event->domain) {
        vb_event_destroy (&event);
        return NULL;
    }
    uint64_t *last = zhashx_lookup (self->wseqs, event->worker);
    if (last && event->wseq <= *last) {
        vb_event_destroy (&event);
        return NULL;
    }
    char *topic = vb_event_topic (event);
    if (!topic) {
        vb_event_destroy (&event);
        return NULL;
    }
    if (last && gap_out && event->wseq > *last + 1)
        *gap_out = event->wseq - *last - 1;
    if (s_mark (self, event->worker, event->wseq) != 0) {
        free (topic);
        vb_event_destroy (&event);
        return NULL;
    }

    event->seq = self->next_seq++;
    s_store (self, event, topic);
    if (self->journal) {
        /*  Written before the broker acknowledges or publishes it: a kill -9 after this point
         *  loses nothing. A failing disk is logged; the event still goes out. */
        vb_error_t err = {0};
        if (vb_journal_append (self->journal, event, &err) != 0)
            vb_error_log ("event %" PRIu64 " is published but not journaled: %s", event->seq,
                          err.message);
        else if (vb_journal_wants_compaction (self->journal))
            s_compact (self);
    }
    return event;
}

uint64_t
vb_events_first_seq (const vb_events_t *self)
{
    return self->count ? self->slots[self->head].event->seq : 0;
}

uint64_t
vb_events_last_seq (const vb_events_t *self)
{
    return self->count ? self->next_seq - 1 : 0;
}

json_object *
vb_events_replay (vb_events_t *self, uint64_t since, const char *prefix, size_t limit)
{
    if (limit == 0)
        limit = VB_EVENTS_REPLAY_DEFAULT_LIMIT;
    if (limit > VB_EVENTS_REPLAY_MAX_LIMIT)
        limit = VB_EVENTS_REPLAY_MAX_LIMIT;
    size_t prefix_len = prefix ? strlen (prefix) : 0;
    json_object *result = json_object_new_object ();
    json_object *events = json_object_new_array ();
    if (!result || !events) {
        json_object_put (result);
        json_object_put (events);
        return NULL;
    }
    uint64_t first = vb_events_first_seq (self);
    /*  Seqs in the ring are consecutive, so the first event after SINCE is found by offset. */
    size_t skip = 0;
    if (self->count && since >= first)
        skip = since - first + 1 < self->count ? (size_t) (since - first + 1) : self->count;
    size_t added = 0;
    for (size_t i = skip; i < self->count && added < limit; i++) {
        slot_t *slot = &self->slots[(self->head + i) % self->capacity];
        if (prefix_len && strncmp (slot->topic, prefix, prefix_len) != 0)
            continue;
        json_object *item = vb_event_to_json (slot->event);
        if (!item)
            continue;
        json_object_array_add (events, item);
        added++;
    }
    json_object_object_add (result, "events", events);
    json_object_object_add (result, "first_seq", json_object_new_uint64 (first));
    json_object_object_add (result, "last_seq",
                            json_object_new_uint64 (vb_events_last_seq (self)));
    return result;
}
