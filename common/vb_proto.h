/*  vb_proto — frames and messages of the virtbus wire protocol.
 *
 *  Every process speaks through this module. It turns ZeroMQ multipart messages into typed
 *  requests, replies, worker commands and published events and back, and checks every limit of
 *  docs/protocol.md (frame size, nesting depth, string length, declared container sizes) on the raw
 *  msgpack bytes BEFORE anything is unpacked. Message bodies are msgpack maps; inside the process
 *  they are json-c objects (json_object), the one tree type virtbus uses for arguments, results,
 *  QMP replies and --json output.
 *
 *  Frames (the protocol id frame carries the version; an unknown one answers PROTOCOL):
 *    client  -> broker   [empty]["VBC1"][msgpack request]          (client DEALER, broker ROUTER)
 *    broker  -> client   [empty]["VBC1"][msgpack reply]
 *    worker <-> broker   ["VBW1"][command name][msgpack body]      (worker DEALER, broker ROUTER)
 *    broker  -> subscr.  [topic "host/driver/domain"][msgpack event] (XPUB)
 *  The ROUTER's identity frame is not part of these layouts; the broker strips and adds it.
 *
 *  Ownership: functions taking `json_object *` documented as "taken" consume one reference; all
 *  other pointers are borrowed. Decoders never keep a pointer into the zmsg_t they were given.
 */
#ifndef VB_PROTO_H
#define VB_PROTO_H

#include <czmq.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "vb_error.h"

/*  Protocol id frames. Wire-visible: changing them breaks every deployed peer. */
#define VB_PROTO_CLIENT "VBC1"
#define VB_PROTO_WORKER "VBW1"
#define VB_PROTO_VERSION 1

/*  Default deadlines (ms) when a request carries none. */
#define VB_DEADLINE_SINGLE_MS 5000
#define VB_DEADLINE_FANOUT_MS 2000

/*  Limits checked on the raw bytes before decoding. */
typedef struct {
    size_t max_frame;    /* bytes in the msgpack frame */
    unsigned max_depth;  /* nesting of arrays/maps; the top-level map is depth 1 */
    size_t max_string;   /* bytes in any one string or map key */
} vb_limits_t;

#define VB_LIMIT_CLIENT_FRAME (1u << 20)   /* a client request: 1 MiB */
#define VB_LIMIT_WORKER_FRAME (64u << 20)  /* a worker reply / broker reply: 64 MiB */
#define VB_LIMIT_DEPTH 32
#define VB_LIMIT_STRING (64u << 10)        /* 64 KiB */

/*  The limits for frames a client sends (1 MiB) and for worker frames and replies (64 MiB). */
vb_limits_t vb_limits_client (void);
vb_limits_t vb_limits_worker (void);

/* ---------------------------------------------------------------------------------------------
 *  msgpack <-> json-c
 *
 *  Mapping: nil <-> null, bool, positive int <-> int (uint64 above INT64_MAX via
 *  json_object_new_uint64), negative int, float32/64 <-> double, str <-> string, array, map with
 *  string keys <-> object. bin, ext and non-string map keys are refused (PROTOCOL).
 */

/*  Check DATA (SIZE bytes) against LIMITS and decode exactly one msgpack value that must use all
 *  the bytes. Returns a new json_object (caller owns; JSON null decodes to a non-NULL marker is NOT
 *  made: *OUT may be NULL for nil) through *OUT and 0, or -1 with ERR = PROTOCOL naming what was
 *  wrong ("string of 70000 bytes exceeds the 65536-byte limit"). */
int vb_msgpack_decode (const void *data, size_t size, const vb_limits_t *limits,
                       json_object **out, vb_error_t *err);

/*  Encode OBJ (borrowed; NULL encodes nil) as msgpack into a new frame. Returns NULL only on
 *  allocation failure. */
zframe_t *vb_msgpack_encode (json_object *obj);

/* ---------------------------------------------------------------------------------------------
 *  Client requests and replies
 */

/*  Where a request goes. All fields optional (NULL). DOMAIN is a name, "host/name" or a UUID. */
typedef struct {
    char *host;
    char *driver;
    char *domain;
} vb_target_t;

/*  A request: {"id", "op", "target"?, "args"?, "deadline_ms"?}. */
typedef struct {
    uint64_t id;           /* chosen by the client, echoed in the reply */
    char *op;              /* "domain.start", "hosts", ... (docs/protocol.md lists them) */
    vb_target_t target;
    json_object *args;     /* always an object after decode (empty when absent); owned */
    uint32_t deadline_ms;  /* 0 = absent: the broker applies its default */
} vb_request_t;

/*  A new request; ARGS taken (NULL = empty object). Strings copied. NULL on allocation failure. */
vb_request_t *vb_request_new (uint64_t id, const char *op, const vb_target_t *target,
                              json_object *args, uint32_t deadline_ms);
void vb_request_destroy (vb_request_t **self_p);

/*  Encode as the msgpack body (one frame). */
zframe_t *vb_request_encode (const vb_request_t *self);

/*  Decode a request body, checked against LIMITS: id must be a non-negative integer, op a
 *  non-empty string of at most 64 bytes, target a map of optional strings, args a map,
 *  deadline_ms an integer in 1..3600000. Unknown top-level keys are ignored (forward
 *  compatibility). Returns a new request, or NULL with ERR (PROTOCOL or INVALID_ARG). When the
 *  body is a map with a usable "id", *ID_OUT (if not NULL) is set to it even on failure so the
 *  error reply can carry it (otherwise 0). */
vb_request_t *vb_request_decode (zframe_t *body, const vb_limits_t *limits, uint64_t *id_out,
                                 vb_error_t *err);

/*  One entry of a fan-out reply's "partial" list: which worker did not contribute and why. */
typedef struct {
    char *host;
    char *driver;
    char *worker;
    vb_error_code_t code;
    char *message;
} vb_partial_t;

/*  A reply: {"id", "ok": true, "result"?, "partial"?} or
 *  {"id", "ok": false, "error": {"code", "message"}, "partial"?}. */
typedef struct {
    uint64_t id;
    bool ok;
    json_object *result;     /* owned; may be NULL (nil) */
    vb_error_code_t code;    /* when !ok */
    char *message;           /* when !ok; never NULL then */
    vb_partial_t *partial;   /* owned array of PARTIAL_COUNT entries, NULL when none */
    size_t partial_count;
} vb_reply_t;

/*  Constructors; RESULT taken. */
vb_reply_t *vb_reply_new_ok (uint64_t id, json_object *result);
vb_reply_t *vb_reply_new_error (uint64_t id, vb_error_code_t code, const char *message);
vb_reply_t *vb_reply_new_from_error (uint64_t id, const vb_error_t *err);
/*  Append a partial entry (strings copied). Returns 0, or -1 on allocation failure. */
int vb_reply_add_partial (vb_reply_t *self, const char *host, const char *driver,
                          const char *worker, vb_error_code_t code, const char *message);
void vb_reply_destroy (vb_reply_t **self_p);

zframe_t *vb_reply_encode (const vb_reply_t *self);
/*  Decode a reply body; error codes must be in the closed set. NULL with ERR on failure. */
vb_reply_t *vb_reply_decode (zframe_t *body, const vb_limits_t *limits, vb_error_t *err);

/*  Whole client-side messages: [empty]["VBC1"][body]. The ROUTER identity frame, if any, must
 *  already be removed (decode) / is added by the caller (encode).
 *  vb_client_msg_body() checks the envelope and returns the body frame (borrowed from MSG), or
 *  NULL with ERR = PROTOCOL ("unknown protocol 'VBC9'; this broker speaks VBC1"). */
zmsg_t *vb_client_msg_new (zframe_t **body_p);
zframe_t *vb_client_msg_body (zmsg_t *msg, vb_error_t *err);

/* ---------------------------------------------------------------------------------------------
 *  Worker <-> broker commands: ["VBW1"][command][msgpack map]
 */
typedef enum {
    VB_WCMD_READY = 0,   /* w->b  {worker, host, driver, version, pid, domains: [domain]} */
    VB_WCMD_HEARTBEAT,   /* both  {} */
    VB_WCMD_REQUEST,     /* b->w  request fields + {"origin": str} (client key for idempotency) */
    VB_WCMD_REPLY,       /* w->b  reply fields */
    VB_WCMD_DOMAINS,     /* w->b  {domains: [domain]} the full set the worker owns now */
    VB_WCMD_EVENT,       /* w->b  {wseq, time_ns, domain, uuid, kind, event, detail, ...} */
    VB_WCMD_EVENT_ACK,   /* b->w  {wseq}: every event up to wseq is safe with the broker */
    VB_WCMD_DISCONNECT,  /* b->w  {reason}: the broker does not know you; send READY again */
    VB_WCMD_LAST
} vb_wcmd_t;

/*  Wire name of a command ("READY"), NULL when out of range. */
const char *vb_wcmd_name (vb_wcmd_t cmd);

/*  A decoded worker command. BODY is always a json object (owned). The decoder validates the
 *  fields listed above for each command (types, required keys, name/UUID syntax) so the receiver
 *  can read them without re-checking; "domain" entries are {name, uuid, state (int)}. */
typedef struct {
    vb_wcmd_t cmd;
    json_object *body;
} vb_wmsg_t;

/*  Build ["VBW1"][name][msgpack BODY]; BODY taken (NULL = empty map). */
zmsg_t *vb_wmsg_encode (vb_wcmd_t cmd, json_object *body);

/*  Decode a worker-side message (identity frame already removed). NULL with ERR (PROTOCOL for
 *  a wrong id frame, unknown command, bad body) on failure. */
vb_wmsg_t *vb_wmsg_decode (zmsg_t *msg, const vb_limits_t *limits, vb_error_t *err);
void vb_wmsg_destroy (vb_wmsg_t **self_p);

/*  A request forwarded to a worker: the request fields plus "origin". The worker decodes it with
 *  vb_request_from_json(); ORIGIN_OUT (may be NULL) receives a new copy of the origin string. */
json_object *vb_request_to_json (const vb_request_t *self);
vb_request_t *vb_request_from_json (json_object *obj, char **origin_out, vb_error_t *err);
json_object *vb_reply_to_json (const vb_reply_t *self);
vb_reply_t *vb_reply_from_json (json_object *obj, vb_error_t *err);

/* ---------------------------------------------------------------------------------------------
 *  Published events: [topic "host/driver/domain"][msgpack event]
 */
typedef struct {
    uint64_t seq;        /* broker-global, 1, 2, 3 ... ; 0 before the broker stamps it */
    uint64_t wseq;       /* per worker */
    char *worker;
    uint64_t time_ns;    /* wall clock when the worker saw it */
    char *host;
    char *driver;
    char *domain;        /* domain name */
    char *uuid;
    char *kind;          /* "lifecycle" | "reboot" | "block-job" | "gap" ... */
    char *event;         /* "started" ... */
    char *detail;        /* "booted" ... */
    json_object *extra;  /* kind-specific fields (block-job: disk, job type), owned, may be NULL */
} vb_event_t;

vb_event_t *vb_event_new (void);
vb_event_t *vb_event_dup (const vb_event_t *src);
void vb_event_destroy (vb_event_t **self_p);
json_object *vb_event_to_json (const vb_event_t *self);
vb_event_t *vb_event_from_json (json_object *obj, vb_error_t *err);
/*  "host/driver/domain" (caller frees). */
char *vb_event_topic (const vb_event_t *self);
zmsg_t *vb_event_encode (const vb_event_t *self);
vb_event_t *vb_event_decode (zmsg_t *msg, const vb_limits_t *limits, vb_error_t *err);

#endif
