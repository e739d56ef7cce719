/*  vb_event_journal — the worker's event journal (see vb_event_journal.h). */
#include "vb_event_journal.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vb_json.h"
#include "vb_log.h"
#include "vb_recfile.h"
#include "vb_util.h"

/*  An unacknowledged event: its record exactly as written, for compaction. */
typedef struct {
    uint64_t wseq;
    char *record;
    size_t len;
} s_live_t;

struct _vb_event_journal_t {
    char *path;
    int fd;
    uint64_t high;          /* highest wseq ever appended */
    zlistx_t *live;         /* s_live_t *, ascending wseq */
    size_t dead;            /* records in the file or buffer that compaction would drop */
    vb_recbuf_t buf;        /* framed records not written yet */
    bool unsynced;          /* written since the last fdatasync */
    json_object *loaded;    /* bodies found at open, until taken */
};

static void
s_live_destroy (void **item)
{
    s_live_t *live = (s_live_t *) *item;
    if (live) {
        free (live->record);
        free (live);
        *item = NULL;
    }
}

static int
s_live_add (vb_event_journal_t *self, uint64_t wseq, const char *record, size_t len)
{
    s_live_t *live = calloc (1, sizeof *live);
    if (!live)
        return -1;
    live->wseq = wseq;
    /*  NUL-terminated so that it can be parsed again as text. */
    live->record = malloc (len + 1);
    if (!live->record || !zlistx_add_end (self->live, live)) {
        free (live->record);
        free (live);
        return -1;
    }
    memcpy (live->record, record, len);
    live->record[len] = '\0';
    live->len = len;
    return 0;
}

/*  Drop live events up to WSEQ; returns how many. */
static size_t
s_live_drop (vb_event_journal_t *self, uint64_t wseq)
{
    size_t dropped = 0;
    s_live_t *live = (s_live_t *) zlistx_first (self->live);
    while (live && live->wseq <= wseq) {
        zlistx_delete (self->live, zlistx_cursor (self->live));
        dropped++;
        live = (s_live_t *) zlistx_first (self->live);
    }
    return dropped;
}

/*  One record of the file at open. A record that is valid framing but not ours (bad JSON, unknown
 *  type, a wseq going backwards) ends the good part of the file, like a checksum failure. */
static int
s_load_record (const char *payload, size_t len, void *arg)
{
    vb_event_journal_t *self = (vb_event_journal_t *) arg;
    int rc = -1;
    json_tokener *tok = json_tokener_new ();
    json_object *rec = tok? json_tokener_parse_ex (tok, payload, (int) len): NULL;
    if (!rec || !json_object_is_type (rec, json_type_object))
        goto done;
    const char *type = vb_json_str (rec, "t", "");
    uint64_t wseq = vb_json_uint (rec, "wseq", 0);
    if (streq (type, "event")) {
        json_object *body = NULL;
        if (wseq <= self->high || !json_object_object_get_ex (rec, "body", &body)
            || !json_object_is_type (body, json_type_object)
            || s_live_add (self, wseq, payload, len) != 0)
            goto done;
        self->high = wseq;
    }
    else if (streq (type, "ack")) {
        self->dead += s_live_drop (self, wseq) + 1;
        if (wseq > self->high)
            self->high = wseq;
    }
    else if (streq (type, "high")) {
        self->dead++;
        if (wseq > self->high)
            self->high = wseq;
    }
    else
        goto done;
    rc = 0;
done:
    json_object_put (rec);
    if (tok)
        json_tokener_free (tok);
    return rc;
}

char *
vb_event_journal_path (const char *dir, const char *id)
{
    char *safe = strdup (id);
    if (!safe)
        return NULL;
    bool changed = false;
    for (char *p = safe; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')
              || *p == '_' || *p == '.' || *p == '+' || *p == '-')) {
            *p = '_';
            changed = true;
        }
    char *path = NULL;
    int n = changed? asprintf (&path, "%s/events-%s-%016" PRIx64 ".journal", dir, safe,
                               vb_hash64 (id, strlen (id)))
                   : asprintf (&path, "%s/events-%s.journal", dir, safe);
    free (safe);
    return n < 0? NULL: path;
}

vb_event_journal_t *
vb_event_journal_open (const char *path, vb_error_t *err)
{
    vb_event_journal_t *self = calloc (1, sizeof *self);
    if (!self) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory opening event journal %s", path);
        return NULL;
    }
    self->fd = -1;
    self->path = strdup (path);
    self->live = zlistx_new ();
    self->loaded = json_object_new_array ();
    if (!self->path || !self->live || !self->loaded) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory opening event journal %s", path);
        goto fail;
    }
    zlistx_set_destructor (self->live, s_live_destroy);

    size_t dropped = 0;
    self->fd = vb_recfile_open (path, VB_EVENT_JOURNAL_MAGIC, s_load_record, self, &dropped,
                                err);
    if (self->fd < 0)
        goto fail;
    if (dropped)
        vb_warn ("event journal %s: dropped a damaged tail of %zu bytes (an interrupted "
                 "write); kept %zu unacknowledged events up to wseq %" PRIu64, path, dropped,
                 zlistx_size (self->live), self->high);
    for (s_live_t *live = (s_live_t *) zlistx_first (self->live); live;
         live = (s_live_t *) zlistx_next (self->live)) {
        json_object *rec = json_tokener_parse (live->record);
        json_object *body = NULL;
        /*  The record parsed at load time; only an allocation failure can get here. */
        if (!rec || !json_object_object_get_ex (rec, "body", &body)) {
            json_object_put (rec);
            vb_error_set (err, VB_ERR_INTERNAL, "out of memory loading event journal %s", path);
            goto fail;
        }
        json_object_array_add (self->loaded, json_object_get (body));
        json_object_put (rec);
    }
    /*  Start from a file holding only what is still needed. */
    if (self->dead && vb_event_journal_compact (self, err) != 0)
        goto fail;
    return self;

fail:
    vb_event_journal_destroy (&self);
    return NULL;
}

void
vb_event_journal_destroy (vb_event_journal_t **self_p)
{
    vb_event_journal_t *self = *self_p;
    if (!self)
        return;
    if (self->fd >= 0) {
        vb_error_t err = { 0 };
        if (self->buf.len && vb_recfile_write (self->fd, self->path, &self->buf, &err) != 0)
            vb_warn ("%s", err.message);
        close (self->fd);
    }
    vb_recbuf_clear (&self->buf);
    zlistx_destroy (&self->live);
    json_object_put (self->loaded);
    free (self->path);
    free (self);
    *self_p = NULL;
}

uint64_t
vb_event_journal_high_wseq (const vb_event_journal_t *self)
{
    return self->high;
}

size_t
vb_event_journal_live (const vb_event_journal_t *self)
{
    return zlistx_size (self->live);
}

json_object *
vb_event_journal_take_loaded (vb_event_journal_t *self)
{
    json_object *loaded = self->loaded;
    self->loaded = json_object_new_array ();
    if (!loaded)
        return json_object_new_array ();
    return loaded;
}

/*  Frame RECORD (a JSON object, borrowed) into the buffer; *TEXT_OUT and *LEN_OUT (may be NULL)
 *  get the payload, borrowed from RECORD. */
static int
s_buffer_record (vb_event_journal_t *self, json_object *record, const char **text_out,
                 size_t *len_out)
{
    size_t len = 0;
    const char *text = json_object_to_json_string_length (record, JSON_C_TO_STRING_PLAIN, &len);
    if (!text || vb_recbuf_add_record (&self->buf, text, len) != 0)
        return -1;
    if (text_out) {
        *text_out = text;
        *len_out = len;
    }
    return 0;
}

int
vb_event_journal_append (vb_event_journal_t *self, uint64_t wseq, json_object *body,
                         vb_error_t *err)
{
    if (wseq <= self->high) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "event journal %s: wseq %" PRIu64 " is not above "
                      "the highest used, %" PRIu64, self->path, wseq, self->high);
        return -1;
    }
    int rc = -1;
    json_object *record = json_object_new_object ();
    if (!record)
        goto oom;
    json_object_object_add (record, "t", json_object_new_string ("event"));
    json_object_object_add (record, "wseq", json_object_new_uint64 (wseq));
    json_object_object_add (record, "body", json_object_get (body));
    const char *text = NULL;
    size_t len = 0;
    size_t before = self->buf.len;
    if (s_buffer_record (self, record, &text, &len) != 0)
        goto oom;
    if (s_live_add (self, wseq, text, len) != 0) {
        self->buf.len = before;
        goto oom;
    }
    self->high = wseq;
    rc = 0;
    goto done;
oom:
    vb_error_set (err, VB_ERR_INTERNAL, "out of memory journaling event %" PRIu64 " in %s", wseq,
                  self->path);
done:
    json_object_put (record);
    return rc;
}

bool
vb_event_journal_dirty (const vb_event_journal_t *self)
{
    return self->buf.len > 0;
}

int
vb_event_journal_write (vb_event_journal_t *self, vb_error_t *err)
{
    if (self->buf.len == 0)
        return 0;
    if (vb_recfile_write (self->fd, self->path, &self->buf, err) != 0)
        return -1;
    /*  Written: a retry after a failed sync must not write the same records twice. */
    vb_recbuf_reset (&self->buf);
    self->unsynced = true;
    return 0;
}

int
vb_event_journal_sync (vb_event_journal_t *self, vb_error_t *err)
{
    if (vb_event_journal_write (self, err) != 0)
        return -1;
    if (!self->unsynced)
        return 0;
    if (vb_recfile_sync (self->fd, self->path, err) != 0)
        return -1;
    self->unsynced = false;
    return 0;
}

bool
vb_event_journal_unsynced (const vb_event_journal_t *self)
{
    return self->unsynced;
}

int
vb_event_journal_ack (vb_event_journal_t *self, uint64_t wseq, vb_error_t *err)
{
    size_t dropped = s_live_drop (self, wseq);
    if (dropped == 0)
        return 0;   /* a repeated ack says nothing new */
    json_object *record = json_object_new_object ();
    if (record) {
        json_object_object_add (record, "t", json_object_new_string ("ack"));
        json_object_object_add (record, "wseq", json_object_new_uint64 (wseq));
        /*  An ack record lost to an allocation failure only costs a resend. */
        s_buffer_record (self, record, NULL, NULL);
        json_object_put (record);
    }
    self->dead += dropped + 1;
    if (self->dead >= VB_EVENT_JOURNAL_COMPACT_MIN && self->dead > zlistx_size (self->live))
        return vb_event_journal_compact (self, err);
    return 0;
}

int
vb_event_journal_compact (vb_event_journal_t *self, vb_error_t *err)
{
    vb_recbuf_t body = { 0 };
    int rc = -1;
    json_object *high = json_object_new_object ();
    if (!high)
        goto oom;
    /*  The mark must stay below the live events that follow it, or a reload would take them
     *  for a replayed tail and drop them; with no live event it is the highest wseq used. */
    s_live_t *first = (s_live_t *) zlistx_first (self->live);
    uint64_t mark = first? first->wseq - 1: self->high;
    json_object_object_add (high, "t", json_object_new_string ("high"));
    json_object_object_add (high, "wseq", json_object_new_uint64 (mark));
    size_t len = 0;
    const char *text = json_object_to_json_string_length (high, JSON_C_TO_STRING_PLAIN, &len);
    if (!text || vb_recbuf_add_record (&body, text, len) != 0)
        goto oom;
    for (s_live_t *live = (s_live_t *) zlistx_first (self->live); live;
         live = (s_live_t *) zlistx_next (self->live))
        if (vb_recbuf_add_record (&body, live->record, live->len) != 0)
            goto oom;
    int fd = vb_recfile_rewrite (self->path, VB_EVENT_JOURNAL_MAGIC, &body, err);
    if (fd < 0)
        goto done;
    close (self->fd);
    self->fd = fd;
    /*  The new file holds every live event, buffered ones included, and is synced. */
    vb_recbuf_reset (&self->buf);
    self->unsynced = false;
    self->dead = 1;
    rc = 0;
    goto done;
oom:
    vb_error_set (err, VB_ERR_INTERNAL, "out of memory compacting event journal %s", self->path);
done:
    json_object_put (high);
    vb_recbuf_clear (&body);
    return rc;
}
