/*  Unit tests of the worker core (workers/common/vb_worker.c) against a fake broker ROUTER and a
 *  tiny in-test driver "fake". The worker runs in a zactor thread; the driver's counters are
 *  atomics because the test thread reads them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_worker_harness.h"
#include "vb_json.h"
#include "vb_util.h"

/* --- the fake driver ----------------------------------------------------------------------- */

static atomic_int s_start_calls;
static atomic_int s_hold_calls;
static atomic_llong s_remaining_seen;
static char s_domain_seen[64];   /* written by the worker thread before its reply */
static bool s_open_fails;

typedef struct {
    vb_worker_t *worker;
    vb_call_t *held;
} fake_t;

static void *
fake_open (vb_worker_t *worker, const vb_driver_config_t *config, vb_error_t *err)
{
    (void) config;
    if (s_open_fails) {
        vb_error_set (err, VB_ERR_HYPERVISOR_UNAVAILABLE, "no fake hypervisor on this host");
        return NULL;
    }
    fake_t *fake = calloc (1, sizeof *fake);
    fake->worker = worker;
    return fake;
}

static void
fake_close (void *state)
{
    free (state);
}

static json_object *
fake_inventory (void *state)
{
    (void) state;
    json_object *domains = json_object_new_array ();
    json_object *dom = json_object_new_object ();
    json_object_object_add (dom, "name", json_object_new_string ("web"));
    json_object_object_add (dom, "uuid",
                            json_object_new_string ("c7a5fdbd-edaf-9455-926a-d65c16db1809"));
    json_object_object_add (dom, "state", json_object_new_int (5));
    json_object_array_add (domains, dom);
    return domains;
}

static void
fake_start (void *state, vb_call_t *call)
{
    (void) state;
    atomic_fetch_add (&s_start_calls, 1);
    atomic_store (&s_remaining_seen, vb_call_remaining_ms (call));
    snprintf (s_domain_seen, sizeof s_domain_seen, "%s", vb_call_domain (call));
    json_object *result = json_object_new_object ();
    json_object_object_add (result, "started", json_object_new_string (vb_call_domain (call)));
    vb_call_reply_ok (call, result);
}

static void
fake_hold (void *state, vb_call_t *call)
{
    fake_t *fake = (fake_t *) state;
    atomic_fetch_add (&s_hold_calls, 1);
    fake->held = call;   /* answered by fake.release */
}

static void
fake_release (void *state, vb_call_t *call)
{
    fake_t *fake = (fake_t *) state;
    if (fake->held) {
        vb_call_reply_ok (fake->held, NULL);
        fake->held = NULL;
    }
    vb_call_reply_ok (call, NULL);
}

static void
fake_emit (void *state, vb_call_t *call)
{
    fake_t *fake = (fake_t *) state;
    int64_t count = vb_json_int (vb_call_args (call), "count", 1);
    for (int64_t i = 0; i < count; i++) {
        json_object *extra = json_object_new_object ();
        json_object_object_add (extra, "n", json_object_new_int64 (i));
        vb_worker_emit_event (fake->worker, "web", "c7a5fdbd-edaf-9455-926a-d65c16db1809",
                              "lifecycle", "started", "booted", extra);
    }
    vb_call_reply_ok (call, NULL);
}

static void
fake_define (void *state, vb_call_t *call)
{
    fake_t *fake = (fake_t *) state;
    vb_worker_inventory_changed (fake->worker);
    vb_call_reply_ok (call, NULL);
}

static void
fake_fail (void *state, vb_call_t *call)
{
    (void) state;
    vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is not running",
                         vb_call_domain (call));
}

static const struct vb_driver_extra_op fake_extra[] = {
    { "fake.hold", fake_hold },
    { "fake.release", fake_release },
    { "fake.emit", fake_emit },
    { NULL, NULL },
};

static const vb_driver_t fake_driver = {
    .name = "fake",
    .open = fake_open,
    .close = fake_close,
    .inventory = fake_inventory,
    .define = fake_define,
    .start = fake_start,
    .destroy = fake_fail,
    .extra_ops = fake_extra,
};

/* --- helpers ------------------------------------------------------------------------------- */

static int
setup (void **state)
{
    atomic_store (&s_start_calls, 0);
    atomic_store (&s_hold_calls, 0);
    s_open_fails = false;
    harness_t *h = calloc (1, sizeof *h);
    harness_start (h, &fake_driver, 1000);
    json_object *ready = harness_expect (h, VB_WCMD_READY, 5000, NULL);
    assert_non_null (ready);
    json_object_put (ready);
    *state = h;
    return 0;
}

static int
teardown (void **state)
{
    harness_t *h = (harness_t *) *state;
    harness_stop (h);
    free (h);
    return 0;
}

static void
s_assert_ok (json_object *reply)
{
    assert_non_null (reply);
    if (!vb_json_bool (reply, "ok", false))
        fail_msg ("reply is an error: %s %s", harness_error_code (reply),
                  harness_error_message (reply));
}

/* --- tests --------------------------------------------------------------------------------- */

static void
test_worker_ready_carries_identity_inventory_and_pid (void **state)
{
    (void) state;
    harness_t h;
    harness_start (&h, &fake_driver, 1000);
    json_object *ready = harness_expect (&h, VB_WCMD_READY, 5000, NULL);
    assert_non_null (ready);
    assert_string_equal (vb_json_str (ready, "worker", ""), h.id);
    assert_string_equal (vb_json_str (ready, "host", ""), "h1");
    assert_string_equal (vb_json_str (ready, "driver", ""), "fake");
    assert_int_equal (vb_json_int (ready, "version", 0), VB_PROTO_VERSION);
    assert_int_equal (vb_json_int (ready, "pid", 0), getpid ());
    json_object *domains = NULL;
    assert_true (json_object_object_get_ex (ready, "domains", &domains));
    assert_int_equal (json_object_array_length (domains), 1);
    assert_string_equal (vb_json_str (json_object_array_get_idx (domains, 0), "name", ""), "web");
    json_object_put (ready);
    harness_stop (&h);
}

static void
test_worker_heartbeats_every_interval_while_broker_answers (void **state)
{
    (void) state;
    harness_t h;
    harness_start (&h, &fake_driver, 50);
    json_object *ready = harness_expect (&h, VB_WCMD_READY, 5000, NULL);
    assert_non_null (ready);
    json_object_put (ready);
    /*  Ten heartbeats over ~10 intervals, each answered, and no re-registration meanwhile:
     *  the broker's traffic keeps the worker's view of it alive. */
    int64_t t0 = vb_now_ms ();
    for (int i = 0; i < 10; i++) {
        vb_wmsg_t *msg = harness_next (&h, 20 * 50, false);
        assert_non_null (msg);
        assert_int_equal (msg->cmd, VB_WCMD_HEARTBEAT);
        vb_wmsg_destroy (&msg);
        harness_send (&h, VB_WCMD_HEARTBEAT, NULL);
    }
    int64_t elapsed = vb_now_ms () - t0;
    assert_true (elapsed >= 8 * 50);
    assert_true (elapsed < 40 * 50);
    harness_stop (&h);
}

static void
test_worker_silent_broker_reconnects_and_sends_ready_again (void **state)
{
    (void) state;
    harness_t h;
    /*  The worker counts silence from its start: measured from here, not from when the first
     *  READY was read (a loaded machine may deliver it late). */
    int64_t t_start = vb_now_ms ();
    harness_start (&h, &fake_driver, 50);
    h.silent = true;
    json_object *ready = harness_expect (&h, VB_WCMD_READY, 5000, NULL);
    assert_non_null (ready);
    json_object_put (ready);
    int64_t t0 = vb_now_ms ();
    int skipped = 0;
    ready = harness_expect (&h, VB_WCMD_READY, 40 * 50, &skipped);
    assert_non_null (ready);
    json_object_put (ready);
    int64_t now = vb_now_ms ();
    /*  3 silent intervals, detected on the 4th tick at the latest. */
    assert_true (now - t_start >= 3 * 50);
    assert_true (now - t0 <= 10 * 50);
    assert_true (skipped >= 2);   /* it kept heartbeating while waiting */
    harness_stop (&h);
}

static void
test_worker_disconnect_answers_ready_at_once (void **state)
{
    harness_t *h = (harness_t *) *state;
    /*  Registered by the setup (READY received and acknowledged), then forgotten, as by a
     *  restarted broker. */
    json_object *reason = json_object_new_object ();
    json_object_object_add (reason, "reason", json_object_new_string ("unknown worker"));
    int64_t t0 = vb_now_ms ();
    harness_send (h, VB_WCMD_DISCONNECT, reason);
    json_object *ready = harness_expect (h, VB_WCMD_READY, 5000, NULL);
    assert_non_null (ready);
    /*  Well under the 1000 ms heartbeat: it did not wait for a tick. */
    assert_true (vb_now_ms () - t0 < 500);
    assert_string_equal (vb_json_str (ready, "worker", ""), h->id);
    json_object_put (ready);
}

static void
test_worker_request_dispatches_to_driver_and_replies (void **state)
{
    harness_t *h = (harness_t *) *state;
    harness_request (h, "client-1", 7, "domain.start", "web", NULL, 300);
    json_object *reply = harness_expect (h, VB_WCMD_REPLY, 5000, NULL);
    s_assert_ok (reply);
    assert_int_equal (vb_json_uint (reply, "id", 0), 7);
    json_object *result = NULL;
    assert_true (json_object_object_get_ex (reply, "result", &result));
    assert_string_equal (vb_json_str (result, "started", ""), "web");
    assert_string_equal (s_domain_seen, "web");
    assert_int_equal (atomic_load (&s_start_calls), 1);
    long long remaining = atomic_load (&s_remaining_seen);
    assert_true (remaining > 0 && remaining <= 300);
    json_object_put (reply);
}

static void
test_worker_error_reply_carries_code_and_message (void **state)
{
    harness_t *h = (harness_t *) *state;
    json_object *reply = harness_call (h, 8, "domain.destroy", "web", NULL);
    assert_non_null (reply);
    assert_false (vb_json_bool (reply, "ok", true));
    assert_string_equal (harness_error_code (reply), "OPERATION_INVALID");
    assert_string_equal (harness_error_message (reply), "domain 'web' is not running");
    json_object_put (reply);
}

static void
test_worker_repeated_request_answered_from_cache_without_driver (void **state)
{
    harness_t *h = (harness_t *) *state;
    json_object *first = harness_call (h, 11, "domain.start", "web", NULL);
    s_assert_ok (first);
    json_object *second = harness_call (h, 11, "domain.start", "web", NULL);
    s_assert_ok (second);
    assert_string_equal (json_object_to_json_string (first), json_object_to_json_string (second));
    assert_int_equal (atomic_load (&s_start_calls), 1);
    /*  The same id from another client is another request. */
    harness_request (h, "client-2", 11, "domain.start", "web", NULL, 5000);
    json_object *third = harness_expect (h, VB_WCMD_REPLY, 5000, NULL);
    s_assert_ok (third);
    assert_int_equal (atomic_load (&s_start_calls), 2);
    json_object_put (first);
    json_object_put (second);
    json_object_put (third);
}

static void
test_worker_repeat_of_inflight_request_is_ignored (void **state)
{
    harness_t *h = (harness_t *) *state;
    harness_request (h, "client-1", 20, "fake.hold", NULL, NULL, 5000);
    harness_request (h, "client-1", 20, "fake.hold", NULL, NULL, 5000);
    json_object *release = harness_call (h, 21, "fake.release", NULL, NULL);
    s_assert_ok (release);
    json_object_put (release);
    /*  Requests are handled in order, so both holds were seen before the release. */
    assert_int_equal (atomic_load (&s_hold_calls), 1);
    json_object *held = harness_expect (h, VB_WCMD_REPLY, 5000, NULL);
    s_assert_ok (held);
    assert_int_equal (vb_json_uint (held, "id", 0), 20);
    json_object_put (held);
    /*  Exactly one answer for id 20: a marker request's reply is the next REPLY. */
    json_object *marker = harness_call (h, 22, "fake.release", NULL, NULL);
    s_assert_ok (marker);
    json_object_put (marker);
    vb_wmsg_t *extra = harness_next (h, 0, true);
    assert_null (extra);
}

static void
test_worker_unknown_op_answers_unsupported_naming_op_and_driver (void **state)
{
    harness_t *h = (harness_t *) *state;
    json_object *reply = harness_call (h, 30, "domain.frobnicate", "web", NULL);
    assert_non_null (reply);
    assert_string_equal (harness_error_code (reply), "UNSUPPORTED");
    assert_non_null (strstr (harness_error_message (reply), "'domain.frobnicate'"));
    assert_non_null (strstr (harness_error_message (reply), "fake"));
    json_object_put (reply);
    /*  A known op the driver leaves NULL. */
    reply = harness_call (h, 31, "domain.reboot", "web", NULL);
    assert_non_null (reply);
    assert_string_equal (harness_error_code (reply), "UNSUPPORTED");
    assert_non_null (strstr (harness_error_message (reply), "'domain.reboot'"));
    json_object_put (reply);
}

static void
test_worker_domain_op_without_domain_answers_invalid_arg (void **state)
{
    harness_t *h = (harness_t *) *state;
    json_object *reply = harness_call (h, 32, "domain.start", NULL, NULL);
    assert_non_null (reply);
    assert_string_equal (harness_error_code (reply), "INVALID_ARG");
    assert_int_equal (atomic_load (&s_start_calls), 0);
    json_object_put (reply);
}

static void
test_worker_inventory_change_sends_domains_before_the_reply (void **state)
{
    harness_t *h = (harness_t *) *state;
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string ("<domain/>"));
    harness_request (h, "client-1", 40, "domain.define", NULL, args, 5000);
    vb_wmsg_t *first = harness_next (h, 5000, true);
    assert_non_null (first);
    assert_int_equal (first->cmd, VB_WCMD_DOMAINS);
    json_object *domains = NULL;
    assert_true (json_object_object_get_ex (first->body, "domains", &domains));
    assert_int_equal (json_object_array_length (domains), 1);
    vb_wmsg_destroy (&first);
    vb_wmsg_t *second = harness_next (h, 5000, true);
    assert_non_null (second);
    assert_int_equal (second->cmd, VB_WCMD_REPLY);
    vb_wmsg_destroy (&second);
}

static void
s_expect_event (harness_t *h, uint64_t wseq)
{
    json_object *ev = harness_expect (h, VB_WCMD_EVENT, 5000, NULL);
    assert_non_null (ev);
    assert_int_equal (vb_json_uint (ev, "wseq", 0), wseq);
    assert_string_equal (vb_json_str (ev, "domain", ""), "web");
    assert_string_equal (vb_json_str (ev, "uuid", ""), "c7a5fdbd-edaf-9455-926a-d65c16db1809");
    assert_string_equal (vb_json_str (ev, "kind", ""), "lifecycle");
    assert_string_equal (vb_json_str (ev, "event", ""), "started");
    assert_string_equal (vb_json_str (ev, "detail", ""), "booted");
    assert_true (vb_json_uint (ev, "time_ns", 0) > 1600000000ull * 1000000000ull);
    json_object *extra = NULL;
    assert_true (json_object_object_get_ex (ev, "extra", &extra));
    assert_int_equal (vb_json_int (extra, "n", -1), (int64_t) wseq - 1);
    json_object_put (ev);
}

static void
s_reregister (harness_t *h)
{
    harness_send (h, VB_WCMD_DISCONNECT, NULL);
    json_object *ready = harness_expect (h, VB_WCMD_READY, 5000, NULL);
    assert_non_null (ready);
    json_object_put (ready);
}

static void
test_worker_events_numbered_from_one_and_resent_until_acked (void **state)
{
    harness_t *h = (harness_t *) *state;
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "count", json_object_new_int (3));
    json_object *reply = harness_call (h, 50, "fake.emit", NULL, args);
    s_assert_ok (reply);
    json_object_put (reply);
    for (uint64_t w = 1; w <= 3; w++)
        s_expect_event (h, w);

    /*  Not acknowledged: all three come again after the next READY, in order. */
    s_reregister (h);
    for (uint64_t w = 1; w <= 3; w++)
        s_expect_event (h, w);

    /*  Acks are cumulative: after ACK 2 only event 3 is resent. */
    json_object *ack = json_object_new_object ();
    json_object_object_add (ack, "wseq", json_object_new_uint64 (2));
    harness_send (h, VB_WCMD_EVENT_ACK, ack);
    s_reregister (h);
    s_expect_event (h, 3);

    ack = json_object_new_object ();
    json_object_object_add (ack, "wseq", json_object_new_uint64 (3));
    harness_send (h, VB_WCMD_EVENT_ACK, ack);
    s_reregister (h);
    /*  Nothing pending: the next thing after READY is the reply to a marker request. */
    reply = harness_call (h, 51, "fake.release", NULL, NULL);
    s_assert_ok (reply);
    json_object_put (reply);
    vb_wmsg_t *extra = harness_next (h, 0, true);
    assert_null (extra);

    /*  Numbering continues. */
    args = json_object_new_object ();
    json_object_object_add (args, "count", json_object_new_int (1));
    reply = harness_call (h, 52, "fake.emit", NULL, args);
    s_assert_ok (reply);
    json_object_put (reply);
    json_object *ev = harness_expect (h, VB_WCMD_EVENT, 5000, NULL);
    assert_non_null (ev);
    assert_int_equal (vb_json_uint (ev, "wseq", 0), 4);
    json_object_put (ev);
}

static void
test_worker_event_burst_beyond_socket_hwm_arrives_complete_and_in_order (void **state)
{
    /*  20000 events made in one handler call overflow the socket's high-water mark (1000):
     *  the rest waits in the out-queue, and the reply still comes after the last event. */
    harness_t *h = (harness_t *) *state;
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "count", json_object_new_int (20000));
    harness_request (h, "client-1", 70, "fake.emit", NULL, args, 5000);
    for (uint64_t w = 1; w <= 20000; w++) {
        vb_wmsg_t *msg = harness_next (h, 5000, true);
        assert_non_null (msg);
        assert_int_equal (msg->cmd, VB_WCMD_EVENT);
        assert_int_equal (vb_json_uint (msg->body, "wseq", 0), w);
        vb_wmsg_destroy (&msg);
    }
    vb_wmsg_t *msg = harness_next (h, 5000, true);
    assert_non_null (msg);
    assert_int_equal (msg->cmd, VB_WCMD_REPLY);
    assert_int_equal (vb_json_uint (msg->body, "id", 0), 70);
    vb_wmsg_destroy (&msg);
}

static void
test_worker_garbage_from_broker_is_ignored (void **state)
{
    harness_t *h = (harness_t *) *state;
    zmsg_t *msg;

    msg = zmsg_new ();                       /* an empty message */
    zmsg_addmem (msg, NULL, 0);
    harness_send_raw (h, msg);
    msg = zmsg_new ();                       /* another protocol */
    zmsg_addstr (msg, "VBW9");
    zmsg_addstr (msg, "HEARTBEAT");
    zmsg_addmem (msg, "\x80", 1);
    harness_send_raw (h, msg);
    msg = zmsg_new ();                       /* an unknown command */
    zmsg_addstr (msg, "VBW1");
    zmsg_addstr (msg, "EXPLODE");
    zmsg_addmem (msg, "\x80", 1);
    harness_send_raw (h, msg);
    msg = zmsg_new ();                       /* a truncated msgpack body */
    zmsg_addstr (msg, "VBW1");
    zmsg_addstr (msg, "REQUEST");
    zmsg_addmem (msg, "\x85\xa2id", 4);
    harness_send_raw (h, msg);
    msg = zmsg_new ();                       /* random bytes */
    zmsg_addstr (msg, "VBW1");
    zmsg_addstr (msg, "REQUEST");
    unsigned char noise[512];
    srand (7);
    for (size_t i = 0; i < sizeof noise; i++)
        noise[i] = (unsigned char) rand ();
    zmsg_addmem (msg, noise, sizeof noise);
    harness_send_raw (h, msg);
    msg = zmsg_new ();                       /* a REQUEST whose body is not a request */
    json_object *bad = json_object_new_object ();
    json_object_object_add (bad, "id", json_object_new_int (60));
    json_object_object_add (bad, "op", json_object_new_int (5));
    harness_send (h, VB_WCMD_REQUEST, bad);
    zmsg_destroy (&msg);
    for (int i = 0; i < 5; i++) {            /* many frames */
        msg = zmsg_new ();
        for (int f = 0; f < 50; f++)
            zmsg_addstr (msg, "VBW1");
        harness_send_raw (h, msg);
    }
    /*  Still serving. */
    json_object *reply = harness_call (h, 61, "domain.start", "web", NULL);
    s_assert_ok (reply);
    json_object_put (reply);
}

static void
test_worker_new_fails_with_the_reason (void **state)
{
    (void) state;
    char dir[] = "/tmp/vb-test-worker-XXXXXX";
    assert_non_null (mkdtemp (dir));
    vb_error_t err = { 0 };
    vb_worker_config_t config = { .broker = "tcp://127.0.0.1:1", .host = "bad host/name",
                                  .state_dir = dir };
    assert_null (vb_worker_new (&config, &fake_driver, &err));
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    assert_non_null (strstr (err.message, "bad host/name"));

    config.host = "h1";
    s_open_fails = true;
    vb_error_clear (&err);
    assert_null (vb_worker_new (&config, &fake_driver, &err));
    s_open_fails = false;
    assert_int_equal (err.code, VB_ERR_HYPERVISOR_UNAVAILABLE);
    assert_string_equal (err.message, "no fake hypervisor on this host");

    config.broker = "nonsense://endpoint";
    vb_error_clear (&err);
    assert_null (vb_worker_new (&config, &fake_driver, &err));
    assert_non_null (strstr (err.message, "nonsense://endpoint"));

    char command[128];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    assert_int_equal (system (command), 0);
}

static void
test_worker_default_id_is_stable_per_state_dir (void **state)
{
    (void) state;
    char dir1[] = "/tmp/vb-test-worker-XXXXXX";
    char dir2[] = "/tmp/vb-test-worker-XXXXXX";
    assert_non_null (mkdtemp (dir1));
    assert_non_null (mkdtemp (dir2));
    vb_error_t err = { 0 };
    vb_worker_config_t config = { .broker = "tcp://127.0.0.1:1", .host = "h1",
                                  .state_dir = dir1 };
    vb_worker_t *w = vb_worker_new (&config, &fake_driver, &err);
    assert_non_null (w);
    char id1[128];
    snprintf (id1, sizeof id1, "%s", vb_worker_id (w));
    assert_string_equal (vb_worker_host (w), "h1");
    assert_string_equal (vb_worker_driver_name (w), "fake");
    vb_worker_destroy (&w);
    assert_null (w);

    /*  "<host>-<driver>-<first 8 hex of hash64(realpath of the driver dir)>" */
    char path[256], resolved[4096], expected[128], hex[17];
    snprintf (path, sizeof path, "%s/h1/fake", dir1);
    assert_non_null (realpath (path, resolved));
    snprintf (hex, sizeof hex, "%016llx",
              (unsigned long long) vb_hash64 (resolved, strlen (resolved)));
    snprintf (expected, sizeof expected, "h1-fake-%.8s", hex);
    assert_string_equal (id1, expected);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0700);

    w = vb_worker_new (&config, &fake_driver, &err);
    assert_non_null (w);
    assert_string_equal (vb_worker_id (w), id1);
    vb_worker_destroy (&w);

    config.state_dir = dir2;
    w = vb_worker_new (&config, &fake_driver, &err);
    assert_non_null (w);
    assert_string_not_equal (vb_worker_id (w), id1);
    vb_worker_destroy (&w);

    char command[128];
    snprintf (command, sizeof command, "rm -rf '%s' '%s'", dir1, dir2);
    assert_int_equal (system (command), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_worker_ready_carries_identity_inventory_and_pid),
        cmocka_unit_test (test_worker_heartbeats_every_interval_while_broker_answers),
        cmocka_unit_test (test_worker_silent_broker_reconnects_and_sends_ready_again),
        cmocka_unit_test_setup_teardown (test_worker_disconnect_answers_ready_at_once,
                                         setup, teardown),
        cmocka_unit_test_setup_teardown (test_worker_request_dispatches_to_driver_and_replies,
                                         setup, teardown),
        cmocka_unit_test_setup_teardown (test_worker_error_reply_carries_code_and_message,
                                         setup, teardown),
        cmocka_unit_test_setup_teardown (
            test_worker_repeated_request_answered_from_cache_without_driver, setup, teardown),
        cmocka_unit_test_setup_teardown (test_worker_repeat_of_inflight_request_is_ignored,
                                         setup, teardown),
        cmocka_unit_test_setup_teardown (
            test_worker_unknown_op_answers_unsupported_naming_op_and_driver, setup, teardown),
        cmocka_unit_test_setup_teardown (
            test_worker_domain_op_without_domain_answers_invalid_arg, setup, teardown),
        cmocka_unit_test_setup_teardown (
            test_worker_inventory_change_sends_domains_before_the_reply, setup, teardown),
        cmocka_unit_test_setup_teardown (
            test_worker_events_numbered_from_one_and_resent_until_acked, setup, teardown),
        cmocka_unit_test_setup_teardown (
            test_worker_event_burst_beyond_socket_hwm_arrives_complete_and_in_order, setup,
            teardown),
        cmocka_unit_test_setup_teardown (test_worker_garbage_from_broker_is_ignored,
                                         setup, teardown),
        cmocka_unit_test (test_worker_new_fails_with_the_reason),
        cmocka_unit_test (test_worker_default_id_is_stable_per_state_dir),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
