/*  vb_journal — the broker's on-disk event journal (see vb_journal.h). */
#include "vb_journal.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vb_json.h"
#include "vb_log.h"
#include "vb_recfile.h"

struct _vb_journal_t {
    char *path;
    int fd;
    size_t capacity;
    size_t records;        /* records in the file */
    uint64_t next_seq;
    bool dirty;            /* written since the last fdatasync */
    uint64_t last_loaded;  /* seq of the last event loaded; they must increase */
    /*  Only while loading: */
    zhashx_t *marks;       /* worker id -> uint64_t * */
    vb_journal_event_fn on_event;
    void *arg;
};

static void
s_free_destructor (void **item)
{
    free (*item);
    *item = NULL;
}

static int
s_mark (zhashx_t *marks, const char *worker, uint64_t wseq)
{
    uint64_t *last = (uint64_t *) zhashx_lookup (marks, worker);
    if (!last) {
        last = malloc (sizeof *last);
        if (!last)
            return -1;
        *last = 0;
        if (zhashx_insert (marks, worker, last) != 0) {
            free (last);
            return -1;
        }
    }
    if (wseq > *last)
        *last = wseq;
    return 0;
}

/*  The event as it was journaled. Not vb_event_from_json(): the journal must give back exactly
 *  what the broker published, even an event the strict wire check would refuse (an empty event
 *  name from a confused worker), or one bad event would end the good part of the file. NULL when
 *  OBJ is not an object or memory runs out. */
static vb_event_t *
s_event_from_record (json_object *obj)
{
    if (!json_object_is_type (obj, json_type_object))
        return NULL;
    vb_event_t *event = vb_event_new ();
    if (!event)
        return NULL;
    event->seq = vb_json_uint (obj, "seq", 0);
    event->wseq = vb_json_uint (obj, "wseq", 0);
    event->time_ns = vb_json_uint (obj, "time_ns", 0);
    event->worker = strdup (vb_json_str (obj, "worker", ""));
    event->host = strdup (vb_json_str (obj, "host", ""));
    event->driver = strdup (vb_json_str (obj, "driver", ""));
    event->domain = strdup (vb_json_str (obj, "domain", ""));
    event->uuid = strdup (vb_json_str (obj, "uuid", ""));
    event->kind = strdup (vb_json_str (obj, "kind", ""));
    event->event = strdup (vb_json_str (obj, "event", ""));
    event->detail = strdup (vb_json_str (obj, "detail", ""));
    json_object *extra = NULL;
    if (json_object_object_get_ex (obj, "extra", &extra)
        && json_object_is_type (extra, json_type_object))
        event->extra = json_object_get (extra);
    if (!event->worker || !event->host || !event->driver || !event->domain || !event->uuid
        || !event->kind || !event->event || !event->detail || event->seq == 0)
        vb_event_destroy (&event);
    return event;
}

/*  A record that frames correctly but is not ours (bad JSON, an unknown type, a seq that does not
 *  increase) ends the good part of the file, like a checksum failure. */
static int
s_load_record (const char *payload, size_t len, void *arg)
{
    vb_journal_t *self = (vb_journal_t *) arg;
    int rc = -1;
    vb_event_t *event = NULL;
    json_tokener *tok = json_tokener_new ();
    json_object *rec = tok? json_tokener_parse_ex (tok, payload, (int) len): NULL;
    if (!rec || !json_object_is_type (rec, json_type_object))
        goto done;
    const char *type = vb_json_str (rec, "t", "");
    if (streq (type, "event")) {
        json_object *obj = NULL;
        if (!json_object_object_get_ex (rec, "event", &obj)
            || !(event = s_event_from_record (obj)) || !*event->worker
            || event->seq <= self->last_loaded || s_mark (self->marks, event->worker, event->wseq))
            goto done;
        self->last_loaded = event->seq;
        if (event->seq >= self->next_seq)
            self->next_seq = event->seq + 1;
        if (self->on_event)
            self->on_event (&event, self->arg);
    }
    else if (streq (type, "marks")) {
        json_object *wseqs = NULL;
        if (!json_object_object_get_ex (rec, "wseq", &wseqs)
            || !json_object_is_type (wseqs, json_type_object))
            goto done;
        json_object_object_foreach (wseqs, worker, value) {
            if (!json_object_is_type (value, json_type_int)
                || s_mark (self->marks, worker, json_object_get_uint64 (value)) != 0)
                goto done;
        }
        uint64_t next = vb_json_uint (rec, "next_seq", 1);
        if (next > self->next_seq)
            self->next_seq = next;
    }
    else
        goto done;
    self->records++;
    rc = 0;
done:
    vb_event_destroy (&event);
    json_object_put (rec);
    if (tok)
        json_tokener_free (tok);
    return rc;
}

vb_journal_t *
vb_journal_open (const char *dir, size_t capacity, vb_journal_event_fn on_event,
                 vb_journal_mark_fn on_mark, void *arg, vb_error_t *err)
{
    vb_journal_t *self = calloc (1, sizeof *self);
    if (!self || asprintf (&self->path, "%s/%s", dir, VB_JOURNAL_FILE) < 0) {
        if (self)
            self->path = NULL;
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory opening the event journal in %s", dir);
        goto fail;
    }
    self->fd = -1;
    self->capacity = capacity? capacity: 1;
    self->next_seq = 1;
    self->marks = zhashx_new ();
    if (!self->marks) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory opening event journal %s",
                      self->path);
        goto fail;
    }
    zhashx_set_destructor (self->marks, s_free_destructor);
    self->on_event = on_event;
    self->arg = arg;
    size_t dropped = 0;
    self->fd = vb_recfile_open (self->path, VB_JOURNAL_MAGIC, s_load_record, self, &dropped, err);
    if (self->fd < 0)
        goto fail;
    if (dropped)
        vb_warn ("event journal %s: dropped a damaged tail of %zu bytes (an interrupted write); "
                 "seq continues at %" PRIu64, self->path, dropped, self->next_seq);
    if (on_mark)
        for (uint64_t *w = (uint64_t *) zhashx_first (self->marks); w;
             w = (uint64_t *) zhashx_next (self->marks))
            on_mark ((const char *) zhashx_cursor (self->marks), *w, arg);
    zhashx_destroy (&self->marks);
    self->on_event = NULL;
    self->arg = NULL;
    return self;

fail:
    vb_journal_destroy (&self);
    return NULL;
}

void
vb_journal_destroy (vb_journal_t **self_p)
{
    vb_journal_t *self = *self_p;
    if (!self)
        return;
    if (self->fd >= 0)
        close (self->fd);
    zhashx_destroy (&self->marks);
    free (self->path);
    free (self);
    *self_p = NULL;
}

uint64_t
vb_journal_next_seq (const vb_journal_t *self)
{
    return self->next_seq;
}

size_t
vb_journal_records (const vb_journal_t *self)
{
    return self->records;
}

/*  Frame the event record of EVENT into BUF. */
static int
s_frame_event (vb_recbuf_t *buf, const vb_event_t *event)
{
    int rc = -1;
    json_object *rec = json_object_new_object ();
    json_object *obj = vb_event_to_json (event);
    if (!rec || !obj) {
        json_object_put (obj);
        goto done;
    }
    json_object_object_add (rec, "t", json_object_new_string ("event"));
    json_object_object_add (rec, "event", obj);
    size_t len = 0;
    const char *text = json_object_to_json_string_length (rec, JSON_C_TO_STRING_PLAIN, &len);
    if (text && vb_recbuf_add_record (buf, text, len) == 0)
        rc = 0;
done:
    json_object_put (rec);
    return rc;
}

int
vb_journal_append (vb_journal_t *self, const vb_event_t *event, vb_error_t *err)
{
    vb_recbuf_t buf = { 0 };
    int rc = -1;
    if (s_frame_event (&buf, event) != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory journaling event %" PRIu64,
                      event->seq);
        goto done;
    }
    if (vb_recfile_write (self->fd, self->path, &buf, err) != 0)
        goto done;
    self->records++;
    self->dirty = true;
    if (event->seq >= self->next_seq)
        self->next_seq = event->seq + 1;
    rc = 0;
done:
    vb_recbuf_clear (&buf);
    return rc;
}

int
vb_journal_sync (vb_journal_t *self, vb_error_t *err)
{
    if (!self->dirty)
        return 0;
    if (vb_recfile_sync (self->fd, self->path, err) != 0)
        return -1;
    self->dirty = false;
    return 0;
}

bool
vb_journal_wants_compaction (const vb_journal_t *self)
{
    return self->records >= VB_JOURNAL_COMPACT_MIN && self->records > 2 * self->capacity;
}

int
vb_journal_compact (vb_journal_t *self, uint64_t next_seq, zhashx_t *marks,
                    const vb_event_t *const *events, size_t count, vb_error_t *err)
{
    vb_recbuf_t body = { 0 };
    int rc = -1;
    json_object *rec = json_object_new_object ();
    json_object *wseqs = json_object_new_object ();
    if (!rec || !wseqs) {
        json_object_put (wseqs);
        goto oom;
    }
    json_object_object_add (rec, "t", json_object_new_string ("marks"));
    json_object_object_add (rec, "next_seq", json_object_new_uint64 (next_seq));
    json_object_object_add (rec, "wseq", wseqs);
    if (marks)
        for (uint64_t *w = (uint64_t *) zhashx_first (marks); w;
             w = (uint64_t *) zhashx_next (marks))
            json_object_object_add (wseqs, (const char *) zhashx_cursor (marks),
                                    json_object_new_uint64 (*w));
    size_t len = 0;
    const char *text = json_object_to_json_string_length (rec, JSON_C_TO_STRING_PLAIN, &len);
    if (!text || vb_recbuf_add_record (&body, text, len) != 0)
        goto oom;
    for (size_t i = 0; i < count; i++)
        if (s_frame_event (&body, events[i]) != 0)
            goto oom;
    int fd = vb_recfile_rewrite (self->path, VB_JOURNAL_MAGIC, &body, err);
    if (fd < 0)
        goto done;
    close (self->fd);
    self->fd = fd;
    self->records = count + 1;
    self->dirty = false;   /* the rewrite synced the new file */
    if (next_seq > self->next_seq)
        self->next_seq = next_seq;
    rc = 0;
    goto done;
oom:
    vb_error_set (err, VB_ERR_INTERNAL, "out of memory compacting event journal %s", self->path);
done:
    json_object_put (rec);
    vb_recbuf_clear (&body);
    return rc;
}
