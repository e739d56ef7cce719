/*  vb_worker — the worker core: one process serving one driver on one host.
 *
 *  It connects a DEALER to the broker's worker endpoint (identity = worker id), sends READY with
 *  its inventory, exchanges heartbeats (any traffic counts; the broker is presumed dead after 3
 *  silent intervals and the socket is recreated), re-sends READY at once on DISCONNECT, dispatches
 *  REQUESTs to the driver on a single zloop, answers repeated (origin, id) pairs from a cache
 *  (idempotent retries) and sends events with a per-worker sequence number (wseq), journaling each
 *  (vb_event_journal) until the broker's EVENT_ACK.
 *
 *  Typical main():   return vb_worker_main (argc, argv, &qemu_driver);
 */
#ifndef VB_WORKER_H
#define VB_WORKER_H

#include <czmq.h>
#include <json-c/json.h>
#include <stdbool.h>

#include "vb_driver.h"
#include "vb_error.h"

#define VB_WORKER_DEFAULT_BROKER "tcp://127.0.0.1:16601"
#define VB_WORKER_DEFAULT_STATE_DIR "/var/lib/virtbus"
#define VB_HEARTBEAT_DEFAULT_MS 1000

typedef struct {
    const char *broker;     /* broker worker endpoint */
    const char *host;       /* host name; NULL = gethostname() */
    const char *state_dir;  /* state root; the driver's dir is <root>/<host>/<driver> */
    const char *id;         /* NULL = derived: "<host>-<driver>-<8 hex of hash(state dir)>" */
    int heartbeat_ms;       /* 0 = VB_HEARTBEAT_DEFAULT_MS */
    const char *key_file;   /* CurveZMQ secret certificate (vb_auth.h); NULL = no key */
    const char *server_key; /* the broker's public certificate; NULL = broker-key metadata */
} vb_worker_config_t;

/*  The whole program: parses the process interface of README.md
 *  (`--broker EP --host NAME --state-dir DIR --id ID --heartbeat-ms N --log-level L --help
 *  --version --key FILE --server-key FILE`), opens the driver, prints `ready worker=ID host=H
 *  driver=D broker=EP` on stdout once the broker has acknowledged its READY (the broker's first
 *  message after READY), runs until SIGTERM/SIGINT. Returns the process exit status. */
int vb_worker_main (int argc, char **argv, const vb_driver_t *driver);

/*  Create a worker (opens the driver). NULL with ERR when it cannot start. */
vb_worker_t *vb_worker_new (const vb_worker_config_t *config, const vb_driver_t *driver,
                            vb_error_t *err);
void vb_worker_destroy (vb_worker_t **self_p);

/*  Run the event loop until interrupted or vb_worker_stop(). Returns 0, or -1 on a fatal error.
 *  vb_worker_stop() is called from the loop's own thread (a handler); the loop ends on its next
 *  turn. */
int vb_worker_run (vb_worker_t *self);
void vb_worker_stop (vb_worker_t *self);

/*  The loop drivers register their fds and timers on. */
zloop_t *vb_worker_loop (vb_worker_t *self);

const char *vb_worker_id (const vb_worker_t *self);
const char *vb_worker_host (const vb_worker_t *self);
const char *vb_worker_driver_name (const vb_worker_t *self);

/*  The driver's owned set changed (define, undefine, adoption): the core asks the driver's
 *  inventory() and sends DOMAINS. */
void vb_worker_inventory_changed (vb_worker_t *self);

/*  Publish a domain event: the core stamps wseq and time, appends it to the event journal
 *  (<driver state dir>/events-<id>.journal, synced once per loop turn before the turn's events
 *  are sent), keeps it until EVENT_ACK and resends unacknowledged events after re-registering
 *  and after a restart (wseq continues from the journal). KIND/EVENT/DETAIL as in docs/protocol.md
 *  ("lifecycle", "started", "booted"); EXTRA (taken, may be NULL) carries kind-specific fields. */
void vb_worker_emit_event (vb_worker_t *self, const char *domain, const char *uuid,
                           const char *kind, const char *event, const char *detail,
                           json_object *extra);

#endif
