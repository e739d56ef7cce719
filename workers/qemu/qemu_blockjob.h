/*  qemu_blockjob — live backing-chain operations of virtbus-qemu (issue 9): disk-only external
 *  snapshots, block commit, block pull, and the block jobs they start.
 *
 *  Ops (the driver's extra_ops; fields in docs/protocol.md "Block jobs"):
 *    domain.snapshot_create {name, disk_only: true, diskspecs?: [{disk, file?, snapshot?}]}
 *        A running domain: for each chosen disk a qcow2 overlay is created with
 *        `qemu-img create -f qcow2 -F <fmt> -b <current top> -u` (-u: the image is never opened,
 *        so QEMU's lock on the top is not touched), added with blockdev-add (backing: null) and
 *        put on top of the disk by one `transaction` of blockdev-snapshot actions: all disks or
 *        none. A shut-off domain: the overlay is created on disk and used at the next start.
 *        Without diskspecs every writable disk with a source is snapshotted (libvirt's default
 *        for --disk-only); {snapshot: "no"} leaves a disk out. The default overlay file is the
 *        top's path without its extension plus "." NAME, as libvirt names it.
 *    domain.blockcommit {disk, top?, base?, active?, pivot?, bandwidth_mib?}
 *        block-commit. TOP and BASE are layers: "vda[N]" (N = depth now, 0 = the top) or a path
 *        in the chain; top defaults to the active layer, base to the bottom. Committing the
 *        active layer needs active: true (libvirt's rule); such a job becomes ready and then
 *        waits for domain.blockjob pivot (block-job-complete) or abort. pivot: true is accepted
 *        for virsh's --pivot and means the same as active (the client pivots once ready).
 *    domain.blockpull {disk, bandwidth_mib?}
 *        block-stream of the whole chain into the top layer.
 *    domain.blockjob {disk, action: "info"|"abort"|"pivot"}
 *        info: the disk's job from query-block-jobs, and the outcome of its last finished job;
 *        abort (block-job-cancel) and pivot (block-job-complete) answer once the job ended and
 *        the definition was updated, as libvirt's synchronous virDomainBlockJobAbort.
 *  Replies: snapshot {name, disks: [{disk, file}]}; commit and pull {disk, job: ID, job_type};
 *  blockjob info {disk, job: null | {id, job_type, cur, end, bandwidth, ready},
 *  last: null | {id, job_type, event}}; abort and pivot {disk, event}.
 *
 *  One job per disk: a second one is refused (OPERATION_INVALID "disk 'vda' already in active
 *  block job"), as is a job on a disk whose chain has one layer, and a layer that is not in the
 *  chain; nothing is changed then. Job ids are "vbjob-<disk>".
 *
 *  Events: kind "block-job", event completed | failed | canceled | ready, detail = job type,
 *  extra {disk (target), path (the disk's top when the job started), job_type: pull | commit |
 *  active_commit | copy, type (the same, read by vbsh's event printer)}. They come from QMP's
 *  BLOCK_JOB_READY / _COMPLETED / _CANCELLED; exactly one terminal event per job (a job
 *  aborted after it was ready ends with BLOCK_JOB_COMPLETED in QEMU and is reported canceled;
 *  a job whose QEMU exits ends failed). Before the terminal event is published the module asks
 *  query-block for the disk's new top and, when it changed (a pivot), writes the persistent and
 *  live definitions atomically, so whoever hears the event reads the new chain everywhere.
 *
 *  The module keeps per-domain state (qemu_blockjobs_t, created on first use) reached through
 *  the accessors below, which qemu_driver.c implements on its private domain record.
 */
#ifndef QEMU_BLOCKJOB_H
#define QEMU_BLOCKJOB_H

#include <json-c/json.h>
#include <stdbool.h>

#include "qemu_monitor.h"
#include "vb_domxml.h"
#include "vb_driver.h"
#include "vb_error.h"

/*  qemu_driver.c's domain record (opaque here). */
typedef struct qemu_dom qemu_dom_t;

/*  Per-domain block-job state. */
typedef struct _qemu_blockjobs_t qemu_blockjobs_t;

/*  A disk source change: disk TARGET ("vda") now starts at PATH with FORMAT. */
typedef struct {
    const char *target;
    const char *path;
    vb_disk_format_t format;
} qemu_disk_source_t;

/* --- Provided by qemu_driver.c ------------------------------------------------------------- */

/*  The call's domain; answers the call (NO_DOMAIN, or OPERATION_INVALID when ACTIVE is asked
 *  and the domain is not running, starting or being destroyed) and returns NULL otherwise. */
qemu_dom_t *qemu_driver_call_target (void *state, vb_call_t *call, bool active);

const char *qemu_dom_name (const qemu_dom_t *dom);
const char *qemu_dom_uuid (const qemu_dom_t *dom);
vb_worker_t *qemu_dom_worker (const qemu_dom_t *dom);
bool qemu_dom_is_active (const qemu_dom_t *dom);
/*  True while the worker closes: callbacks then neither answer calls nor emit events. */
bool qemu_dom_closing (const qemu_dom_t *dom);

/*  The definition ops act on: the live one of a running domain, else the persistent one.
 *  Borrowed; valid until the next definition change. */
const vb_domain_def_t *qemu_dom_current_def (const qemu_dom_t *dom);

/*  The domain's QMP monitor, connected now when it is not. NULL with ERR when unreachable. */
qemu_monitor_t *qemu_dom_monitor (qemu_dom_t *dom, vb_error_t *err);

/*  The domain's block-job slot (NULL until the module creates its state). */
qemu_blockjobs_t **qemu_dom_blockjobs (qemu_dom_t *dom);

/*  Point N disks at new sources in the persistent definition (its file rewritten atomically)
 *  and in the live one (status file rewritten atomically). A target missing from one of the
 *  definitions is skipped there. Returns 0, or -1 with ERR when the file cannot be written
 *  (nothing changed then). */
int qemu_dom_set_disk_sources (qemu_dom_t *dom, const qemu_disk_source_t *sources, size_t n,
                               vb_error_t *err);

/* --- Provided by this module --------------------------------------------------------------- */

/*  The driver's extra_ops table entries (ended by {NULL, NULL}). */
extern const struct vb_driver_extra_op qemu_blockjob_ops[];

/*  A QMP event of a running domain (the driver forwards every event it does not handle). */
void qemu_blockjob_on_event (qemu_dom_t *dom, const char *name, json_object *data);

/*  The domain's QEMU is gone (STOPPED true: each unfinished job ends with a "failed" event and
 *  each waiting call is answered OPERATION_FAILED) or the worker closes (false: nothing is
 *  emitted or answered; the core owns the calls). Frees the state, nulls *SELF_P. Safe on
 *  NULL. Call it after the monitor was destroyed. */
void qemu_blockjobs_destroy (qemu_blockjobs_t **self_p, bool stopped);

#endif
