/*  test_worker_harness — a fake broker for the worker core tests.
 *
 *  The test binds a ROUTER on tcp://127.0.0.1:* (the "broker"), runs a real vb_worker in a zactor
 *  thread connected to it, and talks the worker protocol to it frame by frame. Every receive is
 *  bounded; nothing sleeps. Like a real broker the harness answers each HEARTBEAT it receives
 *  (unless `silent`), so slow runs (valgrind) never look like a dead broker to the worker. The
 *  actor understands "$TERM" (stop through vb_worker_stop()).
 */
#ifndef TEST_WORKER_HARNESS_H
#define TEST_WORKER_HARNESS_H

#include <czmq.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "vb_proto.h"
#include "vb_worker.h"

typedef struct {
    zsock_t *router;
    char endpoint[256];
    char state_dir[256];
    char id[64];
    zactor_t *actor;
    /* set by the actor thread before its first signal */
    bool started;
    vb_error_t err;
    const vb_driver_t *driver;
    int heartbeat_ms;
    bool silent;   /* do not answer the worker's heartbeats (a broker that went quiet) */
    int64_t last_heartbeat_ms;  /* when the harness last sent a heartbeat of its own */
} harness_t;

/*  Bind the router, make a temp state dir, start the worker with DRIVER. Asserts it started. */
void harness_start (harness_t *h, const vb_driver_t *driver, int heartbeat_ms);

/*  Stop the worker, close the router, remove the state dir. */
void harness_stop (harness_t *h);

/*  Receive the next worker message whose command is CMD within TIMEOUT_MS, skipping others
 *  (when SKIPPED is not NULL, the number skipped is added to it). Returns its body (caller puts)
 *  or NULL on timeout. */
json_object *harness_expect (harness_t *h, vb_wcmd_t cmd, int timeout_ms, int *skipped);

/*  Receive the next message of any command within TIMEOUT_MS. Returns the decoded message or NULL
 *  on timeout. Heartbeats are skipped when SKIP_HEARTBEATS. */
vb_wmsg_t *harness_next (harness_t *h, int timeout_ms, bool skip_heartbeats);

/*  Send a command to the worker; BODY taken. */
void harness_send (harness_t *h, vb_wcmd_t cmd, json_object *body);

/*  Send raw frames (garbage) to the worker: the identity frame is added. MSG taken. */
void harness_send_raw (harness_t *h, zmsg_t *msg);

/*  Send a REQUEST {id, op, target.domain?, args?, deadline_ms?, origin}; ARGS taken. */
void harness_request (harness_t *h, const char *origin, uint64_t id, const char *op,
                      const char *domain, json_object *args, uint32_t deadline_ms);

/*  Send a request and wait for its REPLY (skipping other commands). Returns the reply body or
 *  NULL on timeout. */
json_object *harness_call (harness_t *h, uint64_t id, const char *op, const char *domain,
                           json_object *args);

/*  Read an error reply's code name ("NO_DOMAIN") and message; "" when absent. */
const char *harness_error_code (json_object *reply);
const char *harness_error_message (json_object *reply);

#endif
