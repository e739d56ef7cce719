/*  xen_driver — virtbus-xen's driver table over libxl (see xen_driver.h). */
#include "xen_driver.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/loop.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <sys/time.h>
#include <unistd.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "vb_domstate.h"
#include "vb_domxml.h"
#include "vb_json.h"
#include "vb_log.h"
#include "vb_util.h"
#include "vb_worker.h"
#include "xen_config.h"
#include "xen_stats.h"

typedef struct _xen_state_t xen_state_t;

typedef struct {
    vb_domain_def_t *def;
    int domid;                 /* -1 when not running */
    int state, reason;
    bool persistent;
    libxl_evgen_domain_death *death;
    int *loop_fds;             /* loop devices held open while the domain starts and runs */
    size_t nloops;
    int stop_reason;           /* what a death we caused means: VB_SHUTOFF_*, 0 = not ours */
    bool restart;              /* start again once dead (on_reboot/on_crash restart) */
    bool busy;                 /* a create or destroy is in flight */
} xen_dom_t;

/*  One asynchronous libxl operation: its completion answers CALL (may be NULL). */
typedef struct {
    xen_state_t *st;
    vb_call_t *call;
    char uuid[37];
    bool paused;
    uint32_t domid;            /* libxl writes the new domid here during create */
    libxl_domain_config cfg;   /* must live until create completes */
    void *handle;              /* in st->ops */
} xen_op_t;

typedef struct {
    xen_state_t *st;
    zmq_pollitem_t item;
    void *for_libxl;
} xen_fdreg_t;

typedef struct {
    xen_state_t *st;
    void *for_libxl;
    int timer;
    bool cancelled;            /* libxl no longer wants it; the one-shot timer frees it */
    void *handle;              /* in st->timeouts */
} xen_toreg_t;

struct _xen_state_t {
    vb_worker_t *worker;
    char *state_dir;
    xentoollog_logger_stdiostream *logger;
    libxl_ctx *ctx;
    struct xs_handle *xs;
    zlistx_t *domains;         /* xen_dom_t * */
    zlistx_t *ops;             /* xen_op_t * */
    zlistx_t *timeouts;        /* xen_toreg_t * */
    zlistx_t *fdregs;          /* xen_fdreg_t * */
    int sigchld_fd;            /* signalfd for SIGCHLD (libxl's hotplug children), -1 */
    xen_config_host_t host;    /* what Xen offers HVM guests here (physinfo) */
    zmq_pollitem_t sigchld_item;
};

/* --- osevent hooks: libxl's fds and timeouts on the worker's zloop ----------------------- */

static short
s_to_zmq (short events)
{
    return (short) (((events & POLLIN)? ZMQ_POLLIN: 0) | ((events & POLLOUT)? ZMQ_POLLOUT: 0)
                    | ((events & POLLPRI)? ZMQ_POLLPRI: 0));
}

static short
s_from_zmq (short revents)
{
    return (short) (((revents & ZMQ_POLLIN)? POLLIN: 0) | ((revents & ZMQ_POLLOUT)? POLLOUT: 0)
                    | ((revents & ZMQ_POLLPRI)? POLLPRI: 0)
                    | ((revents & ZMQ_POLLERR)? POLLERR: 0));
}

static int
s_on_fd (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    xen_fdreg_t *reg = (xen_fdreg_t *) arg;
    libxl_osevent_occurred_fd (reg->st->ctx, reg->for_libxl, item->fd,
                               (short) s_from_zmq (reg->item.events),
                               s_from_zmq (item->revents));
    return 0;
}

static int
s_fd_arm (xen_fdreg_t *reg, short events)
{
    zloop_t *loop = vb_worker_loop (reg->st->worker);
    reg->item.events = s_to_zmq (events);
    if (zloop_poller (loop, &reg->item, s_on_fd, reg) != 0)
        return ERROR_OSEVENT_REG_FAIL;
    /*  A hang-up is libxl's to handle, not a reason for zloop to drop the fd. */
    zloop_poller_set_tolerant (loop, &reg->item);
    return 0;
}

static int
s_fd_register (void *user, int fd, void **reg_out, short events, void *for_libxl)
{
    xen_state_t *st = (xen_state_t *) user;
    xen_fdreg_t *reg = calloc (1, sizeof *reg);
    if (!reg)
        return ERROR_OSEVENT_REG_FAIL;
    reg->st = st;
    reg->item.fd = fd;
    reg->for_libxl = for_libxl;
    if (s_fd_arm (reg, events) != 0 || !zlistx_add_end (st->fdregs, reg)) {
        zloop_poller_end (vb_worker_loop (st->worker), &reg->item);
        free (reg);
        return ERROR_OSEVENT_REG_FAIL;
    }
    *reg_out = reg;
    return 0;
}

static int
s_fd_modify (void *user, int fd, void **reg_upd, short events)
{
    (void) user;
    (void) fd;
    xen_fdreg_t *reg = (xen_fdreg_t *) *reg_upd;
    /*  zloop has no "modify": end the poller and add it again with the new events. */
    zloop_poller_end (vb_worker_loop (reg->st->worker), &reg->item);
    return s_fd_arm (reg, events);
}

static void
s_fd_deregister (void *user, int fd, void *regp)
{
    (void) fd;
    xen_state_t *st = (xen_state_t *) user;
    xen_fdreg_t *reg = (xen_fdreg_t *) regp;
    zloop_poller_end (vb_worker_loop (st->worker), &reg->item);
    void *handle = zlistx_find (st->fdregs, reg);
    if (handle)
        zlistx_detach (st->fdregs, handle);
    free (reg);
}

static int
s_on_timeout (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    xen_toreg_t *reg = (xen_toreg_t *) arg;
    xen_state_t *st = reg->st;
    bool fire = !reg->cancelled;
    void *for_libxl = reg->for_libxl;
    zlistx_detach (st->timeouts, reg->handle);
    free (reg);
    /*  libxl treats the timeout as deregistered from here on. */
    if (fire)
        libxl_osevent_occurred_timeout (st->ctx, for_libxl);
    return 0;
}

static xen_toreg_t *
s_timeout_new (xen_state_t *st, struct timeval abs, void *for_libxl)
{
    struct timeval now;
    gettimeofday (&now, NULL);
    int64_t ms = ((int64_t) abs.tv_sec - now.tv_sec) * 1000 + (abs.tv_usec - now.tv_usec) / 1000;
    if (abs.tv_sec == 0 && abs.tv_usec == 0)
        ms = 0;
    if (ms < 0)
        ms = 0;
    xen_toreg_t *reg = calloc (1, sizeof *reg);
    if (!reg)
        return NULL;
    reg->st = st;
    reg->for_libxl = for_libxl;
    reg->handle = zlistx_add_end (st->timeouts, reg);
    if (!reg->handle) {
        free (reg);
        return NULL;
    }
    /*  One-shot and never ended early: a cancelled one fires, sees the flag and frees itself,
     *  so zloop never holds a freed argument. */
    reg->timer = zloop_timer (vb_worker_loop (st->worker), (size_t) ms, 1, s_on_timeout, reg);
    if (reg->timer == -1) {
        zlistx_detach (st->timeouts, reg->handle);
        free (reg);
        return NULL;
    }
    return reg;
}

static int
s_timeout_register (void *user, void **reg_out, struct timeval abs, void *for_libxl)
{
    xen_toreg_t *reg = s_timeout_new ((xen_state_t *) user, abs, for_libxl);
    if (!reg)
        return ERROR_OSEVENT_REG_FAIL;
    *reg_out = reg;
    return 0;
}

static int
s_timeout_modify (void *user, void **reg_upd, struct timeval abs)
{
    xen_toreg_t *old = (xen_toreg_t *) *reg_upd;
    xen_toreg_t *reg = s_timeout_new ((xen_state_t *) user, abs, old->for_libxl);
    if (!reg)
        return ERROR_OSEVENT_REG_FAIL;
    old->cancelled = true;
    *reg_upd = reg;
    return 0;
}

static void
s_timeout_deregister (void *user, void *regp)
{
    (void) user;
    ((xen_toreg_t *) regp)->cancelled = true;
}

static const libxl_osevent_hooks s_osevent_hooks = {
    .fd_register = s_fd_register,
    .fd_modify = s_fd_modify,
    .fd_deregister = s_fd_deregister,
    .timeout_register = s_timeout_register,
    .timeout_modify = s_timeout_modify,
    .timeout_deregister = s_timeout_deregister,
};

/* --- domains ------------------------------------------------------------------------------ */

static void
s_loops_release (xen_dom_t *dom)
{
    for (size_t i = 0; i < dom->nloops; i++)
        if (dom->loop_fds[i] >= 0)
            close (dom->loop_fds[i]);
    free (dom->loop_fds);
    dom->loop_fds = NULL;
    dom->nloops = 0;
}

static void
s_dom_destroy (void **item)
{
    xen_dom_t *dom = (xen_dom_t *) *item;
    if (dom) {
        s_loops_release (dom);
        vb_domain_def_free (&dom->def);
        free (dom);
        *item = NULL;
    }
}

static xen_dom_t *
s_find (xen_state_t *st, const char *key)
{
    if (!key)
        return NULL;
    for (xen_dom_t *dom = (xen_dom_t *) zlistx_first (st->domains); dom;
         dom = (xen_dom_t *) zlistx_next (st->domains))
        if (strcmp (dom->def->name, key) == 0 || strcasecmp (dom->def->uuid, key) == 0)
            return dom;
    return NULL;
}

static xen_dom_t *
s_find_domid (xen_state_t *st, uint32_t domid)
{
    for (xen_dom_t *dom = (xen_dom_t *) zlistx_first (st->domains); dom;
         dom = (xen_dom_t *) zlistx_next (st->domains))
        if (dom->domid >= 0 && (uint32_t) dom->domid == domid)
            return dom;
    return NULL;
}

static xen_dom_t *
s_target (xen_state_t *st, vb_call_t *call)
{
    const char *key = vb_call_domain (call);
    xen_dom_t *dom = s_find (st, key);
    if (!dom)
        vb_call_reply_error (call, VB_ERR_NO_DOMAIN, "domain '%s' not found on host %s",
                             key? key: "", vb_worker_host (st->worker));
    return dom;
}

static bool
s_is_active (const xen_dom_t *dom)
{
    return dom->domid >= 0;
}

static void
s_event (xen_state_t *st, const xen_dom_t *dom, const char *event, const char *detail)
{
    vb_info ("domain %s: event %s/%s", dom->def->name, event, detail);
    vb_worker_emit_event (st->worker, dom->def->name, dom->def->uuid, "lifecycle", event, detail,
                          NULL);
}

static char *
s_def_path (xen_state_t *st, const char *uuid)
{
    char *path = NULL;
    if (asprintf (&path, "%s/%s.xml", st->state_dir, uuid) < 0)
        return NULL;
    return path;
}

static int
s_save (xen_state_t *st, const xen_dom_t *dom, vb_error_t *err)
{
    char *xml = vb_domxml_format (dom->def);
    char *path = s_def_path (st, dom->def->uuid);
    int rc = -1;
    if (!xml || !path)
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory saving domain '%s'", dom->def->name);
    else
        rc = vb_write_file_atomic (path, xml, strlen (xml), err);
    free (xml);
    free (path);
    return rc;
}

/*  Forget a domain that stopped: release what it held; a transient one goes. */
static void
s_dom_stopped (xen_state_t *st, xen_dom_t *dom, int reason, const char *detail)
{
    if (dom->death) {
        libxl_evdisable_domain_death (st->ctx, dom->death);
        dom->death = NULL;
    }
    s_loops_release (dom);
    if (dom->domid < 0)
        return;
    dom->domid = -1;
    dom->state = VB_STATE_SHUTOFF;
    dom->reason = reason;
    dom->stop_reason = 0;
    s_event (st, dom, "stopped", detail);
    if (!dom->persistent && !dom->restart) {
        zlistx_delete (st->domains, zlistx_find (st->domains, dom));
        vb_worker_inventory_changed (st->worker);
    }
}

/* --- asynchronous operations ------------------------------------------------------------- */

static xen_op_t *
s_op_new (xen_state_t *st, vb_call_t *call, const xen_dom_t *dom)
{
    xen_op_t *op = calloc (1, sizeof *op);
    if (!op)
        return NULL;
    op->st = st;
    op->call = call;
    memcpy (op->uuid, dom->def->uuid, sizeof op->uuid);
    libxl_domain_config_init (&op->cfg);
    op->handle = zlistx_add_end (st->ops, op);
    if (!op->handle) {
        libxl_domain_config_dispose (&op->cfg);
        free (op);
        return NULL;
    }
    return op;
}

static void
s_op_free (xen_op_t *op)
{
    zlistx_detach (op->st->ops, op->handle);
    libxl_domain_config_dispose (&op->cfg);
    free (op);
}

/*  Attach a raw file to a free loop device with autoclear; the open fd is kept on the domain
 *  until it stops, so the device stays ours while libxl's hotplug script opens it. */
static int
s_loop_attach (void *arg, const vb_disk_def_t *disk, char **path_out, vb_error_t *err)
{
    xen_dom_t *dom = (xen_dom_t *) arg;
    int ctl = -1, file = -1, dev = -1;
    char path[64];
    int *fds = realloc (dom->loop_fds, (dom->nloops + 1) * sizeof *fds);
    if (!fds) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory attaching %s", disk->source);
        return -1;
    }
    dom->loop_fds = fds;
    file = open (disk->source, (disk->readonly? O_RDONLY: O_RDWR) | O_CLOEXEC);
    if (file < 0) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot open disk image %s of %s: %s",
                      disk->source, disk->target_dev, strerror (errno));
        goto fail;
    }
    ctl = open ("/dev/loop-control", O_RDWR | O_CLOEXEC);
    for (int attempt = 0; ctl >= 0 && attempt < 8 && dev < 0; attempt++) {
        int n = ioctl (ctl, LOOP_CTL_GET_FREE);
        if (n < 0)
            break;
        snprintf (path, sizeof path, "/dev/loop%d", n);
        dev = open (path, (disk->readonly? O_RDONLY: O_RDWR) | O_CLOEXEC);
        if (dev >= 0 && ioctl (dev, LOOP_SET_FD, file) != 0) {
            close (dev);   /* raced with another user of the device: take the next */
            dev = -1;
        }
    }
    if (dev < 0) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED,
                      "cannot attach disk image %s of %s to a loop device: %s", disk->source,
                      disk->target_dev, strerror (errno));
        goto fail;
    }
    struct loop_info64 info;
    memset (&info, 0, sizeof info);
    info.lo_flags = LO_FLAGS_AUTOCLEAR | (disk->readonly? LO_FLAGS_READ_ONLY: 0);
    snprintf ((char *) info.lo_file_name, sizeof info.lo_file_name, "%s", disk->source);
    if (ioctl (dev, LOOP_SET_STATUS64, &info) != 0) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot configure %s for %s: %s", path,
                      disk->source, strerror (errno));
        ioctl (dev, LOOP_CLR_FD, 0);
        goto fail;
    }
    *path_out = strdup (path);
    if (!*path_out) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory attaching %s", disk->source);
        goto fail;
    }
    dom->loop_fds[dom->nloops++] = dev;
    close (file);
    close (ctl);
    return 0;
fail:
    if (dev >= 0)
        close (dev);
    if (file >= 0)
        close (file);
    if (ctl >= 0)
        close (ctl);
    return -1;
}

static void s_start_dom (xen_state_t *st, xen_dom_t *dom, vb_call_t *call, bool paused);

static void
s_on_created (libxl_ctx *ctx, int rc, void *arg)
{
    xen_op_t *op = (xen_op_t *) arg;
    xen_state_t *st = op->st;
    vb_call_t *call = op->call;
    xen_dom_t *dom = s_find (st, op->uuid);
    if (!dom) {
        /*  Undefined while starting is refused, so this is only a safety net. */
        if (rc == 0)
            libxl_domain_destroy (ctx, op->domid, NULL);
        if (call)
            vb_call_reply_error (call, VB_ERR_OPERATION_FAILED, "domain %s vanished while "
                                 "starting", op->uuid);
        s_op_free (op);
        return;
    }
    dom->busy = false;
    if (rc != 0) {
        s_loops_release (dom);
        vb_warn ("domain %s: libxl could not create it (error %d)", dom->def->name, rc);
        if (call)
            vb_call_reply_error (call, VB_ERR_OPERATION_FAILED,
                                 "libxl could not create domain '%s' (libxl error %d); see "
                                 "the worker's log", dom->def->name, rc);
        s_op_free (op);
        return;
    }
    dom->domid = (int) op->domid;
    dom->restart = false;
    if (libxl_evenable_domain_death (ctx, op->domid, 0, &dom->death) != 0)
        vb_warn ("domain %s: cannot watch for its death", dom->def->name);
    dom->state = VB_STATE_RUNNING;
    dom->reason = VB_RUNNING_BOOTED;
    s_event (st, dom, "started", "booted");
    /*  libxl creates domains paused; xl unpauses unless asked not to. */
    if (op->paused) {
        dom->state = VB_STATE_PAUSED;
        dom->reason = VB_PAUSED_USER;
        s_event (st, dom, "suspended", "paused");
    }
    else if (libxl_domain_unpause (ctx, op->domid, NULL) != 0)
        vb_warn ("domain %s: cannot unpause it after creation", dom->def->name);
    if (call)
        vb_call_reply_ok (call, NULL);
    s_op_free (op);
}

static void
s_start_dom (xen_state_t *st, xen_dom_t *dom, vb_call_t *call, bool paused)
{
    vb_error_t err = { 0 };
    xen_op_t *op = s_op_new (st, call, dom);
    if (!op) {
        vb_error_set (&err, VB_ERR_INTERNAL, "out of memory starting domain '%s'",
                      dom->def->name);
        goto fail;
    }
    op->paused = paused;
    if (xen_config_from_def (dom->def, &st->host, &op->cfg, s_loop_attach, dom, &err) != 0)
        goto fail;
    libxl_asyncop_how how = { .callback = s_on_created, .u.for_callback = op };
    int rc = libxl_domain_create_new (st->ctx, &op->cfg, &op->domid, &how, NULL);
    if (rc != 0) {
        vb_error_set (&err, VB_ERR_OPERATION_FAILED,
                      "libxl could not create domain '%s' (libxl error %d)", dom->def->name, rc);
        goto fail;
    }
    dom->busy = true;
    return;
fail:
    if (op)
        s_op_free (op);
    s_loops_release (dom);
    vb_warn ("domain %s: %s", dom->def->name, err.message);
    if (call)
        vb_call_reply_err (call, &err);
}

static void
s_on_destroyed (libxl_ctx *ctx, int rc, void *arg)
{
    (void) ctx;
    xen_op_t *op = (xen_op_t *) arg;
    xen_state_t *st = op->st;
    vb_call_t *call = op->call;
    xen_dom_t *dom = s_find (st, op->uuid);
    if (dom)
        dom->busy = false;
    if (rc != 0) {
        if (call)
            vb_call_reply_error (call, VB_ERR_OPERATION_FAILED,
                                 "libxl could not destroy domain %s (libxl error %d)",
                                 op->uuid, rc);
        s_op_free (op);
        return;
    }
    bool restart = dom && dom->restart;
    if (dom && s_is_active (dom))
        s_dom_stopped (st, dom, dom->stop_reason? dom->stop_reason: VB_SHUTOFF_DESTROYED,
                       dom->stop_reason == VB_SHUTOFF_SHUTDOWN? "shutdown"
                       : dom->stop_reason == VB_SHUTOFF_CRASHED? "crashed": "destroyed");
    if (call)
        vb_call_reply_ok (call, NULL);
    s_op_free (op);
    dom = s_find (st, (const char *) (dom? dom->def->uuid: NULL));
    if (restart && dom)
        s_start_dom (st, dom, NULL, false);
}

/*  Destroy DOM asynchronously; its stop is reported as REASON. CALL may be NULL. */
static void
s_destroy_dom (xen_state_t *st, xen_dom_t *dom, vb_call_t *call, int reason)
{
    xen_op_t *op = s_op_new (st, call, dom);
    if (!op) {
        if (call)
            vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory destroying domain '%s'",
                                 dom->def->name);
        return;
    }
    dom->stop_reason = reason;
    libxl_asyncop_how how = { .callback = s_on_destroyed, .u.for_callback = op };
    int rc = libxl_domain_destroy (st->ctx, (uint32_t) dom->domid, &how);
    if (rc != 0) {
        s_op_free (op);
        if (call)
            vb_call_reply_error (call, VB_ERR_OPERATION_FAILED,
                                 "libxl could not destroy domain '%s' (libxl error %d)",
                                 dom->def->name, rc);
        return;
    }
    dom->busy = true;
}

/* --- libxl events --------------------------------------------------------------------------- */

static void
s_on_shutdown (xen_state_t *st, xen_dom_t *dom, int why)
{
    switch (why) {
    case LIBXL_SHUTDOWN_REASON_POWEROFF:
        /*  The guest powered off, by itself or asked by `vbsh shutdown` (DESIGN §5: as the
         *  QEMU driver reports a guest that obeys the power button). */
        s_event (st, dom, "shutdown", "guest");
        if (dom->def->on_poweroff == VB_LIFECYCLE_RESTART)
            dom->restart = true;
        if (dom->def->on_poweroff == VB_LIFECYCLE_PRESERVE) {
            dom->state = VB_STATE_SHUTDOWN;
            dom->reason = VB_SHUTDOWN_USER;
            return;
        }
        s_destroy_dom (st, dom, NULL, VB_SHUTOFF_SHUTDOWN);
        break;
    case LIBXL_SHUTDOWN_REASON_REBOOT:
        dom->restart = dom->def->on_reboot == VB_LIFECYCLE_RESTART
                       || dom->def->on_reboot == VB_LIFECYCLE_RENAME_RESTART;
        if (dom->def->on_reboot == VB_LIFECYCLE_PRESERVE)
            return;
        s_destroy_dom (st, dom, NULL, VB_SHUTOFF_SHUTDOWN);
        break;
    case LIBXL_SHUTDOWN_REASON_CRASH:
    case LIBXL_SHUTDOWN_REASON_WATCHDOG:
        s_event (st, dom, "crashed", "panicked");
        if (dom->def->on_crash == VB_LIFECYCLE_PRESERVE) {
            dom->state = VB_STATE_CRASHED;
            dom->reason = VB_CRASHED_PANICKED;
            return;
        }
        dom->restart = dom->def->on_crash == VB_LIFECYCLE_RESTART
                       || dom->def->on_crash == VB_LIFECYCLE_COREDUMP_RESTART;
        s_destroy_dom (st, dom, NULL, VB_SHUTOFF_CRASHED);
        break;
    default:
        /*  suspend (save) and soft reset are not driven by virtbus: report and destroy. */
        s_destroy_dom (st, dom, NULL, VB_SHUTOFF_SHUTDOWN);
        break;
    }
}

static void
s_on_event (void *user, libxl_event *ev)
{
    xen_state_t *st = (xen_state_t *) user;
    xen_dom_t *dom = s_find_domid (st, ev->domid);
    if (dom) {
        if (ev->type == LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN && !dom->busy)
            s_on_shutdown (st, dom, (int) ev->u.domain_shutdown.shutdown_reason);
        else if (ev->type == LIBXL_EVENT_TYPE_DOMAIN_DEATH && !dom->busy) {
            /*  Gone without us: `xl destroy` elsewhere. */
            s_dom_stopped (st, dom, VB_SHUTOFF_DESTROYED, "destroyed");
        }
    }
    libxl_event_free (st->ctx, ev);
}

static void
s_on_disaster (void *user, libxl_event_type type, const char *msg, int errnoval)
{
    (void) user;
    vb_error_log ("libxl event disaster (%d): %s: %s", (int) type, msg, strerror (errnoval));
}

/*  Every type to the callback: a type left out of the mask is queued for libxl_event_check,
 *  which nothing here calls (with 0, guest shutdowns and deaths were never seen). */
static const libxl_event_hooks s_event_hooks = {
    .event_occurs_mask = LIBXL_EVENTMASK_ALL,
    .event_occurs = s_on_event,
    .disaster = s_on_disaster,
};

/* --- children (hotplug scripts) ----------------------------------------------------------- */

/*  libxl forks /etc/xen/scripts/block and friends. Left to itself it installs a SIGCHLD
 *  handler, and a signal ends zloop (zmq_poll's EINTR stops the loop). So SIGCHLD is blocked,
 *  arrives through a signalfd on the loop, and the application reaps (libxl's "mainloop" mode).
 *  libzmq's and libxenstore's threads block all signals, so the signalfd sees every SIGCHLD. */
static int
s_on_sigchld (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    xen_state_t *st = (xen_state_t *) arg;
    struct signalfd_siginfo info;
    while (read (item->fd, &info, sizeof info) == (ssize_t) sizeof info)
        ;
    for (;;) {
        int status = 0;
        pid_t pid = waitpid (-1, &status, WNOHANG);
        if (pid <= 0)
            break;
        if (libxl_childproc_reaped (st->ctx, pid, status) != 0)
            vb_debug ("reaped child %d that libxl did not know", (int) pid);
    }
    return 0;
}

/*  Children must not inherit the blocked SIGCHLD (bash hotplug scripts wait for their own). */
static pid_t
s_fork (void *user)
{
    (void) user;
    pid_t pid = fork ();
    if (pid == 0) {
        sigset_t set;
        sigemptyset (&set);
        sigaddset (&set, SIGCHLD);
        sigprocmask (SIG_UNBLOCK, &set, NULL);
    }
    return pid;
}

static const libxl_childproc_hooks s_child_hooks = {
    .chldowner = libxl_sigchld_owner_mainloop,
    .fork_replacement = s_fork,
};

static int
s_children_init (xen_state_t *st, vb_error_t *err)
{
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGCHLD);
    if (pthread_sigmask (SIG_BLOCK, &set, NULL) != 0
        || (st->sigchld_fd = signalfd (-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot set up SIGCHLD handling: %s",
                      strerror (errno));
        return -1;
    }
    st->sigchld_item.fd = st->sigchld_fd;
    st->sigchld_item.events = ZMQ_POLLIN;
    if (zloop_poller (vb_worker_loop (st->worker), &st->sigchld_item, s_on_sigchld, st) != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot watch SIGCHLD on the event loop");
        return -1;
    }
    libxl_childproc_setmode (st->ctx, &s_child_hooks, st);
    return 0;
}

/* --- open / close -------------------------------------------------------------------------- */

static void s_close (void *state);

static int
s_check_xen (vb_error_t *err)
{
    const char *path = getenv ("VIRTBUS_XEN_CAPABILITIES");
    if (!path || !*path)
        path = XEN_CAPABILITIES_PATH;
    vb_error_t rerr = { 0 };
    size_t len = 0;
    char *caps = vb_read_file (path, 4096, &len, &rerr);
    if (!caps) {
        if (access (path, F_OK) != 0)
            vb_error_set (err, VB_ERR_HYPERVISOR_UNAVAILABLE,
                          "no Xen hypervisor: %s not found", path);
        else
            vb_error_set (err, VB_ERR_HYPERVISOR_UNAVAILABLE,
                          "no Xen hypervisor: cannot read %s", path);
        return -1;
    }
    bool control = strstr (caps, "control_d") != NULL;
    free (caps);
    if (!control) {
        vb_error_set (err, VB_ERR_HYPERVISOR_UNAVAILABLE,
                      "no Xen hypervisor: %s lacks control_d (this is not a Xen dom0)", path);
        return -1;
    }
    return 0;
}

static int
s_load_defs (xen_state_t *st, vb_error_t *err)
{
    zdir_t *dir = zdir_new (st->state_dir, NULL);
    if (!dir)
        return 0;
    zfile_t **files = zdir_flatten (dir);
    for (size_t i = 0; files && files[i]; i++) {
        const char *path = zfile_filename (files[i], NULL);
        size_t n = strlen (path);
        if (n < 4 || strcmp (path + n - 4, ".xml") != 0)
            continue;
        vb_error_t perr = { 0 };
        size_t len = 0;
        char *xml = vb_read_file (path, VB_DOMXML_MAX_BYTES, &len, &perr);
        vb_domain_def_t *def = xml? vb_domxml_parse (xml, len, &perr): NULL;
        free (xml);
        xen_dom_t *dom = def? calloc (1, sizeof *dom): NULL;
        if (!dom) {
            vb_warn ("skipping definition %s: %s", path, perr.message);
            vb_domain_def_free (&def);
            continue;
        }
        dom->def = def;
        dom->domid = -1;
        dom->state = VB_STATE_SHUTOFF;
        dom->persistent = true;
        zlistx_add_end (st->domains, dom);
    }
    zdir_flatten_free (&files);
    zdir_destroy (&dir);
    (void) err;
    return 0;
}

/*  Running Xen domains whose uuid is one of ours become ours again. */
static void
s_adopt (xen_state_t *st)
{
    int n = 0;
    libxl_dominfo *infos = libxl_list_domain (st->ctx, &n);
    for (int i = 0; infos && i < n; i++) {
        char uuid[37];
        snprintf (uuid, sizeof uuid, LIBXL_UUID_FMT, LIBXL_UUID_BYTES (infos[i].uuid));
        xen_dom_t *dom = s_find (st, uuid);
        if (!dom || infos[i].domid == 0 || infos[i].dying)
            continue;
        dom->domid = (int) infos[i].domid;
        dom->state = infos[i].paused? VB_STATE_PAUSED: VB_STATE_RUNNING;
        dom->reason = infos[i].paused? VB_PAUSED_USER: VB_RUNNING_BOOTED;
        if (libxl_evenable_domain_death (st->ctx, infos[i].domid, 0, &dom->death) != 0)
            vb_warn ("domain %s: cannot watch for its death", dom->def->name);
        vb_info ("domain %s: adopted running domain %d", dom->def->name, dom->domid);
    }
    if (infos)
        libxl_dominfo_list_free (infos, n);
}

static void *
s_open (vb_worker_t *worker, const vb_driver_config_t *config, vb_error_t *err)
{
    if (s_check_xen (err) != 0)
        return NULL;
    xen_state_t *st = calloc (1, sizeof *st);
    if (!st) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory while opening the Xen driver");
        return NULL;
    }
    st->worker = worker;
    st->sigchld_fd = -1;
    st->state_dir = strdup (config->state_dir);
    st->domains = zlistx_new ();
    st->ops = zlistx_new ();
    st->timeouts = zlistx_new ();
    st->fdregs = zlistx_new ();
    if (!st->state_dir || !st->domains || !st->ops || !st->timeouts || !st->fdregs) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory while opening the Xen driver");
        goto fail;
    }
    zlistx_set_destructor (st->domains, s_dom_destroy);
    st->logger = xtl_createlogger_stdiostream (stderr, XTL_WARN, 0);
    if (!st->logger
        || libxl_ctx_alloc (&st->ctx, LIBXL_VERSION, 0, (xentoollog_logger *) st->logger) != 0) {
        st->ctx = NULL;
        vb_error_set (err, VB_ERR_HYPERVISOR_UNAVAILABLE,
                      "no Xen hypervisor: libxl_ctx_alloc failed (is xenstored running?)");
        goto fail;
    }
    /*  HVM guests need VT-x/AMD-V; Xen under TCG (tests/xen-live) has neither. */
    libxl_physinfo physinfo;
    libxl_physinfo_init (&physinfo);
    if (libxl_get_physinfo (st->ctx, &physinfo) == 0) {
        st->host.hvm = physinfo.cap_hvm;
        st->host.hap = physinfo.cap_hap;
        st->host.shadow = physinfo.cap_shadow;
    }
    libxl_physinfo_dispose (&physinfo);
    vb_info ("xen: this host %s run HVM guests (hvm %s, hap %s, shadow paging %s)",
             st->host.hvm && (st->host.hap || st->host.shadow) ? "can" : "cannot",
             st->host.hvm ? "yes" : "no", st->host.hap ? "yes" : "no",
             st->host.shadow ? "yes" : "no");
    libxl_osevent_register_hooks (st->ctx, &s_osevent_hooks, st);
    libxl_event_register_callbacks (st->ctx, &s_event_hooks, st);
    if (s_children_init (st, err) != 0)
        goto fail;
    /*  Sector sizes for block stats; stats fall back to 512 without it. */
    st->xs = xs_open (XS_OPEN_READONLY);
    s_load_defs (st, err);
    s_adopt (st);
    return st;
fail:
    s_close (st);
    return NULL;
}

static void
s_close (void *state)
{
    xen_state_t *st = (xen_state_t *) state;
    if (!st)
        return;
    /*  Domains keep running. Freeing the context deregisters its fds and timeouts through
     *  the hooks, so it goes first. */
    for (xen_dom_t *dom = st->domains? (xen_dom_t *) zlistx_first (st->domains): NULL; dom;
         dom = (xen_dom_t *) zlistx_next (st->domains))
        if (dom->death) {
            libxl_evdisable_domain_death (st->ctx, dom->death);
            dom->death = NULL;
        }
    while (st->ops && zlistx_first (st->ops))
        s_op_free ((xen_op_t *) zlistx_first (st->ops));
    if (st->ctx)
        libxl_ctx_free (st->ctx);
    if (st->sigchld_fd >= 0) {
        zloop_poller_end (vb_worker_loop (st->worker), &st->sigchld_item);
        close (st->sigchld_fd);
    }
    if (st->logger)
        xtl_logger_destroy ((xentoollog_logger *) st->logger);
    if (st->xs)
        xs_close (st->xs);
    zloop_t *loop = vb_worker_loop (st->worker);
    for (xen_toreg_t *t = st->timeouts? (xen_toreg_t *) zlistx_first (st->timeouts): NULL; t;
         t = (xen_toreg_t *) zlistx_next (st->timeouts)) {
        zloop_timer_end (loop, t->timer);
        free (t);
    }
    for (xen_fdreg_t *f = st->fdregs? (xen_fdreg_t *) zlistx_first (st->fdregs): NULL; f;
         f = (xen_fdreg_t *) zlistx_next (st->fdregs)) {
        zloop_poller_end (loop, &f->item);
        free (f);
    }
    zlistx_destroy (&st->timeouts);
    zlistx_destroy (&st->fdregs);
    zlistx_destroy (&st->ops);
    zlistx_destroy (&st->domains);
    free (st->state_dir);
    free (st);
}

/* --- the driver table ---------------------------------------------------------------------- */

static json_object *
s_inventory (void *state)
{
    xen_state_t *st = (xen_state_t *) state;
    json_object *domains = json_object_new_array ();
    for (xen_dom_t *dom = (xen_dom_t *) zlistx_first (st->domains); dom;
         dom = (xen_dom_t *) zlistx_next (st->domains)) {
        json_object *entry = json_object_new_object ();
        json_object_object_add (entry, "name", json_object_new_string (dom->def->name));
        json_object_object_add (entry, "uuid", json_object_new_string (dom->def->uuid));
        json_object_object_add (entry, "state", json_object_new_int (dom->state));
        json_object_array_add (domains, entry);
    }
    return domains;
}

/*  libxl's view of a running domain; false when it is gone (then it is marked stopped). */
static bool
s_dominfo (xen_state_t *st, xen_dom_t *dom, libxl_dominfo *info)
{
    libxl_dominfo_init (info);
    if (!s_is_active (dom))
        return false;
    if (libxl_domain_info (st->ctx, info, (uint32_t) dom->domid) != 0) {
        libxl_dominfo_dispose (info);
        libxl_dominfo_init (info);
        if (!dom->busy)
            s_dom_stopped (st, dom, VB_SHUTOFF_DESTROYED, "destroyed");
        return false;
    }
    return true;
}

static json_object *
s_info (xen_state_t *st, xen_dom_t *dom, const vb_call_t *call)
{
    libxl_dominfo info;
    bool live = s_dominfo (st, dom, &info);
    json_object *o = json_object_new_object ();
    json_object_object_add (o, "name", json_object_new_string (dom->def->name));
    json_object_object_add (o, "uuid", json_object_new_string (dom->def->uuid));
    json_object_object_add (o, "id", json_object_new_int (dom->domid));
    json_object_object_add (o, "state", json_object_new_int (dom->state));
    json_object_object_add (o, "reason", json_object_new_int (dom->reason));
    json_object_object_add (o, "max_mem_kib", json_object_new_uint64 (dom->def->memory_kib));
    json_object_object_add (o, "memory_kib", json_object_new_uint64 (
        live? info.current_memkb: dom->def->current_memory_kib));
    json_object_object_add (o, "vcpus", json_object_new_int (
        live? (int) info.vcpu_online: (int) dom->def->vcpus));
    json_object_object_add (o, "cpu_time_ns", json_object_new_int64 (
        live? (int64_t) info.cpu_time: 0));
    json_object_object_add (o, "persistent", json_object_new_boolean (dom->persistent));
    json_object_object_add (o, "autostart", json_object_new_boolean (false));
    vb_call_domain_info_add_origin (call, o);
    libxl_dominfo_dispose (&info);
    return o;
}

static void
s_define (void *state, vb_call_t *call)
{
    xen_state_t *st = (xen_state_t *) state;
    vb_error_t err = { 0 };
    const char *xml = NULL;
    vb_domain_def_t *def = NULL;
    xen_dom_t *dom = NULL;

    if (vb_json_get_string (vb_call_args (call), "xml", true, &xml, &err) != 0)
        goto error;
    def = vb_domxml_parse (xml, strlen (xml), &err);
    if (!def || xen_config_check (def, &st->host, &err) != 0)
        goto error;
    xen_dom_t *same = s_find (st, def->name);
    if (!same)
        same = s_find (st, def->uuid);
    if (same && strcmp (same->def->uuid, def->uuid) != 0) {
        vb_error_set (&err, VB_ERR_OPERATION_INVALID, "domain '%s' already exists with uuid %s",
                      same->def->name, same->def->uuid);
        goto error;
    }
    if (same && strcmp (same->def->name, def->name) != 0) {
        vb_error_set (&err, VB_ERR_OPERATION_INVALID, "uuid %s already belongs to domain '%s'",
                      def->uuid, same->def->name);
        goto error;
    }
    if (same) {
        /*  Redefining replaces the definition, as libvirt; a running domain keeps running on
         *  the old one until it stops (simplification: the new one is used from then on). */
        vb_domain_def_t *old = same->def;
        same->def = def;
        def = NULL;
        same->persistent = true;
        if (s_save (st, same, &err) != 0) {
            def = same->def;
            same->def = old;
            goto error;
        }
        vb_domain_def_free (&old);
        dom = same;
    }
    else {
        dom = calloc (1, sizeof *dom);
        if (!dom) {
            vb_error_set (&err, VB_ERR_INTERNAL, "out of memory defining domain '%s'",
                          def->name);
            goto error;
        }
        dom->def = def;
        def = NULL;
        dom->domid = -1;
        dom->state = VB_STATE_SHUTOFF;
        dom->persistent = true;
        if (s_save (st, dom, &err) != 0 || !zlistx_add_end (st->domains, dom)) {
            if (err.code == VB_OK)
                vb_error_set (&err, VB_ERR_INTERNAL, "out of memory defining domain");
            s_dom_destroy ((void **) &dom);
            goto error;
        }
    }
    vb_worker_inventory_changed (st->worker);
    s_event (st, dom, "defined", same? "updated": "added");
    json_object *result = json_object_new_object ();
    json_object_object_add (result, "name", json_object_new_string (dom->def->name));
    json_object_object_add (result, "uuid", json_object_new_string (dom->def->uuid));
    vb_call_reply_ok (call, result);
    return;
error:
    vb_domain_def_free (&def);
    vb_call_reply_err (call, &err);
}

static void
s_undefine (void *state, vb_call_t *call)
{
    xen_state_t *st = (xen_state_t *) state;
    xen_dom_t *dom = s_target (st, call);
    if (!dom)
        return;
    if (!dom->persistent) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID,
                             "cannot undefine transient domain '%s'", dom->def->name);
        return;
    }
    if (dom->busy) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID,
                             "domain '%s' is starting or stopping; try again", dom->def->name);
        return;
    }
    char *path = s_def_path (st, dom->def->uuid);
    if (path && unlink (path) != 0 && errno != ENOENT) {
        vb_call_reply_error (call, VB_ERR_OPERATION_FAILED, "cannot remove %s: %s", path,
                             strerror (errno));
        free (path);
        return;
    }
    free (path);
    s_event (st, dom, "undefined", "removed");
    if (s_is_active (dom))
        dom->persistent = false;
    else
        zlistx_delete (st->domains, zlistx_find (st->domains, dom));
    vb_worker_inventory_changed (st->worker);
    vb_call_reply_ok (call, NULL);
}

static void
s_start (void *state, vb_call_t *call)
{
    xen_state_t *st = (xen_state_t *) state;
    xen_dom_t *dom = s_target (st, call);
    if (!dom)
        return;
    if (s_is_active (dom) || dom->busy) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is already running",
                             dom->def->name);
        return;
    }
    vb_error_t err = { 0 };
    bool paused = false;
    if (vb_json_get_bool (vb_call_args (call), "paused", false, &paused, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    s_start_dom (st, dom, call, paused);
}

static xen_dom_t *
s_active_target (xen_state_t *st, vb_call_t *call)
{
    xen_dom_t *dom = s_target (st, call);
    if (dom && (!s_is_active (dom) || dom->busy)) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID,
                             dom->busy? "domain '%s' is starting or stopping; try again"
                                      : "domain '%s' is not running", dom->def->name);
        return NULL;
    }
    return dom;
}

static void
s_destroy (void *state, vb_call_t *call)
{
    xen_state_t *st = (xen_state_t *) state;
    xen_dom_t *dom = s_active_target (st, call);
    if (dom) {
        dom->restart = false;
        s_destroy_dom (st, dom, call, VB_SHUTOFF_DESTROYED);
    }
}

static void
s_shutdown (void *state, vb_call_t *call)
{
    xen_state_t *st = (xen_state_t *) state;
    xen_dom_t *dom = s_active_target (st, call);
    if (!dom)
        return;
    int rc = libxl_domain_shutdown (st->ctx, (uint32_t) dom->domid, NULL);
    if (rc != 0)
        vb_call_reply_error (call, VB_ERR_OPERATION_FAILED,
                             "libxl could not ask domain '%s' to shut down (libxl error %d; "
                             "does the guest have PV drivers?)", dom->def->name, rc);
    else
        vb_call_reply_ok (call, NULL);
}

static void
s_reboot (void *state, vb_call_t *call)
{
    xen_state_t *st = (xen_state_t *) state;
    xen_dom_t *dom = s_active_target (st, call);
    if (!dom)
        return;
    int rc = libxl_domain_reboot (st->ctx, (uint32_t) dom->domid, NULL);
    if (rc != 0)
        vb_call_reply_error (call, VB_ERR_OPERATION_FAILED,
                             "libxl could not ask domain '%s' to reboot (libxl error %d)",
                             dom->def->name, rc);
    else
        vb_call_reply_ok (call, NULL);
}

static void
s_suspend (void *state, vb_call_t *call)
{
    xen_state_t *st = (xen_state_t *) state;
    xen_dom_t *dom = s_active_target (st, call);
    if (!dom)
        return;
    if (dom->state == VB_STATE_PAUSED) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is already paused",
                             dom->def->name);
        return;
    }
    int rc = libxl_domain_pause (st->ctx, (uint32_t) dom->domid, NULL);
    if (rc != 0) {
        vb_call_reply_error (call, VB_ERR_OPERATION_FAILED,
                             "libxl could not pause domain '%s' (libxl error %d)",
                             dom->def->name, rc);
        return;
    }
    dom->state = VB_STATE_PAUSED;
    dom->reason = VB_PAUSED_USER;
    s_event (st, dom, "suspended", "paused");
    vb_call_reply_ok (call, NULL);
}

static void
s_resume (void *state, vb_call_t *call)
{
    xen_state_t *st = (xen_state_t *) state;
    xen_dom_t *dom = s_active_target (st, call);
    if (!dom)
        return;
    if (dom->state != VB_STATE_PAUSED) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is not paused",
                             dom->def->name);
        return;
    }
    int rc = libxl_domain_unpause (st->ctx, (uint32_t) dom->domid, NULL);
    if (rc != 0) {
        vb_call_reply_error (call, VB_ERR_OPERATION_FAILED,
                             "libxl could not unpause domain '%s' (libxl error %d)",
                             dom->def->name, rc);
        return;
    }
    dom->state = VB_STATE_RUNNING;
    dom->reason = VB_RUNNING_UNPAUSED;
    s_event (st, dom, "resumed", "unpaused");
    vb_call_reply_ok (call, NULL);
}

static void
s_get_info (void *state, vb_call_t *call)
{
    xen_state_t *st = (xen_state_t *) state;
    xen_dom_t *dom = s_target (st, call);
    if (dom)
        vb_call_reply_ok (call, s_info (st, dom, call));
}

static void
s_get_xml (void *state, vb_call_t *call)
{
    xen_state_t *st = (xen_state_t *) state;
    xen_dom_t *dom = s_target (st, call);
    if (!dom)
        return;
    char *xml = vb_domxml_format (dom->def);
    if (!xml) {
        vb_call_reply_error (call, VB_ERR_INTERNAL,
                             "out of memory formatting the XML of domain '%s'", dom->def->name);
        return;
    }
    json_object *result = json_object_new_object ();
    json_object_object_add (result, "xml", json_object_new_string (xml));
    free (xml);
    vb_call_reply_ok (call, result);
}

static int
s_list_cmp (const void *a, const void *b)
{
    const xen_dom_t *x = *(const xen_dom_t *const *) a;
    const xen_dom_t *y = *(const xen_dom_t *const *) b;
    if (s_is_active (x) != s_is_active (y))
        return s_is_active (x)? -1: 1;
    if (s_is_active (x))
        return (x->domid > y->domid) - (x->domid < y->domid);
    return strcmp (x->def->name, y->def->name);
}

static void
s_list (void *state, vb_call_t *call)
{
    xen_state_t *st = (xen_state_t *) state;
    vb_error_t err = { 0 };
    bool all = false, inactive = false;
    if (vb_json_get_bool (vb_call_args (call), "all", false, &all, &err) != 0
        || vb_json_get_bool (vb_call_args (call), "inactive", false, &inactive, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    size_t n = zlistx_size (st->domains), count = 0;
    xen_dom_t **doms = calloc (n? n: 1, sizeof *doms);
    if (!doms) {
        vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory listing domains");
        return;
    }
    for (xen_dom_t *dom = (xen_dom_t *) zlistx_first (st->domains); dom;
         dom = (xen_dom_t *) zlistx_next (st->domains))
        if (all || (inactive? !s_is_active (dom): s_is_active (dom)))
            doms[count++] = dom;
    qsort (doms, count, sizeof *doms, s_list_cmp);
    json_object *result = json_object_new_array ();
    for (size_t i = 0; i < count; i++)
        json_object_array_add (result, s_info (st, doms[i], call));
    free (doms);
    vb_call_reply_ok (call, result);
}

static unsigned
s_sector_size (void *arg, int domid, long devno)
{
    xen_state_t *st = (xen_state_t *) arg;
    if (!st->xs)
        return 0;
    char path[128];
    unsigned int len = 0;
    snprintf (path, sizeof path, "/local/domain/0/backend/vbd/%d/%ld/sector-size", domid, devno);
    char *v = xs_read (st->xs, XBT_NULL, path, &len);
    unsigned size = v? (unsigned) strtoul (v, NULL, 10): 0;
    free (v);
    return size;
}

static json_object *
s_stats_record (xen_state_t *st, xen_dom_t *dom, const vb_call_t *call, unsigned mask,
                vb_error_t *err)
{
    libxl_dominfo info;
    bool live = s_dominfo (st, dom, &info);
    xen_vcpu_t *vcpus = NULL;
    int nv = 0, ncpus = 0;
    if (live && (mask & XEN_STATS_VCPU)) {
        libxl_vcpuinfo *vi = libxl_list_vcpu (st->ctx, (uint32_t) dom->domid, &nv, &ncpus);
        vcpus = vi && nv > 0? calloc ((size_t) nv, sizeof *vcpus): NULL;
        for (int i = 0; vcpus && i < nv; i++) {
            vcpus[i].id = vi[i].vcpuid;
            vcpus[i].online = vi[i].online;
            vcpus[i].running = vi[i].running;
            vcpus[i].blocked = vi[i].blocked;
            vcpus[i].time_ns = vi[i].vcpu_time;
        }
        if (vi)
            libxl_vcpuinfo_list_free (vi, nv);
    }
    xen_stats_input_t in = {
        .def = dom->def,
        .state = dom->state,
        .reason = dom->reason,
        .domid = live? dom->domid: -1,
        .cpu_time_ns = live? info.cpu_time: 0,
        .current_memkb = live? info.current_memkb: 0,
        .max_memkb = live? info.max_memkb: 0,
        .vcpus = vcpus,
        .nvcpus = vcpus? (size_t) nv: 0,
        .sector_size_fn = s_sector_size,
        .sector_size_arg = st,
    };
    json_object *record = xen_stats_record (&in, mask, (uint64_t) vb_wall_ns (), err);
    if (record)
        vb_call_domain_info_add_origin (call, record);
    free (vcpus);
    libxl_dominfo_dispose (&info);
    return record;
}

static void
s_get_stats (void *state, vb_call_t *call)
{
    xen_state_t *st = (xen_state_t *) state;
    vb_error_t err = { 0 };
    json_object *groups = NULL, *domains = NULL;
    json_object *args = vb_call_args (call);
    unsigned mask = 0;
    if (vb_json_get_array (args, "groups", false, &groups, &err) != 0
        || vb_json_get_array (args, "domains", false, &domains, &err) != 0
        || xen_stats_groups (groups, &mask, NULL, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    json_object *result = json_object_new_array ();
    size_t n = domains? json_object_array_length (domains): 0;
    for (size_t i = 0; domains && i < n; i++) {
        json_object *d = json_object_array_get_idx (domains, i);
        if (!json_object_is_type (d, json_type_string)) {
            json_object_put (result);
            vb_call_reply_error (call, VB_ERR_INVALID_ARG,
                                 "field 'domains' must be an array of strings");
            return;
        }
    }
    /*  Collect first: a stats read may find a domain gone and drop a transient one. */
    size_t total = zlistx_size (st->domains), count = 0;
    xen_dom_t **doms = calloc (total? total: 1, sizeof *doms);
    for (xen_dom_t *dom = doms? (xen_dom_t *) zlistx_first (st->domains): NULL; dom;
         dom = (xen_dom_t *) zlistx_next (st->domains)) {
        bool want = !domains;
        for (size_t i = 0; !want && i < n; i++) {
            const char *key = json_object_get_string (json_object_array_get_idx (domains, i));
            want = strcmp (dom->def->name, key) == 0 || strcasecmp (dom->def->uuid, key) == 0;
        }
        if (want)
            doms[count++] = dom;
    }
    for (size_t i = 0; i < count; i++) {
        if (!zlistx_find (st->domains, doms[i]))
            continue;
        json_object *record = s_stats_record (st, doms[i], call, mask, &err);
        if (record)
            json_object_array_add (result, record);
    }
    free (doms);
    vb_call_reply_ok (call, result);
}

const vb_driver_t xen_driver = {
    .name = "xen",
    .help = "virtbus-xen serves Xen PV domains (<domain type='xen'>) through libxl. It runs in\n"
            "a Xen dom0 (needs /proc/xen/capabilities with control_d and xenstored) and\n"
            "refuses to start elsewhere.",
    .open = s_open,
    .close = s_close,
    .inventory = s_inventory,
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
    .extra_ops = NULL,
};
