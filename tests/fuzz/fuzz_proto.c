/*  libFuzzer harness for the wire decoders of vb_proto: the input is one msgpack body, fed to
 *  vb_msgpack_decode, vb_request_decode, vb_reply_decode, vb_wmsg_decode (as the body of every
 *  worker command) and vb_event_decode. Anything that decodes is re-encoded and decoded again,
 *  which must succeed: the encoders only write what the decoders accept. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vb_proto.h"

static void
fuzz_reencode_request (const vb_request_t *req, const vb_limits_t *limits)
{
    zframe_t *frame = vb_request_encode (req);
    vb_error_t err = { 0 };
    vb_request_t *again = vb_request_decode (frame, limits, NULL, &err);
    /*  A decoded request fits the limits, so its re-encoding must decode too. */
    if (!again)
        abort ();
    vb_request_destroy (&again);
    zframe_destroy (&frame);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    vb_limits_t limits = vb_limits_client ();
    vb_error_t err = { 0 };

    json_object *obj = NULL;
    if (vb_msgpack_decode (data, size, &limits, &obj, &err) == 0) {
        zframe_t *frame = vb_msgpack_encode (obj);
        json_object_put (obj);
        zframe_destroy (&frame);
    }

    zframe_t *body = zframe_new (data, size);
    uint64_t id = 0;
    vb_request_t *req = vb_request_decode (body, &limits, &id, &err);
    if (req) {
        fuzz_reencode_request (req, &limits);
        vb_request_destroy (&req);
    }
    vb_reply_t *reply = vb_reply_decode (body, &limits, &err);
    if (reply) {
        zframe_t *frame = vb_reply_encode (reply);
        vb_reply_t *again = vb_reply_decode (frame, NULL, &err);
        if (!again)
            abort ();
        vb_reply_destroy (&again);
        zframe_destroy (&frame);
        vb_reply_destroy (&reply);
    }

    for (int cmd = 0; cmd < VB_WCMD_LAST; cmd++) {
        zmsg_t *msg = zmsg_new ();
        zmsg_addstr (msg, VB_PROTO_WORKER);
        zmsg_addstr (msg, vb_wcmd_name ((vb_wcmd_t) cmd));
        zmsg_addmem (msg, data, size);
        vb_wmsg_t *w = vb_wmsg_decode (msg, &limits, &err);
        if (w) {
            zmsg_t *out = vb_wmsg_encode (w->cmd, json_object_get (w->body));
            vb_wmsg_t *again = vb_wmsg_decode (out, NULL, &err);
            if (!again)
                abort ();
            vb_wmsg_destroy (&again);
            zmsg_destroy (&out);
            vb_wmsg_destroy (&w);
        }
        zmsg_destroy (&msg);
    }

    /*  Published events: the topic must match the body, so try the usual one. */
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "h1/qemu/web");
    zmsg_addmem (msg, data, size);
    vb_event_t *ev = vb_event_decode (msg, &limits, &err);
    if (ev) {
        zmsg_t *out = vb_event_encode (ev);
        vb_event_t *again = vb_event_decode (out, NULL, &err);
        if (!again)
            abort ();
        vb_event_destroy (&again);
        zmsg_destroy (&out);
        vb_event_destroy (&ev);
    }
    zmsg_destroy (&msg);

    /*  The client envelope around the input. */
    msg = zmsg_new ();
    zmsg_addmem (msg, NULL, 0);
    zmsg_addmem (msg, data, size < 8 ? size : 8);
    zmsg_append (msg, &body);
    (void) vb_client_msg_body (msg, &err);
    zmsg_destroy (&msg);
    return 0;
}
