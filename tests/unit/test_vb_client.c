/*  Unit tests for common/vb_client against an in-process fake broker (a zactor with a ROUTER for
 *  requests and a PUB for events, on ephemeral tcp ports). The fake answers the ops the client
 *  library itself uses (broker.info, events.sync, events.replay) as docs/protocol.md describes
 *  them, plus scripted misbehaviour: silence, replies to other ids, garbage frames.
 *
 *  The test drives the fake through its pipe: "PUBLISH seq" publishes event SEQ live (and adds it
 *  to the ring), "RING first last" sets which seqs the ring holds (older ones are "overrun").
 *  Event SEQ is on topic "h/test/d<SEQ % 2>" so prefix filtering can be checked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vb_client.h"
#include "vb_json.h"
#include "vb_util.h"

typedef struct {
    zsock_t *router;
    zsock_t *pub;
    uint64_t ring_first;  /* oldest seq the ring holds */
    uint64_t ring_last;   /* newest seq; 0 = empty */
    char *events_ep;
} fake_t;

static vb_event_t *
s_make_event (uint64_t seq)
{
    vb_event_t *ev = vb_event_new ();
    assert_non_null (ev);
    char dom[16];
    snprintf (dom, sizeof dom, "d%u", (unsigned) (seq % 2));
    ev->seq = seq;
    ev->wseq = seq;
    ev->worker = strdup ("h-test-1");
    ev->time_ns = 1000 + seq;
    ev->host = strdup ("h");
    ev->driver = strdup ("test");
    ev->domain = strdup (dom);
    ev->uuid = strdup ("00000000-0000-0000-0000-000000000001");
    ev->kind = strdup ("lifecycle");
    ev->event = strdup ("suspended");
    ev->detail = strdup ("paused");
    return ev;
}

static void
s_fake_reply (fake_t *f, zframe_t *identity, vb_reply_t *reply)
{
    zframe_t *body = vb_reply_encode (reply);
    zmsg_t *msg = vb_client_msg_new (&body);
    zmsg_pushmem (msg, zframe_data (identity), zframe_size (identity));
    zmsg_send (&msg, f->router);
}

static json_object *
s_fake_replay (fake_t *f, json_object *args)
{
    uint64_t since = vb_json_uint (args, "since", 0), limit = vb_json_uint (args, "limit", 1000);
    const char *prefix = vb_json_str (args, "prefix", "");
    json_object *events = json_object_new_array ();
    size_t added = 0;
    for (uint64_t s = f->ring_first; f->ring_last && s <= f->ring_last && added < limit; s++) {
        if (s <= since)
            continue;
        vb_event_t *ev = s_make_event (s);
        char *topic = vb_event_topic (ev);
        if (strncmp (topic, prefix, strlen (prefix)) == 0) {
            json_object_array_add (events, vb_event_to_json (ev));
            added++;
        }
        free (topic);
        vb_event_destroy (&ev);
    }
    json_object *result = json_object_new_object ();
    json_object_object_add (result, "events", events);
    json_object_object_add (result, "first_seq",
                            json_object_new_uint64 (f->ring_last ? f->ring_first : 0));
    json_object_object_add (result, "last_seq", json_object_new_uint64 (f->ring_last));
    return result;
}

static void
s_fake_request (fake_t *f)
{
    zmsg_t *msg = zmsg_recv (f->router);
    zframe_t *identity = zmsg_pop (msg);
    vb_error_t err = { 0 };
    zframe_t *body = vb_client_msg_body (msg, &err);
    vb_limits_t limits = vb_limits_client ();
    vb_request_t *req = body ? vb_request_decode (body, &limits, NULL, &err) : NULL;
    assert_non_null (req);

    if (streq (req->op, "broker.info")) {
        json_object *info = json_object_new_object ();
        json_object_object_add (info, "events", json_object_new_string (f->events_ep));
        vb_reply_t *r = vb_reply_new_ok (req->id, info);
        s_fake_reply (f, identity, r);
        vb_reply_destroy (&r);
    } else if (streq (req->op, "events.sync")) {
        zmsg_t *sync = zmsg_new ();
        zmsg_addstrf (sync, "!sync/%s", vb_json_str (req->args, "token", ""));
        zmsg_addstr (sync, "");
        zmsg_send (&sync, f->pub);
        vb_reply_t *r = vb_reply_new_ok (req->id, NULL);
        s_fake_reply (f, identity, r);
        vb_reply_destroy (&r);
    } else if (streq (req->op, "events.replay")) {
        vb_reply_t *r = vb_reply_new_ok (req->id, s_fake_replay (f, req->args));
        s_fake_reply (f, identity, r);
        vb_reply_destroy (&r);
    } else if (streq (req->op, "test.silent")) {
        /* no answer */
    } else if (streq (req->op, "test.wrong_id_first")) {
        vb_reply_t *other = vb_reply_new_ok (req->id + 1000, json_object_new_string ("other"));
        s_fake_reply (f, identity, other);
        vb_reply_destroy (&other);
        vb_reply_t *r = vb_reply_new_ok (req->id, json_object_new_string ("mine"));
        s_fake_reply (f, identity, r);
        vb_reply_destroy (&r);
    } else if (streq (req->op, "test.garbage")) {
        zmsg_t *bad = zmsg_new ();
        zmsg_addmem (bad, zframe_data (identity), zframe_size (identity));
        zmsg_addstr (bad, "");
        zmsg_addstr (bad, "VBC1");
        zmsg_addstr (bad, "\xc1 not msgpack");
        zmsg_send (&bad, f->router);
        if (vb_json_bool (req->args, "then_answer", false)) {
            vb_reply_t *r = vb_reply_new_ok (req->id, json_object_new_string ("after garbage"));
            s_fake_reply (f, identity, r);
            vb_reply_destroy (&r);
        }
    } else {
        vb_reply_t *r = vb_reply_new_error (req->id, VB_ERR_NO_DOMAIN, "domain 'x' not found");
        s_fake_reply (f, identity, r);
        vb_reply_destroy (&r);
    }
    vb_request_destroy (&req);
    zframe_destroy (&identity);
    zmsg_destroy (&msg);
}

static bool
s_fake_command (fake_t *f, zsock_t *pipe)
{
    char *cmd = zstr_recv (pipe);
    bool go_on = true;
    if (!cmd || streq (cmd, "$TERM")) {
        go_on = false;
    } else if (strncmp (cmd, "PUBLISH ", 8) == 0) {
        uint64_t seq = strtoull (cmd + 8, NULL, 10);
        vb_event_t *ev = s_make_event (seq);
        zmsg_t *msg = vb_event_encode (ev);
        zmsg_send (&msg, f->pub);
        vb_event_destroy (&ev);
        if (seq > f->ring_last)
            f->ring_last = seq;
        if (f->ring_first == 0)
            f->ring_first = 1;
        zsock_signal (pipe, 0);
    } else if (strncmp (cmd, "RING ", 5) == 0) {
        char *end = NULL;
        f->ring_first = strtoull (cmd + 5, &end, 10);
        f->ring_last = strtoull (end, NULL, 10);
        zsock_signal (pipe, 0);
    }
    free (cmd);
    return go_on;
}

static void
s_fake_actor (zsock_t *pipe, void *args)
{
    (void) args;
    fake_t f = { 0 };
    f.router = zsock_new_router ("tcp://127.0.0.1:*");
    f.pub = zsock_new_pub ("tcp://127.0.0.1:*");
    assert_non_null (f.router);
    assert_non_null (f.pub);
    f.events_ep = zsock_last_endpoint (f.pub);
    char *clients_ep = zsock_last_endpoint (f.router);
    zsock_signal (pipe, 0);
    zstr_send (pipe, clients_ep);
    free (clients_ep);

    zpoller_t *poller = zpoller_new (pipe, f.router, NULL);
    for (;;) {
        void *which = zpoller_wait (poller, -1);
        if (which == pipe) {
            if (!s_fake_command (&f, pipe))
                break;
        } else if (which == f.router) {
            s_fake_request (&f);
        } else {
            break;
        }
    }
    zpoller_destroy (&poller);
    free (f.events_ep);
    zsock_destroy (&f.router);
    zsock_destroy (&f.pub);
}

typedef struct {
    zactor_t *fake;
    char *endpoint;
    vb_client_t *client;
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *fx = calloc (1, sizeof *fx);
    fx->fake = zactor_new (s_fake_actor, NULL);
    fx->endpoint = zstr_recv (fx->fake);
    vb_error_t err = { 0 };
    fx->client = vb_client_new (fx->endpoint, &err);
    assert_non_null (fx->client);
    *state = fx;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fx = *state;
    vb_client_destroy (&fx->client);
    zactor_destroy (&fx->fake);
    free (fx->endpoint);
    free (fx);
    return 0;
}

static void
s_fake_do (fixture_t *fx, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    char *cmd = zsys_vprintf (fmt, ap);
    va_end (ap);
    zstr_send (fx->fake, cmd);
    zsock_wait (fx->fake);
    free (cmd);
}

/* --- Requests ---------------------------------------------------------------------------- */

static void
test_client_new_refuses_malformed_endpoint (void **state)
{
    (void) state;
    vb_error_t err = { 0 };
    assert_null (vb_client_new ("127.0.0.1:16600", &err));
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    assert_non_null (strstr (err.message, "127.0.0.1:16600"));
}

static void
test_client_call_returns_error_reply_as_normal_answer (void **state)
{
    fixture_t *fx = *state;
    vb_error_t err = { 0 };
    vb_reply_t *r = vb_client_call (fx->client, "domain.info",
                                    &(vb_target_t){ .domain = "x" }, NULL, 1000, &err);
    assert_non_null (r);
    assert_false (r->ok);
    assert_int_equal (r->code, VB_ERR_NO_DOMAIN);
    assert_string_equal (r->message, "domain 'x' not found");
    vb_reply_destroy (&r);
}

static void
test_client_call_drops_replies_to_other_ids (void **state)
{
    fixture_t *fx = *state;
    vb_error_t err = { 0 };
    vb_reply_t *r = vb_client_call (fx->client, "test.wrong_id_first", NULL, NULL, 1000, &err);
    assert_non_null (r);
    assert_true (r->ok);
    assert_string_equal (json_object_get_string (r->result), "mine");
    vb_reply_destroy (&r);
}

static void
test_client_call_to_silent_broker_times_out_after_deadline_plus_grace (void **state)
{
    fixture_t *fx = *state;
    vb_error_t err = { 0 };
    int64_t t0 = vb_now_ms ();
    vb_reply_t *r = vb_client_call (fx->client, "test.silent", NULL, NULL, 300, &err);
    int64_t took = vb_now_ms () - t0;
    assert_null (r);
    assert_int_equal (err.code, VB_ERR_TIMEOUT);
    assert_true (took >= 300 + VB_CLIENT_GRACE_MS);
    assert_true (took < 300 + VB_CLIENT_GRACE_MS + 500);
    char want[256];
    snprintf (want, sizeof want, "no answer from broker at %s within %d ms", fx->endpoint,
              300 + VB_CLIENT_GRACE_MS);
    assert_string_equal (err.message, want);

    /* The next call is not confused by anything left over. */
    r = vb_client_call (fx->client, "test.wrong_id_first", NULL, NULL, 1000, &err);
    assert_non_null (r);
    assert_string_equal (json_object_get_string (r->result), "mine");
    vb_reply_destroy (&r);
}

static void
test_client_call_skips_garbage_and_reports_protocol_when_nothing_valid_came (void **state)
{
    fixture_t *fx = *state;
    vb_error_t err = { 0 };
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "then_answer", json_object_new_boolean (1));
    vb_reply_t *r = vb_client_call (fx->client, "test.garbage", NULL, args, 1000, &err);
    assert_non_null (r);
    assert_string_equal (json_object_get_string (r->result), "after garbage");
    vb_reply_destroy (&r);

    r = vb_client_call (fx->client, "test.garbage", NULL, NULL, 100, &err);
    assert_null (r);
    assert_int_equal (err.code, VB_ERR_PROTOCOL);
}

static void
test_client_dead_broker_answers_timeout_never_hangs (void **state)
{
    (void) state;
    vb_error_t err = { 0 };
    vb_client_t *c = vb_client_new ("tcp://127.0.0.1:1", &err);
    assert_non_null (c);
    int64_t t0 = vb_now_ms ();
    assert_null (vb_client_call (c, "hosts", NULL, NULL, 100, &err));
    assert_int_equal (err.code, VB_ERR_TIMEOUT);
    assert_null (vb_client_events_endpoint (c, &err));
    vb_client_destroy (&c);
    assert_true (vb_now_ms () - t0 < 100 + 2000 + 2 * VB_CLIENT_GRACE_MS + 1000);
}

static void
test_client_events_endpoint_is_asked_once_and_cached (void **state)
{
    fixture_t *fx = *state;
    vb_error_t err = { 0 };
    const char *ep = vb_client_events_endpoint (fx->client, &err);
    assert_non_null (ep);
    assert_int_equal (strncmp (ep, "tcp://127.0.0.1:", 16), 0);
    assert_ptr_equal (vb_client_events_endpoint (fx->client, &err), ep);
}

/* --- Subscriptions ----------------------------------------------------------------------- */

static vb_event_t *
s_next (vb_subscriber_t *sub)
{
    vb_error_t err = { 0 };
    vb_event_t *ev = vb_subscriber_recv (sub, 2000, &err);
    assert_non_null (ev);
    return ev;
}

static void
s_expect_seq (vb_subscriber_t *sub, uint64_t seq)
{
    vb_event_t *ev = s_next (sub);
    assert_string_equal (ev->kind, "lifecycle");
    assert_int_equal (ev->seq, seq);
    vb_event_destroy (&ev);
}

static void
s_expect_nothing (vb_subscriber_t *sub)
{
    vb_error_t err = { 0 };
    assert_null (vb_subscriber_recv (sub, 100, &err));
    assert_int_equal (err.code, VB_ERR_TIMEOUT);
}

static void
test_subscriber_is_synced_on_return_and_gets_live_events_in_order (void **state)
{
    fixture_t *fx = *state;
    vb_error_t err = { 0 };
    vb_subscriber_t *sub = vb_subscriber_new (fx->client, "", 0, &err);
    assert_non_null (sub);
    s_fake_do (fx, "PUBLISH 1");
    s_fake_do (fx, "PUBLISH 2");
    s_expect_seq (sub, 1);
    s_expect_seq (sub, 2);
    s_expect_nothing (sub);
    assert_int_equal (vb_subscriber_replayed (sub), 0);
    vb_subscriber_destroy (&sub);
}

static void
test_subscriber_fills_a_seq_gap_from_replay_and_drops_duplicates (void **state)
{
    fixture_t *fx = *state;
    vb_error_t err = { 0 };
    vb_subscriber_t *sub = vb_subscriber_new (fx->client, "", 0, &err);
    assert_non_null (sub);
    s_fake_do (fx, "PUBLISH 1");
    s_fake_do (fx, "RING 1 4");   /* 2..4 happened but their publications were lost */
    s_fake_do (fx, "PUBLISH 5");
    s_fake_do (fx, "PUBLISH 3");  /* a late duplicate */
    s_fake_do (fx, "PUBLISH 6");
    for (uint64_t s = 1; s <= 6; s++)
        s_expect_seq (sub, s);
    s_expect_nothing (sub);
    /* 2..6 came through the one replay: the fake had published 6 (and put it in its ring)
     * before the test started receiving, so the replay for the jump 1 -> 5 covered it. */
    assert_int_equal (vb_subscriber_replayed (sub), 5);
    vb_subscriber_destroy (&sub);
}

static void
test_subscriber_reports_unfillable_gap_as_gap_event_then_continues (void **state)
{
    fixture_t *fx = *state;
    vb_error_t err = { 0 };
    vb_subscriber_t *sub = vb_subscriber_new (fx->client, "", 0, &err);
    assert_non_null (sub);
    s_fake_do (fx, "PUBLISH 1");
    s_fake_do (fx, "RING 10 11");  /* the ring was overrun: 2..9 are gone */
    s_fake_do (fx, "PUBLISH 12");
    s_expect_seq (sub, 1);
    vb_event_t *gap = s_next (sub);
    assert_string_equal (gap->kind, "gap");
    assert_int_equal (vb_json_uint (gap->extra, "from", 0), 2);
    assert_int_equal (vb_json_uint (gap->extra, "to", 0), 9);
    vb_event_destroy (&gap);
    s_expect_seq (sub, 10);
    s_expect_seq (sub, 11);
    s_expect_seq (sub, 12);
    s_expect_nothing (sub);
    vb_subscriber_destroy (&sub);
}

static void
test_subscriber_since_replays_retained_events_first (void **state)
{
    fixture_t *fx = *state;
    vb_error_t err = { 0 };
    s_fake_do (fx, "RING 1 2500");  /* more than one replay page */
    vb_subscriber_t *sub = vb_subscriber_new (fx->client, "", 100, &err);
    assert_non_null (sub);
    s_fake_do (fx, "PUBLISH 2501");
    for (uint64_t s = 101; s <= 2501; s++)
        s_expect_seq (sub, s);
    s_expect_nothing (sub);
    assert_int_equal (vb_subscriber_replayed (sub), 2400);
    vb_subscriber_destroy (&sub);
}

static void
test_subscriber_with_prefix_gets_only_matching_topics_without_false_gaps (void **state)
{
    fixture_t *fx = *state;
    vb_error_t err = { 0 };
    vb_subscriber_t *sub = vb_subscriber_new (fx->client, "h/test/d1", 0, &err);
    assert_non_null (sub);
    for (int s = 1; s <= 6; s++)
        s_fake_do (fx, "PUBLISH %d", s);
    s_expect_seq (sub, 1);
    s_expect_seq (sub, 3);
    s_expect_seq (sub, 5);
    s_expect_nothing (sub);
    vb_subscriber_destroy (&sub);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_client_new_refuses_malformed_endpoint),
        cmocka_unit_test_setup_teardown (test_client_call_returns_error_reply_as_normal_answer,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_client_call_drops_replies_to_other_ids, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (
            test_client_call_to_silent_broker_times_out_after_deadline_plus_grace, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_client_call_skips_garbage_and_reports_protocol_when_nothing_valid_came, s_setup,
            s_teardown),
        cmocka_unit_test (test_client_dead_broker_answers_timeout_never_hangs),
        cmocka_unit_test_setup_teardown (test_client_events_endpoint_is_asked_once_and_cached,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_subscriber_is_synced_on_return_and_gets_live_events_in_order, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_subscriber_fills_a_seq_gap_from_replay_and_drops_duplicates, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_subscriber_reports_unfillable_gap_as_gap_event_then_continues, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (test_subscriber_since_replays_retained_events_first,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_subscriber_with_prefix_gets_only_matching_topics_without_false_gaps, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
