/*  test_worker_harness — a fake broker for the worker core tests (see the header). */
#include "test_worker_harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vb_json.h"
#include "vb_util.h"

/*  Messages received while waiting for something else, oldest first (never heartbeats). One
 *  harness runs at a time in these tests, so the backlog lives with the harness struct's
 *  lifetime through this pointer. */
static zlistx_t *s_backlog;

static void
s_wmsg_destructor (void **item)
{
    vb_wmsg_destroy ((vb_wmsg_t **) item);
}

static int
s_pipe_handler (zloop_t *loop, zsock_t *pipe, void *arg)
{
    (void) loop;
    vb_worker_t *worker = (vb_worker_t *) arg;
    char *command = zstr_recv (pipe);
    if (!command)
        return -1;
    if (streq (command, "$TERM"))
        vb_worker_stop (worker);
    zstr_free (&command);
    return 0;
}

static void
s_actor (zsock_t *pipe, void *args)
{
    harness_t *h = (harness_t *) args;
    vb_worker_config_t config = {
        .broker = h->endpoint,
        .host = "h1",
        .state_dir = h->state_dir,
        .id = h->id,
        .heartbeat_ms = h->heartbeat_ms,
    };
    vb_worker_t *worker = vb_worker_new (&config, h->driver, &h->err);
    h->started = worker != NULL;
    zsock_signal (pipe, 0);
    if (!worker)
        return;
    zloop_reader (vb_worker_loop (worker), pipe, s_pipe_handler, worker);
    vb_worker_run (worker);
    vb_worker_destroy (&worker);
}

void
harness_start (harness_t *h, const vb_driver_t *driver, int heartbeat_ms)
{
    memset (h, 0, sizeof *h);
    h->driver = driver;
    h->heartbeat_ms = heartbeat_ms;
    snprintf (h->id, sizeof h->id, "h1-%s-test%d", driver->name, (int) getpid ());
    snprintf (h->state_dir, sizeof h->state_dir, "/tmp/vb-test-worker-XXXXXX");
    assert_non_null (mkdtemp (h->state_dir));
    h->router = zsock_new (ZMQ_ROUTER);
    assert_non_null (h->router);
    zsock_set_router_handover (h->router, 1);
    zsock_set_linger (h->router, 0);
    assert_true (zsock_bind (h->router, "tcp://127.0.0.1:*") > 0);
    char *endpoint = zsock_last_endpoint (h->router);   /* a new string */
    snprintf (h->endpoint, sizeof h->endpoint, "%s", endpoint);
    zstr_free (&endpoint);
    s_backlog = zlistx_new ();
    zlistx_set_destructor (s_backlog, s_wmsg_destructor);
    h->actor = zactor_new (s_actor, h);
    assert_non_null (h->actor);
    if (!h->started)
        fail_msg ("worker did not start: %s", h->err.message);
}

void
harness_stop (harness_t *h)
{
    zactor_destroy (&h->actor);
    zsock_destroy (&h->router);
    zlistx_destroy (&s_backlog);
    char command[512];
    snprintf (command, sizeof command, "rm -rf '%s'", h->state_dir);
    assert_int_equal (system (command), 0);
}

/*  Receive one decoded message within the time left until DEADLINE (monotonic ms). */
static vb_wmsg_t *
s_recv (harness_t *h, int64_t deadline)
{
    while (true) {
        /*  Like the real broker, heartbeat every interval on its own: a worker whose own
         *  heartbeat waits behind a long burst (slow under valgrind) must still hear from us. */
        int64_t now = vb_now_ms ();
        if (!h->silent && now - h->last_heartbeat_ms >= h->heartbeat_ms) {
            harness_send (h, VB_WCMD_HEARTBEAT, NULL);
            h->last_heartbeat_ms = now;
        }
        int64_t left = deadline - now;
        if (left < 0)
            return NULL;
        if (left > h->heartbeat_ms)
            left = h->heartbeat_ms;
        zsock_set_rcvtimeo (h->router, (int) left);
        zmsg_t *msg = zmsg_recv (h->router);
        if (!msg) {
            if (vb_now_ms () < deadline)
                continue;   /* woke up to heartbeat, not at the deadline */
            return NULL;
        }
        /*  A worker of another test whose broker used this port before us may reconnect here
         *  (ephemeral ports are reused): only our worker counts. */
        char *identity = zmsg_popstr (msg);
        bool ours = identity && streq (identity, h->id);
        free (identity);
        if (!ours) {
            zmsg_destroy (&msg);
            continue;
        }
        vb_limits_t limits = vb_limits_worker ();
        vb_error_t err = { 0 };
        vb_wmsg_t *wmsg = vb_wmsg_decode (msg, &limits, &err);
        zmsg_destroy (&msg);
        if (!wmsg)
            fail_msg ("the worker sent a malformed message: %s", err.message);
        /*  Like the real broker: answer heartbeats, and acknowledge READY with one. */
        if ((wmsg->cmd == VB_WCMD_HEARTBEAT || wmsg->cmd == VB_WCMD_READY) && !h->silent)
            harness_send (h, VB_WCMD_HEARTBEAT, NULL);
        return wmsg;
    }
}

typedef bool (*s_match_fn) (const vb_wmsg_t *wmsg, const void *arg);

/*  The first message matching MATCH: from the backlog, else received within TIMEOUT_MS; the
 *  other messages received meanwhile go to the backlog (heartbeats are dropped). */
static vb_wmsg_t *
s_take (harness_t *h, s_match_fn match, const void *arg, int timeout_ms, int *skipped)
{
    for (vb_wmsg_t *wmsg = (vb_wmsg_t *) zlistx_first (s_backlog); wmsg;
         wmsg = (vb_wmsg_t *) zlistx_next (s_backlog))
        if (match (wmsg, arg))
            return (vb_wmsg_t *) zlistx_detach_cur (s_backlog);
    int64_t deadline = vb_now_ms () + timeout_ms;
    vb_wmsg_t *wmsg;
    while ((wmsg = s_recv (h, deadline))) {
        if (match (wmsg, arg))
            return wmsg;
        if (skipped)
            (*skipped)++;
        if (wmsg->cmd == VB_WCMD_HEARTBEAT)
            vb_wmsg_destroy (&wmsg);
        else
            zlistx_add_end (s_backlog, wmsg);
    }
    return NULL;
}

static bool
s_match_cmd (const vb_wmsg_t *wmsg, const void *arg)
{
    return wmsg->cmd == *(const vb_wcmd_t *) arg;
}

static bool
s_match_any (const vb_wmsg_t *wmsg, const void *arg)
{
    return wmsg->cmd != VB_WCMD_HEARTBEAT || *(const bool *) arg == false;
}

static bool
s_match_reply (const vb_wmsg_t *wmsg, const void *arg)
{
    return wmsg->cmd == VB_WCMD_REPLY
           && vb_json_uint (wmsg->body, "id", UINT64_MAX) == *(const uint64_t *) arg;
}

static json_object *
s_body (vb_wmsg_t *wmsg)
{
    if (!wmsg)
        return NULL;
    json_object *body = json_object_get (wmsg->body);
    vb_wmsg_destroy (&wmsg);
    return body;
}

json_object *
harness_expect (harness_t *h, vb_wcmd_t cmd, int timeout_ms, int *skipped)
{
    return s_body (s_take (h, s_match_cmd, &cmd, timeout_ms, skipped));
}

vb_wmsg_t *
harness_next (harness_t *h, int timeout_ms, bool skip_heartbeats)
{
    return s_take (h, s_match_any, &skip_heartbeats, timeout_ms, NULL);
}

void
harness_send_raw (harness_t *h, zmsg_t *msg)
{
    assert_non_null (msg);
    zmsg_pushstr (msg, h->id);
    assert_int_equal (zmsg_send (&msg, h->router), 0);
}

void
harness_send (harness_t *h, vb_wcmd_t cmd, json_object *body)
{
    harness_send_raw (h, vb_wmsg_encode (cmd, body));
}

void
harness_request (harness_t *h, const char *origin, uint64_t id, const char *op,
                 const char *domain, json_object *args, uint32_t deadline_ms)
{
    vb_target_t target = { .domain = (char *) domain };
    vb_request_t *request = vb_request_new (id, op, &target, args, deadline_ms);
    assert_non_null (request);
    json_object *body = vb_request_to_json (request);
    assert_non_null (body);
    json_object_object_add (body, "origin", json_object_new_string (origin));
    vb_request_destroy (&request);
    harness_send (h, VB_WCMD_REQUEST, body);
}

json_object *
harness_call (harness_t *h, uint64_t id, const char *op, const char *domain, json_object *args)
{
    harness_request (h, "client-1", id, op, domain, args, 5000);
    return s_body (s_take (h, s_match_reply, &id, 5000, NULL));
}

const char *
harness_error_code (json_object *reply)
{
    json_object *error = NULL;
    if (!json_object_object_get_ex (reply, "error", &error))
        return "";
    return vb_json_str (error, "code", "");
}

const char *
harness_error_message (json_object *reply)
{
    json_object *error = NULL;
    if (!json_object_object_get_ex (reply, "error", &error))
        return "";
    return vb_json_str (error, "message", "");
}
