/*  Writes the seed corpus of fuzz_proto (tests/fuzz/corpus/proto/): one valid msgpack body per
 *  message type, made by the vb_proto encoders. Usage: fuzz_proto_seeds DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_proto.h"
#include "vb_util.h"

#define UUID1 "6f1c2a10-3b4e-4c5d-8e9f-0a1b2c3d4e5f"

static int
write_frame (const char *dir, const char *name, zframe_t *frame)
{
    char path[4096];
    vb_error_t err = { 0 };
    snprintf (path, sizeof path, "%s/%s", dir, name);
    int rc = frame ? vb_write_file_atomic (path, zframe_data (frame), zframe_size (frame), &err)
                   : -1;
    if (rc < 0)
        fprintf (stderr, "fuzz_proto_seeds: %s: %s\n", name, err.message);
    zframe_destroy (&frame);
    return rc;
}

static zframe_t *
json_frame (const char *json)
{
    json_object *obj = json_tokener_parse (json);
    zframe_t *frame = vb_msgpack_encode (obj);
    json_object_put (obj);
    return frame;
}

int
main (int argc, char **argv)
{
    if (argc != 2) {
        fprintf (stderr, "usage: fuzz_proto_seeds DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    int rc = 0;

    vb_target_t target = { "h1", "qemu", "web" };
    vb_request_t *req = vb_request_new (7, "domain.start", &target,
                                        json_tokener_parse ("{\"paused\": true}"), 5000);
    rc |= write_frame (dir, "request-domain-start", vb_request_encode (req));
    vb_request_destroy (&req);
    req = vb_request_new (8, "domain.stats", NULL,
                          json_tokener_parse ("{\"groups\": [\"state\", \"block\"], "
                                              "\"backing\": true, \"domains\": [\"web\"]}"),
                          2000);
    rc |= write_frame (dir, "request-domain-stats", vb_request_encode (req));
    vb_request_destroy (&req);

    vb_reply_t *reply = vb_reply_new_ok (
        8, json_tokener_parse ("[{\"name\": \"web\", \"uuid\": \"" UUID1 "\", \"id\": 3,"
                               " \"state\": 1, \"reason\": 1, \"host\": \"h1\"}]"));
    vb_reply_add_partial (reply, "h3", "qemu", "h3-qemu-1", VB_ERR_TIMEOUT,
                          "worker h3-qemu-1 did not answer within 2000 ms");
    rc |= write_frame (dir, "reply-ok-partial", vb_reply_encode (reply));
    vb_reply_destroy (&reply);
    reply = vb_reply_new_error (9, VB_ERR_AMBIGUOUS, "domain 'web' exists on hosts h1 and h2");
    rc |= write_frame (dir, "reply-error", vb_reply_encode (reply));
    vb_reply_destroy (&reply);

    rc |= write_frame (dir, "worker-ready",
                       json_frame ("{\"worker\": \"h1-qemu-1a2b\", \"host\": \"h1\", "
                                   "\"driver\": \"qemu\", \"version\": 1, \"pid\": 4242, "
                                   "\"domains\": [{\"name\": \"web\", \"uuid\": \"" UUID1 "\", "
                                   "\"state\": 5}]}"));
    rc |= write_frame (dir, "worker-request",
                       json_frame ("{\"id\": 9, \"op\": \"domain.destroy\", \"target\": "
                                   "{\"domain\": \"" UUID1 "\"}, \"args\": {}, "
                                   "\"deadline_ms\": 4500, \"origin\": \"c-1\"}"));
    rc |= write_frame (dir, "worker-event-ack", json_frame ("{\"wseq\": 17}"));

    vb_event_t *ev = vb_event_new ();
    ev->seq = 1001;
    ev->wseq = 17;
    ev->time_ns = 1764098401123000000ULL;
    ev->worker = strdup ("h1-qemu-1a2b");
    ev->host = strdup ("h1");
    ev->driver = strdup ("qemu");
    ev->domain = strdup ("web");
    ev->uuid = strdup (UUID1);
    ev->kind = strdup ("lifecycle");
    ev->event = strdup ("stopped");
    ev->detail = strdup ("destroyed");
    json_object *obj = vb_event_to_json (ev);
    rc |= write_frame (dir, "event-published", vb_msgpack_encode (obj));
    json_object_put (obj);
    vb_event_destroy (&ev);
    return rc ? 1 : 0;
}
