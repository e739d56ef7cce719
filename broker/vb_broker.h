/*  vb_broker — virtbusd's sockets and routing: the broker the whole system talks through.
 *
 *  Three endpoints: a ROUTER for clients ([id][empty]["VBC1"][request]), a ROUTER for workers
 *  ([id]["VBW1"][command][body]) and an XPUB for events. One zloop serves all of them; nothing in
 *  it blocks on a peer (ROUTER_MANDATORY + non-blocking sends: a peer that cannot take a message
 *  turns into a BUSY or WORKER_LOST answer, never a stall).
 *
 *  Requests are answered locally (broker.info, hosts, events.replay, events.sync), forwarded to
 *  the one worker owning the target domain (resolved through vb_registry), placed on the least
 *  loaded worker (domain.define) or fanned out to every matching worker and merged with
 *  vb_gather (domain.list, domain.stats). Every forwarded request becomes a job with a deadline;
 *  a job is answered exactly once: by the worker's reply, WORKER_LOST when its worker dies, or
 *  TIMEOUT at the deadline. Late worker replies are dropped. Worker events are deduplicated,
 *  stamped and kept by vb_events, acknowledged, and published.
 */
#ifndef VB_BROKER_H
#define VB_BROKER_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#include "vb_error.h"

#define VB_BROKER_DEFAULT_CLIENTS "tcp://127.0.0.1:16600"
#define VB_BROKER_DEFAULT_WORKERS "tcp://127.0.0.1:16601"
#define VB_BROKER_DEFAULT_EVENTS "tcp://127.0.0.1:16602"
#define VB_BROKER_DEFAULT_STATE_DIR "/var/lib/virtbus/broker"
#define VB_BROKER_DEFAULT_HEARTBEAT_MS 1000

/*  Jobs in flight before new requests answer BUSY. */
#define VB_BROKER_MAX_JOBS 10000

/*  Jobs in flight per client (routing id) before its next request answers BUSY. */
#define VB_BROKER_DEFAULT_MAX_INFLIGHT 64

typedef struct _vb_broker_t vb_broker_t;

typedef struct {
    const char *clients;    /* bind endpoints; NULL = the defaults above */
    const char *workers;
    const char *events;
    const char *advertise;  /* host put in place of a wildcard bind address; NULL = none */
    int heartbeat_ms;       /* 0 = default */
    size_t event_ring;      /* 0 = VB_EVENTS_DEFAULT_CAPACITY */
    const char *keys_dir;   /* CurveZMQ keys (vb_auth.h layout); NULL = no authentication */
    bool insecure;          /* allow a non-loopback bind without keys (vb_endpoint_policy) */
    int max_inflight;       /* requests in flight per client before BUSY; 0 = the default */
    const char *state_dir;  /* the event journal's directory (must exist); NULL = memory only */
} vb_broker_config_t;

/*  Create the broker and bind its three endpoints. With keys_dir, every endpoint is a CURVE
 *  server (vb_auth_server; one per process) and each client request is checked against its
 *  key's role. Before binding, vb_endpoint_policy() refuses a non-loopback endpoint without keys
 *  (unless insecure), a wildcard without advertise and a malformed advertise.
 *  Returns NULL with ERR (INVALID_ARG naming
 *  the endpoint and libzmq's reason, e.g. "cannot bind the clients endpoint
 *  tcp://127.0.0.1:16600: Address already in use") when it cannot serve. */
vb_broker_t *vb_broker_new (const vb_broker_config_t *config, vb_error_t *err);
void vb_broker_destroy (vb_broker_t **self_p);

/*  The endpoints as clients should use them: the bound address with the port resolved and, with
 *  --advertise and a wildcard address, the advertised host. Borrowed. */
const char *vb_broker_clients_endpoint (const vb_broker_t *self);
const char *vb_broker_workers_endpoint (const vb_broker_t *self);
const char *vb_broker_events_endpoint (const vb_broker_t *self);

/*  Serve until SIGINT/SIGTERM (CZMQ's zsys handler) or a fatal error. Returns 0 on a clean stop,
 *  -1 on error. */
int vb_broker_run (vb_broker_t *self);

/*  The broker's loop, for embedding it (a test adds a reader whose handler returns -1 to stop
 *  it). Borrowed. */
zloop_t *vb_broker_loop (vb_broker_t *self);

/*  The advertised form of RESOLVED (a ZMQ_LAST_ENDPOINT string) given ADVERTISE (may be NULL):
 *  a new string, caller frees; NULL on allocation failure. Exposed for tests. */
char *vb_broker_advertised_endpoint (const char *resolved, const char *advertise);

#endif
