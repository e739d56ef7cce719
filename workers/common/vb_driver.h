/*  vb_driver — the interface between the worker core and one hypervisor driver.
 *
 *  A driver (qemu, lxc, xen, test) is a table of functions, like libvirt's virHypervisorDriver.
 *  The worker core (vb_worker) owns the broker link, heartbeats, the event loop and request
 *  dispatch; it never knows which hypervisor it serves. Every operation is asynchronous: the core
 *  hands the driver a vb_call_t and the driver answers it exactly once, with vb_call_reply_ok() or
 *  vb_call_reply_error(), either before returning or later from an event-loop callback (a QMP
 *  reply, a timer). After the answer the call is gone; touching it again is a bug.
 *
 *  Results and arguments are json-c objects (see docs/protocol.md for each op's fields):
 *    define     args {xml}                    -> {name, uuid}
 *    undefine   domain                        -> {}
 *    start      domain, args {paused?: bool}  -> {}
 *    shutdown, destroy, suspend, resume, reboot  domain -> {}
 *    get_xml    domain, args {inactive?: bool} -> {xml}
 *    get_info   domain                        -> domain info (below)
 *    list       args {all?: bool, inactive?: bool} -> [domain info, ...]
 *    get_stats  args {groups: [str], backing?: bool, nowait?: bool, domains?: [str]}
 *                                             -> [stats record, ...]  (issue 4)
 *  Domain info: {name, uuid, id (int, -1 when not running), state (int, vb_state_t), reason (int),
 *    max_mem_kib, memory_kib, vcpus, cpu_time_ns, persistent (bool), autostart (bool),
 *    host, driver, worker} — host/driver/worker filled by vb_call_domain_info_add_origin().
 *  "domain" is vb_call_domain(): a name or a UUID; drivers must accept both.
 */
#ifndef VB_DRIVER_H
#define VB_DRIVER_H

#include <czmq.h>
#include <json-c/json.h>
#include <stdint.h>

#include "vb_error.h"

typedef struct _vb_worker_t vb_worker_t;
typedef struct _vb_call_t vb_call_t;

/*  What the core tells a driver when it opens it. Strings are borrowed for the driver's life. */
typedef struct {
    const char *host;       /* this worker's host name (--host) */
    const char *worker_id;  /* this worker's stable id (--id or derived) */
    const char *state_dir;  /* <--state-dir>/<host>/<driver>: shared by all workers of this
                               host and driver; created by the core, mode 0700 */
    int heartbeat_ms;       /* the heartbeat interval; drivers use it for periodic work */
} vb_driver_config_t;

typedef void (*vb_driver_op_fn) (void *state, vb_call_t *call);

typedef struct {
    const char *name;  /* wire name of the driver: "qemu", "lxc", "xen", "test" */

    /*  Open the driver. Returns its state, or NULL with ERR when the driver cannot run here
     *  (e.g. HYPERVISOR_UNAVAILABLE "no Xen hypervisor: /proc/xen/capabilities not found");
     *  the worker then exits non-zero with ERR's message as its one-line reason. */
    void *(*open) (vb_worker_t *worker, const vb_driver_config_t *config, vb_error_t *err);

    /*  Close and free the state; running domains are left running. */
    void (*close) (void *state);

    /*  The domains this worker owns now: a new array of {name, uuid, state}. Sent to the broker
     *  in READY and, after vb_worker_inventory_changed(), in DOMAINS. */
    json_object *(*inventory) (void *state);

    /*  Called every heartbeat interval (optional): adopt orphaned domains, poll what cannot
     *  be watched. */
    void (*tick) (void *state);

    vb_driver_op_fn define;
    vb_driver_op_fn undefine;
    vb_driver_op_fn start;
    vb_driver_op_fn shutdown;
    vb_driver_op_fn destroy;
    vb_driver_op_fn suspend;
    vb_driver_op_fn resume;
    vb_driver_op_fn reboot;
    vb_driver_op_fn get_xml;
    vb_driver_op_fn get_info;
    vb_driver_op_fn list;
    vb_driver_op_fn get_stats;

    /*  Further ops (block jobs, test-driver controls): a table ended by {NULL, NULL}, looked up
     *  by the request's op name. May be NULL. */
    const struct vb_driver_extra_op {
        const char *op;
        vb_driver_op_fn fn;
    } *extra_ops;

    /*  A paragraph for `--help` saying what this binary serves (may be NULL). */
    const char *help;
} vb_driver_t;

/* --- The call a driver answers ----------------------------------------------------------- */

/*  The op name ("domain.start"). */
const char *vb_call_op (const vb_call_t *call);

/*  The target domain (a name or a UUID; the broker has removed any "host/" prefix), or NULL for
 *  requests without one (list, fan-out stats, define). */
const char *vb_call_domain (const vb_call_t *call);

/*  The request's arguments: a json object, borrowed, never NULL. */
json_object *vb_call_args (const vb_call_t *call);

/*  Milliseconds left before the broker gives up on this request (never negative). Drivers set
 *  their own hypervisor deadlines a margin below it. */
int64_t vb_call_remaining_ms (const vb_call_t *call);

/*  Answer the call. RESULT is taken (NULL = empty object). */
void vb_call_reply_ok (vb_call_t *call, json_object *result);
void vb_call_reply_error (vb_call_t *call, vb_error_code_t code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
void vb_call_reply_err (vb_call_t *call, const vb_error_t *err);

/*  Add host, driver and worker to a domain info / list entry object (borrowed). */
void vb_call_domain_info_add_origin (const vb_call_t *call, json_object *info);

/*  The worker this call arrived on. */
vb_worker_t *vb_call_worker (const vb_call_t *call);

#endif
