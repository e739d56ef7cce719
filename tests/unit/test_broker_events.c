/*  Unit tests for broker/vb_events: dedupe by (worker, wseq), global seq stamping, replay with
 *  prefix and limit, ring overrun. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "vb_events.h"

static vb_event_t *
s_event (const char *worker, const char *host, const char *domain, uint64_t wseq)
{
    vb_event_t *ev = vb_event_new ();
    assert_non_null (ev);
    ev->worker = strdup (worker);
    ev->host = strdup (host);
    ev->driver = strdup ("test");
    ev->domain = strdup (domain);
    ev->uuid = strdup ("11111111-1111-4111-8111-111111111111");
    ev->kind = strdup ("lifecycle");
    ev->event = strdup ("started");
    ev->detail = strdup ("booted");
    ev->time_ns = 1;
    ev->wseq = wseq;
    return ev;
}

static uint64_t
s_append (vb_events_t *ring, vb_event_t *ev, uint64_t *gap)
{
    const vb_event_t *stored = vb_events_append (ring, &ev, gap);
    assert_null (ev);
    return stored ? stored->seq : 0;
}

static void
test_events_resent_wseq_is_dropped_and_seq_is_global (void **state)
{
    (void) state;
    vb_events_t *ring = vb_events_new (16);
    uint64_t gap = 99;
    assert_int_equal (s_append (ring, s_event ("w1", "a", "web", 1), &gap), 1);
    assert_int_equal (gap, 0);
    assert_int_equal (s_append (ring, s_event ("w1", "a", "web", 2), NULL), 2);
    /*  Another worker has its own wseq space. */
    assert_int_equal (s_append (ring, s_event ("w2", "b", "db", 1), NULL), 3);
    /*  Resent after a reconnect: already published. */
    assert_int_equal (s_append (ring, s_event ("w1", "a", "web", 2), NULL), 0);
    assert_int_equal (s_append (ring, s_event ("w1", "a", "web", 1), NULL), 0);
    assert_int_equal (vb_events_last_wseq (ring, "w1"), 2);
    assert_int_equal (s_append (ring, s_event ("w1", "a", "web", 5), &gap), 4);
    assert_int_equal (gap, 2);
    assert_int_equal (vb_events_first_seq (ring), 1);
    assert_int_equal (vb_events_last_seq (ring), 4);
    vb_events_destroy (&ring);
}

static size_t
s_replay_count (vb_events_t *ring, uint64_t since, const char *prefix, size_t limit,
                uint64_t *first_event_seq)
{
    json_object *result = vb_events_replay (ring, since, prefix, limit);
    assert_non_null (result);
    json_object *events = json_object_object_get (result, "events");
    size_t n = json_object_array_length (events);
    if (first_event_seq)
        *first_event_seq = n ? (uint64_t) json_object_get_uint64 (
            json_object_object_get (json_object_array_get_idx (events, 0), "seq")) : 0;
    json_object_put (result);
    return n;
}

static void
test_events_replay_returns_events_after_since_filtered_by_prefix (void **state)
{
    (void) state;
    vb_events_t *ring = vb_events_new (16);
    s_append (ring, s_event ("w1", "a", "web", 1), NULL);
    s_append (ring, s_event ("w2", "b", "db", 1), NULL);
    s_append (ring, s_event ("w1", "a", "web", 2), NULL);
    s_append (ring, s_event ("w1", "a", "mail", 3), NULL);
    uint64_t first = 0;
    assert_int_equal (s_replay_count (ring, 0, NULL, 0, &first), 4);
    assert_int_equal (first, 1);
    assert_int_equal (s_replay_count (ring, 2, NULL, 0, &first), 2);
    assert_int_equal (first, 3);
    assert_int_equal (s_replay_count (ring, 0, "a/test/web", 0, NULL), 2);
    assert_int_equal (s_replay_count (ring, 0, "b", 0, &first), 1);
    assert_int_equal (first, 2);
    assert_int_equal (s_replay_count (ring, 0, NULL, 3, NULL), 3);
    assert_int_equal (s_replay_count (ring, 4, NULL, 0, NULL), 0);
    assert_int_equal (s_replay_count (ring, 1000, NULL, 0, NULL), 0);

    json_object *result = vb_events_replay (ring, 0, "a/test/mail", 0);
    json_object *ev = json_object_array_get_idx (json_object_object_get (result, "events"), 0);
    assert_string_equal (json_object_get_string (json_object_object_get (ev, "domain")), "mail");
    assert_string_equal (json_object_get_string (json_object_object_get (ev, "worker")), "w1");
    assert_int_equal (json_object_get_uint64 (json_object_object_get (ev, "seq")), 4);
    assert_int_equal (json_object_get_uint64 (json_object_object_get (result, "first_seq")), 1);
    assert_int_equal (json_object_get_uint64 (json_object_object_get (result, "last_seq")), 4);
    json_object_put (result);
    vb_events_destroy (&ring);
}

static void
test_events_ring_overrun_drops_oldest_and_reports_first_seq (void **state)
{
    (void) state;
    vb_events_t *ring = vb_events_new (3);
    for (uint64_t w = 1; w <= 5; w++)
        assert_int_equal (s_append (ring, s_event ("w1", "a", "web", w), NULL), w);
    assert_int_equal (vb_events_first_seq (ring), 3);
    assert_int_equal (vb_events_last_seq (ring), 5);
    uint64_t first = 0;
    /*  A subscriber that saw seq 1 asks for more: it gets 3..5 and can tell 2 is lost. */
    assert_int_equal (s_replay_count (ring, 1, NULL, 0, &first), 3);
    assert_int_equal (first, 3);
    assert_int_equal (s_replay_count (ring, 3, NULL, 0, &first), 2);
    assert_int_equal (first, 4);
    json_object *result = vb_events_replay (ring, 0, NULL, 0);
    assert_int_equal (json_object_get_uint64 (json_object_object_get (result, "first_seq")), 3);
    json_object_put (result);
    vb_events_destroy (&ring);
}

static void
test_events_empty_ring_replays_nothing_with_zero_seqs (void **state)
{
    (void) state;
    vb_events_t *ring = vb_events_new (4);
    json_object *result = vb_events_replay (ring, 0, "", 10);
    assert_int_equal (json_object_array_length (json_object_object_get (result, "events")), 0);
    assert_int_equal (json_object_get_uint64 (json_object_object_get (result, "first_seq")), 0);
    assert_int_equal (json_object_get_uint64 (json_object_object_get (result, "last_seq")), 0);
    json_object_put (result);
    /*  An event missing its origin is refused, not stored. */
    vb_event_t *ev = vb_event_new ();
    assert_null (vb_events_append (ring, &ev, NULL));
    assert_null (ev);
    assert_int_equal (vb_events_last_seq (ring), 0);
    assert_null (vb_events_new (0));
    vb_events_destroy (&ring);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_events_resent_wseq_is_dropped_and_seq_is_global),
        cmocka_unit_test (test_events_replay_returns_events_after_since_filtered_by_prefix),
        cmocka_unit_test (test_events_ring_overrun_drops_oldest_and_reports_first_seq),
        cmocka_unit_test (test_events_empty_ring_replays_nothing_with_zero_seqs),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
