/*  qemu_driver — virtbus-qemu's driver table (see qemu_driver.h).
 *
 *  One qdom_t per owned domain. A running domain has a pidfd (registered on the worker's loop:
 *  it becomes readable when QEMU exits, also for a QEMU this worker did not spawn) and a QMP
 *  monitor. Process exit, seen on the pidfd, is the one place a domain stops; monitor EOF only
 *  drops the monitor (the pidfd follows at once when QEMU really exited).
 *
 *  Requests that talk to QEMU become a qop_t carried through qemu_monitor_command; its callback
 *  answers the call. Destroying a monitor fails its pending commands synchronously, so every qop_t
 *  is answered before the domain it points to can go away.
 */
#include "qemu_driver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "qemu_blockjob.h"
#include "qemu_command.h"
#include "qemu_domain.h"
#include "qemu_monitor.h"
#include "qemu_process.h"
#include "qemu_stats.h"
#include "vb_domstate.h"
#include "vb_domxml.h"
#include "vb_image.h"
#include "vb_json.h"
#include "vb_log.h"
#include "vb_util.h"
#include "vb_worker.h"

/*  How often a starting domain tries to connect to QEMU's QMP socket. */
#define QDRV_CONNECT_RETRY_MS 10
/*  What a QMP command's deadline keeps in hand below the request's remaining budget, so the
 *  reply reaches the client before it gives up. */
#define QDRV_DEADLINE_MARGIN_MS 100
/*  Longest SIGTERM grace before destroy sends SIGKILL (libvirt waits 10 s; the request budget is
 *  5 s by default, so at most half of it). */
#define QDRV_DESTROY_GRACE_MS 3000
/*  How much of QEMU's log an error quotes. */
#define QDRV_LOG_TAIL_BYTES 600
/*  How long a define waits for a sibling's define to finish with the directory. */
#define QDRV_DEFINE_LOCK_MS 1000
/*  The stats queries, by index (s_stats_queries). */
enum { QS_BLOCKSTATS, QS_BLOCK, QS_CPUS, QS_BALLOON, QDRV_STATS_QUERIES };
/*  RESETs closer than this (QEMU's own timestamps) are one reboot. */
#define QDRV_REBOOT_SETTLE_US 1000000

typedef struct _qdrv_t qdrv_t;

typedef struct qemu_dom {
    qdrv_t *drv;
    vb_domain_def_t *def;       /* the persistent definition (a transient domain: its live one) */
    vb_domain_def_t *live;      /* the definition the running QEMU was started with; NULL when
                                   shut off */
    bool persistent;
    int lock_fd;                /* holds the flock on <uuid>.lock */
    char *xml_path, *status_path, *lock_path, *qmp_path, *log_path, *pid_path;

    int state, reason;          /* vb_state_t and its reason */
    int id;                     /* -1 when shut off */
    pid_t pid;                  /* 0 when shut off */
    uint64_t start_ticks;
    uint64_t start_time_ns;
    int pidfd;                  /* -1 when shut off */
    qemu_monitor_t *mon;        /* NULL when not connected */
    bool reattached;            /* ask query-status once the monitor is ready */
    bool shutdown_seen;         /* QMP SHUTDOWN arrived: the exit is a shutdown */
    int64_t reboot_reset_us;    /* QEMU's timestamp of the RESET that began the last reboot
                                   event; 0: none this run */

    vb_call_t *start_call;      /* a start in progress */
    bool starting;
    bool start_paused;
    int start_timer;            /* connect retries; -1 */
    int64_t start_deadline;     /* monotonic ms */

    vb_call_t *destroy_call;    /* a destroy in progress */
    bool destroying;
    bool destroy_killed;        /* SIGKILL sent */
    int destroy_timer;          /* -1 */
    int64_t destroy_deadline;   /* monotonic ms */

    const char *down_detail;    /* stopped/<detail> to emit on the next tick: the QEMU died
                                   while no worker watched it */
    json_object *last_stats[QDRV_STATS_QUERIES];  /* per query, its last good reply of this run
                                                     (NULL: none yet, or refused); a per-run
                                                     query's is asked once and reused while
                                                     have_last_stats holds. query-blockstats'
                                                     is last_blockstats instead */
    qemu_blockstats_t *last_blockstats;
    bool have_last_stats[QDRV_STATS_QUERIES];     /* that query was answered this run */
    bool stats_hung;            /* the last stats request to this QEMU timed out */
    uint64_t last_stats_wall_ns[QDRV_STATS_QUERIES];
    int64_t last_stats_mono_ms[QDRV_STATS_QUERIES];
    qemu_blockjobs_t *blockjobs; /* block jobs (qemu_blockjob.c); NULL until used */
    void *handle;               /* in drv->doms */
} qdom_t;

struct _qdrv_t {
    vb_worker_t *worker;
    zloop_t *loop;
    char *dir;
    char *run_dir;
    zlistx_t *doms;             /* qdom_t * */
    int next_id;
    bool closing;               /* close in progress: calls belong to the core, never answer */
};

typedef enum {
    QOP_START_CONT,   /* no call: the cont that ends a start */
    QOP_STATUS,       /* no call: query-status after a reattach */
    QOP_SUSPEND,
    QOP_RESUME,
    QOP_SHUTDOWN,
    QOP_REBOOT,
    QOP_XML,
} qop_kind_t;

typedef struct {
    qdom_t *dom;
    vb_call_t *call;
    qop_kind_t kind;
    const char *command;
} qop_t;

static void s_dom_stopped (qdom_t *dom);
static void s_monitor_connect (qdom_t *dom, vb_error_t *err);
static void s_stats_forget (qdom_t *dom);
static void s_stats_forget_chains (qdom_t *dom);

/* --- small helpers ------------------------------------------------------------------------- */

static const char *
s_name (const qdom_t *dom)
{
    return dom->def->name;
}

static bool
s_active (const qdom_t *dom)
{
    return dom->pid > 0;
}

static void
s_event (qdom_t *dom, const char *event, const char *detail)
{
    vb_worker_emit_event (dom->drv->worker, dom->def->name, dom->def->uuid, "lifecycle", event,
                          detail, NULL);
}

/*  A QMP deadline a margin below the call's remaining budget (at least 1 ms). */
static int
s_deadline_ms (vb_call_t *call)
{
    int64_t left = vb_call_remaining_ms (call);
    int64_t ms = left > 2 * QDRV_DEADLINE_MARGIN_MS? left - QDRV_DEADLINE_MARGIN_MS: left / 2;
    if (ms > 24 * 3600 * 1000)
        ms = 24 * 3600 * 1000;
    return ms > 0? (int) ms: 1;
}

/*  Save the status file of a running domain; a failure is logged: the domain runs on, and a
 *  worker restarted before the next successful write sees the previous state. */
static void
s_status_save (qdom_t *dom)
{
    if (!s_active (dom) || !dom->live)
        return;
    char *xml = vb_domxml_format (dom->live);
    if (!xml) {
        vb_warn ("qemu: out of memory while saving the status of domain '%s'", s_name (dom));
        return;
    }
    qemu_status_t status = {
        .pid = dom->pid, .start_ticks = dom->start_ticks, .monitor = dom->qmp_path,
        .start_time_ns = dom->start_time_ns, .state = dom->state, .reason = dom->reason,
        .xml = xml,
    };
    vb_error_t err = { 0 };
    if (qemu_status_write (dom->status_path, &status, &err) != 0)
        vb_warn ("qemu: domain '%s': %s", s_name (dom), err.message);
    free (xml);
}

static void
s_set_state (qdom_t *dom, int state, int reason)
{
    dom->state = state;
    dom->reason = reason;
    s_status_save (dom);
}

/* --- domains ------------------------------------------------------------------------------- */

static void
s_dom_free (qdom_t **dom_p)
{
    qdom_t *dom = *dom_p;
    if (!dom)
        return;
    s_stats_forget (dom);
    qemu_blockjobs_destroy (&dom->blockjobs, false);
    vb_domain_def_free (&dom->def);
    vb_domain_def_free (&dom->live);
    if (dom->lock_fd >= 0)
        close (dom->lock_fd);
    free (dom->xml_path);
    free (dom->status_path);
    free (dom->lock_path);
    free (dom->qmp_path);
    free (dom->log_path);
    free (dom->pid_path);
    free (dom);
    *dom_p = NULL;
}

/*  A new shut-off domain record for UUID (paths filled). Takes DEF. NULL on allocation failure
 *  (DEF freed). */
static qdom_t *
s_dom_new (qdrv_t *drv, const char *uuid, vb_domain_def_t *def)
{
    qdom_t *dom = calloc (1, sizeof *dom);
    if (!dom) {
        vb_domain_def_free (&def);
        return NULL;
    }
    dom->drv = drv;
    dom->def = def;
    dom->lock_fd = -1;
    dom->pidfd = -1;
    dom->id = -1;
    dom->start_timer = -1;
    dom->destroy_timer = -1;
    dom->state = VB_STATE_SHUTOFF;
    dom->reason = VB_REASON_UNKNOWN;
    dom->xml_path = qemu_domain_path (drv->dir, uuid, ".xml");
    dom->status_path = qemu_domain_path (drv->dir, uuid, ".status");
    dom->lock_path = qemu_domain_path (drv->dir, uuid, ".lock");
    dom->qmp_path = qemu_domain_run_path (drv->dir, uuid, ".qmp");
    dom->log_path = qemu_domain_run_path (drv->dir, uuid, ".log");
    dom->pid_path = qemu_domain_run_path (drv->dir, uuid, ".pid");
    if (!dom->xml_path || !dom->status_path || !dom->lock_path || !dom->qmp_path
        || !dom->log_path || !dom->pid_path)
        s_dom_free (&dom);
    return dom;
}

static qdom_t *
s_find (qdrv_t *drv, const char *key)
{
    if (!key)
        return NULL;
    for (qdom_t *dom = (qdom_t *) zlistx_first (drv->doms); dom;
         dom = (qdom_t *) zlistx_next (drv->doms))
        if (strcmp (dom->def->name, key) == 0 || strcasecmp (dom->def->uuid, key) == 0)
            return dom;
    return NULL;
}

static qdom_t *
s_target (qdrv_t *drv, vb_call_t *call)
{
    const char *key = vb_call_domain (call);
    qdom_t *dom = s_find (drv, key);
    if (!dom)
        vb_call_reply_error (call, VB_ERR_NO_DOMAIN, "domain '%s' not found on host %s",
                             key? key: "", vb_worker_host (drv->worker));
    return dom;
}

/*  The call's domain if it runs and no start or destroy is in progress; else answers. */
static qdom_t *
s_active_target (qdrv_t *drv, vb_call_t *call)
{
    qdom_t *dom = s_target (drv, call);
    if (!dom)
        return NULL;
    if (!s_active (dom)) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is not running",
                             s_name (dom));
        return NULL;
    }
    if (dom->starting) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is still starting",
                             s_name (dom));
        return NULL;
    }
    if (dom->destroying) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is being destroyed",
                             s_name (dom));
        return NULL;
    }
    return dom;
}

/*  Give up the domain: its files are already gone or belong to whoever locks it next. */
static void
s_dom_forget (qdom_t *dom)
{
    qdrv_t *drv = dom->drv;
    zlistx_detach (drv->doms, dom->handle);
    s_dom_free (&dom);
    vb_worker_inventory_changed (drv->worker);
}

/*  Remove a domain's files and forget it (undefine of a shut-off domain, a transient domain
 *  that stopped). The lock file goes last, while still locked, so no sibling adopts a half-gone
 *  domain. */
static void
s_dom_remove (qdom_t *dom)
{
    unlink (dom->xml_path);
    unlink (dom->status_path);
    unlink (dom->lock_path);
    s_dom_forget (dom);
}

/* --- running domains ----------------------------------------------------------------------- */

static int
s_on_pidfd (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    qdom_t *dom = (qdom_t *) arg;
    if (dom->pidfd >= 0 && qemu_process_pidfd_exited (dom->pidfd))
        s_dom_stopped (dom);
    return 0;
}

/*  Watch PID (pidfd + poller). Returns 0, or -1 when the process is already gone. */
static int
s_watch (qdom_t *dom, vb_error_t *err)
{
    dom->pidfd = qemu_process_pidfd (dom->pid, err);
    if (dom->pidfd < 0)
        return -1;
    zmq_pollitem_t item = { .socket = NULL, .fd = dom->pidfd, .events = ZMQ_POLLIN };
    if (zloop_poller (dom->drv->loop, &item, s_on_pidfd, dom) != 0) {
        close (dom->pidfd);
        dom->pidfd = -1;
        return vb_error_set (err, VB_ERR_INTERNAL, "cannot watch the QEMU process of domain "
                             "'%s' on the event loop", s_name (dom));
    }
    zloop_poller_set_tolerant (dom->drv->loop, &item);
    return 0;
}

/*  Drop everything of the run: monitor (its pending commands are answered now), timers, pidfd,
 *  status and run files. The domain is shut off afterwards (state set by the caller). */
static void
s_runtime_reset (qdom_t *dom)
{
    qdrv_t *drv = dom->drv;
    qemu_monitor_destroy (&dom->mon);
    qemu_blockjobs_destroy (&dom->blockjobs, !drv->closing);
    if (dom->start_timer >= 0)
        zloop_timer_end (drv->loop, dom->start_timer);
    if (dom->destroy_timer >= 0)
        zloop_timer_end (drv->loop, dom->destroy_timer);
    dom->start_timer = dom->destroy_timer = -1;
    if (dom->pidfd >= 0) {
        zmq_pollitem_t item = { .socket = NULL, .fd = dom->pidfd, .events = ZMQ_POLLIN };
        zloop_poller_end (drv->loop, &item);
        close (dom->pidfd);
        dom->pidfd = -1;
    }
    qemu_process_reap (dom->pid);
    unlink (dom->status_path);
    unlink (dom->qmp_path);
    unlink (dom->pid_path);
    dom->pid = 0;
    dom->id = -1;
    dom->start_ticks = 0;
    dom->starting = dom->destroying = dom->destroy_killed = false;
    dom->shutdown_seen = dom->reattached = false;
    s_stats_forget (dom);
    vb_domain_def_free (&dom->live);
    dom->state = VB_STATE_SHUTOFF;
}

/*  A start failed: answer it with ERR plus the end of QEMU's log, kill what was spawned. */
static void
s_start_fail (qdom_t *dom, const vb_error_t *err)
{
    vb_call_t *call = dom->start_call;
    dom->start_call = NULL;
    if (dom->pidfd >= 0)
        qemu_process_pidfd_signal (dom->pidfd, SIGKILL);
    char *tail = qemu_process_log_tail (dom->log_path, QDRV_LOG_TAIL_BYTES);
    s_runtime_reset (dom);
    dom->reason = VB_SHUTOFF_FAILED;
    if (call && !dom->drv->closing) {
        if (tail && *tail)
            vb_call_reply_error (call, err->code, "%s; QEMU log %s ends: %s", err->message,
                                 dom->log_path, tail);
        else
            vb_call_reply_err (call, err);
    }
    free (tail);
}

static void
s_start_done (qdom_t *dom)
{
    qdrv_t *drv = dom->drv;
    vb_call_t *call = dom->start_call;
    dom->start_call = NULL;
    dom->starting = false;
    if (dom->start_timer >= 0)
        zloop_timer_end (drv->loop, dom->start_timer);
    dom->start_timer = -1;
    dom->id = drv->next_id++;
    s_set_state (dom, VB_STATE_RUNNING, VB_RUNNING_BOOTED);
    s_event (dom, "started", "booted");
    if (dom->start_paused) {
        s_set_state (dom, VB_STATE_PAUSED, VB_PAUSED_USER);
        s_event (dom, "suspended", "paused");
    }
    if (call)
        vb_call_reply_ok (call, NULL);
}

/*  The QEMU process is gone: the one place a running domain becomes shut off. */
static void
s_dom_stopped (qdom_t *dom)
{
    if (dom->starting) {
        vb_error_t err = { 0 };
        vb_error_set (&err, VB_ERR_OPERATION_FAILED, "QEMU of domain '%s' exited while starting",
                      s_name (dom));
        bool destroying = dom->destroying;
        vb_call_t *destroy_call = dom->destroy_call;
        dom->destroy_call = NULL;
        s_start_fail (dom, &err);
        if (destroying)
            dom->reason = VB_SHUTOFF_DESTROYED;
        if (destroy_call && !dom->drv->closing)
            vb_call_reply_ok (destroy_call, NULL);
        if (!dom->persistent)
            s_dom_remove (dom);
        return;
    }
    int reason;
    const char *detail;
    if (dom->destroying) {
        reason = VB_SHUTOFF_DESTROYED;
        detail = "destroyed";
    }
    else if (dom->shutdown_seen) {
        reason = VB_SHUTOFF_SHUTDOWN;
        detail = "shutdown";
    }
    else {
        /*  libvirt on monitor EOF without a SHUTDOWN: event stopped/failed, reason crashed. */
        reason = VB_SHUTOFF_CRASHED;
        detail = "failed";
    }
    vb_call_t *destroy_call = dom->destroy_call;
    dom->destroy_call = NULL;
    s_runtime_reset (dom);
    dom->reason = reason;
    s_event (dom, "stopped", detail);
    if (destroy_call)
        vb_call_reply_ok (destroy_call, NULL);
    if (!dom->persistent)
        s_dom_remove (dom);
}

/* --- QMP ----------------------------------------------------------------------------------- */

static void s_on_qop_reply (qemu_monitor_t *mon, json_object *result, const char *qmp_class,
                            const vb_error_t *err, void *cb_data);

/*  Send COMMAND for DOM as op KIND answering CALL (may be NULL). On failure the call (if any)
 *  is answered here. */
static void
s_qop (qdom_t *dom, vb_call_t *call, qop_kind_t kind, const char *command, int deadline_ms)
{
    vb_error_t err = { 0 };
    if (!dom->mon) {
        s_monitor_connect (dom, &err);
        if (!dom->mon) {
            if (call)
                vb_call_reply_error (call, VB_ERR_OPERATION_FAILED, "cannot reach the QEMU "
                                     "monitor of domain '%s': %s", s_name (dom), err.message);
            return;
        }
    }
    qop_t *op = calloc (1, sizeof *op);
    if (!op) {
        if (call)
            vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory while sending '%s' to "
                                 "domain '%s'", command, s_name (dom));
        return;
    }
    op->dom = dom;
    op->call = call;
    op->kind = kind;
    op->command = command;
    if (qemu_monitor_command (dom->mon, command, NULL, deadline_ms, s_on_qop_reply, op,
                              &err) != 0) {
        if (call)
            vb_call_reply_error (call, err.code, "domain '%s': %s", s_name (dom), err.message);
        free (op);
    }
}

/*  query-status's "status" as a libvirt state and reason. */
static void
s_qmp_status_state (const char *status, int *state, int *reason)
{
    if (strcmp (status, "running") == 0) {
        *state = VB_STATE_RUNNING;
        *reason = VB_RUNNING_UNPAUSED;
    }
    else if (strcmp (status, "io-error") == 0) {
        *state = VB_STATE_PAUSED;
        *reason = VB_PAUSED_IOERROR;
    }
    else if (strcmp (status, "shutdown") == 0) {
        *state = VB_STATE_SHUTDOWN;
        *reason = VB_SHUTDOWN_USER;
    }
    else if (strcmp (status, "guest-panicked") == 0) {
        *state = VB_STATE_CRASHED;
        *reason = VB_CRASHED_PANICKED;
    }
    else {
        *state = VB_STATE_PAUSED;
        *reason = VB_PAUSED_USER;
    }
}

/*  The live definition with each disk's backing chain from query-block. Returns a new
 *  definition or NULL on allocation failure. */
static vb_domain_def_t *
s_live_xml_def (qdom_t *dom, json_object *blocks)
{
    vb_domain_def_t *def = vb_domain_def_copy (dom->live? dom->live: dom->def);
    if (!def || !json_object_is_type (blocks, json_type_array))
        return def;
    for (size_t i = 0; i < def->ndisks; i++) {
        vb_disk_def_t *disk = &def->disks[i];
        char node[128], qdev_part[128];
        snprintf (node, sizeof node, "vb-%s-format", disk->target_dev);
        snprintf (qdev_part, sizeof qdev_part, "/%s/", disk->target_dev);
        json_object *image = NULL;
        for (size_t j = 0; j < json_object_array_length (blocks); j++) {
            json_object *entry = json_object_array_get_idx (blocks, j), *inserted = NULL;
            if (!json_object_object_get_ex (entry, "inserted", &inserted))
                continue;
            const char *node_name = vb_json_str (inserted, "node-name", "");
            const char *qdev = vb_json_str (entry, "qdev", "");
            if (strcmp (node_name, node) == 0 || strcmp (qdev, disk->target_dev) == 0
                || strstr (qdev, qdev_part)) {
                json_object_object_get_ex (inserted, "image", &image);
                break;
            }
        }
        vb_backing_store_free (&disk->backing);
        vb_backing_store_t **tail = &disk->backing;
        json_object *layer = NULL;
        unsigned depth = 1;
        while (image && json_object_object_get_ex (image, "backing-image", &layer)
               && json_object_is_type (layer, json_type_object)
               && depth <= VB_IMAGE_CHAIN_MAX_DEPTH) {
            vb_backing_store_t *bs = calloc (1, sizeof *bs);
            const char *path = vb_json_str (layer, "filename", NULL);
            if (!bs || !path || !(bs->path = strdup (path))) {
                free (bs);
                break;
            }
            struct stat st;
            bs->index = depth++;
            bs->type = stat (path, &st) == 0 && S_ISBLK (st.st_mode)? VB_DISK_TYPE_BLOCK:
                                                                       VB_DISK_TYPE_FILE;
            bs->format = strcmp (vb_json_str (layer, "format", ""), "qcow2") == 0?
                         VB_DISK_FORMAT_QCOW2: VB_DISK_FORMAT_RAW;
            *tail = bs;
            tail = &bs->backing;
            image = layer;
        }
    }
    return def;
}

static void
s_reply_xml (vb_call_t *call, const vb_domain_def_t *def, const char *name)
{
    char *xml = def? vb_domxml_format (def): NULL;
    if (!xml) {
        vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory while formatting the XML of "
                             "domain '%s'", name);
        return;
    }
    json_object *result = json_object_new_object ();
    json_object_object_add (result, "xml", json_object_new_string (xml));
    free (xml);
    vb_call_reply_ok (call, result);
}

static void
s_on_qop_reply (qemu_monitor_t *mon, json_object *result, const char *qmp_class,
                const vb_error_t *err, void *cb_data)
{
    (void) mon;
    (void) qmp_class;
    qop_t *op = (qop_t *) cb_data;
    qdom_t *dom = op->dom;
    vb_call_t *call = op->call;
    if (dom->drv->closing)
        goto cleanup;

    if (op->kind == QOP_START_CONT) {
        if (!dom->starting)
            goto cleanup;
        if (err) {
            vb_error_t e = { 0 };
            vb_error_set (&e, err->code, "cannot start domain '%s': %s", s_name (dom),
                          err->message);
            s_start_fail (dom, &e);
        }
        else
            s_start_done (dom);
        goto cleanup;
    }
    if (op->kind == QOP_STATUS) {
        if (err || !s_active (dom))
            goto cleanup;
        int state, reason;
        s_qmp_status_state (vb_json_str (result, "status", ""), &state, &reason);
        if (state == VB_STATE_RUNNING && dom->state == VB_STATE_PAUSED) {
            s_set_state (dom, state, reason);
            s_event (dom, "resumed", "unpaused");
        }
        else if (state == VB_STATE_PAUSED && dom->state == VB_STATE_RUNNING) {
            s_set_state (dom, state, reason);
            s_event (dom, "suspended", "paused");
        }
        else if (state != dom->state)
            s_set_state (dom, state, reason);
        goto cleanup;
    }
    if (err) {
        if (err->code == VB_ERR_TIMEOUT)
            vb_call_reply_error (call, VB_ERR_TIMEOUT, "domain '%s': %s", s_name (dom),
                                 err->message);
        else
            vb_call_reply_error (call, err->code == VB_ERR_HYPERVISOR_UNAVAILABLE?
                                 VB_ERR_OPERATION_FAILED: err->code,
                                 "domain '%s': '%s' failed: %s", s_name (dom), op->command,
                                 err->message);
        goto cleanup;
    }
    switch (op->kind) {
        case QOP_SUSPEND:
            /*  QMP's STOP event usually came first and already made the transition. */
            if (dom->state == VB_STATE_RUNNING) {
                s_set_state (dom, VB_STATE_PAUSED, VB_PAUSED_USER);
                s_event (dom, "suspended", "paused");
            }
            vb_call_reply_ok (call, NULL);
            break;
        case QOP_RESUME:
            if (dom->state == VB_STATE_PAUSED) {
                s_set_state (dom, VB_STATE_RUNNING, VB_RUNNING_UNPAUSED);
                s_event (dom, "resumed", "unpaused");
            }
            vb_call_reply_ok (call, NULL);
            break;
        case QOP_XML: {
            vb_domain_def_t *def = s_live_xml_def (dom, result);
            s_reply_xml (call, def, s_name (dom));
            vb_domain_def_free (&def);
            break;
        }
        default:
            vb_call_reply_ok (call, NULL);
            break;
    }
cleanup:
    free (op);
}

static void
s_on_mon_ready (qemu_monitor_t *mon, void *user_data)
{
    (void) mon;
    qdom_t *dom = (qdom_t *) user_data;
    if (dom->starting) {
        if (dom->start_paused)
            s_start_done (dom);
        else
            s_qop (dom, NULL, QOP_START_CONT, "cont",
                   (int) (dom->start_deadline - vb_now_ms () > 1?
                          dom->start_deadline - vb_now_ms (): 1));
    }
    else if (dom->reattached) {
        dom->reattached = false;
        s_qop (dom, NULL, QOP_STATUS, "query-status", 10000);
    }
}

static void
s_on_mon_event (qemu_monitor_t *mon, const char *name, json_object *data, int64_t ts,
                void *user_data)
{
    (void) mon;
    qdom_t *dom = (qdom_t *) user_data;
    if (dom->starting || !s_active (dom))
        return;
    if (strcmp (name, "STOP") == 0) {
        if (dom->state == VB_STATE_RUNNING) {
            s_set_state (dom, VB_STATE_PAUSED, VB_PAUSED_USER);
            s_event (dom, "suspended", "paused");
        }
    }
    else if (strcmp (name, "RESUME") == 0) {
        if (dom->state == VB_STATE_PAUSED) {
            s_set_state (dom, VB_STATE_RUNNING, VB_RUNNING_UNPAUSED);
            s_event (dom, "resumed", "unpaused");
        }
    }
    else if (strcmp (name, "SHUTDOWN") == 0) {
        /*  SIGTERM from destroy makes QEMU emit SHUTDOWN (guest false) too; that is no
         *  shutdown of the guest. */
        if (!dom->destroying && !dom->shutdown_seen) {
            dom->shutdown_seen = true;
            bool guest = vb_json_bool (data, "guest", false);
            s_set_state (dom, VB_STATE_SHUTDOWN, VB_SHUTDOWN_USER);
            s_event (dom, "shutdown", guest? "guest": "host");
        }
    }
    else if (strcmp (name, "RESET") == 0) {
        /*  SeaBIOS answers a host reset (system_reset) with a reset of its own ~30 ms later
         *  under TCG: the guest's RESET that follows within QDRV_REBOOT_SETTLE_US belongs to
         *  the same reboot. No guest can boot and reboot again that fast. */
        bool guest = vb_json_bool (data, "guest", false);
        if (guest && ts > 0 && dom->reboot_reset_us > 0 &&
            ts - dom->reboot_reset_us < QDRV_REBOOT_SETTLE_US)
            return;
        dom->reboot_reset_us = ts > 0? ts: 0;
        vb_worker_emit_event (dom->drv->worker, s_name (dom), dom->def->uuid, "reboot", "reboot",
                              "", NULL);
    }
    else if (strcmp (name, "GUEST_PANICKED") == 0) {
        s_set_state (dom, VB_STATE_CRASHED, VB_CRASHED_PANICKED);
        s_event (dom, "crashed", "panicked");
    }
    else if (strcmp (name, "GUEST_CRASHLOADED") == 0)
        s_event (dom, "crashed", "crashloaded");
    else if (strcmp (name, "SUSPEND") == 0 || strcmp (name, "SUSPEND_DISK") == 0) {
        /*  ACPI S3 (or S4) requested by the guest; libvirt's PMSUSPENDED memory / disk. */
        if (dom->state == VB_STATE_RUNNING) {
            s_set_state (dom, VB_STATE_PMSUSPENDED, VB_REASON_UNKNOWN);
            s_event (dom, "pmsuspended", strcmp (name, "SUSPEND") == 0? "memory": "disk");
        }
    }
    else if (strcmp (name, "WAKEUP") == 0) {
        if (dom->state == VB_STATE_PMSUSPENDED) {
            s_set_state (dom, VB_STATE_RUNNING, VB_RUNNING_WAKEUP);
            s_event (dom, "started", "wakeup");
        }
    }
    else {
        /*  A finished job or a moved tray may have changed a disk's chain. */
        if (strncmp (name, "BLOCK_JOB_", 10) == 0 || strcmp (name, "DEVICE_TRAY_MOVED") == 0)
            s_stats_forget_chains (dom);
        qemu_blockjob_on_event (dom, name, data);
    }
}

static void
s_on_mon_closed (qemu_monitor_t *mon, const vb_error_t *reason, void *user_data)
{
    qdom_t *dom = (qdom_t *) user_data;
    qemu_monitor_destroy (&mon);
    dom->mon = NULL;
    if (dom->drv->closing)
        return;
    if (dom->pidfd >= 0 && qemu_process_pidfd_exited (dom->pidfd)) {
        s_dom_stopped (dom);
        return;
    }
    /*  QEMU closes its end just before it exits; the pidfd tells for sure in a moment. A QEMU
     *  that stays alive gets a new connection on the next tick or command. */
    vb_info ("qemu: monitor of domain '%s' closed: %s", s_name (dom), reason->message);
    if (dom->starting) {
        vb_error_t err = { 0 };
        vb_error_set (&err, VB_ERR_OPERATION_FAILED, "cannot start domain '%s': its QEMU "
                      "monitor closed: %s", s_name (dom), reason->message);
        s_start_fail (dom, &err);
    }
}

static void
s_monitor_connect (qdom_t *dom, vb_error_t *err)
{
    static const qemu_monitor_callbacks_t callbacks = {
        .ready = s_on_mon_ready, .event = s_on_mon_event, .closed = s_on_mon_closed,
    };
    if (dom->mon)
        return;
    dom->mon = qemu_monitor_new (dom->drv->loop, dom->qmp_path, &callbacks, dom, err);
}

/* --- ownership and adoption ---------------------------------------------------------------- */

/*  Try to take the lock of UUID. Returns the locked fd, or -1 (someone else holds it, or the
 *  domain went away meanwhile). */
static int
s_try_lock (const char *path)
{
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    if (flock (fd, LOCK_EX | LOCK_NB) != 0) {
        close (fd);
        return -1;
    }
    /*  The owner removes the lock file last while holding it: a lock on an unlinked file
     *  owns nothing. */
    struct stat a, b;
    if (fstat (fd, &a) != 0 || stat (path, &b) != 0 || a.st_ino != b.st_ino
        || a.st_dev != b.st_dev) {
        close (fd);
        return -1;
    }
    return fd;
}

/*  Reattach DOM to the QEMU its status file names. */
static void
s_reattach (qdom_t *dom, qemu_status_t *status)
{
    vb_error_t err = { 0 };
    if (!qemu_process_is (status->pid, status->start_ticks)) {
        /*  The QEMU died while no worker watched it. */
        dom->down_detail = status->state == VB_STATE_SHUTDOWN? "shutdown": "failed";
        unlink (dom->status_path);
        unlink (dom->qmp_path);
        unlink (dom->pid_path);
        dom->reason = status->state == VB_STATE_SHUTDOWN? VB_SHUTOFF_SHUTDOWN:
                                                          VB_SHUTOFF_CRASHED;
        return;
    }
    vb_domain_def_t *live = vb_domxml_parse (status->xml, strlen (status->xml), &err);
    if (!live)
        live = vb_domain_def_copy (dom->def);
    dom->live = live;
    dom->pid = status->pid;
    dom->start_ticks = status->start_ticks;
    dom->start_time_ns = status->start_time_ns;
    dom->state = status->state;
    dom->reason = status->reason;
    dom->id = dom->drv->next_id++;
    if (s_watch (dom, &err) != 0) {
        vb_warn ("qemu: domain '%s': %s", s_name (dom), err.message);
        dom->down_detail = "failed";
        s_runtime_reset (dom);
        dom->reason = VB_SHUTOFF_CRASHED;
        return;
    }
    dom->reattached = true;
    s_monitor_connect (dom, &err);
    if (!dom->mon)
        vb_warn ("qemu: domain '%s' runs (pid %d) but its monitor is not reachable yet: %s",
                 s_name (dom), (int) dom->pid, err.message);
}

/*  Try to own domain UUID. Returns true when it was adopted. */
static bool
s_adopt (qdrv_t *drv, const char *uuid)
{
    bool adopted = false;
    vb_error_t err = { 0 };
    qemu_status_t status = { 0 };
    vb_domain_def_t *def = NULL;
    char *xml = NULL;
    char *lock_path = qemu_domain_path (drv->dir, uuid, ".lock");
    char *xml_path = qemu_domain_path (drv->dir, uuid, ".xml");
    char *status_path = qemu_domain_path (drv->dir, uuid, ".status");
    int fd = -1;
    if (!lock_path || !xml_path || !status_path)
        goto cleanup;
    fd = s_try_lock (lock_path);
    if (fd < 0)
        goto cleanup;
    bool has_status = access (status_path, F_OK) == 0;
    bool has_xml = access (xml_path, F_OK) == 0;
    if (!has_status && !has_xml) {
        /*  Undefined meanwhile (or a define that died before writing): nothing to own. */
        unlink (lock_path);
        goto cleanup;
    }
    if (has_status && qemu_status_read (status_path, &status, &err) != 0) {
        vb_warn ("qemu: %s", err.message);
        has_status = false;
    }
    if (has_xml) {
        xml = vb_read_file (xml_path, VB_DOMXML_MAX_BYTES, NULL, &err);
        if (xml)
            def = vb_domxml_parse (xml, strlen (xml), &err);
    }
    else if (has_status)
        def = vb_domxml_parse (status.xml, strlen (status.xml), &err);
    if (!def) {
        vb_warn ("qemu: domain %s in %s cannot be loaded and is left alone: %s", uuid, drv->dir,
                 err.message);
        goto cleanup;
    }
    if (strcasecmp (def->uuid, uuid) != 0 || s_find (drv, def->name)) {
        vb_warn ("qemu: domain %s in %s is left alone: its definition names uuid %s, name '%s'",
                 uuid, drv->dir, def->uuid, def->name);
        goto cleanup;
    }
    qdom_t *dom = s_dom_new (drv, uuid, def);
    def = NULL;
    if (!dom)
        goto cleanup;
    dom->persistent = has_xml;
    dom->lock_fd = fd;
    fd = -1;
    dom->handle = zlistx_add_end (drv->doms, dom);
    if (!dom->handle) {
        s_dom_free (&dom);
        goto cleanup;
    }
    if (has_status)
        s_reattach (dom, &status);
    adopted = true;
    vb_info ("qemu: worker %s owns domain '%s' (%s)", vb_worker_id (drv->worker), s_name (dom),
             vb_state_name (dom->state));
    if (!s_active (dom) && !dom->persistent) {
        /*  A transient domain whose QEMU died while unowned: report and drop it. */
        s_event (dom, "stopped", dom->down_detail);
        dom->down_detail = NULL;
        s_dom_remove (dom);
    }
cleanup:
    if (fd >= 0)
        close (fd);
    vb_domain_def_free (&def);
    qemu_status_clear (&status);
    free (xml);
    free (lock_path);
    free (xml_path);
    free (status_path);
    return adopted;
}

/*  Try-lock every domain of the directory that this worker does not own. Returns the number
 *  adopted. */
static int
s_scan (qdrv_t *drv)
{
    int adopted = 0;
    DIR *dir = opendir (drv->dir);
    if (!dir)
        return 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        const char *name = entry->d_name;
        const char *dot = strrchr (name, '.');
        if (!dot || (strcmp (dot, ".xml") != 0 && strcmp (dot, ".status") != 0)
            || dot - name != 36)
            continue;
        char uuid[37];
        memcpy (uuid, name, 36);
        uuid[36] = '\0';
        if (!vb_uuid_is_valid (uuid) || s_find (drv, uuid))
            continue;
        if (s_adopt (drv, uuid))
            adopted++;
    }
    closedir (dir);
    return adopted;
}

/*  Is NAME (or UUID) used by a domain of the directory that another worker owns? Fills *WHAT. */
static bool
s_foreign_taken (qdrv_t *drv, const char *name, const char *uuid, char *what, size_t size)
{
    bool taken = false;
    DIR *dir = opendir (drv->dir);
    if (!dir)
        return false;
    struct dirent *entry;
    while (!taken && (entry = readdir (dir))) {
        const char *fname = entry->d_name;
        const char *dot = strrchr (fname, '.');
        if (!dot || (strcmp (dot, ".xml") != 0 && strcmp (dot, ".status") != 0)
            || dot - fname != 36)
            continue;
        char fuuid[37];
        memcpy (fuuid, fname, 36);
        fuuid[36] = '\0';
        if (!vb_uuid_is_valid (fuuid) || s_find (drv, fuuid))
            continue;
        if (strcasecmp (fuuid, uuid) == 0) {
            snprintf (what, size, "uuid %s is already used by a domain of another worker", uuid);
            taken = true;
            break;
        }
        char path[PATH_MAX];
        snprintf (path, sizeof path, "%s/%s", drv->dir, fname);
        vb_error_t err = { 0 };
        vb_domain_def_t *def = NULL;
        if (strcmp (dot, ".xml") == 0) {
            char *xml = vb_read_file (path, VB_DOMXML_MAX_BYTES, NULL, &err);
            if (xml)
                def = vb_domxml_parse (xml, strlen (xml), &err);
            free (xml);
        }
        else {
            qemu_status_t status;
            if (qemu_status_read (path, &status, &err) == 0)
                def = vb_domxml_parse (status.xml, strlen (status.xml), &err);
            qemu_status_clear (&status);
        }
        if (def && strcmp (def->name, name) == 0) {
            snprintf (what, size, "domain '%s' already exists with uuid %s", name, def->uuid);
            taken = true;
        }
        vb_domain_def_free (&def);
    }
    closedir (dir);
    return taken;
}

/* --- the driver table ---------------------------------------------------------------------- */

static void
s_close (void *state)
{
    qdrv_t *drv = (qdrv_t *) state;
    if (!drv)
        return;
    drv->closing = true;
    qdom_t *dom;
    while ((dom = (qdom_t *) zlistx_first (drv->doms))) {
        /*  QEMU runs on; only this worker's hold on it ends (the lock goes with lock_fd). */
        qemu_monitor_destroy (&dom->mon);
        if (dom->start_timer >= 0)
            zloop_timer_end (drv->loop, dom->start_timer);
        if (dom->destroy_timer >= 0)
            zloop_timer_end (drv->loop, dom->destroy_timer);
        if (dom->pidfd >= 0) {
            zmq_pollitem_t item = { .socket = NULL, .fd = dom->pidfd, .events = ZMQ_POLLIN };
            zloop_poller_end (drv->loop, &item);
            close (dom->pidfd);
        }
        zlistx_detach (drv->doms, dom->handle);
        s_dom_free (&dom);
    }
    zlistx_destroy (&drv->doms);
    free (drv->dir);
    free (drv->run_dir);
    free (drv);
}

static void *
s_open (vb_worker_t *worker, const vb_driver_config_t *config, vb_error_t *err)
{
    qdrv_t *drv = calloc (1, sizeof *drv);
    if (!drv) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory while opening the QEMU driver");
        return NULL;
    }
    drv->worker = worker;
    drv->loop = vb_worker_loop (worker);
    drv->next_id = 1;
    drv->dir = strdup (config->state_dir);
    drv->doms = zlistx_new ();
    if (!drv->dir || !drv->doms || asprintf (&drv->run_dir, "%s/run", config->state_dir) < 0) {
        drv->run_dir = NULL;
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory while opening the QEMU driver");
        s_close (drv);
        return NULL;
    }
    if (vb_mkdir_p (drv->run_dir, 0700, err) != 0) {
        s_close (drv);
        return NULL;
    }
    /*  The longest run path must fit a unix socket address; say so now, not at the first
     *  start. */
    if (strlen (drv->run_dir) + 1 + 36 + strlen (".qmp") >= sizeof ((struct sockaddr_un *) 0)
                                                                   ->sun_path) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "state directory %s is too long: the QMP socket "
                      "path %s/<uuid>.qmp would exceed the %zu bytes of a unix socket address",
                      drv->dir, drv->run_dir,
                      sizeof ((struct sockaddr_un *) 0)->sun_path - 1);
        s_close (drv);
        return NULL;
    }
    s_scan (drv);
    return drv;
}

static json_object *
s_inventory (void *state)
{
    qdrv_t *drv = (qdrv_t *) state;
    json_object *domains = json_object_new_array ();
    for (qdom_t *dom = (qdom_t *) zlistx_first (drv->doms); dom;
         dom = (qdom_t *) zlistx_next (drv->doms)) {
        json_object *entry = json_object_new_object ();
        json_object_object_add (entry, "name", json_object_new_string (dom->def->name));
        json_object_object_add (entry, "uuid", json_object_new_string (dom->def->uuid));
        json_object_object_add (entry, "state", json_object_new_int (dom->state));
        json_object_array_add (domains, entry);
    }
    return domains;
}

static void
s_tick (void *state)
{
    qdrv_t *drv = (qdrv_t *) state;
    /*  Events for QEMUs that died while nobody watched (found at open or adoption). */
    for (qdom_t *dom = (qdom_t *) zlistx_first (drv->doms); dom;
         dom = (qdom_t *) zlistx_next (drv->doms)) {
        if (dom->down_detail) {
            s_event (dom, "stopped", dom->down_detail);
            dom->down_detail = NULL;
        }
        if (s_active (dom) && !dom->mon && !dom->starting) {
            vb_error_t err = { 0 };
            s_monitor_connect (dom, &err);
        }
    }
    if (s_scan (drv) > 0)
        vb_worker_inventory_changed (drv->worker);
}

/*  Take the directory-wide define lock (siblings define one at a time, so names stay unique).
 *  Returns the fd or -1 with ERR. */
static int
s_define_lock (qdrv_t *drv, vb_error_t *err)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/define.lock", drv->dir);
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot open %s: %s", path,
                      strerror (errno));
        return -1;
    }
    int64_t until = vb_now_ms () + QDRV_DEFINE_LOCK_MS;
    while (flock (fd, LOCK_EX | LOCK_NB) != 0) {
        if (vb_now_ms () > until) {
            close (fd);
            vb_error_set (err, VB_ERR_BUSY, "another worker holds %s; try the define again",
                          path);
            return -1;
        }
        usleep (1000);
    }
    return fd;
}

static void
s_define (void *state, vb_call_t *call)
{
    qdrv_t *drv = (qdrv_t *) state;
    vb_error_t err = { 0 };
    const char *xml = NULL;
    vb_domain_def_t *def = NULL;
    char *text = NULL;
    qdom_t *dom = NULL;
    int define_fd = -1, lock_fd = -1;
    char **argv = NULL;
    bool created_lock = false;
    char *lock_path = NULL, *xml_path = NULL;

    if (vb_json_get_string (vb_call_args (call), "xml", true, &xml, &err) != 0)
        goto error;
    def = vb_domxml_parse (xml, strlen (xml), &err);
    if (!def)
        goto error;
    if (!def->type || (strcmp (def->type, "kvm") != 0 && strcmp (def->type, "qemu") != 0)) {
        vb_error_set (&err, VB_ERR_UNSUPPORTED, "domain type '%s' is not served by the QEMU "
                      "driver; use <domain type='kvm'> or <domain type='qemu'>",
                      def->type? def->type: "");
        goto error;
    }
    /*  What QEMU could never run is refused now, not at start (the paths are placeholders:
     *  building touches nothing on the host). */
    qemu_command_paths_t paths = { .qmp_socket = "/qmp" };
    argv = qemu_command_build (def, &paths, &err);
    if (!argv)
        goto error;
    text = vb_domxml_format (def);
    if (!text) {
        vb_error_set (&err, VB_ERR_INTERNAL, "out of memory while defining domain '%s'",
                      def->name);
        goto error;
    }
    qdom_t *same = s_find (drv, def->uuid);
    qdom_t *same_name = s_find (drv, def->name);
    if (same_name && same_name != same) {
        vb_error_set (&err, VB_ERR_OPERATION_INVALID, "domain '%s' already exists with uuid %s",
                      def->name, same_name->def->uuid);
        goto error;
    }
    if (same && strcmp (same->def->name, def->name) != 0) {
        vb_error_set (&err, VB_ERR_OPERATION_INVALID, "domain '%s' already exists with uuid %s",
                      same->def->name, def->uuid);
        goto error;
    }
    define_fd = s_define_lock (drv, &err);
    if (define_fd < 0)
        goto error;
    char what[VB_ERROR_MESSAGE_MAX / 2];
    if (!same && s_foreign_taken (drv, def->name, def->uuid, what, sizeof what)) {
        vb_error_set (&err, VB_ERR_OPERATION_INVALID, "%s", what);
        goto error;
    }

    if (same) {
        /*  A redefinition: the new definition applies from the next start. */
        if (vb_write_file_atomic (same->xml_path, text, strlen (text), &err) != 0)
            goto error;
        vb_domain_def_free (&same->def);
        same->def = def;
        def = NULL;
        bool was_persistent = same->persistent;
        same->persistent = true;
        s_event (same, "defined", was_persistent? "updated": "added");
        dom = same;
    }
    else {
        lock_path = qemu_domain_path (drv->dir, def->uuid, ".lock");
        xml_path = qemu_domain_path (drv->dir, def->uuid, ".xml");
        if (!lock_path || !xml_path) {
            vb_error_set (&err, VB_ERR_INTERNAL, "out of memory while defining domain '%s'",
                          def->name);
            goto error;
        }
        created_lock = access (lock_path, F_OK) != 0;
        lock_fd = s_try_lock (lock_path);
        if (lock_fd < 0) {
            vb_error_set (&err, VB_ERR_OPERATION_INVALID, "domain uuid %s is held by another "
                          "worker", def->uuid);
            created_lock = false;
            goto error;
        }
        if (vb_write_file_atomic (xml_path, text, strlen (text), &err) != 0)
            goto error;
        dom = s_dom_new (drv, def->uuid, def);
        def = NULL;
        if (!dom || !(dom->handle = zlistx_add_end (drv->doms, dom))) {
            unlink (xml_path);
            s_dom_free (&dom);
            vb_error_set (&err, VB_ERR_INTERNAL, "out of memory while defining a domain");
            goto error;
        }
        dom->persistent = true;
        dom->lock_fd = lock_fd;
        lock_fd = -1;
        /*  DOMAINS before the reply: the broker knows the domain by the time the client hears
         *  it was defined. */
        vb_worker_inventory_changed (drv->worker);
        s_event (dom, "defined", "added");
    }
    json_object *result = json_object_new_object ();
    json_object_object_add (result, "name", json_object_new_string (dom->def->name));
    json_object_object_add (result, "uuid", json_object_new_string (dom->def->uuid));
    vb_call_reply_ok (call, result);
    goto cleanup;

error:
    if (lock_fd >= 0 && created_lock)
        unlink (lock_path);
    vb_call_reply_err (call, &err);
cleanup:
    if (lock_fd >= 0)
        close (lock_fd);
    if (define_fd >= 0)
        close (define_fd);
    qemu_command_free (&argv);
    vb_domain_def_free (&def);
    free (text);
    free (lock_path);
    free (xml_path);
}

static void
s_undefine (void *state, vb_call_t *call)
{
    qdrv_t *drv = (qdrv_t *) state;
    qdom_t *dom = s_target (drv, call);
    if (!dom)
        return;
    if (!dom->persistent) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID,
                             "cannot undefine transient domain '%s'", s_name (dom));
        return;
    }
    s_event (dom, "undefined", "removed");
    if (s_active (dom)) {
        /*  As libvirt: a running domain lives on as transient (its status file carries the
         *  definition) and its files go when it stops. */
        if (unlink (dom->xml_path) != 0 && errno != ENOENT) {
            vb_call_reply_error (call, VB_ERR_OPERATION_FAILED, "cannot remove %s: %s",
                                 dom->xml_path, strerror (errno));
            return;
        }
        dom->persistent = false;
        vb_call_reply_ok (call, NULL);
        return;
    }
    s_dom_remove (dom);
    vb_call_reply_ok (call, NULL);
}

static int
s_on_start_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    qdom_t *dom = (qdom_t *) arg;
    if (!dom->starting)
        return 0;
    vb_error_t err = { 0 };
    if (vb_now_ms () >= dom->start_deadline) {
        vb_error_set (&err, VB_ERR_OPERATION_FAILED, "cannot start domain '%s': QEMU (pid %d) "
                      "did not get ready before the request's deadline", s_name (dom),
                      (int) dom->pid);
        s_start_fail (dom, &err);
        return 0;
    }
    if (!dom->mon)
        s_monitor_connect (dom, &err);   /* the socket appears a moment after the spawn */
    return 0;
}

/*  Host-side checks before anything is spawned: KVM, emulator, images. */
static int
s_start_checks (qdom_t *dom, vb_domain_def_t *def, vb_error_t *err)
{
    if (strcmp (def->type, "kvm") == 0 && qemu_process_check_kvm (err) != 0)
        return -1;
    const char *emulator = def->emulator? def->emulator: QEMU_COMMAND_DEFAULT_EMULATOR;
    if (access (emulator, X_OK) != 0)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot start domain '%s': "
                             "emulator %s cannot be executed: %s", s_name (dom), emulator,
                             strerror (errno));
    for (size_t i = 0; i < def->ndisks; i++) {
        const vb_disk_def_t *disk = &def->disks[i];
        if (!disk->source)
            continue;
        vb_error_t ierr = { 0 };
        vb_image_chain_t *chain = vb_image_chain_new (
            disk->source, disk->format == VB_DISK_FORMAT_QCOW2? VB_IMAGE_FORMAT_QCOW2:
                                                                 VB_IMAGE_FORMAT_RAW, &ierr);
        if (!chain)
            return vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot start domain '%s': "
                                 "disk %s (%s): %s", s_name (dom), disk->target_dev,
                                 disk->source, ierr.message);
        vb_image_chain_destroy (&chain);
    }
    return 0;
}

/*  Append a line to the domain's log so each start's output is findable. */
static void
s_log_start (qdom_t *dom, char **argv)
{
    FILE *log = fopen (dom->log_path, "ae");
    if (!log)
        return;
    time_t now = time (NULL);
    char stamp[32];
    strftime (stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", gmtime (&now));
    fprintf (log, "%s: starting up:", stamp);
    for (char **a = argv; *a; a++)
        fprintf (log, " %s", *a);
    fputc ('\n', log);
    fclose (log);
}

static void
s_start (void *state, vb_call_t *call)
{
    qdrv_t *drv = (qdrv_t *) state;
    vb_error_t err = { 0 };
    char **argv = NULL;
    vb_domain_def_t *live = NULL;
    qdom_t *dom = s_target (drv, call);
    if (!dom)
        return;
    if (s_active (dom)) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is already running",
                             s_name (dom));
        return;
    }
    bool paused = false;
    if (vb_json_get_bool (vb_call_args (call), "paused", false, &paused, &err) != 0)
        goto error;
    live = vb_domain_def_copy (dom->def);
    if (!live) {
        vb_error_set (&err, VB_ERR_INTERNAL, "out of memory while starting domain '%s'",
                      s_name (dom));
        goto error;
    }
    if (s_start_checks (dom, live, &err) != 0)
        goto error;
    qemu_command_paths_t paths = { .qmp_socket = dom->qmp_path, .pidfile = dom->pid_path };
    argv = qemu_command_build (live, &paths, &err);
    if (!argv)
        goto error;
    unlink (dom->qmp_path);
    unlink (dom->pid_path);
    s_log_start (dom, argv);
    pid_t pid = qemu_process_spawn (argv, dom->log_path, &err);
    if (pid < 0)
        goto error;
    dom->pid = pid;
    dom->live = live;
    live = NULL;
    dom->start_time_ns = vb_wall_ns ();
    dom->starting = true;
    dom->start_paused = paused;
    dom->start_call = call;
    dom->shutdown_seen = false;
    dom->reboot_reset_us = 0;
    dom->state = VB_STATE_PAUSED;
    dom->reason = VB_PAUSED_STARTING_UP;
    dom->start_deadline = vb_now_ms () + s_deadline_ms (call);
    if (qemu_process_start_ticks (pid, &dom->start_ticks) != 0 || s_watch (dom, &err) != 0) {
        vb_error_set (&err, VB_ERR_OPERATION_FAILED, "cannot start domain '%s': QEMU %s exited "
                      "at once", s_name (dom), argv[0]);
        s_start_fail (dom, &err);
        goto cleanup;
    }
    s_status_save (dom);
    dom->start_timer = zloop_timer (drv->loop, QDRV_CONNECT_RETRY_MS, 0, s_on_start_tick, dom);
    if (dom->start_timer < 0) {
        vb_error_set (&err, VB_ERR_INTERNAL, "cannot add a timer for starting domain '%s'",
                      s_name (dom));
        s_start_fail (dom, &err);
    }
    goto cleanup;

error:
    vb_call_reply_err (call, &err);
cleanup:
    vb_domain_def_free (&live);
    qemu_command_free (&argv);
}

static void
s_shutdown (void *state, vb_call_t *call)
{
    qdom_t *dom = s_active_target ((qdrv_t *) state, call);
    if (dom)
        s_qop (dom, call, QOP_SHUTDOWN, "system_powerdown", s_deadline_ms (call));
}

static void
s_reboot (void *state, vb_call_t *call)
{
    qdom_t *dom = s_active_target ((qdrv_t *) state, call);
    if (dom)
        s_qop (dom, call, QOP_REBOOT, "system_reset", s_deadline_ms (call));
}

static void
s_suspend (void *state, vb_call_t *call)
{
    qdom_t *dom = s_active_target ((qdrv_t *) state, call);
    if (!dom)
        return;
    if (dom->state == VB_STATE_PAUSED) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is already paused",
                             s_name (dom));
        return;
    }
    s_qop (dom, call, QOP_SUSPEND, "stop", s_deadline_ms (call));
}

static void
s_resume (void *state, vb_call_t *call)
{
    qdom_t *dom = s_active_target ((qdrv_t *) state, call);
    if (!dom)
        return;
    if (dom->state != VB_STATE_PAUSED) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is not paused",
                             s_name (dom));
        return;
    }
    s_qop (dom, call, QOP_RESUME, "cont", s_deadline_ms (call));
}

static int
s_on_destroy_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void) timer_id;
    qdom_t *dom = (qdom_t *) arg;
    dom->destroy_timer = -1;
    if (!dom->destroy_killed) {
        /*  SIGKILL also ends a stopped (SIGSTOP) process. */
        dom->destroy_killed = true;
        qemu_process_pidfd_signal (dom->pidfd, SIGKILL);
        int64_t left = dom->destroy_deadline - vb_now_ms ();
        dom->destroy_timer = zloop_timer (loop, (size_t) (left > 1? left: 1), 1,
                                          s_on_destroy_timer, dom);
        return 0;
    }
    vb_call_t *call = dom->destroy_call;
    dom->destroy_call = NULL;
    if (call)
        vb_call_reply_error (call, VB_ERR_TIMEOUT, "domain '%s': QEMU (pid %d) did not exit "
                             "after SIGKILL before the request's deadline", s_name (dom),
                             (int) dom->pid);
    return 0;
}

static void
s_destroy (void *state, vb_call_t *call)
{
    qdrv_t *drv = (qdrv_t *) state;
    qdom_t *dom = s_target (drv, call);
    if (!dom)
        return;
    if (!s_active (dom)) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is not running",
                             s_name (dom));
        return;
    }
    if (dom->destroy_call) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is already being "
                             "destroyed", s_name (dom));
        return;
    }
    dom->destroy_call = call;
    int64_t budget = s_deadline_ms (call);
    dom->destroy_deadline = vb_now_ms () + budget;
    if (!dom->destroying) {
        dom->destroying = true;
        qemu_process_pidfd_signal (dom->pidfd, SIGTERM);
    }
    int64_t grace = budget / 2 < QDRV_DESTROY_GRACE_MS? budget / 2: QDRV_DESTROY_GRACE_MS;
    if (dom->destroy_killed)
        grace = budget;
    if (dom->destroy_timer >= 0)
        zloop_timer_end (drv->loop, dom->destroy_timer);
    dom->destroy_timer = zloop_timer (drv->loop, (size_t) (grace > 1? grace: 1), 1,
                                      s_on_destroy_timer, dom);
    /*  The exit may already have happened: the pidfd callback answers. */
}

static json_object *
s_info (const qdom_t *dom, const vb_call_t *call)
{
    const vb_domain_def_t *def = dom->live? dom->live: dom->def;
    json_object *info = json_object_new_object ();
    json_object_object_add (info, "name", json_object_new_string (dom->def->name));
    json_object_object_add (info, "uuid", json_object_new_string (dom->def->uuid));
    json_object_object_add (info, "id", json_object_new_int (dom->id));
    json_object_object_add (info, "state", json_object_new_int (dom->state));
    json_object_object_add (info, "reason", json_object_new_int (dom->reason));
    json_object_object_add (info, "os_type",
                            json_object_new_string (def->os_type? def->os_type: "hvm"));
    json_object_object_add (info, "max_mem_kib", json_object_new_uint64 (def->memory_kib));
    json_object_object_add (info, "memory_kib", json_object_new_uint64 (def->current_memory_kib));
    json_object_object_add (info, "vcpus", json_object_new_int ((int) def->vcpus));
    json_object_object_add (info, "cpu_time_ns", json_object_new_uint64 (
                                s_active (dom)? qemu_process_cpu_time_ns (dom->pid): 0));
    json_object_object_add (info, "persistent", json_object_new_boolean (dom->persistent));
    json_object_object_add (info, "autostart", json_object_new_boolean (false));
    if (s_active (dom))
        json_object_object_add (info, "pid", json_object_new_int (dom->pid));
    vb_call_domain_info_add_origin (call, info);
    return info;
}

static void
s_get_info (void *state, vb_call_t *call)
{
    qdom_t *dom = s_target ((qdrv_t *) state, call);
    if (dom)
        vb_call_reply_ok (call, s_info (dom, call));
}

static void
s_get_xml (void *state, vb_call_t *call)
{
    qdom_t *dom = s_target ((qdrv_t *) state, call);
    if (!dom)
        return;
    vb_error_t err = { 0 };
    bool inactive = false;
    if (vb_json_get_bool (vb_call_args (call), "inactive", false, &inactive, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    if (inactive || !s_active (dom) || dom->starting) {
        s_reply_xml (call, inactive || !dom->live? dom->def: dom->live, s_name (dom));
        return;
    }
    s_qop (dom, call, QOP_XML, "query-block", s_deadline_ms (call));
}

/*  virsh's order: running domains by id, then the others by name. */
static int
s_list_cmp (const void *a, const void *b)
{
    const qdom_t *x = *(const qdom_t *const *) a;
    const qdom_t *y = *(const qdom_t *const *) b;
    if (s_active (x) != s_active (y))
        return s_active (x)? -1: 1;
    if (s_active (x))
        return (x->id > y->id) - (x->id < y->id);
    return strcmp (x->def->name, y->def->name);
}

static void
s_list (void *state, vb_call_t *call)
{
    qdrv_t *drv = (qdrv_t *) state;
    vb_error_t err = { 0 };
    bool all = false, inactive = false;
    if (vb_json_get_bool (vb_call_args (call), "all", false, &all, &err) != 0
        || vb_json_get_bool (vb_call_args (call), "inactive", false, &inactive, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    size_t n = zlistx_size (drv->doms), count = 0;
    qdom_t **doms = calloc (n? n: 1, sizeof *doms);
    if (!doms) {
        vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory while listing domains");
        return;
    }
    for (qdom_t *dom = (qdom_t *) zlistx_first (drv->doms); dom;
         dom = (qdom_t *) zlistx_next (drv->doms))
        if (all || (inactive? !s_active (dom): s_active (dom)))
            doms[count++] = dom;
    qsort (doms, count, sizeof *doms, s_list_cmp);
    json_object *result = json_object_new_array ();
    for (size_t i = 0; i < count; i++)
        json_object_array_add (result, s_info (doms[i], call));
    free (doms);
    vb_call_reply_ok (call, result);
}

/* --- stats (issue 4) ----------------------------------------------------------------------- */

/*  One domstats request: every selected domain gets a slot; a running domain's slot sends the
 *  queries its groups need at once (all domains' monitors are asked before any reply is read)
 *  and is done when all are answered, failed or timed out. Each query carries the request's deadline,
 *  so the monitor itself ends a hung QEMU's queries at the deadline and no extra timer is
 *  needed. A slot builds its record the moment it is done, while its domain certainly exists:
 *  a domain that goes away first destroys its monitor, which answers the slot's queries
 *  synchronously. The call is answered when the last slot is done. */
/*
 *  A per-run query describes what stays as it is while the QEMU runs unless virtbus itself
 *  changes it — the disks' chains with their file names and virtual sizes, the vCPU threads — so
 *  it is asked once per run and its reply reused. Each query costs an idle QEMU 0.4-0.7 ms of
 *  CPU, most of it spent reading the command one byte at a time (docs/performance.md), so a
 *  steady `--block --backing` sends query-blockstats alone. The block one is dropped when a
 *  chain changes under virtbus's hands (qemu_dom_set_disk_sources, block-job and tray events)
 *  and, as a safety net, whenever a blockstats reply shows other chains than it describes: the
 *  slot then asks query-block again before building its record. */
static const struct {
    const char *command;
    bool per_run;
    bool raw;           /* read by qemu_blockstats from the text, never parsed by json-c */
} s_stats_queries[QDRV_STATS_QUERIES] = {
    [QS_BLOCKSTATS] = { "query-blockstats", false, true },
    [QS_BLOCK] = { "query-block", true },
    [QS_CPUS] = { "query-cpus-fast", true },
    [QS_BALLOON] = { "query-balloon", false },
};

typedef enum {
    QSTAT_OK,
    QSTAT_TIMEOUT,   /* QEMU did not answer in time (or its monitor cannot be reached) */
    QSTAT_GONE,      /* QEMU vanished while asked */
} qstat_status_t;

typedef struct _qstats_t qstats_t;

typedef struct {
    qstats_t *req;
    qdom_t *dom;                                 /* valid while the slot is not done */
    json_object *replies[QDRV_STATS_QUERIES];    /* taken references, NULL = none */
    qemu_blockstats_t *blockstats;               /* the query-blockstats reply, NULL = none */
    unsigned pending;
    unsigned want;                               /* bit q: the groups read query q */
    unsigned need;                               /* bit q: query q is asked (want minus the
                                                    per-run replies kept) */
    qstat_status_t status;
    bool asked;                                  /* QEMU was asked (else: no QEMU fields) */
    bool done;
} qstats_slot_t;

typedef struct {
    qstats_slot_t *slot;
    unsigned query;
} qstats_query_t;

struct _qstats_t {
    qdrv_t *drv;
    vb_call_t *call;
    unsigned mask;
    bool backing;
    int64_t deadline_ms;        /* monotonic: when every query must have been answered */
    size_t nslots, ndone;
    qstats_slot_t *slots;
    json_object *records;       /* array, one entry per slot (NULL until done) */
    bool sending;               /* still issuing queries: completion waits */
    bool failed;                /* out of memory building a record */
};

static void
s_stats_forget (qdom_t *dom)
{
    for (size_t i = 0; i < QDRV_STATS_QUERIES; i++) {
        json_object_put (dom->last_stats[i]);
        dom->last_stats[i] = NULL;
        dom->have_last_stats[i] = false;
    }
    qemu_blockstats_destroy (&dom->last_blockstats);
    dom->stats_hung = false;
}

/*  The disks' chains may have changed: the next stats request asks query-block again. */
static void
s_stats_forget_chains (qdom_t *dom)
{
    json_object_put (dom->last_stats[QS_BLOCK]);
    dom->last_stats[QS_BLOCK] = NULL;
    dom->have_last_stats[QS_BLOCK] = false;
}

static void
s_stats_free (qstats_t **req_p)
{
    qstats_t *req = *req_p;
    if (!req)
        return;
    for (size_t i = 0; req->slots && i < req->nslots; i++) {
        for (size_t q = 0; q < QDRV_STATS_QUERIES; q++)
            json_object_put (req->slots[i].replies[q]);
        qemu_blockstats_destroy (&req->slots[i].blockstats);
    }
    free (req->slots);
    json_object_put (req->records);
    free (req);
    *req_p = NULL;
}

/*  The record of a slot's domain from REPLIES (entries may be NULL) and BLOCKSTATS. */
static json_object *
s_stats_build (qstats_slot_t *slot, qdom_t *dom, json_object *const *replies,
               const qemu_blockstats_t *blockstats, uint64_t sample_ns)
{
    qemu_stats_input_t in = {
        .def = dom->live? dom->live: dom->def,
        .state = dom->state, .reason = dom->reason,
        .pid = s_active (dom)? dom->pid: 0,
        .blockstats = blockstats,
        .block = replies? replies[QS_BLOCK]: NULL,
        .cpus = replies? replies[QS_CPUS]: NULL, .balloon = replies? replies[QS_BALLOON]: NULL,
    };
    vb_error_t err = { 0 };
    json_object *record = qemu_stats_record (&in, slot->req->mask, slot->req->backing,
                                             sample_ns, &err);
    if (!record)
        vb_warn ("qemu: %s", err.message);
    return record;
}

static void
s_stats_finish (qstats_t *req)
{
    if (req->sending || req->ndone < req->nslots)
        return;
    qdrv_t *drv = req->drv;
    vb_call_t *call = req->call;
    if (!drv->closing) {
        if (req->failed)
            vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory while building domain "
                                 "stats on host %s", vb_worker_host (drv->worker));
        else {
            vb_call_reply_ok (call, req->records);
            req->records = NULL;
        }
    }
    s_stats_free (&req);
}

static const char *
s_stats_status_name (qstat_status_t status)
{
    return status == QSTAT_OK? "ok": status == QSTAT_TIMEOUT? "timeout": "gone";
}

/*  The slot's domain answered (or failed to): build its record now. A complete sample becomes
 *  the domain's last good one; a timed-out domain reports its last good sample, stale, with its
 *  age; a vanished one what its definition says. */
static void
s_stats_slot_done (qstats_slot_t *slot)
{
    qstats_t *req = slot->req;
    qdom_t *dom = slot->dom;
    slot->done = true;
    slot->dom = NULL;
    req->ndone++;
    if (dom->drv->closing)
        goto finish;

    json_object *record = NULL;
    uint64_t now_ns = vb_wall_ns ();
    int64_t age_ms = -1;
    bool stale = false;
    for (size_t q = 0; q < QDRV_STATS_QUERIES; q++)
        if (slot->want & (1u << q) && !s_stats_queries[q].per_run && dom->have_last_stats[q])
            stale = true;
    if (slot->status == QSTAT_OK && slot->asked) {
        /*  Only the queries asked are replaced: a --block request keeps the last balloon. */
        int64_t now_ms = vb_now_ms ();
        json_object *replies[QDRV_STATS_QUERIES] = { NULL };
        for (size_t q = 0; q < QDRV_STATS_QUERIES; q++) {
            if (slot->need & (1u << q)) {
                json_object_put (dom->last_stats[q]);
                dom->last_stats[q] = slot->replies[q]? json_object_get (slot->replies[q]): NULL;
                dom->have_last_stats[q] = true;
                dom->last_stats_wall_ns[q] = now_ns;
                dom->last_stats_mono_ms[q] = now_ms;
            }
            if (slot->want & (1u << q))
                replies[q] = dom->last_stats[q];
        }
        if (slot->need & (1u << QS_BLOCKSTATS)) {
            qemu_blockstats_destroy (&dom->last_blockstats);
            dom->last_blockstats = slot->blockstats;
            slot->blockstats = NULL;
        }
        dom->stats_hung = false;
        record = s_stats_build (slot, dom, replies, dom->last_blockstats, now_ns);
    }
    else if (slot->status == QSTAT_TIMEOUT && stale) {
        /*  The oldest of the samples used dates the record; a per-run reply is no sample. */
        json_object *replies[QDRV_STATS_QUERIES] = { NULL };
        uint64_t sample_ns = now_ns;
        int64_t oldest_ms = vb_now_ms ();
        for (size_t q = 0; q < QDRV_STATS_QUERIES; q++)
            if (slot->want & (1u << q) && dom->have_last_stats[q]) {
                replies[q] = dom->last_stats[q];
                if (s_stats_queries[q].per_run)
                    continue;
                if (dom->last_stats_wall_ns[q] < sample_ns)
                    sample_ns = dom->last_stats_wall_ns[q];
                if (dom->last_stats_mono_ms[q] < oldest_ms)
                    oldest_ms = dom->last_stats_mono_ms[q];
            }
        dom->stats_hung = true;
        record = s_stats_build (slot, dom, replies,
                                slot->want & (1u << QS_BLOCKSTATS)? dom->last_blockstats: NULL,
                                sample_ns);
        age_ms = vb_now_ms () - oldest_ms;
    }
    else {
        if (slot->status == QSTAT_TIMEOUT)
            dom->stats_hung = true;
        record = s_stats_build (slot, dom, NULL, NULL, now_ns);
    }
    if (!record) {
        req->failed = true;
        goto finish;
    }
    vb_call_domain_info_add_origin (req->call, record);
    json_object_object_add (record, "status",
                            json_object_new_string (s_stats_status_name (slot->status)));
    if (age_ms >= 0)
        json_object_object_add (record, "age_ms", json_object_new_int64 (age_ms));
    json_object_array_put_idx (req->records, (size_t) (slot - req->slots), record);
finish:
    s_stats_finish (req);
}

static void s_stats_send (qstats_slot_t *slot, unsigned query, int deadline_ms);

/*  A blockstats reply answered from a kept query-block: if the chains differ from what that
 *  query-block describes, drop it and ask again, so that this record is built on the new one. */
static void
s_stats_check_chains (qstats_slot_t *slot, const qemu_blockstats_t *blockstats)
{
    qdom_t *dom = slot->dom;
    if (!(slot->want & (1u << QS_BLOCK)) || slot->need & (1u << QS_BLOCK)
        || qemu_stats_block_chains_match (blockstats, dom->last_stats[QS_BLOCK]))
        return;
    s_stats_forget_chains (dom);
    int64_t left = slot->req->deadline_ms - vb_now_ms ();
    s_stats_send (slot, QS_BLOCK, left > 1? (int) left: 1);
}

/*  A query is over: its reply is stored (or its error counted); the last one completes the
 *  slot. */
static void
s_stats_query_done (qstats_query_t *query, const vb_error_t *err)
{
    qstats_slot_t *slot = query->slot;
    if (err) {
        /*  QEMU refusing one query (no balloon device) costs only that query's fields. */
        if (err->code == VB_ERR_TIMEOUT && slot->status == QSTAT_OK)
            slot->status = QSTAT_TIMEOUT;
        else if (err->code == VB_ERR_HYPERVISOR_UNAVAILABLE)
            slot->status = QSTAT_GONE;
    }
    free (query);
    if (--slot->pending == 0)
        s_stats_slot_done (slot);
}

static void
s_on_stats_reply (qemu_monitor_t *mon, json_object *result, const char *qmp_class,
                  const vb_error_t *err, void *cb_data)
{
    (void) mon;
    (void) qmp_class;
    qstats_query_t *query = (qstats_query_t *) cb_data;
    if (!err)
        query->slot->replies[query->query] = json_object_get (result);
    s_stats_query_done (query, err);
}

static void
s_on_stats_raw (qemu_monitor_t *mon, const char *text, size_t len, const char *qmp_class,
                const vb_error_t *err, void *cb_data)
{
    (void) mon;
    (void) qmp_class;
    qstats_query_t *query = (qstats_query_t *) cb_data;
    qstats_slot_t *slot = query->slot;
    if (!err) {
        /*  A reply that is not JSON leaves its fields out, as a refused query does. */
        vb_error_t perr = { 0 };
        qemu_blockstats_destroy (&slot->blockstats);
        slot->blockstats = qemu_blockstats_parse (text, len, &perr);
        if (!slot->blockstats)
            vb_warn ("qemu: domain '%s': %s", s_name (slot->dom), perr.message);
        else if (s_active (slot->dom))
            s_stats_check_chains (slot, slot->blockstats);
    }
    s_stats_query_done (query, err);
}

/*  Send QUERY for SLOT, due within DEADLINE_MS; a query that cannot be sent counts as failed
 *  at once (the caller holds a pending count, so the slot is not done here). */
static void
s_stats_send (qstats_slot_t *slot, unsigned query, int deadline_ms)
{
    vb_error_t err = { 0 };
    slot->need |= 1u << query;
    slot->pending++;
    qstats_query_t *q = calloc (1, sizeof *q);
    if (q) {
        q->slot = slot;
        q->query = query;
    }
    int rc = -1;
    if (q && s_stats_queries[query].raw)
        rc = qemu_monitor_command_raw (slot->dom->mon, s_stats_queries[query].command,
                                       deadline_ms, s_on_stats_raw, q, &err);
    else if (q)
        rc = qemu_monitor_command (slot->dom->mon, s_stats_queries[query].command, NULL,
                                   deadline_ms, s_on_stats_reply, q, &err);
    if (rc != 0) {
        if (!q || err.code == VB_ERR_HYPERVISOR_UNAVAILABLE)
            slot->status = QSTAT_GONE;
        free (q);
        slot->pending--;
    }
}

/*  Send a running domain's queries: what the groups read, less the per-run replies kept. */
static void
s_stats_ask (qstats_slot_t *slot, int deadline_ms)
{
    qdom_t *dom = slot->dom;
    vb_error_t err = { 0 };
    slot->asked = true;
    if (!dom->mon)
        s_monitor_connect (dom, &err);
    if (!dom->mon) {
        slot->status = qemu_process_pidfd_exited (dom->pidfd)? QSTAT_GONE: QSTAT_TIMEOUT;
        vb_info ("qemu: stats of domain '%s': %s", s_name (dom), err.message);
        s_stats_slot_done (slot);
        return;
    }
    slot->pending = 1;   /* held until every query is out */
    for (unsigned q = 0; q < QDRV_STATS_QUERIES; q++)
        if (slot->want & (1u << q)
            && !(s_stats_queries[q].per_run && dom->have_last_stats[q]))
            s_stats_send (slot, q, deadline_ms);
    if (--slot->pending == 0)
        s_stats_slot_done (slot);
}

/*  Does DOM pass the list_* filters (libvirt's: within the activity pair and within the state
 *  triple any flag matches, an empty group passes everything)? */
static bool
s_stats_filter (const qdom_t *dom, const bool *flags)
{
    bool active = flags[0], inactive = flags[1];
    bool running = flags[2], paused = flags[3], shutoff = flags[4];
    if ((active || inactive) && !((active && s_active (dom)) || (inactive && !s_active (dom))))
        return false;
    if (running || paused || shutoff) {
        bool ok = (running && dom->state == VB_STATE_RUNNING)
                  || (paused && dom->state == VB_STATE_PAUSED)
                  || (shutoff && dom->state == VB_STATE_SHUTOFF);
        if (!ok)
            return false;
    }
    return true;
}

/*  --enforce: libvirt's bits of the requested groups this driver does not supply, or 0. A name
 *  libvirt does not know either is reported in *UNKNOWN. */
static unsigned
s_stats_unsupported_bits (json_object *groups, const char **unknown)
{
    static const struct { const char *name; unsigned bit; bool ours; } map[] = {
        { "state", 1, true },      { "cpu-total", 2, true },   { "balloon", 4, true },
        { "vcpu", 8, true },       { "interface", 16, true },  { "block", 32, true },
        { "perf", 64, false },     { "iothread", 128, false }, { "memory", 256, false },
        { "dirtyrate", 512, false }, { "vm", 1024, false },
    };
    unsigned bits = 0;
    *unknown = NULL;
    for (size_t i = 0; groups && i < json_object_array_length (groups); i++) {
        const char *g = json_object_get_string (json_object_array_get_idx (groups, i));
        size_t k = 0;
        while (k < sizeof map / sizeof map[0] && strcmp (map[k].name, g) != 0)
            k++;
        if (k == sizeof map / sizeof map[0])
            *unknown = g;
        else if (!map[k].ours)
            bits |= map[k].bit;
    }
    return bits;
}

static void
s_get_stats (void *state, vb_call_t *call)
{
    qdrv_t *drv = (qdrv_t *) state;
    json_object *args = vb_call_args (call), *groups = NULL, *domains = NULL;
    vb_error_t err = { 0 };
    static const char *const filter_keys[5] = {
        "list_active", "list_inactive", "list_running", "list_paused", "list_shutoff",
    };
    bool filters[5] = { false }, backing = false, nowait = false, enforce = false;
    unsigned mask = 0, unsupported = 0;
    qstats_t *req = NULL;

    if (vb_json_get_array (args, "groups", false, &groups, &err) != 0
        || vb_json_get_array (args, "domains", false, &domains, &err) != 0
        || vb_json_get_bool (args, "backing", false, &backing, &err) != 0
        || vb_json_get_bool (args, "nowait", false, &nowait, &err) != 0
        || vb_json_get_bool (args, "enforce", false, &enforce, &err) != 0
        || qemu_stats_groups (groups, &mask, &unsupported, &err) != 0)
        goto fail;
    for (size_t i = 0; i < 5; i++)
        if (vb_json_get_bool (args, filter_keys[i], false, &filters[i], &err) != 0)
            goto fail;
    for (size_t i = 0; domains && i < json_object_array_length (domains); i++)
        if (!json_object_is_type (json_object_array_get_idx (domains, i), json_type_string)) {
            vb_error_set (&err, VB_ERR_INVALID_ARG, "field 'domains' must be an array of "
                          "domain names or UUIDs");
            goto fail;
        }
    if (enforce && unsupported > 0) {
        const char *unknown = NULL;
        unsigned bits = s_stats_unsupported_bits (groups, &unknown);
        if (unknown)
            vb_error_set (&err, VB_ERR_UNSUPPORTED, "stats group '%s' does not exist", unknown);
        else
            vb_error_set (&err, VB_ERR_UNSUPPORTED, "Stats types bits 0x%x are not supported "
                          "by this daemon", bits);
        goto fail;
    }
    const char *target = vb_call_domain (call);
    if (target && !s_find (drv, target)) {
        vb_error_set (&err, VB_ERR_NO_DOMAIN, "domain '%s' not found on host %s", target,
                      vb_worker_host (drv->worker));
        goto fail;
    }

    req = calloc (1, sizeof *req);
    size_t ndoms = zlistx_size (drv->doms);
    if (!req || !(req->slots = calloc (ndoms? ndoms: 1, sizeof *req->slots))
        || !(req->records = json_object_new_array ())) {
        vb_error_set (&err, VB_ERR_INTERNAL, "out of memory while asking for domain stats");
        goto fail;
    }
    req->drv = drv;
    req->call = call;
    req->mask = mask;
    req->backing = backing;
    /*  Names the worker does not own are skipped: the broker sends each worker the whole list
     *  or its share of it. */
    for (qdom_t *dom = (qdom_t *) zlistx_first (drv->doms); dom;
         dom = (qdom_t *) zlistx_next (drv->doms)) {
        bool wanted = !target && !domains;
        if (target)
            wanted = s_find (drv, target) == dom;
        for (size_t i = 0; !wanted && domains && i < json_object_array_length (domains); i++) {
            const char *key = json_object_get_string (json_object_array_get_idx (domains, i));
            wanted = strcmp (dom->def->name, key) == 0 || strcasecmp (dom->def->uuid, key) == 0;
        }
        if (wanted && s_stats_filter (dom, filters)) {
            qstats_slot_t *slot = &req->slots[req->nslots++];
            slot->req = req;
            slot->dom = dom;
        }
    }
    if (req->nslots > 0)
        json_object_array_put_idx (req->records, req->nslots - 1, NULL);

    /*  Ask everybody before reading any answer: the replies then arrive in parallel. */
    /*  Each query costs QEMU ~0.2-0.6 ms of CPU (measured, docs/performance.md): ask only what
     *  the groups need. */
    unsigned want = 0;
    if (mask & QEMU_STATS_BLOCK)
        want |= 1u << QS_BLOCKSTATS | 1u << QS_BLOCK;
    if (mask & QEMU_STATS_VCPU)
        want |= 1u << QS_CPUS;
    if (mask & QEMU_STATS_BALLOON)
        want |= 1u << QS_BALLOON;
    int deadline_ms = s_deadline_ms (call);
    req->deadline_ms = vb_now_ms () + deadline_ms;
    req->sending = true;
    for (size_t i = 0; i < req->nslots; i++) {
        qstats_slot_t *slot = &req->slots[i];
        qdom_t *dom = slot->dom;
        bool ask = want != 0;
        slot->want = want;
        /*  A starting or dying QEMU is not asked; --nowait skips a monitor that is busy or
         *  that did not answer the last stats request. */
        if (!s_active (dom) || !ask || dom->starting || dom->destroying
            || (nowait && (!dom->mon || qemu_monitor_pending (dom->mon) > 0
                           || !qemu_monitor_is_ready (dom->mon) || dom->stats_hung)))
            s_stats_slot_done (slot);
        else
            s_stats_ask (slot, deadline_ms);
    }
    req->sending = false;
    s_stats_finish (req);
    return;

fail:
    s_stats_free (&req);
    vb_call_reply_err (call, &err);
}

/* --- block jobs (issue 9): what qemu_blockjob.c reaches through qemu_blockjob.h ------------ */

qemu_dom_t *
qemu_driver_call_target (void *state, vb_call_t *call, bool active)
{
    return active ? s_active_target ((qdrv_t *) state, call) : s_target ((qdrv_t *) state, call);
}

const char *
qemu_dom_name (const qemu_dom_t *dom)
{
    return dom->def->name;
}

const char *
qemu_dom_uuid (const qemu_dom_t *dom)
{
    return dom->def->uuid;
}

vb_worker_t *
qemu_dom_worker (const qemu_dom_t *dom)
{
    return dom->drv->worker;
}

bool
qemu_dom_is_active (const qemu_dom_t *dom)
{
    return s_active (dom);
}

bool
qemu_dom_closing (const qemu_dom_t *dom)
{
    return dom->drv->closing;
}

const vb_domain_def_t *
qemu_dom_current_def (const qemu_dom_t *dom)
{
    return dom->live ? dom->live : dom->def;
}

qemu_monitor_t *
qemu_dom_monitor (qemu_dom_t *dom, vb_error_t *err)
{
    s_monitor_connect (dom, err);
    return dom->mon;
}

qemu_blockjobs_t **
qemu_dom_blockjobs (qemu_dom_t *dom)
{
    return &dom->blockjobs;
}

/*  A copy of DEF with the N sources applied, or NULL on allocation failure. */
static vb_domain_def_t *
s_def_with_sources (const vb_domain_def_t *def, const qemu_disk_source_t *sources, size_t n)
{
    vb_domain_def_t *copy = vb_domain_def_copy (def);
    for (size_t i = 0; copy && i < copy->ndisks; i++)
        for (size_t k = 0; k < n; k++) {
            vb_disk_def_t *disk = &copy->disks[i];
            if (strcmp (disk->target_dev, sources[k].target) != 0)
                continue;
            char *path = strdup (sources[k].path);
            if (!path) {
                vb_domain_def_free (&copy);
                return NULL;
            }
            free (disk->source);
            disk->source = path;
            disk->format = sources[k].format;
            disk->type = VB_DISK_TYPE_FILE;
            vb_backing_store_free (&disk->backing);
        }
    return copy;
}

int
qemu_dom_set_disk_sources (qemu_dom_t *dom, const qemu_disk_source_t *sources, size_t n,
                           vb_error_t *err)
{
    vb_domain_def_t *def = s_def_with_sources (dom->def, sources, n);
    vb_domain_def_t *live = dom->live ? s_def_with_sources (dom->live, sources, n) : NULL;
    char *text = def ? vb_domxml_format (def) : NULL;
    if (!def || !text || (dom->live && !live)) {
        vb_domain_def_free (&def);
        vb_domain_def_free (&live);
        free (text);
        return vb_error_set (err, VB_ERR_INTERNAL, "out of memory while updating the "
                             "definition of domain '%s'", s_name (dom));
    }
    if (dom->persistent && vb_write_file_atomic (dom->xml_path, text, strlen (text), err) != 0) {
        vb_domain_def_free (&def);
        vb_domain_def_free (&live);
        free (text);
        return -1;
    }
    free (text);
    vb_domain_def_free (&dom->def);
    dom->def = def;
    s_stats_forget_chains (dom);
    if (live) {
        vb_domain_def_free (&dom->live);
        dom->live = live;
        s_status_save (dom);
    }
    return 0;
}

const vb_driver_t qemu_driver = {
    .name = "qemu",
    .help = "virtbus-qemu runs QEMU/KVM domains defined by libvirt domain XML (<domain "
            "type='kvm'>\nor type='qemu'). Its QEMU processes outlive it; a restarted or sibling "
            "worker sharing\nthe state directory reattaches to them through their QMP monitors.",
    .open = s_open,
    .close = s_close,
    .inventory = s_inventory,
    .tick = s_tick,
    .define = s_define,
    .undefine = s_undefine,
    .start = s_start,
    .shutdown = s_shutdown,
    .destroy = s_destroy,
    .suspend = s_suspend,
    .resume = s_resume,
    .reboot = s_reboot,
    .get_xml = s_get_xml,
    .get_info = s_get_info,
    .list = s_list,
    .get_stats = s_get_stats,
    .extra_ops = qemu_blockjob_ops,
};
