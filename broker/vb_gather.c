/*  vb_gather — merge fan-out shares into one reply (see vb_gather.h). */
#include "vb_gather.h"

#include <czmq.h>
#include <stdlib.h>
#include <string.h>

typedef enum { SHARE_PENDING = 0, SHARE_OK, SHARE_FAILED } share_state_t;

typedef struct {
    char *worker;
    char *host;
    char *driver;
    share_state_t state;
    json_object *items;        /* array the share contributed, owned; NULL until ok */
    vb_error_code_t code;      /* when failed */
    char *message;             /* when failed */
    vb_partial_t *partial;     /* partial entries the worker reported, owned copies */
    size_t partial_count;
} share_t;

struct _vb_gather_t {
    uint64_t client_id;
    share_t *shares;
    size_t count;
    size_t pending;
};

static void
s_partials_free (vb_partial_t *partial, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free (partial[i].host);
        free (partial[i].driver);
        free (partial[i].worker);
        free (partial[i].message);
    }
    free (partial);
}

vb_gather_t *
vb_gather_new (uint64_t client_id, size_t shares)
{
    vb_gather_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->shares = calloc (shares ? shares : 1, sizeof *self->shares);
    if (!self->shares) {
        free (self);
        return NULL;
    }
    self->client_id = client_id;
    self->count = shares;
    self->pending = shares;
    return self;
}

void
vb_gather_destroy (vb_gather_t **self_p)
{
    vb_gather_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->count; i++) {
        share_t *share = &self->shares[i];
        free (share->worker);
        free (share->host);
        free (share->driver);
        free (share->message);
        json_object_put (share->items);
        s_partials_free (share->partial, share->partial_count);
    }
    free (self->shares);
    free (self);
    *self_p = NULL;
}

int
vb_gather_set_share (vb_gather_t *self, size_t index, const char *worker, const char *host,
                     const char *driver)
{
    if (index >= self->count)
        return -1;
    share_t *share = &self->shares[index];
    free (share->worker);
    free (share->host);
    free (share->driver);
    share->worker = strdup (worker ? worker : "");
    share->host = strdup (host ? host : "");
    share->driver = strdup (driver ? driver : "");
    return share->worker && share->host && share->driver ? 0 : -1;
}

static share_t *
s_settle (vb_gather_t *self, size_t index)
{
    if (index >= self->count || self->shares[index].state != SHARE_PENDING)
        return NULL;
    self->pending--;
    return &self->shares[index];
}

int
vb_gather_fail (vb_gather_t *self, size_t index, vb_error_code_t code, const char *message)
{
    share_t *share = s_settle (self, index);
    if (!share)
        return -1;
    share->state = SHARE_FAILED;
    share->code = code;
    share->message = strdup (message ? message : "");
    return 0;
}

int
vb_gather_reply (vb_gather_t *self, size_t index, const vb_reply_t *reply)
{
    if (index >= self->count || self->shares[index].state != SHARE_PENDING)
        return -1;
    if (!reply->ok)
        return vb_gather_fail (self, index, reply->code, reply->message);
    if (!json_object_is_type (reply->result, json_type_array)) {
        char message[256];
        snprintf (message, sizeof message, "worker %s answered with a result that is not a "
                  "list", self->shares[index].worker);
        return vb_gather_fail (self, index, VB_ERR_PROTOCOL, message);
    }
    share_t *share = s_settle (self, index);
    share->state = SHARE_OK;
    share->items = json_object_get (reply->result);
    if (reply->partial_count > 0) {
        share->partial = calloc (reply->partial_count, sizeof *share->partial);
        if (share->partial) {
            for (size_t i = 0; i < reply->partial_count; i++) {
                const vb_partial_t *src = &reply->partial[i];
                vb_partial_t *dst = &share->partial[i];
                dst->host = strdup (src->host ? src->host : share->host);
                dst->driver = strdup (src->driver ? src->driver : share->driver);
                dst->worker = strdup (src->worker ? src->worker : share->worker);
                dst->code = src->code;
                dst->message = strdup (src->message ? src->message : "");
            }
            share->partial_count = reply->partial_count;
        }
    }
    return 0;
}

size_t
vb_gather_pending (const vb_gather_t *self)
{
    return self->pending;
}

bool
vb_gather_share_pending (const vb_gather_t *self, size_t index)
{
    return index < self->count && self->shares[index].state == SHARE_PENDING;
}

vb_reply_t *
vb_gather_finish (vb_gather_t *self, uint32_t deadline_ms)
{
    json_object *merged = json_object_new_array ();
    if (!merged)
        return NULL;
    for (size_t i = 0; i < self->count; i++) {
        share_t *share = &self->shares[i];
        if (share->state != SHARE_OK)
            continue;
        size_t n = json_object_array_length (share->items);
        for (size_t j = 0; j < n; j++)
            json_object_array_add (merged,
                                   json_object_get (json_object_array_get_idx (share->items, j)));
    }
    vb_reply_t *reply = vb_reply_new_ok (self->client_id, merged);
    if (!reply)
        return NULL;
    for (size_t i = 0; i < self->count; i++) {
        share_t *share = &self->shares[i];
        int rc = 0;
        if (share->state == SHARE_PENDING) {
            char message[256];
            snprintf (message, sizeof message, "worker %s on host %s did not answer within %u ms",
                      share->worker, share->host, deadline_ms);
            rc = vb_reply_add_partial (reply, share->host, share->driver, share->worker,
                                       VB_ERR_TIMEOUT, message);
        }
        else if (share->state == SHARE_FAILED)
            rc = vb_reply_add_partial (reply, share->host, share->driver, share->worker,
                                       share->code, share->message ? share->message : "");
        for (size_t j = 0; rc == 0 && j < share->partial_count; j++) {
            const vb_partial_t *p = &share->partial[j];
            rc = vb_reply_add_partial (reply, p->host, p->driver, p->worker, p->code,
                                       p->message);
        }
        if (rc != 0) {
            vb_reply_destroy (&reply);
            return NULL;
        }
    }
    return reply;
}
