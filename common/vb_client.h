/*  vb_client — the client library: requests to a virtbus broker, and event subscriptions.
 *
 *  A client holds one DEALER connected to the broker's client endpoint. Calls carry an id (the
 *  client's own counter) and a deadline; the broker answers every request by its deadline, so the
 *  library waits deadline + a grace period (VB_CLIENT_GRACE_MS) and then reports TIMEOUT itself
 *  ("no answer from broker at tcp://... within 5500 ms") — a dead broker never hangs a caller.
 *  vbsh and the tests use it; it never prints.
 *
 *      vb_client_t *c = vb_client_new ("tcp://127.0.0.1:16600", &err);
 *      vb_reply_t *r = vb_client_call (c, "domain.info", &(vb_target_t){.domain = "web"},
 *                                      NULL, 0, &err);
 *      if (r && r->ok) ... r->result ...
 *      vb_reply_destroy (&r); vb_client_destroy (&c);
 */
#ifndef VB_CLIENT_H
#define VB_CLIENT_H

#include <czmq.h>
#include <json-c/json.h>
#include <stdint.h>

#include "vb_error.h"
#include "vb_proto.h"

#define VB_CLIENT_DEFAULT_ENDPOINT "tcp://127.0.0.1:16600"
#define VB_CLIENT_GRACE_MS 500

typedef struct _vb_client_t vb_client_t;

/*  Connect to ENDPOINT (NULL: $VIRTBUS_BROKER, else VB_CLIENT_DEFAULT_ENDPOINT). Connecting is
 *  lazy in ZeroMQ: a wrong endpoint shows as TIMEOUT on the first call. NULL with ERR on a
 *  malformed endpoint. */
vb_client_t *vb_client_new (const char *endpoint, vb_error_t *err);

/*  The same with CurveZMQ keys (vb_auth.h): KEY_FILE is the client's secret certificate (NULL:
 *  $VIRTBUS_KEY; neither set: no key), SERVER_KEY_FILE the broker's public certificate (NULL:
 *  $VIRTBUS_SERVER_KEY, else the "broker-key" metadata of the client's certificate). Event
 *  subscriptions made through the client use the same keys. vb_client_new() is this with NULL,
 *  NULL. NULL with ERR (INVALID_ARG) when a key file is missing or malformed. A handshake the
 *  broker refuses (unknown key, no key for a keyed broker, wrong server key) ends the current
 *  wait at once with ERR = DENIED, "authentication failed: ...", seen through the socket's
 *  monitor. */
vb_client_t *vb_client_new_keyed (const char *endpoint, const char *key_file,
                                  const char *server_key_file, vb_error_t *err);
void vb_client_destroy (vb_client_t **self_p);

const char *vb_client_endpoint (const vb_client_t *self);

/*  Send a request and wait for its reply. ARGS taken (NULL = {}), TARGET borrowed (NULL = none),
 *  DEADLINE_MS 0 = the broker's default for the op (the library then waits 5 s + grace). Returns
 *  the reply (caller owns; check ->ok: a reply with ok=false is a normal answer), or NULL with
 *  ERR when no valid reply came (TIMEOUT, PROTOCOL). Replies to other ids are dropped. */
vb_reply_t *vb_client_call (vb_client_t *self, const char *op, const vb_target_t *target,
                            json_object *args, uint32_t deadline_ms, vb_error_t *err);

/*  Asynchronous use: send now (returns 0 and *ID_OUT, or -1 with ERR = BUSY when the socket
 *  would block), collect later. vb_client_recv() returns the next reply for any id, or NULL with
 *  ERR = TIMEOUT after TIMEOUT_MS (-1 = wait forever). */
int vb_client_send (vb_client_t *self, const char *op, const vb_target_t *target,
                    json_object *args, uint32_t deadline_ms, uint64_t *id_out, vb_error_t *err);
vb_reply_t *vb_client_recv (vb_client_t *self, int timeout_ms, vb_error_t *err);

/*  The socket, for polling with other sockets (readable = a reply is waiting). */
zsock_t *vb_client_socket (vb_client_t *self);

/*  The broker's endpoints (from "broker.info", asked once and cached): events endpoint as
 *  the broker advertises it. NULL with ERR when the broker does not answer. */
const char *vb_client_events_endpoint (vb_client_t *self, vb_error_t *err);

/* --- Subscriptions ----------------------------------------------------------------------- */

typedef struct _vb_subscriber_t vb_subscriber_t;

/*  Subscribe to events whose topic starts with PREFIX ("" = all; "host", "host/driver",
 *  "host/driver/domain"). SINCE_SEQ > 0 first replays every retained event after that seq
 *  through "events.replay". The subscriber has its own SUB socket and uses CLIENT (borrowed,
 *  must outlive it) for replays. Returns once the SUB is connected and synchronised (no event
 *  published after this returns is missed), or NULL with ERR. */
vb_subscriber_t *vb_subscriber_new (vb_client_t *client, const char *prefix, uint64_t since_seq,
                                    vb_error_t *err);
void vb_subscriber_destroy (vb_subscriber_t **self_p);

/*  The next event in seq order (caller owns), or NULL with ERR = TIMEOUT after TIMEOUT_MS.
 *  Gaps in seq are filled from events.replay; a gap that cannot be filled is returned as an
 *  event of kind "gap" (extra: {from, to}). */
vb_event_t *vb_subscriber_recv (vb_subscriber_t *self, int timeout_ms, vb_error_t *err);

/*  How many events the subscriber had to fetch through events.replay so far. */
uint64_t vb_subscriber_replayed (const vb_subscriber_t *self);

zsock_t *vb_subscriber_socket (vb_subscriber_t *self);

#endif
