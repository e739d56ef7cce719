/*  vb_events — sequencer and replay ring (see vb_events.h). */
#include "vb_events.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

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
    free (self);
    *self_p = NULL;
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
    if (!last) {
        last = malloc (sizeof *last);
        if (!last) {
            free (topic);
            vb_event_destroy (&event);
            return NULL;
        }
        *last = 0;
        zhashx_insert (self->wseqs, event->worker, last);
    }
    else if (gap_out && event->wseq > *last + 1)
        *gap_out = event->wseq - *last - 1;
    *last = event->wseq;

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
    event->seq = self->next_seq++;
    self->slots[index].event = event;
    self->slots[index].topic = topic;
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
