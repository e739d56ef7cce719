/*  Tests for broker/vb_broker with real sockets, in one process: the broker runs its loop in a
 *  thread; the test plays the client (a DEALER speaking VBC1) and the workers (DEALERs speaking
 *  VBW1), so it can see exactly what the broker forwards and when it answers. Every wait is
 *  bounded; endpoints are ephemeral. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "vb_broker.h"
#include "vb_json.h"
#include "vb_proto.h"
#include "vb_util.h"

#define UUID_WEB_A "11111111-1111-4111-8111-111111111111"
#define UUID_WEB_C "33333333-3333-4333-8333-333333333333"
#define UUID_DB_C "44444444-4444-4444-8444-444444444444"
#define WAIT_MS 3000

typedef struct {
    vb_broker_t *broker;
    pthread_t thread;
    zsock_t *stop;      /* PAIR: a message ends the broker loop */
    zsock_t *stop_back;
    zsock_t *client;
    zsock_t *wa;        /* worker a-test-1 on host a: owns web */
    zsock_t *wc;        /* worker c-test-1 on host c: owns web and db */
    uint64_t next_id;
} fixture_t;

static int
s_stop_handler (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    (void) arg;
    zstr_free (&(char *) {zstr_recv (sock)});
    return -1;
}

static void *
s_run (void *arg)
{
    vb_broker_run (arg);
    return NULL;
}

static zsock_t *
s_worker_sock (fixture_t *fx, const char *identity)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert_non_null (sock);
    zsock_set_identity (sock, identity);
    zsock_set_linger (sock, 0);
    assert_int_equal (zsock_connect (sock, "%s", vb_broker_workers_endpoint (fx->broker)), 0);
    return sock;
}

static void
s_wsend (zsock_t *sock, vb_wcmd_t cmd, json_object *body)
{
    zmsg_t *msg = vb_wmsg_encode (cmd, body);
    assert_non_null (msg);
    assert_int_equal (zmsg_send (&msg, sock), 0);
}

/*  The next command other than HEARTBEAT, or NULL after TIMEOUT_MS. */
static vb_wmsg_t *
s_wrecv (zsock_t *sock, int timeout_ms)
{
    int64_t end = vb_now_ms () + timeout_ms;
    while (vb_now_ms () < end) {
        zsock_set_rcvtimeo (sock, (int) (end - vb_now_ms ()) + 1);
        zmsg_t *msg = zmsg_recv (sock);
        if (!msg)
            return NULL;
        vb_limits_t limits = vb_limits_worker ();
        vb_error_t err = {0};
        vb_wmsg_t *wmsg = vb_wmsg_decode (msg, &limits, &err);
        zmsg_destroy (&msg);
        assert_non_null (wmsg);
        if (wmsg->cmd != VB_WCMD_HEARTBEAT)
            return wmsg;
        vb_wmsg_destroy (&wmsg);
    }
    return NULL;
}

static json_object *
s_ready_body (const char *id, const char *host, const char *web_uuid, const char *db_uuid)
{
    json_object *body = json_object_new_object ();
    json_object_object_add (body, "worker", json_object_new_string (id));
    json_object_object_add (body, "host", json_object_new_string (host));
    json_object_object_add (body, "driver", json_object_new_string ("test"));
    json_object_object_add (body, "version", json_object_new_int (VB_PROTO_VERSION));
    json_object_object_add (body, "pid", json_object_new_int (4242));
    json_object *domains = json_object_new_array ();
    const char *uuids[] = {web_uuid, db_uuid};
    const char *names[] = {"web", "db"};
    for (int i = 0; i < 2; i++) {
        if (!uuids[i])
            continue;
        json_object *d = json_object_new_object ();
        json_object_object_add (d, "name", json_object_new_string (names[i]));
        json_object_object_add (d, "uuid", json_object_new_string (uuids[i]));
        json_object_object_add (d, "state", json_object_new_int (5));
        json_object_array_add (domains, d);
    }
    json_object_object_add (body, "domains", domains);
    return body;
}

static uint64_t
s_request (fixture_t *fx, const char *op, const vb_target_t *target, json_object *args,
           uint32_t deadline_ms)
{
    uint64_t id = ++fx->next_id;
    vb_request_t *req = vb_request_new (id, op, target, args, deadline_ms);
    assert_non_null (req);
    zframe_t *body = vb_request_encode (req);
    vb_request_destroy (&req);
    zmsg_t *msg = vb_client_msg_new (&body);
    assert_int_equal (zmsg_send (&msg, fx->client), 0);
    return id;
}

static vb_reply_t *
s_reply (fixture_t *fx, int timeout_ms)
{
    zsock_set_rcvtimeo (fx->client, timeout_ms);
    zmsg_t *msg = zmsg_recv (fx->client);
    if (!msg)
        return NULL;
    vb_error_t err = {0};
    zframe_t *body = vb_client_msg_body (msg, &err);
    assert_non_null (body);
    vb_limits_t limits = vb_limits_worker ();
    vb_reply_t *reply = vb_reply_decode (body, &limits, &err);
    zmsg_destroy (&msg);
    assert_non_null (reply);
    return reply;
}

static vb_reply_t *
s_call (fixture_t *fx, const char *op, const vb_target_t *target, json_object *args)
{
    uint64_t id = s_request (fx, op, target, args, 0);
    vb_reply_t *reply = s_reply (fx, WAIT_MS);
    assert_non_null (reply);
    assert_int_equal (reply->id, id);
    return reply;
}

static size_t
s_host_count (fixture_t *fx)
{
    vb_reply_t *reply = s_call (fx, "hosts", NULL, NULL);
    size_t n = reply->ok ? json_object_array_length (reply->result) : 0;
    vb_reply_destroy (&reply);
    return n;
}

static void
s_wait_hosts (fixture_t *fx, size_t want)
{
    int64_t end = vb_now_ms () + WAIT_MS;
    while (s_host_count (fx) != want) {
        assert_true (vb_now_ms () < end);
        zclock_sleep (10);
    }
}

/*  The broker plus client; workers a and c registered (unless HEARTBEAT_MS is small: then only
 *  a, because the test starves it). */
static fixture_t *
s_start (int heartbeat_ms, bool with_c)
{
    fixture_t *fx = calloc (1, sizeof *fx);
    assert_non_null (fx);
    vb_error_t err = {0};
    vb_broker_config_t config = {
        .clients = "tcp://127.0.0.1:*", .workers = "tcp://127.0.0.1:*",
        .events = "tcp://127.0.0.1:*", .heartbeat_ms = heartbeat_ms, .event_ring = 100,
    };
    fx->broker = vb_broker_new (&config, &err);
    assert_non_null (fx->broker);
    char inproc[64];
    /*  A closed socket's inproc name is released asynchronously: never reuse one. */
    static unsigned instance;
    snprintf (inproc, sizeof inproc, "inproc://stop-%u", ++instance);
    fx->stop_back = zsock_new (ZMQ_PAIR);
    assert_int_equal (zsock_bind (fx->stop_back, "%s", inproc), 0);
    fx->stop = zsock_new (ZMQ_PAIR);
    assert_int_equal (zsock_connect (fx->stop, "%s", inproc), 0);
    assert_int_equal (zloop_reader (vb_broker_loop (fx->broker), fx->stop_back, s_stop_handler,
                                    NULL), 0);
    assert_int_equal (pthread_create (&fx->thread, NULL, s_run, fx->broker), 0);

    fx->client = zsock_new (ZMQ_DEALER);
    zsock_set_linger (fx->client, 0);
    assert_int_equal (zsock_connect (fx->client, "%s", vb_broker_clients_endpoint (fx->broker)),
                      0);
    fx->wa = s_worker_sock (fx, "wa");
    s_wsend (fx->wa, VB_WCMD_READY, s_ready_body ("a-test-1", "a", UUID_WEB_A, NULL));
    if (with_c) {
        fx->wc = s_worker_sock (fx, "wc");
        s_wsend (fx->wc, VB_WCMD_READY, s_ready_body ("c-test-1", "c", UUID_WEB_C, UUID_DB_C));
    }
    s_wait_hosts (fx, with_c ? 2 : 1);
    return fx;
}

static int
s_setup (void **state)
{
    *state = s_start (10000, true);
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fx = *state;
    zstr_send (fx->stop, "STOP");
    pthread_join (fx->thread, NULL);
    zsock_destroy (&fx->client);
    zsock_destroy (&fx->wa);
    zsock_destroy (&fx->wc);
    zsock_destroy (&fx->stop);
    zsock_destroy (&fx->stop_back);
    vb_broker_destroy (&fx->broker);
    free (fx);
    return 0;
}

/*  Answer the REQUEST in WMSG with RESULT (taken) from SOCK. */
static void
s_answer (zsock_t *sock, const vb_wmsg_t *wmsg, json_object *result)
{
    vb_reply_t *reply = vb_reply_new_ok (vb_json_uint (wmsg->body, "id", 0), result);
    s_wsend (sock, VB_WCMD_REPLY, vb_reply_to_json (reply));
    vb_reply_destroy (&reply);
}

static const char *
s_target (const vb_wmsg_t *wmsg, const char *key)
{
    return vb_json_str (json_object_object_get (wmsg->body, "target"), key, NULL);
}

static void
test_broker_host_slash_name_goes_to_owner_as_uuid_with_origin (void **state)
{
    fixture_t *fx = *state;
    uint64_t id = s_request (fx, "domain.start", &(vb_target_t){.domain = "c/web"}, NULL, 0);
    vb_wmsg_t *wmsg = s_wrecv (fx->wc, WAIT_MS);
    assert_non_null (wmsg);
    assert_int_equal (wmsg->cmd, VB_WCMD_REQUEST);
    assert_string_equal (vb_json_str (wmsg->body, "op", ""), "domain.start");
    assert_string_equal (s_target (wmsg, "domain"), UUID_WEB_C);
    assert_true (strlen (vb_json_str (wmsg->body, "origin", "")) > 0);
    int64_t budget = vb_json_int (wmsg->body, "deadline_ms", 0);
    assert_true (budget > 4000 && budget <= VB_DEADLINE_SINGLE_MS);
    s_answer (fx->wc, wmsg, json_object_new_object ());
    vb_wmsg_destroy (&wmsg);
    vb_reply_t *reply = s_reply (fx, WAIT_MS);
    assert_non_null (reply);
    assert_int_equal (reply->id, id);
    assert_true (reply->ok);
    vb_reply_destroy (&reply);
}

static void
test_broker_silent_owner_answers_timeout_at_deadline_while_others_are_served (void **state)
{
    fixture_t *fx = *state;
    int64_t start = vb_now_ms ();
    uint64_t slow = s_request (fx, "domain.info", &(vb_target_t){.domain = "c/web"}, NULL, 500);
    vb_wmsg_t *ignored = s_wrecv (fx->wc, WAIT_MS);
    assert_non_null (ignored);
    int64_t budget = vb_json_int (ignored->body, "deadline_ms", 0);
    assert_true (budget > 400 && budget <= 500);
    uint64_t fast = s_request (fx, "domain.info", &(vb_target_t){.domain = "a/web"}, NULL, 0);
    vb_wmsg_t *wmsg = s_wrecv (fx->wa, WAIT_MS);
    assert_non_null (wmsg);
    s_answer (fx->wa, wmsg, json_object_new_object ());
    vb_wmsg_destroy (&wmsg);
    vb_reply_t *reply = s_reply (fx, WAIT_MS);
    assert_int_equal (reply->id, fast);
    assert_true (reply->ok);
    vb_reply_destroy (&reply);
    reply = s_reply (fx, WAIT_MS);
    int64_t elapsed = vb_now_ms () - start;
    assert_non_null (reply);
    assert_int_equal (reply->id, slow);
    assert_int_equal (reply->code, VB_ERR_TIMEOUT);
    assert_true (elapsed >= 500 && elapsed < 1500);
    vb_reply_destroy (&reply);
    vb_wmsg_destroy (&ignored);
}

static void
test_broker_bare_name_on_two_hosts_answers_ambiguous (void **state)
{
    fixture_t *fx = *state;
    vb_reply_t *reply = s_call (fx, "domain.info", &(vb_target_t){.domain = "web"}, NULL);
    assert_false (reply->ok);
    assert_int_equal (reply->code, VB_ERR_AMBIGUOUS);
    assert_string_equal (reply->message, "domain 'web' exists on hosts a and c; use host/name");
    vb_reply_destroy (&reply);
    reply = s_call (fx, "domain.info", &(vb_target_t){.domain = "nope"}, NULL);
    assert_int_equal (reply->code, VB_ERR_NO_DOMAIN);
    vb_reply_destroy (&reply);
    reply = s_call (fx, "domain.frobnicate", NULL, NULL);
    assert_int_equal (reply->code, VB_ERR_UNSUPPORTED);
    vb_reply_destroy (&reply);
}

static void
test_broker_fanout_names_silent_worker_in_partial_at_deadline_and_drops_late_reply (void **state)
{
    fixture_t *fx = *state;
    int64_t start = vb_now_ms ();
    uint64_t id = s_request (fx, "domain.list", NULL, NULL, 300);
    vb_wmsg_t *wa_req = s_wrecv (fx->wa, WAIT_MS);
    vb_wmsg_t *wc_req = s_wrecv (fx->wc, WAIT_MS);
    assert_non_null (wa_req);
    assert_non_null (wc_req);
    json_object *list = json_object_new_array ();
    json_object_array_add (list, json_object_new_string ("a's web"));
    s_answer (fx->wa, wa_req, list);
    vb_reply_t *reply = s_reply (fx, WAIT_MS);
    int64_t elapsed = vb_now_ms () - start;
    assert_non_null (reply);
    assert_int_equal (reply->id, id);
    assert_true (reply->ok);
    assert_true (elapsed >= 300 && elapsed < 1000);
    assert_int_equal (json_object_array_length (reply->result), 1);
    assert_int_equal (reply->partial_count, 1);
    assert_string_equal (reply->partial[0].worker, "c-test-1");
    assert_string_equal (reply->partial[0].host, "c");
    assert_int_equal (reply->partial[0].code, VB_ERR_TIMEOUT);
    vb_reply_destroy (&reply);

    /*  c answers too late: nothing reaches the client but the next real answer. */
    s_answer (fx->wc, wc_req, json_object_new_array ());
    vb_reply_t *info = s_call (fx, "broker.info", NULL, NULL);
    assert_true (info->ok);
    vb_reply_destroy (&info);
    vb_wmsg_destroy (&wa_req);
    vb_wmsg_destroy (&wc_req);
}

static void
test_broker_stats_with_domains_sends_each_owner_its_subset (void **state)
{
    fixture_t *fx = *state;
    json_object *args = json_object_new_object ();
    json_object *names = json_object_new_array ();
    json_object_array_add (names, json_object_new_string ("db"));
    json_object_array_add (names, json_object_new_string ("a/web"));
    json_object_object_add (args, "domains", names);
    uint64_t id = s_request (fx, "domain.stats", NULL, args, 0);
    vb_wmsg_t *wa_req = s_wrecv (fx->wa, WAIT_MS);
    vb_wmsg_t *wc_req = s_wrecv (fx->wc, WAIT_MS);
    assert_non_null (wa_req);
    assert_non_null (wc_req);
    json_object *sub = json_object_object_get (json_object_object_get (wa_req->body, "args"),
                                               "domains");
    assert_int_equal (json_object_array_length (sub), 1);
    assert_string_equal (json_object_get_string (json_object_array_get_idx (sub, 0)),
                         UUID_WEB_A);
    sub = json_object_object_get (json_object_object_get (wc_req->body, "args"), "domains");
    assert_int_equal (json_object_array_length (sub), 1);
    assert_string_equal (json_object_get_string (json_object_array_get_idx (sub, 0)), UUID_DB_C);
    s_answer (fx->wc, wc_req, json_object_new_array ());
    s_answer (fx->wa, wa_req, json_object_new_array ());
    vb_reply_t *reply = s_reply (fx, WAIT_MS);
    assert_int_equal (reply->id, id);
    assert_true (reply->ok);
    assert_int_equal (reply->partial_count, 0);
    vb_reply_destroy (&reply);
    vb_wmsg_destroy (&wa_req);
    vb_wmsg_destroy (&wc_req);

    /*  One unknown name fails the whole request, as virsh does. */
    args = json_object_new_object ();
    names = json_object_new_array ();
    json_object_array_add (names, json_object_new_string ("a/web"));
    json_object_array_add (names, json_object_new_string ("ghost"));
    json_object_object_add (args, "domains", names);
    reply = s_call (fx, "domain.stats", NULL, args);
    assert_int_equal (reply->code, VB_ERR_NO_DOMAIN);
    vb_reply_destroy (&reply);
}

static void
test_broker_define_goes_to_least_loaded_worker (void **state)
{
    fixture_t *fx = *state;
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string (
        "<domain type='test'><name>new</name><memory>1024</memory></domain>"));
    uint64_t id = s_request (fx, "domain.define", NULL, args, 0);
    /*  a owns 1 domain, c owns 2. */
    vb_wmsg_t *wmsg = s_wrecv (fx->wa, WAIT_MS);
    assert_non_null (wmsg);
    assert_string_equal (vb_json_str (wmsg->body, "op", ""), "domain.define");
    /*  While it is in flight, a counts it: the next define of the same kind goes to a again only
     *  if a is still the least loaded (1 + 1 = 2 vs 2: tie -> a). hosts shows the load. */
    vb_reply_t *hosts = s_call (fx, "hosts", &(vb_target_t){.host = "a"}, NULL);
    assert_int_equal (json_object_array_length (hosts->result), 1);
    json_object *a = json_object_array_get_idx (hosts->result, 0);
    assert_int_equal (vb_json_int (a, "load", -1), 2);
    assert_int_equal (vb_json_int (a, "domains", -1), 1);
    vb_reply_destroy (&hosts);
    s_answer (fx->wa, wmsg, json_object_new_object ());
    vb_wmsg_destroy (&wmsg);
    vb_reply_t *reply = s_reply (fx, WAIT_MS);
    assert_int_equal (reply->id, id);
    assert_true (reply->ok);
    vb_reply_destroy (&reply);

    args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string ("<domain><name>x</name>"));
    reply = s_call (fx, "domain.define", NULL, args);
    assert_int_equal (reply->code, VB_ERR_INVALID_XML);
    vb_reply_destroy (&reply);
    args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string (
        "<domain type='kvm'><name>x</name></domain>"));
    reply = s_call (fx, "domain.define", NULL, args);
    assert_int_equal (reply->code, VB_ERR_NO_WORKER);
    vb_reply_destroy (&reply);
}

static void
test_broker_unknown_worker_gets_disconnect_then_ready_registers_it (void **state)
{
    fixture_t *fx = *state;
    zsock_t *wb = s_worker_sock (fx, "wb");
    s_wsend (wb, VB_WCMD_HEARTBEAT, NULL);
    vb_wmsg_t *wmsg = s_wrecv (wb, WAIT_MS);
    assert_non_null (wmsg);
    assert_int_equal (wmsg->cmd, VB_WCMD_DISCONNECT);
    vb_wmsg_destroy (&wmsg);
    s_wsend (wb, VB_WCMD_READY, s_ready_body ("b-test-1", "b", NULL, NULL));
    s_wait_hosts (fx, 3);
    zsock_destroy (&wb);
}

static void
test_broker_garbage_on_every_endpoint_keeps_serving (void **state)
{
    fixture_t *fx = *state;
    /*  Client endpoint: wrong frame counts, wrong protocol, bad msgpack -> PROTOCOL replies. */
    zstr_send (fx->client, "garbage");
    vb_reply_t *reply = s_reply (fx, WAIT_MS);
    assert_non_null (reply);
    assert_int_equal (reply->code, VB_ERR_PROTOCOL);
    vb_reply_destroy (&reply);
    zstr_sendx (fx->client, "", "VBC9", "x", NULL);
    reply = s_reply (fx, WAIT_MS);
    assert_int_equal (reply->code, VB_ERR_PROTOCOL);
    vb_reply_destroy (&reply);
    zstr_sendx (fx->client, "", "VBC1", "\xc1\xff\x00", NULL);
    reply = s_reply (fx, WAIT_MS);
    assert_int_equal (reply->code, VB_ERR_PROTOCOL);
    vb_reply_destroy (&reply);

    /*  Worker endpoint: garbage from a known and an unknown peer is dropped. */
    zstr_sendx (fx->wa, "VBW1", "REPLY", "\x93", NULL);
    zstr_sendx (fx->wa, "junk", NULL);
    zsock_t *stranger = s_worker_sock (fx, "stranger");
    zstr_sendx (stranger, "VBW1", "NOPE", "", "extra", NULL);

    /*  Events endpoint: a raw TCP peer writing bytes that are not ZMTP. */
    zsock_t *raw = zsock_new (ZMQ_STREAM);
    assert_int_equal (zsock_connect (raw, "%s", vb_broker_events_endpoint (fx->broker)), 0);
    zsock_set_rcvtimeo (raw, WAIT_MS);
    zmsg_t *connected = zmsg_recv (raw);  /* STREAM announces the connection */
    assert_non_null (connected);
    zframe_t *peer = zmsg_pop (connected);
    zmsg_destroy (&connected);
    zmsg_t *junk = zmsg_new ();
    zmsg_append (junk, &peer);
    zmsg_addstr (junk, "\xff\x00\x00\x00garbage garbage garbage");
    zmsg_send (&junk, raw);

    assert_int_equal (s_host_count (fx), 2);
    reply = s_call (fx, "broker.info", NULL, NULL);
    assert_true (reply->ok);
    assert_string_equal (vb_json_str (reply->result, "events", ""),
                         vb_broker_events_endpoint (fx->broker));
    vb_reply_destroy (&reply);
    zsock_destroy (&raw);
    zsock_destroy (&stranger);
}

static json_object *
s_event_body (uint64_t wseq)
{
    json_object *body = json_object_new_object ();
    json_object_object_add (body, "wseq", json_object_new_uint64 (wseq));
    json_object_object_add (body, "time_ns", json_object_new_uint64 (vb_wall_ns ()));
    json_object_object_add (body, "domain", json_object_new_string ("web"));
    json_object_object_add (body, "uuid", json_object_new_string (UUID_WEB_A));
    json_object_object_add (body, "kind", json_object_new_string ("lifecycle"));
    json_object_object_add (body, "event", json_object_new_string ("started"));
    json_object_object_add (body, "detail", json_object_new_string ("booted"));
    return body;
}

static void
test_broker_event_is_acked_always_and_published_once (void **state)
{
    fixture_t *fx = *state;
    zsock_t *sub = zsock_new_sub (vb_broker_events_endpoint (fx->broker), "");
    assert_non_null (sub);
    zsock_set_rcvtimeo (sub, 200);
    /*  Wait until the subscription is in place: a sync message comes back. */
    int64_t end = vb_now_ms () + WAIT_MS;
    bool synced = false;
    while (!synced && vb_now_ms () < end) {
        json_object *args = json_object_new_object ();
        json_object_object_add (args, "token", json_object_new_string ("t1"));
        vb_reply_t *reply = s_call (fx, "events.sync", NULL, args);
        assert_true (reply->ok);
        vb_reply_destroy (&reply);
        char *topic = zstr_recv (sub);
        synced = topic && streq (topic, "!sync/t1");
        zstr_free (&topic);
        zsock_flush (sub);
    }
    assert_true (synced);

    for (int round = 0; round < 2; round++) {  /* the second is a resend after a reconnect */
        s_wsend (fx->wa, VB_WCMD_EVENT, s_event_body (1));
        vb_wmsg_t *ack = s_wrecv (fx->wa, WAIT_MS);
        assert_non_null (ack);
        assert_int_equal (ack->cmd, VB_WCMD_EVENT_ACK);
        assert_int_equal (vb_json_uint (ack->body, "wseq", 0), 1);
        vb_wmsg_destroy (&ack);
    }
    zsock_set_rcvtimeo (sub, WAIT_MS);
    zmsg_t *msg = zmsg_recv (sub);
    assert_non_null (msg);
    vb_limits_t limits = vb_limits_worker ();
    vb_error_t err = {0};
    vb_event_t *ev = vb_event_decode (msg, &limits, &err);
    zmsg_destroy (&msg);
    assert_non_null (ev);
    assert_int_equal (ev->seq, 1);
    assert_string_equal (ev->worker, "a-test-1");
    assert_string_equal (ev->host, "a");
    vb_event_destroy (&ev);
    /*  No second copy. */
    zsock_set_rcvtimeo (sub, 200);
    msg = zmsg_recv (sub);
    assert_null (msg);

    json_object *args = json_object_new_object ();
    json_object_object_add (args, "since", json_object_new_int (0));
    vb_reply_t *reply = s_call (fx, "events.replay", NULL, args);
    assert_true (reply->ok);
    assert_int_equal (json_object_array_length (json_object_object_get (reply->result,
                                                                         "events")), 1);
    assert_int_equal (vb_json_uint (reply->result, "last_seq", 0), 1);
    vb_reply_destroy (&reply);
    zsock_destroy (&sub);
}

static void
test_broker_silent_worker_is_dropped_and_its_request_answers_worker_lost (void **state)
{
    (void) state;
    fixture_t *fx = s_start (100, false);
    int64_t start = vb_now_ms ();
    uint64_t id = s_request (fx, "domain.start", &(vb_target_t){.domain = "web"}, NULL, 0);
    vb_wmsg_t *wmsg = s_wrecv (fx->wa, WAIT_MS);
    assert_non_null (wmsg);
    vb_wmsg_destroy (&wmsg);
    /*  The worker now stays silent: dead after 3 intervals, long before the 5 s deadline. */
    vb_reply_t *reply = s_reply (fx, WAIT_MS);
    assert_non_null (reply);
    assert_int_equal (reply->id, id);
    assert_int_equal (reply->code, VB_ERR_WORKER_LOST);
    assert_true (vb_now_ms () - start < 1000);
    vb_reply_destroy (&reply);
    assert_int_equal (s_host_count (fx), 0);
    reply = s_call (fx, "domain.start", &(vb_target_t){.domain = "web"}, NULL);
    assert_int_equal (reply->code, VB_ERR_NO_WORKER);
    vb_reply_destroy (&reply);
    void *p = fx;
    s_teardown (&p);
}

static void
test_broker_advertise_replaces_only_wildcard_hosts (void **state)
{
    (void) state;
    char *ep = vb_broker_advertised_endpoint ("tcp://0.0.0.0:16600", "broker.example");
    assert_string_equal (ep, "tcp://broker.example:16600");
    free (ep);
    ep = vb_broker_advertised_endpoint ("tcp://127.0.0.1:16600", "broker.example");
    assert_string_equal (ep, "tcp://127.0.0.1:16600");
    free (ep);
    ep = vb_broker_advertised_endpoint ("tcp://0.0.0.0:16600", NULL);
    assert_string_equal (ep, "tcp://0.0.0.0:16600");
    free (ep);
    ep = vb_broker_advertised_endpoint ("ipc:///tmp/x", "h");
    assert_string_equal (ep, "ipc:///tmp/x");
    free (ep);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_broker_host_slash_name_goes_to_owner_as_uuid_with_origin, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_broker_silent_owner_answers_timeout_at_deadline_while_others_are_served,
            s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_broker_bare_name_on_two_hosts_answers_ambiguous,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_broker_fanout_names_silent_worker_in_partial_at_deadline_and_drops_late_reply,
            s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_broker_stats_with_domains_sends_each_owner_its_subset, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_broker_define_goes_to_least_loaded_worker,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_broker_unknown_worker_gets_disconnect_then_ready_registers_it, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (test_broker_garbage_on_every_endpoint_keeps_serving,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_broker_event_is_acked_always_and_published_once,
                                         s_setup, s_teardown),
        cmocka_unit_test (
            test_broker_silent_worker_is_dropped_and_its_request_answers_worker_lost),
        cmocka_unit_test (test_broker_advertise_replaces_only_wildcard_hosts),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
