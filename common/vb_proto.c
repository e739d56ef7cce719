/*  vb_proto — requests, replies, worker commands and published events (see vb_proto.h and
 *  docs/protocol.md, which is the authority on every field checked here).
 *
 *  Error codes: a frame that is not msgpack, not a map or breaks a limit is PROTOCOL. In a client
 *  request a field with the wrong type or an impossible value is INVALID_ARG (the client can fix
 *  its call). Anything wrong in a reply, worker command or published event is PROTOCOL: those
 *  come from virtbus peers, so a bad field means a broken or foreign peer.
 */
#include "vb_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_domstate.h"
#include "vb_json.h"
#include "vb_util.h"

#define VB_OP_MAX 64
#define VB_WORKER_ID_MAX 128
#define VB_DEADLINE_MAX_MS 3600000u

/* ---------------------------------------------------------------------------------------------
 *  Small helpers
 */

/*  A copy of S, or NULL for NULL and "" (absent and empty mean the same on the wire). */
static int
vb_proto_dup_opt (const char *s, char **out)
{
    *out = NULL;
    if (!s || !*s)
        return 0;
    *out = strdup (s);
    return *out ? 0 : -1;
}

/*  Re-code an inner field error as PROTOCOL naming the message it was found in. */
static int
vb_proto_malformed (vb_error_t *err, const char *what, const vb_error_t *inner)
{
    return vb_error_set (err, VB_ERR_PROTOCOL, "malformed %s: %s", what, inner->message);
}

/*  Write the first bytes of FRAME into OUT as printable text, for error messages. */
static void
vb_proto_frame_text (zframe_t *frame, char *out, size_t size)
{
    size_t n = 0;
    const unsigned char *data = frame ? zframe_data (frame) : NULL;
    size_t len = frame ? zframe_size (frame) : 0;
    for (size_t i = 0; i < len && n + 5 < size; i++) {
        unsigned char c = data[i];
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
            out[n++] = (char) c;
        else
            n += (size_t) snprintf (out + n, size - n, "\\x%02x", c);
        if (i == 31 && len > 32) {
            snprintf (out + n, size - n, "...");
            n += 3;
            break;
        }
    }
    out[n < size ? n : size - 1] = '\0';
}

static bool
vb_proto_frame_is (zframe_t *frame, const char *text)
{
    size_t len = strlen (text);
    return frame && zframe_size (frame) == len && memcmp (zframe_data (frame), text, len) == 0;
}

/*  Decode FRAME to a json map. WHAT names the message for errors. */
static json_object *
vb_proto_decode_map (zframe_t *frame, const vb_limits_t *limits, const char *what,
                     vb_error_t *err)
{
    json_object *obj = NULL;
    if (!frame) {
        vb_error_set (err, VB_ERR_PROTOCOL, "%s has no body frame", what);
        return NULL;
    }
    if (vb_msgpack_decode (zframe_data (frame), zframe_size (frame), limits, &obj, err) < 0)
        return NULL;
    if (!json_object_is_type (obj, json_type_object)) {
        vb_error_set (err, VB_ERR_PROTOCOL, "%s body is not a msgpack map", what);
        json_object_put (obj);
        return NULL;
    }
    return obj;
}

/*  Domain reference in a target: a name, "host/name" or a UUID. */
static bool
vb_proto_domain_ref_is_valid (const char *ref)
{
    if (vb_uuid_is_valid (ref) || vb_name_is_valid (ref))
        return true;
    const char *slash = strchr (ref, '/');
    if (!slash || slash - ref > 64)
        return false;
    char host[65];
    memcpy (host, ref, (size_t) (slash - ref));
    host[slash - ref] = '\0';
    return vb_name_is_valid (host) && vb_name_is_valid (slash + 1);
}

/* ---------------------------------------------------------------------------------------------
 *  Requests
 */

vb_request_t *
vb_request_new (uint64_t id, const char *op, const vb_target_t *target, json_object *args,
                uint32_t deadline_ms)
{
    vb_request_t *self = calloc (1, sizeof *self);
    if (!self) {
        json_object_put (args);
        return NULL;
    }
    self->id = id;
    self->deadline_ms = deadline_ms;
    self->args = args ? args : json_object_new_object ();
    self->op = strdup (op ? op : "");
    if (!self->args || !self->op
        || (target
            && (vb_proto_dup_opt (target->host, &self->target.host) < 0
                || vb_proto_dup_opt (target->driver, &self->target.driver) < 0
                || vb_proto_dup_opt (target->domain, &self->target.domain) < 0)))
        vb_request_destroy (&self);
    return self;
}

void
vb_request_destroy (vb_request_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vb_request_t *self = *self_p;
    free (self->op);
    free (self->target.host);
    free (self->target.driver);
    free (self->target.domain);
    json_object_put (self->args);
    free (self);
    *self_p = NULL;
}

json_object *
vb_request_to_json (const vb_request_t *self)
{
    if (!self)
        return NULL;
    json_object *obj = json_object_new_object ();
    json_object *target = json_object_new_object ();
    if (!obj || !target) {
        json_object_put (obj);
        json_object_put (target);
        return NULL;
    }
    json_object_object_add (obj, "id", json_object_new_uint64 (self->id));
    json_object_object_add (obj, "op", json_object_new_string (self->op ? self->op : ""));
    if (self->target.host)
        json_object_object_add (target, "host", json_object_new_string (self->target.host));
    if (self->target.driver)
        json_object_object_add (target, "driver", json_object_new_string (self->target.driver));
    if (self->target.domain)
        json_object_object_add (target, "domain", json_object_new_string (self->target.domain));
    json_object_object_add (obj, "target", target);
    json_object_object_add (obj, "args", self->args ? json_object_get (self->args)
                                                    : json_object_new_object ());
    if (self->deadline_ms > 0)
        json_object_object_add (obj, "deadline_ms", json_object_new_int64 (self->deadline_ms));
    return obj;
}

zframe_t *
vb_request_encode (const vb_request_t *self)
{
    json_object *obj = vb_request_to_json (self);
    if (!obj)
        return NULL;
    zframe_t *frame = vb_msgpack_encode (obj);
    json_object_put (obj);
    return frame;
}

/*  Validate the request fields of OBJ (a map) and build a request. Field errors are INVALID_ARG.
 *  *ID_OUT is set as soon as a usable id is seen. */
static vb_request_t *
vb_request_parse (json_object *obj, uint64_t *id_out, vb_error_t *err)
{
    uint64_t id = 0;
    const char *op = NULL;
    json_object *target = NULL;
    json_object *args = NULL;
    int64_t deadline = 0;
    vb_target_t t = { NULL, NULL, NULL };

    if (!json_object_is_type (obj, json_type_object)) {
        vb_error_set (err, VB_ERR_PROTOCOL, "request body is not a msgpack map");
        return NULL;
    }
    if (vb_json_get_uint64 (obj, "id", true, &id, err) < 0)
        return NULL;
    if (id_out)
        *id_out = id;
    if (vb_json_get_string (obj, "op", true, &op, err) < 0)
        return NULL;
    size_t oplen = strlen (op);
    if (oplen == 0 || oplen > VB_OP_MAX || oplen != strspn (op, "abcdefghijklmnopqrstuvwxyz"
                                                                 "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                 "0123456789._-")) {
        vb_error_set (err, VB_ERR_INVALID_ARG,
                      "request op '%.80s' is not an operation name (1-%d characters of "
                      "letters, digits, '.', '_' and '-')", op, VB_OP_MAX);
        return NULL;
    }
    if (vb_json_get_object (obj, "target", false, &target, err) < 0
        || (target
            && (vb_json_get_string (target, "host", false, (const char **) &t.host, err) < 0
                || vb_json_get_string (target, "driver", false, (const char **) &t.driver, err)
                       < 0
                || vb_json_get_string (target, "domain", false, (const char **) &t.domain, err)
                       < 0)))
        return NULL;
    if (t.host && *t.host && !vb_name_is_valid (t.host)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "target host '%.80s' is not a valid host name",
                      t.host);
        return NULL;
    }
    if (t.driver && *t.driver && !vb_name_is_valid (t.driver)) {
        vb_error_set (err, VB_ERR_INVALID_ARG,
                      "target driver '%.80s' is not a valid driver name", t.driver);
        return NULL;
    }
    if (t.domain && *t.domain && !vb_proto_domain_ref_is_valid (t.domain)) {
        vb_error_set (err, VB_ERR_INVALID_ARG,
                      "target domain '%.80s' is neither a domain name, host/name nor a UUID",
                      t.domain);
        return NULL;
    }
    if (vb_json_get_object (obj, "args", false, &args, err) < 0)
        return NULL;
    if (vb_json_get_int64 (obj, "deadline_ms", false, &deadline, err) < 0)
        return NULL;
    if (json_object_object_get_ex (obj, "deadline_ms", NULL)
        && (deadline < 1 || deadline > (int64_t) VB_DEADLINE_MAX_MS)) {
        vb_error_set (err, VB_ERR_INVALID_ARG,
                      "deadline_ms %lld is outside 1..%u milliseconds", (long long) deadline,
                      VB_DEADLINE_MAX_MS);
        return NULL;
    }

    vb_request_t *self = vb_request_new (id, op, &t, args ? json_object_get (args) : NULL,
                                         (uint32_t) deadline);
    if (!self)
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding request %llu",
                      (unsigned long long) id);
    return self;
}

vb_request_t *
vb_request_decode (zframe_t *body, const vb_limits_t *limits, uint64_t *id_out, vb_error_t *err)
{
    if (id_out)
        *id_out = 0;
    json_object *obj = vb_proto_decode_map (body, limits, "request", err);
    if (!obj)
        return NULL;
    vb_request_t *self = vb_request_parse (obj, id_out, err);
    json_object_put (obj);
    return self;
}

vb_request_t *
vb_request_from_json (json_object *obj, char **origin_out, vb_error_t *err)
{
    const char *origin = NULL;
    if (origin_out)
        *origin_out = NULL;
    vb_request_t *self = vb_request_parse (obj, NULL, err);
    if (!self)
        return NULL;
    if (vb_json_get_string (obj, "origin", false, &origin, err) < 0) {
        vb_request_destroy (&self);
        return NULL;
    }
    if (origin_out && origin) {
        *origin_out = strdup (origin);
        if (!*origin_out) {
            vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding a request origin");
            vb_request_destroy (&self);
        }
    }
    return self;
}

/* ---------------------------------------------------------------------------------------------
 *  Replies
 */

/*  An error code that can travel: VB_OK and out-of-range values become INTERNAL. */
static vb_error_code_t
vb_proto_wire_code (vb_error_code_t code)
{
    return ((int) code <= VB_OK || code >= VB_ERR_LAST) ? VB_ERR_INTERNAL : code;
}

vb_reply_t *
vb_reply_new_ok (uint64_t id, json_object *result)
{
    vb_reply_t *self = calloc (1, sizeof *self);
    if (!self) {
        json_object_put (result);
        return NULL;
    }
    self->id = id;
    self->ok = true;
    self->result = result;
    return self;
}

vb_reply_t *
vb_reply_new_error (uint64_t id, vb_error_code_t code, const char *message)
{
    vb_reply_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->id = id;
    self->ok = false;
    self->code = vb_proto_wire_code (code);
    self->message = strdup (message && *message ? message : "the request failed");
    if (!self->message)
        vb_reply_destroy (&self);
    return self;
}

vb_reply_t *
vb_reply_new_from_error (uint64_t id, const vb_error_t *err)
{
    if (!err)
        return vb_reply_new_error (id, VB_ERR_INTERNAL, "an error was reported without details");
    return vb_reply_new_error (id, err->code, err->message);
}

int
vb_reply_add_partial (vb_reply_t *self, const char *host, const char *driver, const char *worker,
                      vb_error_code_t code, const char *message)
{
    if (!self)
        return -1;
    vb_partial_t *grown = realloc (self->partial, (self->partial_count + 1) * sizeof *grown);
    if (!grown)
        return -1;
    self->partial = grown;
    vb_partial_t *p = &self->partial[self->partial_count];
    p->host = strdup (host ? host : "");
    p->driver = strdup (driver ? driver : "");
    p->worker = strdup (worker ? worker : "");
    p->code = vb_proto_wire_code (code);
    p->message = strdup (message && *message ? message : "the worker did not answer");
    if (!p->host || !p->driver || !p->worker || !p->message) {
        free (p->host);
        free (p->driver);
        free (p->worker);
        free (p->message);
        return -1;
    }
    self->partial_count++;
    return 0;
}

void
vb_reply_destroy (vb_reply_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vb_reply_t *self = *self_p;
    json_object_put (self->result);
    free (self->message);
    for (size_t i = 0; i < self->partial_count; i++) {
        free (self->partial[i].host);
        free (self->partial[i].driver);
        free (self->partial[i].worker);
        free (self->partial[i].message);
    }
    free (self->partial);
    free (self);
    *self_p = NULL;
}

static json_object *
vb_proto_error_json (vb_error_code_t code, const char *message)
{
    json_object *e = json_object_new_object ();
    if (!e)
        return NULL;
    json_object_object_add (e, "code", json_object_new_string (vb_error_code_name (code)));
    json_object_object_add (e, "message", json_object_new_string (message ? message : ""));
    return e;
}

json_object *
vb_reply_to_json (const vb_reply_t *self)
{
    if (!self)
        return NULL;
    json_object *obj = json_object_new_object ();
    if (!obj)
        return NULL;
    json_object_object_add (obj, "id", json_object_new_uint64 (self->id));
    json_object_object_add (obj, "ok", json_object_new_boolean (self->ok));
    if (self->ok)
        json_object_object_add (obj, "result", json_object_get (self->result));
    else
        json_object_object_add (obj, "error",
                                vb_proto_error_json (vb_proto_wire_code (self->code),
                                                     self->message));
    if (self->partial_count > 0) {
        json_object *list = json_object_new_array ();
        for (size_t i = 0; list && i < self->partial_count; i++) {
            const vb_partial_t *p = &self->partial[i];
            json_object *entry = json_object_new_object ();
            if (!entry)
                continue;
            json_object_object_add (entry, "host", json_object_new_string (p->host));
            json_object_object_add (entry, "driver", json_object_new_string (p->driver));
            json_object_object_add (entry, "worker", json_object_new_string (p->worker));
            json_object_object_add (entry, "error", vb_proto_error_json (p->code, p->message));
            json_object_array_add (list, entry);
        }
        json_object_object_add (obj, "partial", list);
    }
    return obj;
}

zframe_t *
vb_reply_encode (const vb_reply_t *self)
{
    json_object *obj = vb_reply_to_json (self);
    if (!obj)
        return NULL;
    zframe_t *frame = vb_msgpack_encode (obj);
    json_object_put (obj);
    return frame;
}

/*  Read {"code", "message"} from OBJ[KEY]; field errors are INVALID_ARG (re-coded by callers). */
static int
vb_proto_parse_error (json_object *obj, vb_error_code_t *code, const char **message,
                      vb_error_t *err)
{
    json_object *e = NULL;
    const char *name = NULL;
    if (vb_json_get_object (obj, "error", true, &e, err) < 0
        || vb_json_get_string (e, "code", true, &name, err) < 0
        || vb_json_get_string (e, "message", true, message, err) < 0)
        return -1;
    if (vb_error_code_from_name (name, code) < 0)
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "error code '%.64s' is not in the closed set of docs/protocol.md",
                             name);
    return 0;
}

/*  Parse a reply map; field errors come back as INVALID_ARG for the caller to re-code. */
static vb_reply_t *
vb_reply_parse (json_object *obj, vb_error_t *err)
{
    uint64_t id = 0;
    bool ok = false;
    json_object *result = NULL;
    json_object *partial = NULL;
    vb_reply_t *self = NULL;

    if (!json_object_is_type (obj, json_type_object)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "the reply is not a map");
        return NULL;
    }
    if (vb_json_get_uint64 (obj, "id", true, &id, err) < 0
        || vb_json_get_bool (obj, "ok", true, &ok, err) < 0
        || vb_json_get_array (obj, "partial", false, &partial, err) < 0)
        return NULL;
    if (ok) {
        json_object_object_get_ex (obj, "result", &result);
        self = vb_reply_new_ok (id, json_object_get (result));
    } else {
        vb_error_code_t code = VB_ERR_INTERNAL;
        const char *message = NULL;
        if (vb_proto_parse_error (obj, &code, &message, err) < 0)
            return NULL;
        self = vb_reply_new_error (id, code, message);
    }
    if (!self) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding reply %llu",
                      (unsigned long long) id);
        return NULL;
    }
    size_t n = partial ? json_object_array_length (partial) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *entry = json_object_array_get_idx (partial, i);
        const char *host = NULL, *driver = NULL, *worker = "", *message = NULL;
        vb_error_code_t code = VB_ERR_INTERNAL;
        vb_error_t inner = { 0 };
        if (vb_json_get_string (entry, "host", true, &host, &inner) < 0
            || vb_json_get_string (entry, "driver", true, &driver, &inner) < 0
            || vb_json_get_string (entry, "worker", false, &worker, &inner) < 0
            || vb_proto_parse_error (entry, &code, &message, &inner) < 0) {
            vb_error_set (err, VB_ERR_INVALID_ARG, "partial[%zu]: %s", i, inner.message);
            vb_reply_destroy (&self);
            return NULL;
        }
        if (vb_reply_add_partial (self, host, driver, worker, code, message) < 0) {
            vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding reply %llu",
                          (unsigned long long) id);
            vb_reply_destroy (&self);
            return NULL;
        }
    }
    return self;
}

vb_reply_t *
vb_reply_from_json (json_object *obj, vb_error_t *err)
{
    vb_error_t inner = { 0 };
    vb_reply_t *self = vb_reply_parse (obj, &inner);
    if (!self) {
        if (inner.code == VB_ERR_INTERNAL)
            vb_error_copy (err, &inner);
        else
            vb_proto_malformed (err, "reply", &inner);
    }
    return self;
}

vb_reply_t *
vb_reply_decode (zframe_t *body, const vb_limits_t *limits, vb_error_t *err)
{
    json_object *obj = vb_proto_decode_map (body, limits, "reply", err);
    if (!obj)
        return NULL;
    vb_reply_t *self = vb_reply_from_json (obj, err);
    json_object_put (obj);
    return self;
}

/* ---------------------------------------------------------------------------------------------
 *  Client envelope
 */

zmsg_t *
vb_client_msg_new (zframe_t **body_p)
{
    if (!body_p || !*body_p)
        return NULL;
    zmsg_t *msg = zmsg_new ();
    if (!msg || zmsg_addmem (msg, NULL, 0) < 0 || zmsg_addstr (msg, VB_PROTO_CLIENT) < 0
        || zmsg_append (msg, body_p) < 0) {
        zmsg_destroy (&msg);
        zframe_destroy (body_p);
        return NULL;
    }
    return msg;
}

zframe_t *
vb_client_msg_body (zmsg_t *msg, vb_error_t *err)
{
    if (!msg) {
        vb_error_set (err, VB_ERR_PROTOCOL, "no client message was received");
        return NULL;
    }
    size_t frames = zmsg_size (msg);
    zframe_t *delim = zmsg_first (msg);
    zframe_t *proto = zmsg_next (msg);
    zframe_t *body = zmsg_next (msg);
    if (frames >= 2 && zframe_size (delim) == 0 && !vb_proto_frame_is (proto, VB_PROTO_CLIENT)) {
        char text[160];
        vb_proto_frame_text (proto, text, sizeof text);
        vb_error_set (err, VB_ERR_PROTOCOL, "unknown protocol '%s'; this peer speaks %s", text,
                      VB_PROTO_CLIENT);
        return NULL;
    }
    if (frames != 3) {
        vb_error_set (err, VB_ERR_PROTOCOL,
                      "client message has %zu frames; expected 3: [empty][%s][body]", frames,
                      VB_PROTO_CLIENT);
        return NULL;
    }
    if (zframe_size (delim) != 0) {
        vb_error_set (err, VB_ERR_PROTOCOL,
                      "client message does not start with an empty delimiter frame");
        return NULL;
    }
    return body;
}

/* ---------------------------------------------------------------------------------------------
 *  Worker commands
 */

static const char *const vb_wcmd_names[] = {
    [VB_WCMD_READY] = "READY",
    [VB_WCMD_HEARTBEAT] = "HEARTBEAT",
    [VB_WCMD_REQUEST] = "REQUEST",
    [VB_WCMD_REPLY] = "REPLY",
    [VB_WCMD_DOMAINS] = "DOMAINS",
    [VB_WCMD_EVENT] = "EVENT",
    [VB_WCMD_EVENT_ACK] = "EVENT_ACK",
    [VB_WCMD_DISCONNECT] = "DISCONNECT",
};

_Static_assert (sizeof (vb_wcmd_names) / sizeof (vb_wcmd_names[0]) == VB_WCMD_LAST,
                "vb_wcmd_names[] must name every command of vb_wcmd_t");

const char *
vb_wcmd_name (vb_wcmd_t cmd)
{
    if ((int) cmd < 0 || cmd >= VB_WCMD_LAST)
        return NULL;
    return vb_wcmd_names[cmd];
}

zmsg_t *
vb_wmsg_encode (vb_wcmd_t cmd, json_object *body)
{
    zmsg_t *msg = NULL;
    zframe_t *frame = NULL;
    const char *name = vb_wcmd_name (cmd);
    if (!body)
        body = json_object_new_object ();
    if (!name || !body)
        goto cleanup;
    frame = vb_msgpack_encode (body);
    msg = zmsg_new ();
    if (!frame || !msg || zmsg_addstr (msg, VB_PROTO_WORKER) < 0 || zmsg_addstr (msg, name) < 0
        || zmsg_append (msg, &frame) < 0)
        zmsg_destroy (&msg);

cleanup:
    zframe_destroy (&frame);
    json_object_put (body);
    return msg;
}

/*  A required string field that must not be empty. */
static int
vb_proto_nonempty (json_object *obj, const char *key, const char **out, vb_error_t *err)
{
    if (vb_json_get_string (obj, key, true, out, err) < 0)
        return -1;
    if (!**out)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "field '%s' is empty", key);
    return 0;
}

static int
vb_proto_check_domains (json_object *body, vb_error_t *err)
{
    json_object *list = NULL;
    if (vb_json_get_array (body, "domains", true, &list, err) < 0)
        return -1;
    size_t n = json_object_array_length (list);
    for (size_t i = 0; i < n; i++) {
        json_object *d = json_object_array_get_idx (list, i);
        const char *name = NULL, *uuid = NULL;
        int64_t state = 0;
        vb_error_t inner = { 0 };
        if (vb_json_get_string (d, "name", true, &name, &inner) < 0
            || vb_json_get_string (d, "uuid", true, &uuid, &inner) < 0
            || vb_json_get_int64 (d, "state", true, &state, &inner) < 0)
            return vb_error_set (err, VB_ERR_INVALID_ARG, "domains[%zu]: %s", i, inner.message);
        if (!vb_name_is_valid (name))
            return vb_error_set (err, VB_ERR_INVALID_ARG,
                                 "domains[%zu]: '%.80s' is not a valid domain name", i, name);
        if (!vb_uuid_is_valid (uuid))
            return vb_error_set (err, VB_ERR_INVALID_ARG,
                                 "domains[%zu]: '%.80s' is not a UUID", i, uuid);
        if (state < 0 || state >= VB_STATE_LAST)
            return vb_error_set (err, VB_ERR_INVALID_ARG,
                                 "domains[%zu]: state %lld is not a libvirt domain state", i,
                                 (long long) state);
    }
    return 0;
}

static int
vb_proto_check_ready (json_object *body, vb_error_t *err)
{
    const char *worker = NULL, *host = NULL, *driver = NULL;
    int64_t version = 0, pid = 0;
    if (vb_proto_nonempty (body, "worker", &worker, err) < 0
        || vb_json_get_string (body, "host", true, &host, err) < 0
        || vb_json_get_string (body, "driver", true, &driver, err) < 0
        || vb_json_get_int64 (body, "version", true, &version, err) < 0
        || vb_json_get_int64 (body, "pid", true, &pid, err) < 0)
        return -1;
    if (strlen (worker) > VB_WORKER_ID_MAX)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "worker id is longer than %d bytes",
                             VB_WORKER_ID_MAX);
    if (!vb_name_is_valid (host))
        return vb_error_set (err, VB_ERR_INVALID_ARG, "host '%.80s' is not a valid host name",
                             host);
    if (!vb_name_is_valid (driver))
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "driver '%.80s' is not a valid driver name", driver);
    return vb_proto_check_domains (body, err);
}

/*  The event fields. PUBLISHED also requires what the broker adds (seq, worker, host, driver). */
static int
vb_proto_check_event (json_object *obj, bool published, vb_error_t *err)
{
    uint64_t u = 0;
    const char *s = NULL, *domain = NULL, *uuid = NULL;
    json_object *extra = NULL;
    if (vb_json_get_uint64 (obj, "seq", published, &u, err) < 0
        || vb_json_get_uint64 (obj, "wseq", true, &u, err) < 0
        || vb_json_get_uint64 (obj, "time_ns", true, &u, err) < 0
        || vb_json_get_string (obj, "domain", true, &domain, err) < 0
        || vb_json_get_string (obj, "uuid", true, &uuid, err) < 0
        || vb_proto_nonempty (obj, "kind", &s, err) < 0
        || vb_proto_nonempty (obj, "event", &s, err) < 0
        || vb_json_get_string (obj, "detail", true, &s, err) < 0
        || vb_json_get_object (obj, "extra", false, &extra, err) < 0)
        return -1;
    /*  "" is allowed for events about no single domain (a broker "gap" event). */
    if (*domain && !vb_name_is_valid (domain))
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "event domain '%.80s' is not a valid domain name", domain);
    if (*uuid && !vb_uuid_is_valid (uuid))
        return vb_error_set (err, VB_ERR_INVALID_ARG, "event uuid '%.80s' is not a UUID", uuid);
    const char *host = NULL, *driver = NULL, *worker = NULL;
    if (published) {
        if (vb_proto_nonempty (obj, "worker", &worker, err) < 0
            || vb_proto_nonempty (obj, "host", &host, err) < 0
            || vb_proto_nonempty (obj, "driver", &driver, err) < 0)
            return -1;
    } else if (vb_json_get_string (obj, "worker", false, &worker, err) < 0
               || vb_json_get_string (obj, "host", false, &host, err) < 0
               || vb_json_get_string (obj, "driver", false, &driver, err) < 0) {
        return -1;
    }
    if (host && *host && !vb_name_is_valid (host))
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "event host '%.80s' is not a valid host name", host);
    if (driver && *driver && !vb_name_is_valid (driver))
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "event driver '%.80s' is not a valid driver name", driver);
    return 0;
}

static int
vb_proto_check_wbody (vb_wcmd_t cmd, json_object *body, vb_error_t *err)
{
    uint64_t u = 0;
    const char *s = NULL;
    switch (cmd) {
    case VB_WCMD_READY:
        return vb_proto_check_ready (body, err);
    case VB_WCMD_HEARTBEAT:
        return 0;
    case VB_WCMD_REQUEST: {
        vb_request_t *req = vb_request_parse (body, NULL, err);
        if (!req)
            return -1;
        vb_request_destroy (&req);
        return vb_proto_nonempty (body, "origin", &s, err);
    }
    case VB_WCMD_REPLY: {
        vb_reply_t *reply = vb_reply_parse (body, err);
        if (!reply)
            return -1;
        vb_reply_destroy (&reply);
        return 0;
    }
    case VB_WCMD_DOMAINS:
        return vb_proto_check_domains (body, err);
    case VB_WCMD_EVENT:
        return vb_proto_check_event (body, false, err);
    case VB_WCMD_EVENT_ACK:
        return vb_json_get_uint64 (body, "wseq", true, &u, err);
    case VB_WCMD_DISCONNECT:
        return vb_json_get_string (body, "reason", false, &s, err);
    case VB_WCMD_LAST:
        break;
    }
    return vb_error_set (err, VB_ERR_INTERNAL, "worker command %d has no validator", (int) cmd);
}

vb_wmsg_t *
vb_wmsg_decode (zmsg_t *msg, const vb_limits_t *limits, vb_error_t *err)
{
    if (!msg) {
        vb_error_set (err, VB_ERR_PROTOCOL, "no worker message was received");
        return NULL;
    }
    size_t frames = zmsg_size (msg);
    zframe_t *proto = zmsg_first (msg);
    zframe_t *name = zmsg_next (msg);
    zframe_t *body = zmsg_next (msg);
    char text[160];

    if (frames == 0) {
        vb_error_set (err, VB_ERR_PROTOCOL, "worker message has no frames");
        return NULL;
    }
    if (!vb_proto_frame_is (proto, VB_PROTO_WORKER)) {
        vb_proto_frame_text (proto, text, sizeof text);
        vb_error_set (err, VB_ERR_PROTOCOL, "unknown protocol '%s'; this peer speaks %s", text,
                      VB_PROTO_WORKER);
        return NULL;
    }
    if (frames != 3) {
        vb_error_set (err, VB_ERR_PROTOCOL,
                      "worker message has %zu frames; expected 3: [%s][command][body]", frames,
                      VB_PROTO_WORKER);
        return NULL;
    }
    vb_wcmd_t cmd = VB_WCMD_LAST;
    for (int i = 0; i < VB_WCMD_LAST; i++)
        if (vb_proto_frame_is (name, vb_wcmd_names[i]))
            cmd = (vb_wcmd_t) i;
    if (cmd == VB_WCMD_LAST) {
        vb_proto_frame_text (name, text, sizeof text);
        vb_error_set (err, VB_ERR_PROTOCOL, "unknown worker command '%s'", text);
        return NULL;
    }

    char what[64];
    snprintf (what, sizeof what, "%s message", vb_wcmd_names[cmd]);
    json_object *obj = vb_proto_decode_map (body, limits, what, err);
    if (!obj)
        return NULL;
    vb_error_t inner = { 0 };
    if (vb_proto_check_wbody (cmd, obj, &inner) < 0) {
        if (inner.code == VB_ERR_INTERNAL)
            vb_error_copy (err, &inner);
        else
            vb_proto_malformed (err, what, &inner);
        json_object_put (obj);
        return NULL;
    }
    vb_wmsg_t *self = calloc (1, sizeof *self);
    if (!self) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding a %s", what);
        json_object_put (obj);
        return NULL;
    }
    self->cmd = cmd;
    self->body = obj;
    return self;
}

void
vb_wmsg_destroy (vb_wmsg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    json_object_put ((*self_p)->body);
    free (*self_p);
    *self_p = NULL;
}

/* ---------------------------------------------------------------------------------------------
 *  Published events
 */

vb_event_t *
vb_event_new (void)
{
    return calloc (1, sizeof (vb_event_t));
}

void
vb_event_destroy (vb_event_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vb_event_t *self = *self_p;
    free (self->worker);
    free (self->host);
    free (self->driver);
    free (self->domain);
    free (self->uuid);
    free (self->kind);
    free (self->event);
    free (self->detail);
    json_object_put (self->extra);
    free (self);
    *self_p = NULL;
}

/*  strdup that keeps NULL as NULL and reports allocation failure through *FAILED. */
static char *
vb_proto_dup_keep (const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *copy = strdup (s);
    if (!copy)
        *failed = true;
    return copy;
}

vb_event_t *
vb_event_dup (const vb_event_t *src)
{
    if (!src)
        return NULL;
    vb_event_t *self = vb_event_new ();
    if (!self)
        return NULL;
    bool failed = false;
    self->seq = src->seq;
    self->wseq = src->wseq;
    self->time_ns = src->time_ns;
    self->worker = vb_proto_dup_keep (src->worker, &failed);
    self->host = vb_proto_dup_keep (src->host, &failed);
    self->driver = vb_proto_dup_keep (src->driver, &failed);
    self->domain = vb_proto_dup_keep (src->domain, &failed);
    self->uuid = vb_proto_dup_keep (src->uuid, &failed);
    self->kind = vb_proto_dup_keep (src->kind, &failed);
    self->event = vb_proto_dup_keep (src->event, &failed);
    self->detail = vb_proto_dup_keep (src->detail, &failed);
    if (src->extra && json_object_deep_copy (src->extra, &self->extra, NULL) < 0)
        failed = true;
    if (failed)
        vb_event_destroy (&self);
    return self;
}

json_object *
vb_event_to_json (const vb_event_t *self)
{
    if (!self)
        return NULL;
    json_object *obj = json_object_new_object ();
    if (!obj)
        return NULL;
    json_object_object_add (obj, "seq", json_object_new_uint64 (self->seq));
    json_object_object_add (obj, "wseq", json_object_new_uint64 (self->wseq));
    if (self->worker)
        json_object_object_add (obj, "worker", json_object_new_string (self->worker));
    json_object_object_add (obj, "time_ns", json_object_new_uint64 (self->time_ns));
    if (self->host)
        json_object_object_add (obj, "host", json_object_new_string (self->host));
    if (self->driver)
        json_object_object_add (obj, "driver", json_object_new_string (self->driver));
    json_object_object_add (obj, "domain", json_object_new_string (self->domain ? self->domain
                                                                                : ""));
    json_object_object_add (obj, "uuid", json_object_new_string (self->uuid ? self->uuid : ""));
    json_object_object_add (obj, "kind", json_object_new_string (self->kind ? self->kind : ""));
    json_object_object_add (obj, "event", json_object_new_string (self->event ? self->event
                                                                              : ""));
    json_object_object_add (obj, "detail", json_object_new_string (self->detail ? self->detail
                                                                                : ""));
    if (self->extra)
        json_object_object_add (obj, "extra", json_object_get (self->extra));
    return obj;
}

/*  Build an event from OBJ already checked by vb_proto_check_event. */
static vb_event_t *
vb_event_build (json_object *obj)
{
    vb_event_t *self = vb_event_new ();
    if (!self)
        return NULL;
    bool failed = false;
    json_object *extra = NULL;
    self->seq = vb_json_uint (obj, "seq", 0);
    self->wseq = vb_json_uint (obj, "wseq", 0);
    self->time_ns = vb_json_uint (obj, "time_ns", 0);
    self->worker = vb_proto_dup_keep (vb_json_str (obj, "worker", NULL), &failed);
    self->host = vb_proto_dup_keep (vb_json_str (obj, "host", NULL), &failed);
    self->driver = vb_proto_dup_keep (vb_json_str (obj, "driver", NULL), &failed);
    self->domain = vb_proto_dup_keep (vb_json_str (obj, "domain", ""), &failed);
    self->uuid = vb_proto_dup_keep (vb_json_str (obj, "uuid", ""), &failed);
    self->kind = vb_proto_dup_keep (vb_json_str (obj, "kind", ""), &failed);
    self->event = vb_proto_dup_keep (vb_json_str (obj, "event", ""), &failed);
    self->detail = vb_proto_dup_keep (vb_json_str (obj, "detail", ""), &failed);
    if (json_object_object_get_ex (obj, "extra", &extra) && extra)
        self->extra = json_object_get (extra);
    if (failed)
        vb_event_destroy (&self);
    return self;
}

vb_event_t *
vb_event_from_json (json_object *obj, vb_error_t *err)
{
    vb_error_t inner = { 0 };
    if (vb_proto_check_event (obj, false, &inner) < 0) {
        vb_proto_malformed (err, "event", &inner);
        return NULL;
    }
    vb_event_t *self = vb_event_build (obj);
    if (!self)
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding an event");
    return self;
}

char *
vb_event_topic (const vb_event_t *self)
{
    char *topic = NULL;
    if (!self)
        return NULL;
    if (asprintf (&topic, "%s/%s/%s", self->host ? self->host : "",
                  self->driver ? self->driver : "", self->domain ? self->domain : "")
        < 0)
        return NULL;
    return topic;
}

zmsg_t *
vb_event_encode (const vb_event_t *self)
{
    zmsg_t *msg = NULL;
    zframe_t *frame = NULL;
    char *topic = vb_event_topic (self);
    json_object *obj = vb_event_to_json (self);
    if (!topic || !obj)
        goto cleanup;
    frame = vb_msgpack_encode (obj);
    msg = zmsg_new ();
    if (!frame || !msg || zmsg_addstr (msg, topic) < 0 || zmsg_append (msg, &frame) < 0)
        zmsg_destroy (&msg);

cleanup:
    zframe_destroy (&frame);
    json_object_put (obj);
    free (topic);
    return msg;
}

vb_event_t *
vb_event_decode (zmsg_t *msg, const vb_limits_t *limits, vb_error_t *err)
{
    vb_event_t *self = NULL;
    json_object *obj = NULL;
    char *topic = NULL;
    char text[160];

    if (!msg || zmsg_size (msg) != 2) {
        vb_error_set (err, VB_ERR_PROTOCOL, "event message has %zu frames; expected 2: "
                      "[topic][body]", msg ? zmsg_size (msg) : 0);
        goto cleanup;
    }
    zframe_t *tframe = zmsg_first (msg);
    zframe_t *body = zmsg_next (msg);
    if (zframe_size (tframe) > 0 && zframe_data (tframe)[0] == '!') {
        vb_proto_frame_text (tframe, text, sizeof text);
        vb_error_set (err, VB_ERR_PROTOCOL,
                      "topic '%s' is a control message, not a domain event", text);
        goto cleanup;
    }
    obj = vb_proto_decode_map (body, limits, "event", err);
    if (!obj)
        goto cleanup;
    vb_error_t inner = { 0 };
    if (vb_proto_check_event (obj, true, &inner) < 0) {
        vb_proto_malformed (err, "event", &inner);
        goto cleanup;
    }
    self = vb_event_build (obj);
    if (!self) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding an event");
        goto cleanup;
    }
    topic = vb_event_topic (self);
    if (!topic || !vb_proto_frame_is (tframe, topic)) {
        vb_proto_frame_text (tframe, text, sizeof text);
        vb_error_set (err, VB_ERR_PROTOCOL, "event topic '%s' does not match its body '%.200s'",
                      text, topic ? topic : "");
        vb_event_destroy (&self);
    }

cleanup:
    free (topic);
    json_object_put (obj);
    return self;
}
