/*  Unit tests for vb_proto (common/vb_proto.c): round trips of every message type (requests,
 *  replies with partial, the client envelope, all eight worker commands, published events) and
 *  the errors for malformed frames and fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "vb_proto.h"

#define UUID1 "6f1c2a10-3b4e-4c5d-8e9f-0a1b2c3d4e5f"

static void
expect_msg (const vb_error_t *err, vb_error_code_t code, const char *needle)
{
    if (err->code != code)
        fail_msg ("expected %s, got %s: %s", vb_error_code_name (code),
                  vb_error_code_name (err->code), err->message);
    if (!strstr (err->message, needle))
        fail_msg ("error '%s' does not mention '%s'", err->message, needle);
}

/*  Encode a JSON text as a msgpack frame. */
static zframe_t *
frame_of (const char *json)
{
    json_object *obj = json_tokener_parse (json);
    if (!obj && strcmp (json, "null") != 0)
        fail_msg ("bad JSON in test: %s", json);
    zframe_t *frame = vb_msgpack_encode (obj);
    json_object_put (obj);
    return frame;
}

/* ---------------------------------------------------------------------------------------------
 *  Requests
 */

static void
test_proto_request_round_trip_keeps_every_field (void **state)
{
    (void) state;
    vb_target_t target = { "h1", "qemu", "h1/web" };
    json_object *args = json_tokener_parse ("{\"paused\": true, \"groups\": [\"block\"]}");
    vb_request_t *req = vb_request_new (UINT64_MAX, "domain.start", &target, args, 1500);
    assert_non_null (req);
    zframe_t *body = vb_request_encode (req);
    vb_limits_t limits = vb_limits_client ();
    vb_error_t err = { 0 };
    uint64_t id = 0;
    vb_request_t *back = vb_request_decode (body, &limits, &id, &err);
    assert_non_null (back);
    assert_true (id == UINT64_MAX);
    assert_true (back->id == UINT64_MAX);
    assert_string_equal (back->op, "domain.start");
    assert_string_equal (back->target.host, "h1");
    assert_string_equal (back->target.driver, "qemu");
    assert_string_equal (back->target.domain, "h1/web");
    assert_int_equal (back->deadline_ms, 1500);
    assert_true (json_object_equal (back->args, req->args));
    zframe_destroy (&body);
    vb_request_destroy (&req);
    vb_request_destroy (&back);
    assert_null (back);
}

static void
test_proto_request_minimal_gets_empty_args_and_no_deadline (void **state)
{
    (void) state;
    zframe_t *body = frame_of ("{\"id\": 3, \"op\": \"hosts\", \"future_field\": [1]}");
    vb_error_t err = { 0 };
    vb_request_t *req = vb_request_decode (body, NULL, NULL, &err);
    assert_non_null (req);
    assert_true (json_object_is_type (req->args, json_type_object));
    assert_int_equal (json_object_object_length (req->args), 0);
    assert_int_equal (req->deadline_ms, 0);
    assert_null (req->target.host);
    assert_null (req->target.driver);
    assert_null (req->target.domain);
    zframe_destroy (&body);
    vb_request_destroy (&req);
}

static void
test_proto_request_empty_target_strings_mean_absent (void **state)
{
    (void) state;
    vb_target_t target = { "", NULL, "" };
    vb_request_t *req = vb_request_new (1, "domain.list", &target, NULL, 0);
    assert_null (req->target.host);
    assert_null (req->target.domain);
    zframe_t *body = frame_of ("{\"id\": 3, \"op\": \"hosts\", \"target\": {\"host\": \"\"}}");
    vb_error_t err = { 0 };
    vb_request_t *back = vb_request_decode (body, NULL, NULL, &err);
    assert_non_null (back);
    assert_null (back->target.host);
    zframe_destroy (&body);
    vb_request_destroy (&req);
    vb_request_destroy (&back);
}

static void
test_proto_request_accepts_uuid_name_and_host_slash_name (void **state)
{
    (void) state;
    const char *ok[] = { "web", "h1/web", UUID1, "a.b-c_d+e" };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        vb_target_t target = { NULL, NULL, (char *) ok[i] };
        vb_request_t *req = vb_request_new (1, "domain.info", &target, NULL, 0);
        zframe_t *body = vb_request_encode (req);
        vb_error_t err = { 0 };
        vb_request_t *back = vb_request_decode (body, NULL, NULL, &err);
        if (!back)
            fail_msg ("'%s' refused: %s", ok[i], err.message);
        vb_request_destroy (&back);
        vb_request_destroy (&req);
        zframe_destroy (&body);
    }
}

/*  Decode JSON as a request that must fail with CODE mentioning NEEDLE; return the id seen. */
static uint64_t
expect_request_error (const char *json, vb_error_code_t code, const char *needle)
{
    zframe_t *body = frame_of (json);
    vb_limits_t limits = vb_limits_client ();
    vb_error_t err = { 0 };
    uint64_t id = 77;
    vb_request_t *req = vb_request_decode (body, &limits, &id, &err);
    zframe_destroy (&body);
    if (req)
        fail_msg ("request %s was accepted", json);
    expect_msg (&err, code, needle);
    return id;
}

static void
test_proto_request_bad_fields_answer_invalid_arg (void **state)
{
    (void) state;
    assert_true (expect_request_error ("{\"op\": \"hosts\"}", VB_ERR_INVALID_ARG,
                                       "field 'id' is missing") == 0);
    assert_true (expect_request_error ("{\"id\": -1, \"op\": \"hosts\"}", VB_ERR_INVALID_ARG,
                                       "non-negative") == 0);
    assert_true (expect_request_error ("{\"id\": \"1\", \"op\": \"hosts\"}", VB_ERR_INVALID_ARG,
                                       "field 'id' must be a non-negative integer, not a string")
                 == 0);
    /*  Once the id is known the error reply can carry it. */
    assert_true (expect_request_error ("{\"id\": 9}", VB_ERR_INVALID_ARG, "'op' is missing")
                 == 9);
    expect_request_error ("{\"id\": 9, \"op\": \"\"}", VB_ERR_INVALID_ARG, "operation name");
    expect_request_error ("{\"id\": 9, \"op\": "
                          "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                          VB_ERR_INVALID_ARG, "operation name");
    expect_request_error ("{\"id\": 9, \"op\": \"domain start\"}", VB_ERR_INVALID_ARG,
                          "'domain start'");
    expect_request_error ("{\"id\": 9, \"op\": 5}", VB_ERR_INVALID_ARG, "must be a string");
    expect_request_error ("{\"id\": 9, \"op\": \"hosts\", \"target\": \"h1\"}",
                          VB_ERR_INVALID_ARG, "field 'target' must be a map");
    expect_request_error ("{\"id\": 9, \"op\": \"hosts\", \"target\": {\"host\": 1}}",
                          VB_ERR_INVALID_ARG, "field 'host' must be a string");
    expect_request_error ("{\"id\": 9, \"op\": \"hosts\", \"target\": {\"host\": \"../etc\"}}",
                          VB_ERR_INVALID_ARG, "target host '../etc' is not a valid host name");
    expect_request_error ("{\"id\": 9, \"op\": \"x\", \"target\": {\"driver\": \"q emu\"}}",
                          VB_ERR_INVALID_ARG, "target driver 'q emu'");
    expect_request_error ("{\"id\": 9, \"op\": \"x\", \"target\": {\"domain\": \"a/b/c\"}}",
                          VB_ERR_INVALID_ARG, "target domain 'a/b/c'");
    expect_request_error ("{\"id\": 9, \"op\": \"x\", \"target\": {\"domain\": \"/web\"}}",
                          VB_ERR_INVALID_ARG, "neither a domain name");
    expect_request_error ("{\"id\": 9, \"op\": \"x\", \"args\": [1]}", VB_ERR_INVALID_ARG,
                          "field 'args' must be a map, not an array");
    expect_request_error ("{\"id\": 9, \"op\": \"x\", \"deadline_ms\": 0}", VB_ERR_INVALID_ARG,
                          "deadline_ms 0 is outside 1..3600000");
    expect_request_error ("{\"id\": 9, \"op\": \"x\", \"deadline_ms\": 3600001}",
                          VB_ERR_INVALID_ARG, "outside");
    expect_request_error ("{\"id\": 9, \"op\": \"x\", \"deadline_ms\": 1.5}",
                          VB_ERR_INVALID_ARG, "must be an integer, not a float");
    expect_request_error ("{\"id\": 9, \"op\": \"x\", \"deadline_ms\": null}",
                          VB_ERR_INVALID_ARG, "not null");
}

static void
test_proto_request_malformed_bodies_answer_protocol (void **state)
{
    (void) state;
    expect_request_error ("[1, 2]", VB_ERR_PROTOCOL, "not a msgpack map");
    expect_request_error ("\"VBC1\"", VB_ERR_PROTOCOL, "not a msgpack map");
    expect_request_error ("null", VB_ERR_PROTOCOL, "not a msgpack map");

    vb_error_t err = { 0 };
    assert_null (vb_request_decode (NULL, NULL, NULL, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "no body frame");

    zframe_t *garbage = zframe_new ("\xdd\xff\xff\xff\xff", 5);
    uint64_t id = 5;
    assert_null (vb_request_decode (garbage, NULL, &id, &err));
    assert_true (id == 0);
    expect_msg (&err, VB_ERR_PROTOCOL, "declares 4294967295 elements");
    zframe_destroy (&garbage);
}

static void
test_proto_request_over_client_frame_limit_answers_protocol (void **state)
{
    (void) state;
    /*  20 strings of 60 KiB: each string is legal, the 1.2 MiB frame is not. */
    json_object *args = json_object_new_object ();
    char *chunk = malloc (60 * 1024 + 1);
    memset (chunk, 'a', 60 * 1024);
    chunk[60 * 1024] = '\0';
    for (int i = 0; i < 20; i++) {
        char key[16];
        snprintf (key, sizeof key, "k%d", i);
        json_object_object_add (args, key, json_object_new_string (chunk));
    }
    free (chunk);
    vb_request_t *req = vb_request_new (1, "domain.define", NULL, args, 0);
    zframe_t *body = vb_request_encode (req);
    vb_limits_t client = vb_limits_client ();
    vb_limits_t worker = vb_limits_worker ();
    vb_error_t err = { 0 };
    assert_null (vb_request_decode (body, &client, NULL, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "exceeds the 1048576-byte limit");
    vb_request_t *back = vb_request_decode (body, &worker, NULL, &err);
    assert_non_null (back);
    vb_request_destroy (&back);
    vb_request_destroy (&req);
    zframe_destroy (&body);
}

static void
test_proto_request_nested_33_deep_answers_protocol (void **state)
{
    (void) state;
    /*  The request map is level 1, args level 2, and 30 nested arrays reach level 32. */
    json_object *inner = json_object_new_array ();
    for (int i = 0; i < 29; i++) {
        json_object *outer = json_object_new_array ();
        json_object_array_add (outer, inner);
        inner = outer;
    }
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "deep", inner);
    vb_request_t *req = vb_request_new (4, "domain.stats", NULL, args, 0);
    zframe_t *body = vb_request_encode (req);
    vb_limits_t limits = vb_limits_client ();
    vb_error_t err = { 0 };
    vb_request_t *back = vb_request_decode (body, &limits, NULL, &err);
    assert_non_null (back); /* exactly 32 levels */
    vb_request_destroy (&back);
    zframe_destroy (&body);

    json_object *more = json_object_new_array ();
    json_object_array_add (more, json_object_get (inner));
    json_object_object_add (req->args, "deep", more);
    body = vb_request_encode (req);
    assert_null (vb_request_decode (body, &limits, NULL, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "nested deeper than the 32-level limit");
    zframe_destroy (&body);
    vb_request_destroy (&req);
}

static void
test_proto_request_json_carries_origin_for_workers (void **state)
{
    (void) state;
    vb_target_t target = { NULL, NULL, UUID1 };
    vb_request_t *req = vb_request_new (42, "domain.destroy", &target, NULL, 900);
    json_object *obj = vb_request_to_json (req);
    json_object_object_add (obj, "origin", json_object_new_string ("client-7"));
    char *origin = NULL;
    vb_error_t err = { 0 };
    vb_request_t *back = vb_request_from_json (obj, &origin, &err);
    assert_non_null (back);
    assert_string_equal (origin, "client-7");
    assert_true (back->id == 42);
    assert_string_equal (back->target.domain, UUID1);
    assert_int_equal (back->deadline_ms, 900);
    free (origin);
    vb_request_destroy (&back);

    /*  Without an origin: *ORIGIN_OUT is NULL. */
    json_object_object_del (obj, "origin");
    origin = (char *) "x";
    back = vb_request_from_json (obj, &origin, &err);
    assert_non_null (back);
    assert_null (origin);
    vb_request_destroy (&back);
    json_object_put (obj);
    vb_request_destroy (&req);
}

/* ---------------------------------------------------------------------------------------------
 *  Replies
 */

static vb_reply_t *
reply_round_trip (const vb_reply_t *reply)
{
    zframe_t *body = vb_reply_encode (reply);
    assert_non_null (body);
    vb_limits_t limits = vb_limits_worker ();
    vb_error_t err = { 0 };
    vb_reply_t *back = vb_reply_decode (body, &limits, &err);
    if (!back)
        fail_msg ("reply did not decode: %s", err.message);
    zframe_destroy (&body);
    return back;
}

static void
test_proto_reply_ok_round_trip_keeps_result_and_partial (void **state)
{
    (void) state;
    json_object *result = json_tokener_parse ("[{\"name\": \"web\", \"state\": 1}]");
    vb_reply_t *reply = vb_reply_new_ok (12, result);
    assert_int_equal (vb_reply_add_partial (reply, "h3", "qemu", "h3-qemu-1", VB_ERR_TIMEOUT,
                                            "worker h3-qemu-1 did not answer within 2000 ms"),
                      0);
    assert_int_equal (vb_reply_add_partial (reply, "h4", "lxc", NULL, VB_ERR_WORKER_LOST,
                                            "worker lost"),
                      0);
    vb_reply_t *back = reply_round_trip (reply);
    assert_true (back->id == 12);
    assert_true (back->ok);
    assert_true (json_object_equal (back->result, result));
    assert_int_equal (back->partial_count, 2);
    assert_string_equal (back->partial[0].host, "h3");
    assert_string_equal (back->partial[0].driver, "qemu");
    assert_string_equal (back->partial[0].worker, "h3-qemu-1");
    assert_int_equal (back->partial[0].code, VB_ERR_TIMEOUT);
    assert_string_equal (back->partial[0].message,
                         "worker h3-qemu-1 did not answer within 2000 ms");
    assert_string_equal (back->partial[1].worker, "");
    assert_int_equal (back->partial[1].code, VB_ERR_WORKER_LOST);
    vb_reply_destroy (&reply);
    vb_reply_destroy (&back);
    assert_null (back);
}

static void
test_proto_reply_ok_with_nil_result_round_trips (void **state)
{
    (void) state;
    vb_reply_t *reply = vb_reply_new_ok (1, NULL);
    vb_reply_t *back = reply_round_trip (reply);
    assert_true (back->ok);
    assert_null (back->result);
    assert_null (back->partial);
    vb_reply_destroy (&reply);
    vb_reply_destroy (&back);
}

static void
test_proto_reply_error_round_trip_for_every_code (void **state)
{
    (void) state;
    for (int code = VB_ERR_PROTOCOL; code < VB_ERR_LAST; code++) {
        vb_reply_t *reply = vb_reply_new_error (100 + (uint64_t) code, (vb_error_code_t) code,
                                                "domain 'vm9' not found on any host");
        vb_reply_t *back = reply_round_trip (reply);
        assert_false (back->ok);
        assert_int_equal (back->code, code);
        assert_true (back->id == 100 + (uint64_t) code);
        assert_string_equal (back->message, "domain 'vm9' not found on any host");
        assert_null (back->result);
        vb_reply_destroy (&reply);
        vb_reply_destroy (&back);
    }
    vb_error_t err;
    vb_error_set (&err, VB_ERR_AMBIGUOUS, "domain 'web' exists on hosts h1 and h2");
    vb_reply_t *reply = vb_reply_new_from_error (7, &err);
    vb_reply_t *back = reply_round_trip (reply);
    assert_int_equal (back->code, VB_ERR_AMBIGUOUS);
    assert_string_equal (back->message, "domain 'web' exists on hosts h1 and h2");
    vb_reply_destroy (&reply);
    vb_reply_destroy (&back);

    /*  VB_OK is not an error code on the wire. */
    reply = vb_reply_new_error (8, VB_OK, NULL);
    assert_int_equal (reply->code, VB_ERR_INTERNAL);
    assert_non_null (reply->message);
    vb_reply_destroy (&reply);
}

static void
expect_reply_error (const char *json, const char *needle)
{
    zframe_t *body = frame_of (json);
    vb_error_t err = { 0 };
    vb_reply_t *reply = vb_reply_decode (body, NULL, &err);
    zframe_destroy (&body);
    if (reply)
        fail_msg ("reply %s was accepted", json);
    expect_msg (&err, VB_ERR_PROTOCOL, needle);
}

static void
test_proto_reply_malformed_answers_protocol (void **state)
{
    (void) state;
    expect_reply_error ("{\"ok\": true}", "field 'id' is missing");
    expect_reply_error ("{\"id\": 1}", "field 'ok' is missing");
    expect_reply_error ("{\"id\": 1, \"ok\": 1}", "field 'ok' must be a boolean");
    expect_reply_error ("{\"id\": 1, \"ok\": false}", "field 'error' is missing");
    expect_reply_error ("{\"id\": 1, \"ok\": false, \"error\": {\"code\": \"NOPE\", "
                        "\"message\": \"m\"}}",
                        "error code 'NOPE' is not in the closed set");
    expect_reply_error ("{\"id\": 1, \"ok\": false, \"error\": {\"code\": \"OK\", "
                        "\"message\": \"m\"}}",
                        "'OK' is not in the closed set");
    expect_reply_error ("{\"id\": 1, \"ok\": false, \"error\": {\"code\": \"TIMEOUT\"}}",
                        "field 'message' is missing");
    expect_reply_error ("{\"id\": 1, \"ok\": true, \"partial\": {}}",
                        "field 'partial' must be an array");
    expect_reply_error ("{\"id\": 1, \"ok\": true, \"partial\": [{\"host\": \"h\", "
                        "\"driver\": \"d\", \"error\": {\"code\": \"X\", \"message\": \"\"}}]}",
                        "partial[0]: error code 'X'");
    expect_reply_error ("{\"id\": 1, \"ok\": true, \"partial\": [7]}", "partial[0]");
    expect_reply_error ("[]", "not a msgpack map");
}

/* ---------------------------------------------------------------------------------------------
 *  Client envelope
 */

static void
test_proto_client_msg_round_trip_returns_body (void **state)
{
    (void) state;
    vb_request_t *req = vb_request_new (5, "broker.info", NULL, NULL, 0);
    zframe_t *body = vb_request_encode (req);
    zmsg_t *msg = vb_client_msg_new (&body);
    assert_null (body);
    assert_int_equal (zmsg_size (msg), 3);
    vb_error_t err = { 0 };
    zframe_t *got = vb_client_msg_body (msg, &err);
    assert_non_null (got);
    vb_request_t *back = vb_request_decode (got, NULL, NULL, &err);
    assert_non_null (back);
    assert_string_equal (back->op, "broker.info");
    vb_request_destroy (&back);
    vb_request_destroy (&req);
    zmsg_destroy (&msg);
}

static void
test_proto_client_msg_unknown_protocol_vbc9_answers_protocol_naming_it (void **state)
{
    (void) state;
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, NULL, 0);
    zmsg_addstr (msg, "VBC9");
    zmsg_addstr (msg, "x");
    vb_error_t err = { 0 };
    assert_null (vb_client_msg_body (msg, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "unknown protocol 'VBC9'; this peer speaks VBC1");
    zmsg_destroy (&msg);

    /*  Binary junk in the id frame is shown escaped. */
    msg = zmsg_new ();
    zmsg_addmem (msg, NULL, 0);
    zmsg_addmem (msg, "\x01\xff'", 3);
    vb_error_t err2 = { 0 };
    assert_null (vb_client_msg_body (msg, &err2));
    expect_msg (&err2, VB_ERR_PROTOCOL, "'\\x01\\xff\\x27'");
    zmsg_destroy (&msg);
}

static void
test_proto_client_msg_bad_envelope_answers_protocol (void **state)
{
    (void) state;
    vb_error_t err = { 0 };
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "VBC1");
    zmsg_addstr (msg, "body");
    assert_null (vb_client_msg_body (msg, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "2 frames");
    zmsg_destroy (&msg);

    msg = zmsg_new ();
    zmsg_addstr (msg, "x");
    zmsg_addstr (msg, "VBC1");
    zmsg_addstr (msg, "body");
    assert_null (vb_client_msg_body (msg, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "empty delimiter");
    zmsg_destroy (&msg);

    msg = zmsg_new ();
    zmsg_addmem (msg, NULL, 0);
    zmsg_addstr (msg, "VBC1");
    zmsg_addstr (msg, "body");
    zmsg_addstr (msg, "extra");
    assert_null (vb_client_msg_body (msg, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "4 frames");
    zmsg_destroy (&msg);

    msg = zmsg_new ();
    assert_null (vb_client_msg_body (msg, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "0 frames");
    zmsg_destroy (&msg);
    assert_null (vb_client_msg_body (NULL, &err));
    assert_null (vb_client_msg_new (NULL));
}

/* ---------------------------------------------------------------------------------------------
 *  Worker commands
 */

#define READY_BODY                                                                          \
    "{\"worker\": \"h1-qemu-1a2b\", \"host\": \"h1\", \"driver\": \"qemu\", \"version\": 1," \
    " \"pid\": 4242, \"domains\": [{\"name\": \"web\", \"uuid\": \"" UUID1 "\", \"state\": 5}]}"
#define EVENT_BODY                                                                          \
    "{\"wseq\": 17, \"time_ns\": 1764098401123000000, \"domain\": \"web\", \"uuid\": \"" UUID1 \
    "\", \"kind\": \"lifecycle\", \"event\": \"stopped\", \"detail\": \"destroyed\"}"

/*  A valid body for every command, in vb_wcmd_t order. */
static const char *const valid_bodies[VB_WCMD_LAST] = {
    [VB_WCMD_READY] = READY_BODY,
    [VB_WCMD_HEARTBEAT] = "{}",
    [VB_WCMD_REQUEST] = "{\"id\": 9, \"op\": \"domain.start\", \"target\": {\"domain\": \"" UUID1
                        "\"}, \"args\": {\"paused\": true}, \"deadline_ms\": 4500,"
                        " \"origin\": \"c-1\"}",
    [VB_WCMD_REPLY] = "{\"id\": 9, \"ok\": true, \"result\": {}}",
    [VB_WCMD_DOMAINS] = "{\"domains\": []}",
    [VB_WCMD_EVENT] = EVENT_BODY,
    [VB_WCMD_EVENT_ACK] = "{\"wseq\": 17}",
    [VB_WCMD_DISCONNECT] = "{\"reason\": \"unknown worker h1-qemu-1a2b\"}",
};

static zmsg_t *
wmsg_raw (const char *proto, const char *cmd, const char *json)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, proto);
    zmsg_addstr (msg, cmd);
    zframe_t *body = frame_of (json);
    zmsg_append (msg, &body);
    return msg;
}

static void
test_proto_wmsg_round_trip_every_command (void **state)
{
    (void) state;
    for (int cmd = 0; cmd < VB_WCMD_LAST; cmd++) {
        json_object *body = json_tokener_parse (valid_bodies[cmd]);
        json_object *expect = json_tokener_parse (valid_bodies[cmd]);
        zmsg_t *msg = vb_wmsg_encode ((vb_wcmd_t) cmd, body);
        assert_non_null (msg);
        assert_int_equal (zmsg_size (msg), 3);
        vb_limits_t limits = vb_limits_worker ();
        vb_error_t err = { 0 };
        vb_wmsg_t *w = vb_wmsg_decode (msg, &limits, &err);
        if (!w)
            fail_msg ("%s did not decode: %s", vb_wcmd_name ((vb_wcmd_t) cmd), err.message);
        assert_int_equal (w->cmd, cmd);
        assert_true (json_object_equal (w->body, expect));
        vb_wmsg_destroy (&w);
        assert_null (w);
        zmsg_destroy (&msg);
        json_object_put (expect);
    }
    /*  A NULL body encodes an empty map. */
    zmsg_t *msg = vb_wmsg_encode (VB_WCMD_HEARTBEAT, NULL);
    vb_error_t err = { 0 };
    vb_wmsg_t *w = vb_wmsg_decode (msg, NULL, &err);
    assert_non_null (w);
    assert_int_equal (json_object_object_length (w->body), 0);
    vb_wmsg_destroy (&w);
    zmsg_destroy (&msg);
    assert_null (vb_wmsg_encode (VB_WCMD_LAST, NULL));
    assert_null (vb_wcmd_name (VB_WCMD_LAST));
    assert_string_equal (vb_wcmd_name (VB_WCMD_EVENT_ACK), "EVENT_ACK");
}

static void
expect_wmsg_error (const char *proto, const char *cmd, const char *json, const char *needle)
{
    zmsg_t *msg = wmsg_raw (proto, cmd, json);
    vb_error_t err = { 0 };
    vb_wmsg_t *w = vb_wmsg_decode (msg, NULL, &err);
    zmsg_destroy (&msg);
    if (w)
        fail_msg ("%s %s was accepted", cmd, json);
    expect_msg (&err, VB_ERR_PROTOCOL, needle);
}

static void
test_proto_wmsg_unknown_protocol_and_command_answer_protocol (void **state)
{
    (void) state;
    expect_wmsg_error ("VBW2", "HEARTBEAT", "{}", "unknown protocol 'VBW2'; this peer speaks VBW1");
    expect_wmsg_error ("VBC1", "HEARTBEAT", "{}", "unknown protocol 'VBC1'");
    expect_wmsg_error ("VBW1", "REBOOT", "{}", "unknown worker command 'REBOOT'");
    expect_wmsg_error ("VBW1", "ready", "{}", "unknown worker command 'ready'");
    expect_wmsg_error ("VBW1", "HEARTBEAT", "[]", "HEARTBEAT message body is not a msgpack map");

    vb_error_t err = { 0 };
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "VBW1");
    zmsg_addstr (msg, "HEARTBEAT");
    assert_null (vb_wmsg_decode (msg, NULL, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "2 frames");
    zmsg_destroy (&msg);
    assert_null (vb_wmsg_decode (NULL, NULL, &err));
    msg = zmsg_new ();
    assert_null (vb_wmsg_decode (msg, NULL, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "no frames");
    zmsg_destroy (&msg);
}

static void
test_proto_wmsg_ready_fields_are_validated (void **state)
{
    (void) state;
    expect_wmsg_error ("VBW1", "READY",
                       "{\"worker\": \"w\", \"host\": \"h1\", \"driver\": \"qemu\","
                       " \"version\": 1, \"domains\": []}",
                       "malformed READY message: field 'pid' is missing");
    expect_wmsg_error ("VBW1", "READY",
                       "{\"worker\": \"\", \"host\": \"h1\", \"driver\": \"qemu\","
                       " \"version\": 1, \"pid\": 1, \"domains\": []}",
                       "field 'worker' is empty");
    expect_wmsg_error ("VBW1", "READY",
                       "{\"worker\": \"w\", \"host\": \"h 1\", \"driver\": \"qemu\","
                       " \"version\": 1, \"pid\": 1, \"domains\": []}",
                       "host 'h 1' is not a valid host name");
    expect_wmsg_error ("VBW1", "READY",
                       "{\"worker\": \"w\", \"host\": \"h1\", \"driver\": \"qemu\","
                       " \"version\": \"1\", \"pid\": 1, \"domains\": []}",
                       "field 'version' must be an integer");
    expect_wmsg_error ("VBW1", "READY",
                       "{\"worker\": \"w\", \"host\": \"h1\", \"driver\": \"qemu\","
                       " \"version\": 1, \"pid\": 1, \"domains\": [{\"name\": \"web\","
                       " \"uuid\": \"not-a-uuid\", \"state\": 1}]}",
                       "domains[0]: 'not-a-uuid' is not a UUID");
    expect_wmsg_error ("VBW1", "READY",
                       "{\"worker\": \"w\", \"host\": \"h1\", \"driver\": \"qemu\","
                       " \"version\": 1, \"pid\": 1, \"domains\": [{\"name\": \"web\","
                       " \"uuid\": \"" UUID1 "\", \"state\": 8}]}",
                       "domains[0]: state 8");
    expect_wmsg_error ("VBW1", "DOMAINS", "{\"domains\": [{\"name\": \"../x\", \"uuid\": \"" UUID1
                       "\", \"state\": 1}]}",
                       "domains[0]: '../x' is not a valid domain name");
    expect_wmsg_error ("VBW1", "DOMAINS", "{}", "field 'domains' is missing");
    expect_wmsg_error ("VBW1", "DOMAINS", "{\"domains\": [{\"name\": \"a\"}]}",
                       "domains[0]: field 'uuid' is missing");
}

static void
test_proto_wmsg_event_request_reply_ack_fields_are_validated (void **state)
{
    (void) state;
    expect_wmsg_error ("VBW1", "EVENT",
                       "{\"time_ns\": 1, \"domain\": \"web\", \"uuid\": \"" UUID1 "\","
                       " \"kind\": \"lifecycle\", \"event\": \"started\", \"detail\": \"booted\"}",
                       "field 'wseq' is missing");
    expect_wmsg_error ("VBW1", "EVENT",
                       "{\"wseq\": 1, \"time_ns\": 1, \"domain\": \"web\", \"uuid\": \"" UUID1 "\","
                       " \"kind\": \"\", \"event\": \"started\", \"detail\": \"booted\"}",
                       "field 'kind' is empty");
    expect_wmsg_error ("VBW1", "EVENT",
                       "{\"wseq\": 1, \"time_ns\": 1, \"domain\": \"web\", \"uuid\": \"" UUID1 "\","
                       " \"kind\": \"lifecycle\", \"event\": \"started\"}",
                       "field 'detail' is missing");
    expect_wmsg_error ("VBW1", "EVENT_ACK", "{\"wseq\": -1}", "non-negative");
    expect_wmsg_error ("VBW1", "EVENT_ACK", "{}", "field 'wseq' is missing");
    expect_wmsg_error ("VBW1", "DISCONNECT", "{\"reason\": 5}", "field 'reason' must be a string");
    expect_wmsg_error ("VBW1", "REQUEST", "{\"id\": 1, \"op\": \"domain.start\"}",
                       "field 'origin' is missing");
    expect_wmsg_error ("VBW1", "REQUEST", "{\"op\": \"domain.start\", \"origin\": \"c\"}",
                       "malformed REQUEST message: field 'id' is missing");
    expect_wmsg_error ("VBW1", "REPLY", "{\"id\": 1, \"ok\": false, \"error\": {\"code\": \"BAD\","
                       " \"message\": \"m\"}}",
                       "error code 'BAD'");

    /*  detail may be empty, DISCONNECT may omit its reason. */
    const char *ok[][2] = {
        { "EVENT", "{\"wseq\": 1, \"time_ns\": 1, \"domain\": \"web\", \"uuid\": \"" UUID1 "\","
                   " \"kind\": \"reboot\", \"event\": \"reboot\", \"detail\": \"\"}" },
        { "DISCONNECT", "{}" },
    };
    for (size_t i = 0; i < 2; i++) {
        zmsg_t *msg = wmsg_raw ("VBW1", ok[i][0], ok[i][1]);
        vb_error_t err = { 0 };
        vb_wmsg_t *w = vb_wmsg_decode (msg, NULL, &err);
        if (!w)
            fail_msg ("%s refused: %s", ok[i][0], err.message);
        vb_wmsg_destroy (&w);
        zmsg_destroy (&msg);
    }
}

/* ---------------------------------------------------------------------------------------------
 *  Events
 */

static vb_event_t *
sample_event (void)
{
    vb_event_t *ev = vb_event_new ();
    ev->seq = 1001;
    ev->wseq = 17;
    ev->worker = strdup ("h1-qemu-1a2b");
    ev->time_ns = 1764098401123000000ULL;
    ev->host = strdup ("h1");
    ev->driver = strdup ("qemu");
    ev->domain = strdup ("web");
    ev->uuid = strdup (UUID1);
    ev->kind = strdup ("block-job");
    ev->event = strdup ("completed");
    ev->detail = strdup ("commit");
    ev->extra = json_tokener_parse ("{\"disk\": \"vda\", \"job\": \"commit\"}");
    return ev;
}

static void
assert_events_equal (const vb_event_t *a, const vb_event_t *b)
{
    assert_true (a->seq == b->seq);
    assert_true (a->wseq == b->wseq);
    assert_true (a->time_ns == b->time_ns);
    assert_string_equal (a->worker, b->worker);
    assert_string_equal (a->host, b->host);
    assert_string_equal (a->driver, b->driver);
    assert_string_equal (a->domain, b->domain);
    assert_string_equal (a->uuid, b->uuid);
    assert_string_equal (a->kind, b->kind);
    assert_string_equal (a->event, b->event);
    assert_string_equal (a->detail, b->detail);
    assert_true (json_object_equal (a->extra, b->extra));
}

static void
test_proto_event_round_trip_with_topic_and_extra (void **state)
{
    (void) state;
    vb_event_t *ev = sample_event ();
    char *topic = vb_event_topic (ev);
    assert_string_equal (topic, "h1/qemu/web");
    free (topic);
    zmsg_t *msg = vb_event_encode (ev);
    assert_int_equal (zmsg_size (msg), 2);
    vb_limits_t limits = vb_limits_worker ();
    vb_error_t err = { 0 };
    vb_event_t *back = vb_event_decode (msg, &limits, &err);
    if (!back)
        fail_msg ("event did not decode: %s", err.message);
    assert_events_equal (ev, back);
    vb_event_t *copy = vb_event_dup (back);
    assert_events_equal (ev, copy);
    assert_ptr_not_equal (copy->extra, back->extra);
    vb_event_destroy (&copy);
    vb_event_destroy (&back);
    vb_event_destroy (&ev);
    assert_null (ev);
    zmsg_destroy (&msg);
}

static void
test_proto_event_from_worker_json_needs_no_broker_fields (void **state)
{
    (void) state;
    json_object *obj = json_tokener_parse (EVENT_BODY);
    vb_error_t err = { 0 };
    vb_event_t *ev = vb_event_from_json (obj, &err);
    assert_non_null (ev);
    assert_true (ev->seq == 0);
    assert_true (ev->wseq == 17);
    assert_null (ev->host);
    assert_null (ev->worker);
    assert_null (ev->extra);
    assert_string_equal (ev->event, "stopped");
    assert_string_equal (ev->detail, "destroyed");
    json_object_put (obj);

    /*  to_json of the decoded event decodes again to the same event. */
    ev->host = strdup ("h1");
    ev->driver = strdup ("qemu");
    ev->worker = strdup ("w1");
    ev->seq = 3;
    obj = vb_event_to_json (ev);
    vb_event_t *again = vb_event_from_json (obj, &err);
    assert_non_null (again);
    assert_events_equal (ev, again);
    vb_event_destroy (&again);
    vb_event_destroy (&ev);
    json_object_put (obj);

    obj = json_tokener_parse ("{\"wseq\": 1}");
    assert_null (vb_event_from_json (obj, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "malformed event: field 'time_ns' is missing");
    json_object_put (obj);
}

static void
test_proto_event_decode_rejects_mismatch_control_and_missing_fields (void **state)
{
    (void) state;
    vb_event_t *ev = sample_event ();
    zmsg_t *msg = vb_event_encode (ev);
    vb_error_t err = { 0 };

    /*  A topic that lies about the body. */
    zframe_t *topic = zmsg_pop (msg);
    zframe_destroy (&topic);
    zmsg_pushstr (msg, "h2/qemu/web");
    assert_null (vb_event_decode (msg, NULL, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "topic 'h2/qemu/web' does not match its body 'h1/qemu/web'");

    /*  The sync control message is not an event. */
    topic = zmsg_pop (msg);
    zframe_destroy (&topic);
    zmsg_pushstr (msg, "!sync/tok-1");
    assert_null (vb_event_decode (msg, NULL, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "'!sync/tok-1' is a control message");
    zmsg_destroy (&msg);

    /*  A published event without the broker's fields. */
    msg = zmsg_new ();
    zmsg_addstr (msg, "//web");
    zframe_t *body = frame_of (EVENT_BODY);
    zmsg_append (msg, &body);
    assert_null (vb_event_decode (msg, NULL, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "field 'seq' is missing");
    zmsg_destroy (&msg);

    msg = zmsg_new ();
    zmsg_addstr (msg, "h1/qemu/web");
    assert_null (vb_event_decode (msg, NULL, &err));
    expect_msg (&err, VB_ERR_PROTOCOL, "1 frames");
    zmsg_destroy (&msg);
    vb_event_destroy (&ev);
}

/* ---------------------------------------------------------------------------------------------
 *  Random input through every decoder
 */

static uint64_t
rng_next (uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void
test_proto_random_bodies_answer_an_error_from_every_decoder (void **state)
{
    (void) state;
    uint64_t seed = 0xdecafbad2026ULL;
    unsigned char buf[256];
    vb_limits_t limits = vb_limits_client ();
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t) (rng_next (&seed) % sizeof buf);
        for (size_t j = 0; j < len; j++)
            buf[j] = (unsigned char) rng_next (&seed);
        /*  A random first byte rarely opens a map; force one half the time to go deeper. */
        if (len > 0 && i % 2)
            buf[0] = (unsigned char) (0x80 | (buf[0] & 0x0f));
        zframe_t *frame = zframe_new (buf, len);
        vb_error_t err = { 0 };

        vb_request_t *req = vb_request_decode (frame, &limits, NULL, &err);
        assert_null (req);
        assert_true (err.code == VB_ERR_PROTOCOL || err.code == VB_ERR_INVALID_ARG);
        vb_reply_t *reply = vb_reply_decode (frame, &limits, &err);
        assert_null (reply);
        assert_int_equal (err.code, VB_ERR_PROTOCOL);

        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, "VBW1");
        zmsg_addstr (msg, vb_wcmd_name ((vb_wcmd_t) (i % VB_WCMD_LAST)));
        zmsg_addmem (msg, buf, len);
        vb_wmsg_t *w = vb_wmsg_decode (msg, &limits, &err);
        /*  "{}" is a valid HEARTBEAT/DISCONNECT body; anything else must be refused. */
        if (w) {
            assert_true (w->cmd == VB_WCMD_HEARTBEAT || w->cmd == VB_WCMD_DISCONNECT);
            vb_wmsg_destroy (&w);
        } else {
            assert_int_equal (err.code, VB_ERR_PROTOCOL);
        }
        zmsg_destroy (&msg);

        msg = zmsg_new ();
        zmsg_addstr (msg, "h1/qemu/web");
        zmsg_addmem (msg, buf, len);
        vb_event_t *ev = vb_event_decode (msg, &limits, &err);
        assert_null (ev);
        assert_int_equal (err.code, VB_ERR_PROTOCOL);
        zmsg_destroy (&msg);
        zframe_destroy (&frame);
    }
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_proto_request_round_trip_keeps_every_field),
        cmocka_unit_test (test_proto_request_minimal_gets_empty_args_and_no_deadline),
        cmocka_unit_test (test_proto_request_empty_target_strings_mean_absent),
        cmocka_unit_test (test_proto_request_accepts_uuid_name_and_host_slash_name),
        cmocka_unit_test (test_proto_request_bad_fields_answer_invalid_arg),
        cmocka_unit_test (test_proto_request_malformed_bodies_answer_protocol),
        cmocka_unit_test (test_proto_request_over_client_frame_limit_answers_protocol),
        cmocka_unit_test (test_proto_request_nested_33_deep_answers_protocol),
        cmocka_unit_test (test_proto_request_json_carries_origin_for_workers),
        cmocka_unit_test (test_proto_reply_ok_round_trip_keeps_result_and_partial),
        cmocka_unit_test (test_proto_reply_ok_with_nil_result_round_trips),
        cmocka_unit_test (test_proto_reply_error_round_trip_for_every_code),
        cmocka_unit_test (test_proto_reply_malformed_answers_protocol),
        cmocka_unit_test (test_proto_client_msg_round_trip_returns_body),
        cmocka_unit_test (test_proto_client_msg_unknown_protocol_vbc9_answers_protocol_naming_it),
        cmocka_unit_test (test_proto_client_msg_bad_envelope_answers_protocol),
        cmocka_unit_test (test_proto_wmsg_round_trip_every_command),
        cmocka_unit_test (test_proto_wmsg_unknown_protocol_and_command_answer_protocol),
        cmocka_unit_test (test_proto_wmsg_ready_fields_are_validated),
        cmocka_unit_test (test_proto_wmsg_event_request_reply_ack_fields_are_validated),
        cmocka_unit_test (test_proto_event_round_trip_with_topic_and_extra),
        cmocka_unit_test (test_proto_event_from_worker_json_needs_no_broker_fields),
        cmocka_unit_test (test_proto_event_decode_rejects_mismatch_control_and_missing_fields),
        cmocka_unit_test (test_proto_random_bodies_answer_an_error_from_every_decoder),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
