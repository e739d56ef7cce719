/*  Spine check: garbage bytes and malformed frames on every broker endpoint.
 *
 *  A broker with one virtbus-test worker (h1, domain "web") is sent, on each endpoint:
 *  - raw TCP garbage through plain sockets (random bytes, a ZMTP signature followed by junk,
 *    connections opened and dropped, one left half-open);
 *  - clients endpoint, each case on its own DEALER: wrong frame counts, an unknown protocol id
 *    ("VBC9"), bytes that are not msgpack, a body that is not a map, truncated msgpack, huge
 *    declared arrays/maps/strings, nesting past the depth limit, a frame over 1 MiB. Those whose
 *    envelope is readable must answer PROTOCOL; the rest may be dropped, but nothing may answer
 *    ok;
 *  - workers endpoint: garbage commands, unknown protocol id, malformed READY bodies, and a
 *    HEARTBEAT from a worker the broker does not know, which must answer DISCONNECT;
 *  - events endpoint: junk subscriptions from a SUB and junk frames from an XSUB.
 *  Afterwards the broker process is alive, `hosts` and domain.info still work, the real worker is
 *  still registered and no malformed READY registered anything.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "vb_proto.h"
#include "vb_testcall.h"
#include "vb_testenv.h"

#define REPLY_WAIT_MS 3000

typedef struct {
    const char *what;
    const char *frames[6];   /* NULL-terminated list; sizes in LENS */
    size_t lens[6];
} s_case_t;

/* --- Raw TCP ----------------------------------------------------------------------------- */

static int
s_tcp_connect (const char *endpoint)
{
    const char *colon = strrchr (endpoint, ':');
    assert_non_null (colon);
    int port = atoi (colon + 1);
    assert_true (port > 0 && port < 65536);
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) port)};
    addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
        fail_msg ("cannot connect to %s", endpoint);
    return fd;
}

static void
s_tcp_send (int fd, const void *data, size_t len)
{
    /* The broker may close the connection on the first bad byte: a short write is fine. */
    ssize_t rc = send (fd, data, len, MSG_NOSIGNAL);
    (void) rc;
}

/*  Returns a half-open connection the caller closes at the end. */
static int
s_tcp_garbage (const char *endpoint, unsigned seed)
{
    unsigned char junk[8192];
    srand (seed);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char) rand ();

    int fd = s_tcp_connect (endpoint);
    s_tcp_send (fd, junk, sizeof junk);
    close (fd);

    /* A ZMTP 3 signature (0xFF, 8 bytes, 0x7F), then an impossible version and junk. */
    unsigned char greeting[64] = {0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 99, 99};
    memcpy (greeting + 12, junk, sizeof greeting - 12);
    fd = s_tcp_connect (endpoint);
    s_tcp_send (fd, greeting, sizeof greeting);
    s_tcp_send (fd, junk, 1024);
    close (fd);

    fd = s_tcp_connect (endpoint);
    close (fd);

    fd = s_tcp_connect (endpoint);
    s_tcp_send (fd, greeting, 5);
    return fd;
}

/* --- ZeroMQ helpers ---------------------------------------------------------------------- */

static zsock_t *
s_connect (int type, const char *endpoint)
{
    zsock_t *sock = zsock_new (type);
    assert_non_null (sock);
    zsock_set_linger (sock, 0);
    zsock_set_rcvtimeo (sock, REPLY_WAIT_MS);
    assert_int_equal (zsock_connect (sock, "%s", endpoint), 0);
    return sock;
}

static void
s_send_frames (zsock_t *sock, const char *const *frames, const size_t *lens)
{
    zmsg_t *msg = zmsg_new ();
    for (size_t i = 0; frames[i]; i++)
        zmsg_addmem (msg, frames[i], lens[i]);
    assert_int_equal (zmsg_send (&msg, sock), 0);
}

/*  A valid request body, msgpack-encoded, as a malloc'd buffer. */
static char *
s_request_body (uint64_t id, const char *op, size_t *len)
{
    vb_request_t *req = vb_request_new (id, op, NULL, NULL, 1000);
    assert_non_null (req);
    zframe_t *frame = vb_request_encode (req);
    assert_non_null (frame);
    *len = zframe_size (frame);
    char *body = malloc (*len);
    memcpy (body, zframe_data (frame), *len);
    zframe_destroy (&frame);
    vb_request_destroy (&req);
    return body;
}

/*  Receive a client-side reply ([empty][proto][body]) within REPLY_WAIT_MS and decode it. */
static vb_reply_t *
s_recv_reply (zsock_t *sock, const char *what)
{
    zmsg_t *msg = zmsg_recv (sock);
    if (!msg)
        fail_msg ("%s: no reply within %d ms", what, REPLY_WAIT_MS);
    if (zmsg_size (msg) != 3)
        fail_msg ("%s: reply has %zu frames, want [empty][VBC1][body]", what, zmsg_size (msg));
    zframe_t *empty = zmsg_first (msg);
    zframe_t *proto = zmsg_next (msg);
    zframe_t *body = zmsg_next (msg);
    assert_int_equal (zframe_size (empty), 0);
    assert_true (zframe_streq (proto, VB_PROTO_CLIENT));
    vb_limits_t limits = vb_limits_worker ();
    vb_error_t err = {0};
    vb_reply_t *r = vb_reply_decode (body, &limits, &err);
    if (!r)
        fail_msg ("%s: undecodable reply: %s", what, err.message);
    zmsg_destroy (&msg);
    return r;
}

/* --- Cases ------------------------------------------------------------------------------- */

/*  Nested arrays DEPTH deep as the value of "args", in an otherwise valid-looking map. */
static char *
s_deep_body (unsigned depth, size_t *len)
{
    static const char head[] = "\x83\xa2id\x07\xa2op\xa5hosts\xa4" "args";
    size_t n = sizeof head - 1;
    char *body = malloc (n + depth + 1);
    memcpy (body, head, n);
    memset (body + n, '\x91', depth);   /* fixarray of 1, DEPTH times */
    body[n + depth] = '\xc0';            /* nil at the bottom */
    *len = n + depth + 1;
    return body;
}

static void
s_clients_garbage (const char *endpoint)
{
    size_t valid_len = 0, deep_len = 0;
    char *valid = s_request_body (7, "hosts", &valid_len);
    char *deep = s_deep_body (VB_LIMIT_DEPTH + 8, &deep_len);

    /* Readable envelope, bad body or unknown protocol: each must answer PROTOCOL. */
    const s_case_t protocol_cases[] = {
        {"unknown protocol VBC9", {"", "VBC9", valid, NULL}, {0, 4, valid_len}},
        {"bytes that are not msgpack", {"", "VBC1", "\xc1\xc1\xc1\xc1", NULL}, {0, 4, 4}},
        {"a body that is not a map", {"", "VBC1", "\x2a", NULL}, {0, 4, 1}},
        {"truncated msgpack map", {"", "VBC1", "\x85\xa2id", NULL}, {0, 4, 4}},
        {"array declaring 2^32-1 entries", {"", "VBC1", "\xdd\xff\xff\xff\xff\x01", NULL},
         {0, 4, 6}},
        {"map declaring 2^32-1 entries", {"", "VBC1", "\xdf\xff\xff\xff\xff\x01", NULL},
         {0, 4, 6}},
        {"string declaring 4 GiB", {"", "VBC1", "\x81\xa2op\xdb\xff\xff\xff\xff" "abc", NULL},
         {0, 4, 12}},
        {"nesting past the depth limit", {"", "VBC1", deep, NULL}, {0, 4, deep_len}},
        {"empty body frame", {"", "VBC1", "", NULL}, {0, 4, 0}},
    };
    size_t nprot = sizeof protocol_cases / sizeof protocol_cases[0];

    /* Unreadable envelopes and the oversized frame: the broker may drop them or answer an
     * error; it must never answer ok. */
    size_t big_len = VB_LIMIT_CLIENT_FRAME + 64;
    char *big = malloc (big_len);
    assert_non_null (big);
    big[0] = '\xdb';   /* str32 of the rest: well-formed msgpack, just too large */
    uint32_t blen = htonl ((uint32_t) (big_len - 5));
    memcpy (big + 1, &blen, 4);
    memset (big + 5, 'x', big_len - 5);
    const s_case_t loose_cases[] = {
        {"one frame 'VBC1'", {"VBC1", NULL}, {4}},
        {"one empty frame", {"", NULL}, {0}},
        {"envelope without body", {"", "VBC1", NULL}, {0, 4}},
        {"an extra frame after the body", {"", "VBC1", valid, "extra", NULL},
         {0, 4, valid_len, 5}},
        {"five junk frames", {"a", "b", "c", "d", "e"}, {1, 1, 1, 1, 1}},
        {"no empty delimiter", {"VBC1", valid, NULL}, {4, valid_len}},
        {"frame over 1 MiB", {"", "VBC1", big, NULL}, {0, 4, big_len}},
    };
    size_t nloose = sizeof loose_cases / sizeof loose_cases[0];
    zsock_t *loose[sizeof loose_cases / sizeof loose_cases[0]];

    for (size_t i = 0; i < nloose; i++) {
        loose[i] = s_connect (ZMQ_DEALER, endpoint);
        s_send_frames (loose[i], loose_cases[i].frames, loose_cases[i].lens);
    }
    for (size_t i = 0; i < nprot; i++) {
        zsock_t *sock = s_connect (ZMQ_DEALER, endpoint);
        s_send_frames (sock, protocol_cases[i].frames, protocol_cases[i].lens);
        vb_reply_t *r = s_recv_reply (sock, protocol_cases[i].what);
        if (!vb_testcall_is_error (r, VB_ERR_PROTOCOL)) {
            char line[1024];
            fail_msg ("%s: want a PROTOCOL reply, got %s", protocol_cases[i].what,
                      vb_testcall_describe (r, NULL, line, sizeof line));
        }
        vb_reply_destroy (&r);
        zsock_destroy (&sock);
    }
    /* Whatever the loose cases got back by now must be errors. */
    for (size_t i = 0; i < nloose; i++) {
        zsock_set_rcvtimeo (loose[i], 0);
        zmsg_t *msg;
        while ((msg = zmsg_recv (loose[i]))) {
            zframe_t *body = zmsg_last (msg);
            vb_limits_t limits = vb_limits_worker ();
            vb_error_t err = {0};
            vb_reply_t *r = body ? vb_reply_decode (body, &limits, &err) : NULL;
            if (r && r->ok)
                fail_msg ("%s: answered ok", loose_cases[i].what);
            vb_reply_destroy (&r);
            zmsg_destroy (&msg);
        }
        zsock_destroy (&loose[i]);
    }

    /* The control: the same hand-made envelope with a valid body is served. */
    zsock_t *sock = s_connect (ZMQ_DEALER, endpoint);
    s_send_frames (sock, (const char *[]){"", "VBC1", valid, NULL},
                   (size_t[]){0, 4, valid_len});
    vb_reply_t *r = s_recv_reply (sock, "valid hosts request on a raw DEALER");
    if (!r->ok)
        fail_msg ("valid hosts request on a raw DEALER failed: %s", r->message);
    assert_int_equal (r->id, 7);
    vb_reply_destroy (&r);
    zsock_destroy (&sock);

    free (big);
    free (deep);
    free (valid);
}

static char *
s_encode_json (const char *json, size_t *len)
{
    json_object *obj = json ? json_tokener_parse (json) : NULL;
    assert_true (!json || obj);
    zframe_t *frame = vb_msgpack_encode (obj);
    json_object_put (obj);
    assert_non_null (frame);
    *len = zframe_size (frame);
    char *data = malloc (*len);
    memcpy (data, zframe_data (frame), *len);
    zframe_destroy (&frame);
    return data;
}

static void
s_workers_garbage (const char *endpoint)
{
    size_t empty_len, bad_ready_len, wrong_types_len, reply_len, domains_len, event_len;
    char *empty = s_encode_json ("{}", &empty_len);
    char *bad_ready = s_encode_json (
        "{\"worker\": \"evil/1\", \"host\": \"../../evil\", \"driver\": \"test\", \"version\": 1,"
        " \"pid\": 1, \"domains\": [{\"name\": \"../x\", \"uuid\": \"nope\", \"state\": 1}]}",
        &bad_ready_len);
    char *wrong_types = s_encode_json (
        "{\"worker\": 5, \"host\": [\"evil2\"], \"driver\": {}, \"version\": \"one\","
        " \"pid\": \"x\", \"domains\": 7}", &wrong_types_len);
    char *reply = s_encode_json ("{\"id\": 123456, \"ok\": true, \"result\": {}}", &reply_len);
    char *domains = s_encode_json ("{\"domains\": 5}", &domains_len);
    char *event = s_encode_json ("{\"wseq\": \"x\", \"kind\": 7}", &event_len);

    const s_case_t cases[] = {
        {"unknown command", {"VBW1", "BOGUS", empty, NULL}, {4, 5, empty_len}},
        {"unknown protocol VBW9", {"VBW9", "HEARTBEAT", empty, NULL}, {4, 9, empty_len}},
        {"protocol frame only", {"VBW1", NULL}, {4}},
        {"READY with bytes that are not msgpack", {"VBW1", "READY", "\xc1\xc1", NULL},
         {4, 5, 2}},
        {"READY with invalid names", {"VBW1", "READY", bad_ready, NULL}, {4, 5, bad_ready_len}},
        {"READY with wrong types", {"VBW1", "READY", wrong_types, NULL},
         {4, 5, wrong_types_len}},
        {"READY with a huge declared array", {"VBW1", "READY", "\xdd\xff\xff\xff\xff", NULL},
         {4, 5, 5}},
        {"REPLY from an unknown worker", {"VBW1", "REPLY", reply, NULL}, {4, 5, reply_len}},
        {"DOMAINS with a wrong type", {"VBW1", "DOMAINS", domains, NULL}, {4, 7, domains_len}},
        {"EVENT with wrong types", {"VBW1", "EVENT", event, NULL}, {4, 5, event_len}},
        {"five junk frames", {"a", "b", "c", "d", "e"}, {1, 1, 1, 1, 1}},
    };
    size_t ncases = sizeof cases / sizeof cases[0];
    zsock_t *socks[sizeof cases / sizeof cases[0]];
    for (size_t i = 0; i < ncases; i++) {
        socks[i] = s_connect (ZMQ_DEALER, endpoint);
        s_send_frames (socks[i], cases[i].frames, cases[i].lens);
    }

    /* An unknown worker's HEARTBEAT answers DISCONNECT (so a real one would re-send READY). */
    zsock_t *sock = s_connect (ZMQ_DEALER, endpoint);
    s_send_frames (sock, (const char *[]){"VBW1", "HEARTBEAT", empty, NULL},
                   (size_t[]){4, 9, empty_len});
    zmsg_t *msg = zmsg_recv (sock);
    if (!msg)
        fail_msg ("HEARTBEAT from an unknown worker: no answer within %d ms, want DISCONNECT",
                  REPLY_WAIT_MS);
    vb_limits_t limits = vb_limits_worker ();
    vb_error_t err = {0};
    vb_wmsg_t *wmsg = vb_wmsg_decode (msg, &limits, &err);
    if (!wmsg)
        fail_msg ("HEARTBEAT from an unknown worker: undecodable answer: %s", err.message);
    if (wmsg->cmd != VB_WCMD_DISCONNECT)
        fail_msg ("HEARTBEAT from an unknown worker answered %s, want DISCONNECT",
                  vb_wcmd_name (wmsg->cmd));
    vb_wmsg_destroy (&wmsg);
    zmsg_destroy (&msg);
    zsock_destroy (&sock);

    /* The garbage senders got DISCONNECT or nothing; never a REQUEST. */
    for (size_t i = 0; i < ncases; i++) {
        zsock_set_rcvtimeo (socks[i], 0);
        while ((msg = zmsg_recv (socks[i]))) {
            wmsg = vb_wmsg_decode (msg, &limits, &err);
            if (wmsg && wmsg->cmd == VB_WCMD_REQUEST)
                fail_msg ("%s: the broker sent a REQUEST to a garbage sender", cases[i].what);
            vb_wmsg_destroy (&wmsg);
            zmsg_destroy (&msg);
        }
        zsock_destroy (&socks[i]);
    }
    free (empty);
    free (bad_ready);
    free (wrong_types);
    free (reply);
    free (domains);
    free (event);
}

static void
s_events_garbage (const char *endpoint)
{
    unsigned char junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char) (i * 37 + 11);
    size_t huge_len = 70000;
    char *huge = malloc (huge_len);
    assert_non_null (huge);
    memset (huge, 'h', huge_len);

    zsock_t *sub = s_connect (ZMQ_SUB, endpoint);
    zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE, junk, sizeof junk);
    zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE, "", 0);
    zmq_setsockopt (zsock_resolve (sub), ZMQ_SUBSCRIBE, huge, huge_len);
    zmq_setsockopt (zsock_resolve (sub), ZMQ_UNSUBSCRIBE, "never/subscribed", 16);
    zmq_setsockopt (zsock_resolve (sub), ZMQ_UNSUBSCRIBE, junk, sizeof junk);

    zsock_t *xsub = s_connect (ZMQ_XSUB, endpoint);
    s_send_frames (xsub, (const char *[]){"\x01junk\xff", NULL}, (size_t[]){6});
    s_send_frames (xsub, (const char *[]){"\x00not-subscribed", NULL}, (size_t[]){15});
    s_send_frames (xsub, (const char *[]){"\x07 not a subscription", NULL}, (size_t[]){20});
    s_send_frames (xsub, (const char *[]){"", NULL}, (size_t[]){0});
    s_send_frames (xsub, (const char *[]){"a", "b", "c", NULL}, (size_t[]){1, 1, 1});
    s_send_frames (xsub, (const char *[]){huge, NULL}, (size_t[]){huge_len});
    zsock_destroy (&xsub);
    zsock_destroy (&sub);
    free (huge);
}

static void
test_spine_broker_survives_garbage_on_every_endpoint (void **state)
{
    vb_testenv_t *env = *state;
    char line[2048];

    vb_testproc_t *broker = vb_testenv_start_broker (env);
    assert_non_null (broker);
    assert_non_null (vb_testenv_start_worker (env, "virtbus-test", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);
    const char *h1[] = {"h1"};
    vb_testcall_hosts_t one = {.client = client, .hosts = h1, .count = 1, .workers = 1,
                               .deadline_ms = 1000};
    if (!vb_test_poll_until (vb_testcall_hosts_listed, &one, 20,
                             vb_testenv_intervals_ms (env, 2), NULL))
        fail_msg ("hosts does not list h1 within 2 intervals of its ready line");
    assert_int_equal (vb_testcall_define (client, "h1", "web", NULL), 0);

    const char *endpoints[] = {vb_testenv_clients_ep (env), vb_testenv_workers_ep (env),
                               vb_testenv_events_ep (env)};
    int half_open[3];
    for (int i = 0; i < 3; i++)
        half_open[i] = s_tcp_garbage (endpoints[i], 1234u + (unsigned) i);

    s_clients_garbage (vb_testenv_clients_ep (env));
    s_workers_garbage (vb_testenv_workers_ep (env));
    s_events_garbage (vb_testenv_events_ep (env));
    for (int i = 0; i < 3; i++)
        close (half_open[i]);

    /* Still serving, and nothing malformed got registered. */
    if (!vb_testproc_alive (broker))
        fail_msg ("virtbusd died from garbage; see %s", vb_testproc_log_path (broker));
    vb_error_t err = {0};
    vb_reply_t *r = vb_testcall (client, "hosts", NULL, NULL, NULL, 0, NULL, &err);
    vb_testcall_describe (r, &err, line, sizeof line);
    if (!r || !r->ok || vb_testcall_count (r->result, "host", "h1") != 1
        || json_object_array_length (r->result) != 1)
        fail_msg ("hosts after the garbage: want exactly the h1 worker, got %s", line);
    vb_reply_destroy (&r);
    r = vb_testcall (client, "domain.info", NULL, "web", NULL, 0, NULL, &err);
    if (!r || !r->ok)
        fail_msg ("domain.info web after the garbage: %s",
                  vb_testcall_describe (r, &err, line, sizeof line));
    vb_reply_destroy (&r);

    vb_testrun_t run;
    vb_testenv_vbsh (env, &run, "hosts", NULL);
    if (run.exit_code != 0 || !strstr (run.out, "h1"))
        fail_msg ("vbsh hosts after the garbage (exit %d):\n%s%s", run.exit_code, run.out,
                  run.err);
    vb_testrun_clear (&run);
    if (!vb_testproc_alive (broker))
        fail_msg ("virtbusd died; see %s", vb_testproc_log_path (broker));
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("spine_garbage", 0);
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    int rc = env ? vb_testenv_stop (env) : 0;
    vb_testenv_destroy (&env);
    vb_testproc_kill_all ();
    return rc;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_spine_broker_survives_garbage_on_every_endpoint,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
