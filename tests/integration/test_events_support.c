/*  test_events_support — helpers of the event tests (see test_events_support.h). */
#include "test_events_support.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_testcall.h"
#include "vb_util.h"

size_t
tev_collect (vb_subscriber_t *sub, vb_event_t **out, size_t n, int bound_ms)
{
    int64_t until = vb_now_ms () + bound_ms;
    size_t got = 0;
    while (got < n) {
        int64_t left = until - vb_now_ms ();
        if (left <= 0)
            break;
        vb_error_t err = { 0 };
        vb_event_t *ev = vb_subscriber_recv (sub, (int) left, &err);
        if (!ev)
            break;
        out[got++] = ev;
    }
    return got;
}

bool
tev_quiet (vb_subscriber_t *sub, int ms)
{
    vb_error_t err = { 0 };
    vb_event_t *ev = vb_subscriber_recv (sub, ms, &err);
    if (!ev)
        return true;
    fprintf (stderr, "unexpected event seq %" PRIu64 " %s/%s %s/%s (worker %s wseq %" PRIu64
             ")\n", ev->seq, ev->kind? ev->kind: "", ev->domain? ev->domain: "",
             ev->event? ev->event: "", ev->detail? ev->detail: "", ev->worker? ev->worker: "",
             ev->wseq);
    vb_event_destroy (&ev);
    return false;
}

int
tev_emit (vb_client_t *client, const char *domain, uint64_t count, uint32_t deadline_ms)
{
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "count", json_object_new_uint64 (count));
    vb_error_t err = { 0 };
    vb_reply_t *r = vb_testcall (client, "test.emit_events", NULL, domain, args, deadline_ms,
                                 NULL, &err);
    int rc = r && r->ok? 0: -1;
    if (rc) {
        char line[1024];
        fprintf (stderr, "test.emit_events %s x%" PRIu64 ": %s\n", domain, count,
                 vb_testcall_describe (r, &err, line, sizeof line));
    }
    vb_reply_destroy (&r);
    return rc;
}

uint64_t
tev_emit_async (vb_client_t *client, const char *domain, uint64_t count)
{
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "count", json_object_new_uint64 (count));
    return vb_testcall_send (client, "test.emit_events", NULL, domain, args, 0);
}

const char *
tev_check_run (vb_event_t **events, size_t n, uint64_t first, char *buf, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        vb_event_t *ev = events[i];
        char want[32];
        snprintf (want, sizeof want, "%" PRIu64, first + i);
        if (!ev->kind || strcmp (ev->kind, "test") != 0) {
            snprintf (buf, size, "event %zu is of kind '%s' (seq %" PRIu64 "), not a test event",
                      i, ev->kind? ev->kind: "", ev->seq);
            return buf;
        }
        if (!ev->detail || strcmp (ev->detail, want) != 0) {
            snprintf (buf, size, "event %zu (seq %" PRIu64 ") has detail '%s'; expected '%s'",
                      i, ev->seq, ev->detail? ev->detail: "", want);
            return buf;
        }
        if (i > 0 && ev->seq != events[i - 1]->seq + 1) {
            snprintf (buf, size, "event %zu has seq %" PRIu64 " after %" PRIu64, i, ev->seq,
                      events[i - 1]->seq);
            return buf;
        }
    }
    return NULL;
}

void
tev_free (vb_event_t **events, size_t n)
{
    for (size_t i = 0; i < n; i++)
        vb_event_destroy (&events[i]);
}

bool
tev_file_contains (const char *path, const char *needle)
{
    vb_error_t err = { 0 };
    size_t len = 0;
    char *data = vb_read_file (path, 64u << 20, &len, &err);
    if (!data)
        return false;
    bool found = memmem (data, len, needle, strlen (needle)) != NULL;
    free (data);
    return found;
}
