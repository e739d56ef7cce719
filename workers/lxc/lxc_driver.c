/*  lxc_driver — containers through liblxc (see lxc_driver.h). */
#include "lxc_driver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <lxc/lxccontainer.h>

#include "lxc_stats.h"
#include "vb_domstate.h"
#include "vb_domxml.h"
#include "vb_json.h"
#include "vb_log.h"
#include "vb_util.h"
#include "vb_worker.h"

/*  Seconds liblxc may take to finish stopping a container after its init was killed. */
#define LXC_STOP_WAIT_S 10
/*  blk-throttle accounts a queue's I/O only once a limit exists on it; this one (1 PB/s) is
 *  never reached. */
#define LXC_THROTTLE_NEVER "1099511627776000"
#define LXC_CGROUP_ROOT "/sys/fs/cgroup"

typedef struct _lxc_drv_t lxc_drv_t;

typedef struct {
    lxc_drv_t *drv;
    vb_domain_def_t *def;
    struct lxc_container *c;
    int lock_fd;              /* holds the flock on <uuid>.lock */
    int state;                /* vb_state_t */
    int reason;
    pid_t init_pid;           /* 0 when not running */
    int pidfd;                /* the init's pidfd on the loop; -1 when not watched */
    bool shutdown_requested;  /* the init's death is then a shutdown, not a failure */
    lxc_cgroup_t cg;          /* valid while running */
    struct lxc_job *job;      /* the blocking operation running for it, or NULL */
} ldom_t;

/*  A liblxc call that blocks (template create, start, stop) runs on a thread of its own, so the
 *  worker's loop keeps answering heartbeats and other requests; the thread signals an eventfd
 *  on the loop when done and the loop finishes the call. */
typedef enum { JOB_DEFINE, JOB_START, JOB_KILL, JOB_REBOOT } lxc_job_kind_t;

typedef struct lxc_job {
    struct _lxc_drv_t *drv;
    ldom_t *dom;                 /* NULL for a define */
    vb_call_t *call;
    lxc_job_kind_t kind;
    bool paused;                 /* start --paused */
    vb_domain_def_t *def;        /* define: the definition (owned until handed over) */
    struct lxc_container *c;     /* define: the new container */
    int lock_fd;                 /* define: the domain's lock */
    int rc;
    vb_error_t err;
    int efd;
    pthread_t thread;
    void *handle;                /* in drv->jobs */
} lxc_job_t;

struct _lxc_drv_t {
    vb_worker_t *worker;
    char *dir;                /* the shared state directory */
    char *lxcpath;            /* <dir>/containers */
    bool cgroup_v2;           /* pure cgroup v2 host */
    zlistx_t *domains;        /* ldom_t *, owned ones */
    zlistx_t *jobs;           /* lxc_job_t *, running */
};

static void s_job_free (lxc_job_t **job_p);

/* --- paths, locks, files ------------------------------------------------------------------- */

static char *
s_path (const lxc_drv_t *drv, const char *uuid, const char *suffix)
{
    char *path = NULL;
    if (asprintf (&path, "%s/%s%s", drv->dir, uuid, suffix) < 0)
        return NULL;
    return path;
}

static char *
s_ct_path (const lxc_drv_t *drv, const char *uuid, const char *file)
{
    char *path = NULL;
    if (asprintf (&path, "%s/%s%s%s", drv->lxcpath, uuid, file? "/": "", file? file: "") < 0)
        return NULL;
    return path;
}

/*  Take the exclusive lock on PATH. Returns the fd, -1 when another process holds it, -2 with
 *  ERR on failure. */
static int
s_lock (const char *path, bool wait, vb_error_t *err)
{
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot open lock file %s: %s", path,
                      strerror (errno));
        return -2;
    }
    if (flock (fd, LOCK_EX | (wait? 0: LOCK_NB)) != 0) {
        int e = errno;
        close (fd);
        if (e == EWOULDBLOCK)
            return -1;
        vb_error_set (err, VB_ERR_INTERNAL, "cannot lock %s: %s", path, strerror (e));
        return -2;
    }
    return fd;
}

static int
s_rm_one (const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void) sb;
    (void) ftw;
    if (flag == FTW_DP)
        rmdir (path);
    else
        unlink (path);
    return 0;
}

/*  rm -rf PATH without leaving its file system (a bind mount left behind is not followed). */
static void
s_rmtree (const char *path)
{
    nftw (path, s_rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

static void
s_status_write (ldom_t *dom)
{
    vb_error_t err = { 0 };
    char *path = s_path (dom->drv, dom->def->uuid, ".status");
    json_object *o = json_object_new_object ();
    json_object_object_add (o, "state", json_object_new_int (dom->state));
    json_object_object_add (o, "reason", json_object_new_int (dom->reason));
    json_object_object_add (o, "init_pid", json_object_new_int ((int) dom->init_pid));
    const char *text = json_object_to_json_string_ext (o, JSON_C_TO_STRING_PLAIN);
    if (!path || vb_write_file_atomic (path, text, strlen (text), &err) != 0)
        vb_warn ("lxc: cannot write the status of domain '%s': %s", dom->def->name,
                 path? err.message: "out of memory");
    json_object_put (o);
    free (path);
}

static void
s_status_remove (ldom_t *dom)
{
    char *path = s_path (dom->drv, dom->def->uuid, ".status");
    if (path)
        unlink (path);
    free (path);
}

/* --- domains ------------------------------------------------------------------------------- */

static void
s_event (ldom_t *dom, const char *event, const char *detail)
{
    vb_worker_emit_event (dom->drv->worker, dom->def->name, dom->def->uuid, "lifecycle", event,
                          detail, NULL);
}

static int s_on_init_exit (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static void
s_unwatch (ldom_t *dom)
{
    if (dom->pidfd >= 0) {
        zmq_pollitem_t item = { NULL, dom->pidfd, ZMQ_POLLIN, 0 };
        zloop_poller_end (vb_worker_loop (dom->drv->worker), &item);
        close (dom->pidfd);
        dom->pidfd = -1;
    }
}

/*  Watch the running container's init; locate its cgroups. -1 when the init is gone already. */
static int
s_watch (ldom_t *dom)
{
    vb_error_t err = { 0 };
    dom->init_pid = dom->c->init_pid (dom->c);
    if (dom->init_pid <= 0)
        return -1;
    int fd = (int) syscall (SYS_pidfd_open, dom->init_pid, 0);
    if (fd < 0)
        return -1;
    if (fcntl (fd, F_SETFD, FD_CLOEXEC) != 0) {
        close (fd);
        return -1;
    }
    zmq_pollitem_t item = { NULL, fd, ZMQ_POLLIN, 0 };
    if (zloop_poller (vb_worker_loop (dom->drv->worker), &item, s_on_init_exit, dom) != 0) {
        close (fd);
        return -1;
    }
    dom->pidfd = fd;
    lxc_cgroup_clear (&dom->cg);
    if (lxc_cgroup_find (LXC_CGROUP_ROOT, dom->init_pid, &dom->cg, &err) != 0)
        vb_warn ("lxc: domain '%s': %s", dom->def->name, err.message);
    return 0;
}

static void
s_set_state (ldom_t *dom, int state, int reason)
{
    dom->state = state;
    dom->reason = reason;
    if (state == VB_STATE_SHUTOFF) {
        s_unwatch (dom);
        lxc_cgroup_clear (&dom->cg);
        dom->init_pid = 0;
        dom->shutdown_requested = false;
        s_status_remove (dom);
    }
    else
        s_status_write (dom);
}

static int
s_on_init_exit (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    ldom_t *dom = (ldom_t *) arg;
    bool asked = dom->shutdown_requested;
    s_set_state (dom, VB_STATE_SHUTOFF, asked? VB_SHUTOFF_SHUTDOWN: VB_SHUTOFF_FAILED);
    if (asked) {
        s_event (dom, "shutdown", "guest");
        s_event (dom, "stopped", "shutdown");
    }
    else
        s_event (dom, "stopped", "failed");
    vb_worker_inventory_changed (dom->drv->worker);
    return 0;
}

static void
s_dom_free (ldom_t **dom_p)
{
    ldom_t *dom = *dom_p;
    if (!dom)
        return;
    s_unwatch (dom);
    lxc_cgroup_clear (&dom->cg);
    if (dom->c)
        lxc_container_put (dom->c);
    if (dom->lock_fd >= 0)
        close (dom->lock_fd);
    vb_domain_def_free (&dom->def);
    free (dom);
    *dom_p = NULL;
}

static void
s_dom_destroy_item (void **item)
{
    s_dom_free ((ldom_t **) item);
}

static ldom_t *
s_find (lxc_drv_t *drv, const char *key)
{
    if (!key)
        return NULL;
    for (ldom_t *dom = zlistx_first (drv->domains); dom; dom = zlistx_next (drv->domains))
        if (strcmp (dom->def->name, key) == 0 || strcasecmp (dom->def->uuid, key) == 0)
            return dom;
    return NULL;
}

static ldom_t *
s_target (lxc_drv_t *drv, vb_call_t *call)
{
    const char *key = vb_call_domain (call);
    ldom_t *dom = s_find (drv, key);
    if (!dom)
        vb_call_reply_error (call, VB_ERR_NO_DOMAIN, "domain '%s' not found on host %s",
                             key? key: "", vb_worker_host (drv->worker));
    return dom;
}

static bool
s_active (const ldom_t *dom)
{
    return dom->state != VB_STATE_SHUTOFF;
}

static ldom_t *
s_active_target (lxc_drv_t *drv, vb_call_t *call)
{
    ldom_t *dom = s_target (drv, call);
    if (dom && !s_active (dom)) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is not running",
                             dom->def->name);
        return NULL;
    }
    return dom;
}

/*  A liblxc handle for DOM's container with the saved config loaded fresh (in-memory items set
 *  for one start must not pile up). */
static int
s_reload (ldom_t *dom, vb_error_t *err)
{
    if (dom->c)
        lxc_container_put (dom->c);
    dom->c = lxc_container_new (dom->def->uuid, dom->drv->lxcpath);
    if (!dom->c)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED,
                             "liblxc cannot open container %s of domain '%s' in %s",
                             dom->def->uuid, dom->def->name, dom->drv->lxcpath);
    return 0;
}

/*  Follow the freezer of a container we believe is running (someone may have frozen or thawed
 *  it with lxc-freeze): thawed/frozen -> running/paused. */
static void
s_refresh (ldom_t *dom)
{
    vb_error_t err = { 0 };
    if (!s_active (dom) || dom->job)
        return;
    int frozen = lxc_cgroup_frozen (&dom->cg, &err);
    if (frozen == 1 && dom->state != VB_STATE_PAUSED) {
        s_set_state (dom, VB_STATE_PAUSED, VB_PAUSED_USER);
        s_event (dom, "suspended", "paused");
    }
    else if (frozen == 0 && dom->state == VB_STATE_PAUSED) {
        s_set_state (dom, VB_STATE_RUNNING, VB_RUNNING_UNPAUSED);
        s_event (dom, "resumed", "unpaused");
    }
}

/* --- definition -> container config -------------------------------------------------------- */

/*  The name of the first element in an extra_xml blob ("hostdev mode='subsystem'" style
 *  context is not needed: the element name says what is unsupported). */
static void
s_first_element (const char *xml, char *out, size_t size)
{
    const char *p = xml? strchr (xml, '<'): NULL;
    size_t n = 0;
    if (p) {
        p++;
        while (p[n] && p[n] != ' ' && p[n] != '>' && p[n] != '/' && p[n] != '\n')
            n++;
    }
    if (n >= size)
        n = size - 1;
    memcpy (out, p? p: "", n);
    out[n] = '\0';
}

/*  What the driver can run: INVALID_XML or UNSUPPORTED naming the element. */
static int
s_check_def (const vb_domain_def_t *def, vb_error_t *err)
{
    char elem[64];
    if (!def->type || strcmp (def->type, "lxc") != 0)
        return vb_error_set (err, VB_ERR_INVALID_XML,
                             "domain type '%s' is not served by the lxc driver; use "
                             "<domain type='lxc'>", def->type? def->type: "");
    if (!def->os_type || strcmp (def->os_type, "exe") != 0)
        return vb_error_set (err, VB_ERR_INVALID_XML,
                             "domain '%s': <os><type> is '%s'; a container needs 'exe'",
                             def->name, def->os_type? def->os_type: "");
    if (!def->os_init)
        return vb_error_set (err, VB_ERR_INVALID_XML,
                             "domain '%s' has no <os><init>: a container needs the program to "
                             "run as its init", def->name);
    if (def->os_init[0] != '/')
        return vb_error_set (err, VB_ERR_INVALID_XML,
                             "domain '%s': <init> '%s' is not an absolute path", def->name,
                             def->os_init);
    if (def->memory_kib == 0)
        return vb_error_set (err, VB_ERR_INVALID_XML, "domain '%s': <memory> is 0", def->name);
    if (def->os_kernel || def->os_initrd || def->os_cmdline)
        return vb_error_set (err, VB_ERR_UNSUPPORTED,
                             "domain '%s': <kernel>, <initrd> and <cmdline> are not supported "
                             "by the lxc driver", def->name);
    if (def->os_extra_xml) {
        s_first_element (def->os_extra_xml, elem, sizeof elem);
        return vb_error_set (err, VB_ERR_UNSUPPORTED,
                             "domain '%s': <os><%s> is not supported by the lxc driver",
                             def->name, elem);
    }
    if (def->ndisks > 0)
        return vb_error_set (err, VB_ERR_UNSUPPORTED,
                             "domain '%s': <disk> is not supported by the lxc driver; give a "
                             "block device with <hostdev mode='capabilities' type='storage'>",
                             def->name);
    for (size_t i = 0; i < def->nnets; i++)
        if (def->nets[i].type != VB_NET_TYPE_ETHERNET)
            return vb_error_set (err, VB_ERR_UNSUPPORTED,
                                 "domain '%s': <interface type='user'> is not supported by the "
                                 "lxc driver; use type='ethernet'", def->name);
    for (size_t i = 0; i < def->nchrs; i++)
        if (def->chrs[i].kind == VB_CHR_SERIAL)
            return vb_error_set (err, VB_ERR_UNSUPPORTED,
                                 "domain '%s': <serial> is not supported by the lxc driver; "
                                 "use <console type='pty'>", def->name);
    for (size_t i = 0; i < def->nfss; i++)
        if (!def->fss[i].source)
            return vb_error_set (err, VB_ERR_INVALID_XML,
                                 "domain '%s': <filesystem> for '%s' has no <source dir=...>",
                                 def->name, def->fss[i].target);
    if (def->extra_devices_xml) {
        s_first_element (def->extra_devices_xml, elem, sizeof elem);
        return vb_error_set (err, VB_ERR_UNSUPPORTED,
                             "domain '%s': <%s> is not supported by the lxc driver (only "
                             "<hostdev mode='capabilities' type='storage'>)", def->name, elem);
    }
    return 0;
}

static int
s_set (struct lxc_container *c, const char *key, const char *value, vb_error_t *err)
{
    if (!c->set_config_item (c, key, value))
        return vb_error_set (err, VB_ERR_OPERATION_FAILED,
                             "liblxc refused config item %s = %s", key, value);
    return 0;
}

/*  The saved part of the container's config, from DEF (on top of the template's, if any). */
static int
s_apply_config (lxc_drv_t *drv, const vb_domain_def_t *def, struct lxc_container *c,
                bool templated, vb_error_t *err)
{
    char key[64], value[4200];
    char *log = s_ct_path (drv, def->uuid, "lxc.log");
    char *console = s_ct_path (drv, def->uuid, "console.log");
    int rc = -1;

    if (!log || !console) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory configuring domain '%s'", def->name);
        goto cleanup;
    }
    c->clear_config_item (c, "lxc.net");
    if (s_set (c, "lxc.uts.name", def->name, err) != 0
        || s_set (c, "lxc.apparmor.profile", "unconfined", err) != 0
        || s_set (c, "lxc.log.file", log, err) != 0
        || s_set (c, "lxc.log.level", "WARN", err) != 0
        || s_set (c, "lxc.console.logfile", console, err) != 0)
        goto cleanup;
    snprintf (value, sizeof value, "%" PRIu64, def->memory_kib * 1024);
    if (s_set (c, drv->cgroup_v2? "lxc.cgroup2.memory.max": "lxc.cgroup.memory.limit_in_bytes",
               value, err) != 0)
        goto cleanup;
    if (def->nnets == 0 && s_set (c, "lxc.net.0.type", "empty", err) != 0)
        goto cleanup;
    for (size_t i = 0; i < def->nnets; i++) {
        const vb_net_def_t *n = &def->nets[i];
        snprintf (key, sizeof key, "lxc.net.%zu.type", i);
        if (s_set (c, key, "veth", err) != 0)
            goto cleanup;
        snprintf (key, sizeof key, "lxc.net.%zu.flags", i);
        if (s_set (c, key, "up", err) != 0)
            goto cleanup;
        snprintf (key, sizeof key, "lxc.net.%zu.veth.pair", i);
        if (n->target_dev && s_set (c, key, n->target_dev, err) != 0)
            goto cleanup;
        snprintf (key, sizeof key, "lxc.net.%zu.hwaddr", i);
        if (n->mac && s_set (c, key, n->mac, err) != 0)
            goto cleanup;
    }
    for (size_t i = 0; i < def->nfss; i++) {
        const vb_fs_def_t *fs = &def->fss[i];
        if (strcmp (fs->target, "/") == 0) {
            snprintf (value, sizeof value, "dir:%s", fs->source);
            if (s_set (c, "lxc.rootfs.path", value, err) != 0)
                goto cleanup;
        }
        else {
            snprintf (value, sizeof value, "%s %s none bind,create=dir%s 0 0", fs->source,
                      fs->target + 1, fs->readonly? ",ro": "");
            if (s_set (c, "lxc.mount.entry", value, err) != 0)
                goto cleanup;
        }
    }
    if (!templated) {
        /*  What the busybox template would have given a rootfs of the user's. */
        if (s_set (c, "lxc.autodev", "1", err) != 0
            || s_set (c, "lxc.mount.auto", "cgroup:mixed proc:mixed sys:ro", err) != 0
            || s_set (c, "lxc.pty.max", "1", err) != 0)
            goto cleanup;
    }
    rc = 0;
cleanup:
    free (log);
    free (console);
    return rc;
}

/*  The per-start part (not saved): hostdev block devices, whose numbers are looked up now. */
static int
s_apply_hostdevs (lxc_drv_t *drv, const vb_domain_def_t *def, struct lxc_container *c,
                  vb_error_t *err)
{
    char value[4200];
    for (size_t i = 0; i < def->nhostdevs; i++) {
        const char *path = def->hostdevs[i].block;
        struct stat sb;
        if (stat (path, &sb) != 0 || !S_ISBLK (sb.st_mode))
            return vb_error_set (err, VB_ERR_OPERATION_FAILED,
                                 "domain '%s': hostdev %s is not a block device", def->name,
                                 path);
        unsigned maj = major (sb.st_rdev), min = minor (sb.st_rdev);
        snprintf (value, sizeof value, "b %u:%u rwm", maj, min);
        if (s_set (c, drv->cgroup_v2? "lxc.cgroup2.devices.allow": "lxc.cgroup.devices.allow",
                   value, err) != 0)
            return -1;
        snprintf (value, sizeof value, "%s %s none bind,create=file 0 0", path, path + 1);
        if (s_set (c, "lxc.mount.entry", value, err) != 0)
            return -1;
        if (!drv->cgroup_v2) {
            snprintf (value, sizeof value, "%u:%u " LXC_THROTTLE_NEVER, maj, min);
            if (s_set (c, "lxc.cgroup.blkio.throttle.write_bps_device", value, err) != 0)
                return -1;
        }
    }
    return 0;
}

/* --- loading and adopting ------------------------------------------------------------------ */

/*  Read <uuid>.xml of a domain whose lock we hold. */
static vb_domain_def_t *
s_read_def (lxc_drv_t *drv, const char *uuid, vb_error_t *err)
{
    char *path = s_path (drv, uuid, ".xml");
    size_t len = 0;
    char *xml = path? vb_read_file (path, VB_DOMXML_MAX_BYTES, &len, err): NULL;
    vb_domain_def_t *def = xml? vb_domxml_parse (xml, len, err): NULL;
    free (xml);
    free (path);
    return def;
}

/*  Take over domain UUID (lock held as LOCK_FD, taken): its container is looked at through
 *  liblxc, a running one watched again; one that died while nobody owned it is reported. */
static ldom_t *
s_adopt (lxc_drv_t *drv, const char *uuid, int lock_fd, bool quiet)
{
    vb_error_t err = { 0 };
    ldom_t *dom = calloc (1, sizeof *dom);
    if (!dom) {
        close (lock_fd);
        return NULL;
    }
    dom->drv = drv;
    dom->lock_fd = lock_fd;
    dom->pidfd = -1;
    dom->state = VB_STATE_SHUTOFF;
    dom->def = s_read_def (drv, uuid, &err);
    if (!dom->def || s_reload (dom, &err) != 0) {
        if (!quiet)
            vb_warn ("lxc: cannot adopt domain %s: %s", uuid, err.message);
        s_dom_free (&dom);
        return NULL;
    }
    char *status_path = s_path (drv, uuid, ".status");
    char *status = status_path? vb_read_file (status_path, 4096, NULL, &err): NULL;
    json_object *saved = status? json_tokener_parse (status): NULL;
    if (dom->c->is_running (dom->c) && s_watch (dom) == 0) {
        bool frozen = lxc_cgroup_frozen (&dom->cg, &err) == 1;
        int reason = (int) vb_json_int (saved, "reason", frozen? VB_PAUSED_USER: VB_RUNNING_BOOTED);
        int was = (int) vb_json_int (saved, "state", -1);
        dom->state = frozen? VB_STATE_PAUSED: VB_STATE_RUNNING;
        dom->reason = was == dom->state? reason: (frozen? VB_PAUSED_USER: VB_RUNNING_UNPAUSED);
        s_status_write (dom);
        if (was == VB_STATE_RUNNING && frozen)
            s_event (dom, "suspended", "paused");
        else if (was == VB_STATE_PAUSED && !frozen)
            s_event (dom, "resumed", "unpaused");
    }
    else if (saved) {
        /*  It was running when its last owner died and is gone now. */
        s_unwatch (dom);
        s_set_state (dom, VB_STATE_SHUTOFF, VB_SHUTOFF_FAILED);
        s_event (dom, "stopped", "failed");
    }
    json_object_put (saved);
    free (status);
    free (status_path);
    if (!zlistx_add_end (drv->domains, dom)) {
        s_dom_free (&dom);
        return NULL;
    }
    return dom;
}

/*  Try to own every domain of the directory nobody owns. Returns how many were adopted. */
static int
s_scan (lxc_drv_t *drv)
{
    int adopted = 0;
    DIR *d = opendir (drv->dir);
    if (!d)
        return 0;
    for (struct dirent *e = readdir (d); e; e = readdir (d)) {
        size_t n = strlen (e->d_name);
        if (n != 36 + 4 || strcmp (e->d_name + 36, ".xml") != 0)
            continue;
        char uuid[37];
        memcpy (uuid, e->d_name, 36);
        uuid[36] = '\0';
        if (!vb_uuid_is_valid (uuid) || s_find (drv, uuid))
            continue;
        vb_error_t err = { 0 };
        char *lock = s_path (drv, uuid, ".lock");
        int fd = lock? s_lock (lock, false, &err): -2;
        free (lock);
        if (fd < 0)
            continue;
        /*  It may have been undefined between readdir and the lock. */
        char *xml = s_path (drv, uuid, ".xml");
        bool exists = xml && access (xml, F_OK) == 0;
        free (xml);
        if (!exists) {
            close (fd);
            continue;
        }
        if (s_adopt (drv, uuid, fd, false))
            adopted++;
    }
    closedir (d);
    return adopted;
}

/* --- the driver table ---------------------------------------------------------------------- */

static void *
s_open (vb_worker_t *worker, const vb_driver_config_t *config, vb_error_t *err)
{
    lxc_drv_t *drv = calloc (1, sizeof *drv);
    if (!drv) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory while opening the lxc driver");
        return NULL;
    }
    drv->worker = worker;
    drv->dir = strdup (config->state_dir);
    drv->domains = zlistx_new ();
    drv->jobs = zlistx_new ();
    if (!drv->dir || !drv->domains || !drv->jobs
        || asprintf (&drv->lxcpath, "%s/containers", drv->dir) < 0) {
        drv->lxcpath = NULL;
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory while opening the lxc driver");
        goto error;
    }
    zlistx_set_destructor (drv->domains, s_dom_destroy_item);
    if (access ("/proc/self/ns/pid", F_OK) != 0 || geteuid () != 0) {
        vb_error_set (err, VB_ERR_HYPERVISOR_UNAVAILABLE,
                      "the lxc driver needs root and namespaces (running as uid %d)",
                      (int) geteuid ());
        goto error;
    }
    if (vb_mkdir_p (drv->lxcpath, 0755, err) != 0)
        goto error;
    drv->cgroup_v2 = access (LXC_CGROUP_ROOT "/cgroup.controllers", F_OK) == 0;
    s_scan (drv);
    return drv;

error:
    zlistx_destroy (&drv->domains);
    zlistx_destroy (&drv->jobs);
    free (drv->lxcpath);
    free (drv->dir);
    free (drv);
    return NULL;
}

static void
s_close (void *state)
{
    lxc_drv_t *drv = (lxc_drv_t *) state;
    /*  Jobs are bounded (LXC_STOP_WAIT_S); their calls belong to the core, which frees them
     *  unanswered. */
    zloop_t *loop = vb_worker_loop (drv->worker);
    for (lxc_job_t *job = zlistx_first (drv->jobs); job; job = zlistx_next (drv->jobs)) {
        zmq_pollitem_t item = { NULL, job->efd, ZMQ_POLLIN, 0 };
        zloop_poller_end (loop, &item);
        pthread_join (job->thread, NULL);
        if (job->dom)
            job->dom->job = NULL;
        s_job_free (&job);
    }
    zlistx_destroy (&drv->jobs);
    zlistx_destroy (&drv->domains);
    free (drv->lxcpath);
    free (drv->dir);
    free (drv);
}

static json_object *
s_inventory (void *state)
{
    lxc_drv_t *drv = (lxc_drv_t *) state;
    json_object *domains = json_object_new_array ();
    for (ldom_t *dom = zlistx_first (drv->domains); dom; dom = zlistx_next (drv->domains)) {
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
    lxc_drv_t *drv = (lxc_drv_t *) state;
    if (s_scan (drv) > 0)
        vb_worker_inventory_changed (drv->worker);
    for (ldom_t *dom = zlistx_first (drv->domains); dom; dom = zlistx_next (drv->domains))
        s_refresh (dom);
}

/*  Is NAME or UUID already defined in the directory (by any worker)? Fills ERR when so. */
static bool
s_taken (lxc_drv_t *drv, const vb_domain_def_t *def, vb_error_t *err)
{
    bool taken = false;
    DIR *d = opendir (drv->dir);
    if (!d)
        return false;
    for (struct dirent *e = readdir (d); e && !taken; e = readdir (d)) {
        size_t n = strlen (e->d_name);
        if (n != 40 || strcmp (e->d_name + 36, ".xml") != 0)
            continue;
        char uuid[37];
        memcpy (uuid, e->d_name, 36);
        uuid[36] = '\0';
        if (strcasecmp (uuid, def->uuid) == 0) {
            vb_error_set (err, VB_ERR_OPERATION_INVALID, "a domain with uuid %s already exists",
                          def->uuid);
            taken = true;
            break;
        }
        vb_error_t ignored = { 0 };
        vb_domain_def_t *other = s_read_def (drv, uuid, &ignored);
        if (other && strcmp (other->name, def->name) == 0) {
            vb_error_set (err, VB_ERR_OPERATION_INVALID, "domain '%s' already exists",
                          def->name);
            taken = true;
        }
        vb_domain_def_free (&other);
    }
    closedir (d);
    return taken;
}

/* --- blocking work, on job threads --------------------------------------------------------- */

/*  Define, the part that touches the disk: under define.lock, check the name is free, take the
 *  domain's lock, make the container (busybox template or an empty directory), save its config
 *  and write <uuid>.xml. Nothing is left behind on error. */
static int
s_define_work (lxc_job_t *job)
{
    lxc_drv_t *drv = job->drv;
    const vb_domain_def_t *def = job->def;
    vb_error_t *err = &job->err;
    char *define_lock = s_path (drv, "define", ".lock");
    char *lock_path = s_path (drv, def->uuid, ".lock");
    char *xml_path = s_path (drv, def->uuid, ".xml");
    char *ct_dir = s_ct_path (drv, def->uuid, NULL);
    char *text = NULL;
    int define_fd = -1, rc = -1;
    bool made = false;

    if (!define_lock || !lock_path || !xml_path || !ct_dir) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory defining domain '%s'", def->name);
        goto cleanup;
    }
    /*  Names are unique in the directory; a sibling defining at the same time waits here. */
    define_fd = s_lock (define_lock, true, err);
    if (define_fd < 0 || s_taken (drv, def, err))
        goto cleanup;
    job->lock_fd = s_lock (lock_path, false, err);
    if (job->lock_fd == -1)
        vb_error_set (err, VB_ERR_OPERATION_INVALID, "domain %s is being defined elsewhere",
                      def->uuid);
    if (job->lock_fd < 0)
        goto cleanup;

    bool templated = true;
    for (size_t i = 0; i < def->nfss; i++)
        if (strcmp (def->fss[i].target, "/") == 0)
            templated = false;
    s_rmtree (ct_dir);   /* leftovers of a define that crashed half-way */
    made = true;
    job->c = lxc_container_new (def->uuid, drv->lxcpath);
    if (!job->c) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "liblxc cannot make container %s",
                      def->uuid);
        goto cleanup;
    }
    if (templated) {
        if (!job->c->create (job->c, "busybox", NULL, NULL, LXC_CREATE_QUIET, NULL)) {
            vb_error_set (err, VB_ERR_OPERATION_FAILED,
                          "liblxc could not create the busybox rootfs of domain '%s' in %s",
                          def->name, ct_dir);
            goto cleanup;
        }
    }
    else if (mkdir (ct_dir, 0755) != 0) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot create %s: %s", ct_dir,
                      strerror (errno));
        goto cleanup;
    }
    if (s_apply_config (drv, def, job->c, templated, err) != 0)
        goto cleanup;
    if (!job->c->save_config (job->c, NULL)) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED,
                      "liblxc could not save the config of domain '%s' in %s", def->name,
                      ct_dir);
        goto cleanup;
    }
    text = vb_domxml_format (def);
    if (!text) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory formatting domain '%s'", def->name);
        goto cleanup;
    }
    if (vb_write_file_atomic (xml_path, text, strlen (text), err) != 0)
        goto cleanup;
    rc = 0;
cleanup:
    if (rc != 0) {
        if (made)
            s_rmtree (ct_dir);
        if (job->lock_fd >= 0) {
            unlink (lock_path);
            close (job->lock_fd);
            job->lock_fd = -1;
        }
        if (job->c)
            lxc_container_put (job->c);
        job->c = NULL;
    }
    if (define_fd >= 0)
        close (define_fd);
    free (text);
    free (define_lock);
    free (lock_path);
    free (xml_path);
    free (ct_dir);
    return rc;
}

/*  Start DOM's container (stopped): liblxc returns once it runs. */
static int
s_launch_work (ldom_t *dom, vb_error_t *err)
{
    const vb_domain_def_t *def = dom->def;
    size_t nargs = 0;
    int rc = -1;
    char **argv = NULL;

    if (s_reload (dom, err) != 0)
        return -1;
    /*  liblxc may still be tidying up after the previous init died. */
    if (dom->c->is_running (dom->c))
        dom->c->wait (dom->c, "STOPPED", LXC_STOP_WAIT_S);
    if (dom->c->is_running (dom->c))
        return vb_error_set (err, VB_ERR_OPERATION_FAILED,
                             "container of domain '%s' is still stopping", def->name);
    if (s_apply_hostdevs (dom->drv, def, dom->c, err) != 0)
        return -1;
    while (def->os_initargs && def->os_initargs[nargs])
        nargs++;
    argv = calloc (nargs + 2, sizeof *argv);
    if (!argv)
        return vb_error_set (err, VB_ERR_INTERNAL, "out of memory starting domain '%s'",
                             def->name);
    argv[0] = def->os_init;
    for (size_t i = 0; i < nargs; i++)
        argv[i + 1] = def->os_initargs[i];
    dom->c->want_daemonize (dom->c, true);
    /*  The monitor liblxc forks is a copy of this process without exec: it must not keep our
     *  broker socket or our flocks (a restarted worker could not take its domains back). */
    dom->c->want_close_all_fds (dom->c, true);
    if (!dom->c->start (dom->c, 0, argv)) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED,
                      "liblxc could not start the container of domain '%s'; see %s/%s/lxc.log",
                      def->name, dom->drv->lxcpath, def->uuid);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free (argv);
    return rc;
}

/*  Kill DOM's container and wait (bounded) until liblxc says it is stopped. */
static int
s_kill_work (ldom_t *dom, bool frozen, vb_error_t *err)
{
    if (dom->c->is_running (dom->c)) {
        /*  A frozen init cannot die until thawed. */
        if (frozen) {
            vb_error_t ferr = { 0 };
            lxc_cgroup_freeze (&dom->cg, false, &ferr);
        }
        if (!dom->c->stop (dom->c) && dom->c->is_running (dom->c))
            return vb_error_set (err, VB_ERR_OPERATION_FAILED,
                                 "liblxc could not stop the container of domain '%s'",
                                 dom->def->name);
        dom->c->wait (dom->c, "STOPPED", LXC_STOP_WAIT_S);
    }
    return 0;
}

static void *
s_job_thread (void *arg)
{
    lxc_job_t *job = (lxc_job_t *) arg;
    switch (job->kind) {
    case JOB_DEFINE:
        job->rc = s_define_work (job);
        break;
    case JOB_START:
        job->rc = s_launch_work (job->dom, &job->err);
        break;
    case JOB_KILL:
        job->rc = s_kill_work (job->dom, job->paused, &job->err);
        break;
    case JOB_REBOOT:
        job->rc = s_kill_work (job->dom, job->paused, &job->err);
        if (job->rc == 0)
            job->rc = s_launch_work (job->dom, &job->err);
        break;
    }
    uint64_t one = 1;
    if (write (job->efd, &one, sizeof one) != sizeof one)
        vb_warn ("lxc: cannot signal the end of a job: %s", strerror (errno));
    return NULL;
}

static void
s_job_free (lxc_job_t **job_p)
{
    lxc_job_t *job = *job_p;
    if (!job)
        return;
    if (job->efd >= 0)
        close (job->efd);
    if (job->c)
        lxc_container_put (job->c);
    if (job->lock_fd >= 0)
        close (job->lock_fd);
    vb_domain_def_free (&job->def);
    free (job);
    *job_p = NULL;
}

static void s_job_done (lxc_job_t *job);

static int
s_on_job_event (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    lxc_job_t *job = (lxc_job_t *) arg;
    zloop_poller_end (loop, item);
    pthread_join (job->thread, NULL);
    zlistx_detach (job->drv->jobs, job->handle);
    if (job->dom)
        job->dom->job = NULL;
    s_job_done (job);
    s_job_free (&job);
    return 0;
}

/*  Run KIND for CALL on a thread. DEF (define) is taken. Answers the call itself on failure. */
static void
s_job_run (lxc_drv_t *drv, ldom_t *dom, vb_call_t *call, lxc_job_kind_t kind, bool paused,
           vb_domain_def_t *def)
{
    lxc_job_t *job = calloc (1, sizeof *job);
    if (!job) {
        vb_domain_def_free (&def);
        vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory scheduling %s",
                             vb_call_op (call));
        return;
    }
    job->drv = drv;
    job->dom = dom;
    job->call = call;
    job->kind = kind;
    job->paused = paused;
    job->def = def;
    job->lock_fd = -1;
    job->efd = eventfd (0, EFD_CLOEXEC | EFD_NONBLOCK);
    zmq_pollitem_t item = { NULL, job->efd, ZMQ_POLLIN, 0 };
    if (job->efd < 0
        || zloop_poller (vb_worker_loop (drv->worker), &item, s_on_job_event, job) != 0) {
        vb_call_reply_error (call, VB_ERR_INTERNAL, "cannot watch a job for %s: %s",
                             vb_call_op (call), strerror (errno));
        s_job_free (&job);
        return;
    }
    job->handle = zlistx_add_end (drv->jobs, job);
    if (!job->handle || pthread_create (&job->thread, NULL, s_job_thread, job) != 0) {
        zloop_poller_end (vb_worker_loop (drv->worker), &item);
        if (job->handle)
            zlistx_detach (drv->jobs, job->handle);
        vb_call_reply_error (call, VB_ERR_INTERNAL, "cannot start a thread for %s",
                             vb_call_op (call));
        s_job_free (&job);
        return;
    }
    if (dom)
        dom->job = job;
}

/*  The loop's half of a finished job: state, events, the answer. */
static void
s_job_done (lxc_job_t *job)
{
    lxc_drv_t *drv = job->drv;
    ldom_t *dom = job->dom;
    vb_call_t *call = job->call;

    if (job->rc != 0) {
        if ((job->kind == JOB_REBOOT || job->kind == JOB_KILL) && s_active (dom)
            && !dom->c->is_running (dom->c)) {
            /*  Down and not up again: say so, as a failure. */
            s_set_state (dom, VB_STATE_SHUTOFF, VB_SHUTOFF_FAILED);
            s_event (dom, "stopped", "failed");
            vb_worker_inventory_changed (drv->worker);
        }
        else if (job->kind == JOB_KILL && s_active (dom))
            s_watch (dom);   /* still running: keep watching it */
        vb_call_reply_err (call, &job->err);
        return;
    }
    switch (job->kind) {
    case JOB_DEFINE: {
        ldom_t *nd = calloc (1, sizeof *nd);
        if (!nd || !zlistx_add_end (drv->domains, nd)) {
            free (nd);
            vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory defining domain '%s'",
                                 job->def->name);
            return;
        }
        nd->drv = drv;
        nd->def = job->def;
        job->def = NULL;
        nd->c = job->c;
        job->c = NULL;
        nd->lock_fd = job->lock_fd;
        job->lock_fd = -1;
        nd->pidfd = -1;
        nd->state = VB_STATE_SHUTOFF;
        nd->reason = VB_REASON_UNKNOWN;
        /*  DOMAINS before the reply, so the broker knows the domain when the client hears. */
        vb_worker_inventory_changed (drv->worker);
        s_event (nd, "defined", "added");
        json_object *result = json_object_new_object ();
        json_object_object_add (result, "name", json_object_new_string (nd->def->name));
        json_object_object_add (result, "uuid", json_object_new_string (nd->def->uuid));
        vb_call_reply_ok (call, result);
        return;
    }
    case JOB_START:
    case JOB_REBOOT:
        if (s_watch (dom) != 0) {
            s_set_state (dom, VB_STATE_SHUTOFF, VB_SHUTOFF_FAILED);
            if (job->kind == JOB_REBOOT)
                s_event (dom, "stopped", "failed");
            vb_worker_inventory_changed (drv->worker);
            vb_call_reply_error (call, VB_ERR_OPERATION_FAILED,
                                 "the init of domain '%s' exited as soon as it started; see "
                                 "%s/%s/console.log", dom->def->name, drv->lxcpath,
                                 dom->def->uuid);
            return;
        }
        s_set_state (dom, VB_STATE_RUNNING, VB_RUNNING_BOOTED);
        if (job->kind == JOB_REBOOT) {
            vb_worker_emit_event (drv->worker, dom->def->name, dom->def->uuid, "reboot",
                                  "reboot", "", NULL);
        }
        else {
            s_event (dom, "started", "booted");
            if (job->paused) {
                vb_error_t ferr = { 0 };
                if (lxc_cgroup_freeze (&dom->cg, true, &ferr) == 0) {
                    s_set_state (dom, VB_STATE_PAUSED, VB_PAUSED_USER);
                    s_event (dom, "suspended", "paused");
                }
                else
                    vb_warn ("lxc: domain '%s' started but could not be frozen",
                             dom->def->name);
            }
        }
        vb_worker_inventory_changed (drv->worker);
        vb_call_reply_ok (call, NULL);
        return;
    case JOB_KILL:
        s_set_state (dom, VB_STATE_SHUTOFF, VB_SHUTOFF_DESTROYED);
        s_event (dom, "stopped", "destroyed");
        vb_worker_inventory_changed (drv->worker);
        vb_call_reply_ok (call, NULL);
        return;
    }
}

/* --- operations ---------------------------------------------------------------------------- */

/*  False after answering BUSY when DOM has a blocking operation running. */
static bool
s_idle (ldom_t *dom, vb_call_t *call)
{
    if (!dom->job)
        return true;
    vb_call_reply_error (call, VB_ERR_BUSY, "domain '%s' is busy with another operation",
                         dom->def->name);
    return false;
}

static void
s_define (void *state, vb_call_t *call)
{
    lxc_drv_t *drv = (lxc_drv_t *) state;
    vb_error_t err = { 0 };
    const char *xml = NULL;
    vb_domain_def_t *def = NULL;

    if (vb_json_get_string (vb_call_args (call), "xml", true, &xml, &err) != 0)
        goto error;
    def = vb_domxml_parse (xml, strlen (xml), &err);
    if (!def || s_check_def (def, &err) != 0)
        goto error;
    if (s_find (drv, def->name) || s_find (drv, def->uuid)) {
        vb_error_set (&err, VB_ERR_OPERATION_INVALID, "domain '%s' already exists", def->name);
        goto error;
    }
    s_job_run (drv, NULL, call, JOB_DEFINE, false, def);
    return;
error:
    vb_domain_def_free (&def);
    vb_call_reply_err (call, &err);
}

static void
s_undefine (void *state, vb_call_t *call)
{
    lxc_drv_t *drv = (lxc_drv_t *) state;
    ldom_t *dom = s_target (drv, call);
    if (!dom || !s_idle (dom, call))
        return;
    if (s_active (dom)) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID,
                             "domain '%s' is running; destroy it before undefining it",
                             dom->def->name);
        return;
    }
    char *xml = s_path (drv, dom->def->uuid, ".xml");
    char *lock = s_path (drv, dom->def->uuid, ".lock");
    char *ct = s_ct_path (drv, dom->def->uuid, NULL);
    if (!xml || !lock || !ct) {
        vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory undefining domain '%s'",
                             dom->def->name);
    }
    else if (unlink (xml) != 0 && errno != ENOENT) {
        vb_call_reply_error (call, VB_ERR_OPERATION_FAILED, "cannot remove %s: %s", xml,
                             strerror (errno));
    }
    else {
        /*  The rootfs of a busybox domain lives under the container directory; a rootfs the
         *  user gave is elsewhere and not touched (liblxc's destroy would delete it). */
        s_rmtree (ct);
        unlink (lock);
        s_event (dom, "undefined", "removed");
        zlistx_delete (drv->domains, zlistx_find (drv->domains, dom));
        vb_worker_inventory_changed (drv->worker);
        vb_call_reply_ok (call, NULL);
    }
    free (xml);
    free (lock);
    free (ct);
}

static void
s_start (void *state, vb_call_t *call)
{
    lxc_drv_t *drv = (lxc_drv_t *) state;
    vb_error_t err = { 0 };
    bool paused = false;
    ldom_t *dom = s_target (drv, call);
    if (!dom || !s_idle (dom, call))
        return;
    if (s_active (dom)) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is already running",
                             dom->def->name);
        return;
    }
    if (vb_json_get_bool (vb_call_args (call), "paused", false, &paused, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    s_job_run (drv, dom, call, JOB_START, paused, NULL);
}

static void
s_shutdown (void *state, vb_call_t *call)
{
    ldom_t *dom = s_active_target ((lxc_drv_t *) state, call);
    if (!dom || !s_idle (dom, call))
        return;
    /*  Timeout 0: liblxc sends the halt signal and returns; the init's exit is seen on the
     *  pidfd. A frozen container cannot act on it, so it is thawed first. */
    vb_error_t ferr = { 0 };
    if (dom->state == VB_STATE_PAUSED && lxc_cgroup_freeze (&dom->cg, false, &ferr) == 0) {
        s_set_state (dom, VB_STATE_RUNNING, VB_RUNNING_UNPAUSED);
        s_event (dom, "resumed", "unpaused");
    }
    dom->shutdown_requested = true;
    if (!dom->c->shutdown (dom->c, 0)) {
        dom->shutdown_requested = false;
        vb_call_reply_error (call, VB_ERR_OPERATION_FAILED,
                             "liblxc could not send the halt signal to domain '%s'",
                             dom->def->name);
        return;
    }
    vb_call_reply_ok (call, NULL);
}

static void
s_destroy (void *state, vb_call_t *call)
{
    lxc_drv_t *drv = (lxc_drv_t *) state;
    ldom_t *dom = s_active_target (drv, call);
    if (!dom || !s_idle (dom, call))
        return;
    /*  The init's death is ours now, not a failure to report. */
    s_unwatch (dom);
    s_job_run (drv, dom, call, JOB_KILL, dom->state == VB_STATE_PAUSED, NULL);
}

static void
s_suspend (void *state, vb_call_t *call)
{
    ldom_t *dom = s_active_target ((lxc_drv_t *) state, call);
    if (!dom || !s_idle (dom, call))
        return;
    if (dom->state == VB_STATE_PAUSED) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is already paused",
                             dom->def->name);
        return;
    }
    vb_error_t err = { 0 };
    if (lxc_cgroup_freeze (&dom->cg, true, &err) != 0) {
        vb_call_reply_error (call, VB_ERR_OPERATION_FAILED,
                             "cannot freeze the container of domain '%s': %s", dom->def->name,
                             err.message);
        return;
    }
    s_set_state (dom, VB_STATE_PAUSED, VB_PAUSED_USER);
    s_event (dom, "suspended", "paused");
    vb_worker_inventory_changed (dom->drv->worker);
    vb_call_reply_ok (call, NULL);
}

static void
s_resume (void *state, vb_call_t *call)
{
    ldom_t *dom = s_active_target ((lxc_drv_t *) state, call);
    if (!dom || !s_idle (dom, call))
        return;
    if (dom->state != VB_STATE_PAUSED) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is not paused",
                             dom->def->name);
        return;
    }
    vb_error_t err = { 0 };
    if (lxc_cgroup_freeze (&dom->cg, false, &err) != 0) {
        vb_call_reply_error (call, VB_ERR_OPERATION_FAILED,
                             "cannot thaw the container of domain '%s': %s", dom->def->name,
                             err.message);
        return;
    }
    s_set_state (dom, VB_STATE_RUNNING, VB_RUNNING_UNPAUSED);
    s_event (dom, "resumed", "unpaused");
    vb_worker_inventory_changed (dom->drv->worker);
    vb_call_reply_ok (call, NULL);
}

static void
s_reboot (void *state, vb_call_t *call)
{
    lxc_drv_t *drv = (lxc_drv_t *) state;
    ldom_t *dom = s_active_target (drv, call);
    if (!dom || !s_idle (dom, call))
        return;
    s_unwatch (dom);
    s_job_run (drv, dom, call, JOB_REBOOT, dom->state == VB_STATE_PAUSED, NULL);
}

static json_object *
s_info (ldom_t *dom, const vb_call_t *call)
{
    lxc_cpu_stats_t cpu = { 0 };
    uint64_t usage = 0, limit = 0;
    uint64_t memory_kib = dom->def->current_memory_kib;
    vb_error_t err = { 0 };
    if (s_active (dom) && dom->cg.cpu_dir) {
        if (lxc_cgroup_read_cpu (&dom->cg, &cpu, &err) != 0)
            memset (&cpu, 0, sizeof cpu);
        if (lxc_cgroup_read_memory (&dom->cg, &usage, &limit, &err) == 0)
            memory_kib = usage >> 10;
    }
    json_object *info = json_object_new_object ();
    json_object_object_add (info, "name", json_object_new_string (dom->def->name));
    json_object_object_add (info, "uuid", json_object_new_string (dom->def->uuid));
    json_object_object_add (info, "id", json_object_new_int (s_active (dom)?
                                                             (int) dom->init_pid: -1));
    json_object_object_add (info, "state", json_object_new_int (dom->state));
    json_object_object_add (info, "reason", json_object_new_int (dom->reason));
    json_object_object_add (info, "max_mem_kib", json_object_new_uint64 (dom->def->memory_kib));
    json_object_object_add (info, "memory_kib", json_object_new_uint64 (memory_kib));
    json_object_object_add (info, "vcpus", json_object_new_int ((int) dom->def->vcpus));
    json_object_object_add (info, "cpu_time_ns", json_object_new_uint64 (cpu.time_ns));
    json_object_object_add (info, "persistent", json_object_new_boolean (true));
    json_object_object_add (info, "autostart", json_object_new_boolean (false));
    vb_call_domain_info_add_origin (call, info);
    return info;
}

static void
s_get_info (void *state, vb_call_t *call)
{
    ldom_t *dom = s_target ((lxc_drv_t *) state, call);
    if (!dom)
        return;
    s_refresh (dom);
    vb_call_reply_ok (call, s_info (dom, call));
}

static void
s_get_xml (void *state, vb_call_t *call)
{
    ldom_t *dom = s_target ((lxc_drv_t *) state, call);
    if (!dom)
        return;
    char *xml = vb_domxml_format (dom->def);
    if (!xml) {
        vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory formatting domain '%s'",
                             dom->def->name);
        return;
    }
    json_object *result = json_object_new_object ();
    json_object_object_add (result, "xml", json_object_new_string (xml));
    free (xml);
    vb_call_reply_ok (call, result);
}

static void
s_list (void *state, vb_call_t *call)
{
    lxc_drv_t *drv = (lxc_drv_t *) state;
    vb_error_t err = { 0 };
    bool all = false, inactive = false;
    if (vb_json_get_bool (vb_call_args (call), "all", false, &all, &err) != 0
        || vb_json_get_bool (vb_call_args (call), "inactive", false, &inactive, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    json_object *result = json_object_new_array ();
    for (ldom_t *dom = zlistx_first (drv->domains); dom; dom = zlistx_next (drv->domains)) {
        s_refresh (dom);
        if (all || (inactive? !s_active (dom): s_active (dom)))
            json_object_array_add (result, s_info (dom, call));
    }
    vb_call_reply_ok (call, result);
}

/* --- stats --------------------------------------------------------------------------------- */

enum { G_STATE = 1, G_CPU = 2, G_BALLOON = 4, G_BLOCK = 8, G_NET = 16 };

static void
s_param (json_object *params, const char *key, const char *type, json_object *value)
{
    json_object *p = json_object_new_array ();
    json_object_array_add (p, json_object_new_string (key));
    json_object_array_add (p, json_object_new_string (type));
    json_object_array_add (p, value);
    json_object_array_add (params, p);
}

static void
s_param_u64 (json_object *params, const char *fmt, size_t i, const char *field, uint64_t v)
{
    char key[96];
    snprintf (key, sizeof key, fmt, i, field);
    s_param (params, key, "ullong", json_object_new_uint64 (v));
}

static json_object *
s_stats_record (ldom_t *dom, const vb_call_t *call, unsigned groups)
{
    vb_error_t err = { 0 };
    const char *status = "ok";
    bool running = s_active (dom) && dom->cg.cpu_dir;
    json_object *params = json_object_new_array ();

    if (groups & G_STATE) {
        s_param (params, "state.state", "int", json_object_new_int (dom->state));
        s_param (params, "state.reason", "int", json_object_new_int (dom->reason));
    }
    if ((groups & G_CPU) && running) {
        lxc_cpu_stats_t cpu;
        if (lxc_cgroup_read_cpu (&dom->cg, &cpu, &err) == 0) {
            s_param (params, "cpu.time", "ullong", json_object_new_uint64 (cpu.time_ns));
            s_param (params, "cpu.user", "ullong", json_object_new_uint64 (cpu.user_ns));
            s_param (params, "cpu.system", "ullong", json_object_new_uint64 (cpu.system_ns));
        }
        else
            status = "error";
    }
    if (groups & G_BALLOON) {
        uint64_t usage = 0, limit = UINT64_MAX;
        uint64_t cur = dom->def->current_memory_kib, max = dom->def->memory_kib;
        if (running) {
            if (lxc_cgroup_read_memory (&dom->cg, &usage, &limit, &err) == 0) {
                cur = usage >> 10;
                /*  v1 writes "no limit" as a huge page-rounded number. */
                if (limit < (UINT64_C (1) << 62))
                    max = limit >> 10;
            }
            else
                status = "error";
        }
        s_param (params, "balloon.current", "ullong", json_object_new_uint64 (cur));
        s_param (params, "balloon.maximum", "ullong", json_object_new_uint64 (max));
    }
    if (groups & G_BLOCK) {
        s_param (params, "block.count", "uint", json_object_new_uint64 (dom->def->nhostdevs));
        for (size_t i = 0; i < dom->def->nhostdevs; i++) {
            char key[64];
            const char *path = dom->def->hostdevs[i].block;
            snprintf (key, sizeof key, "block.%zu.name", i);
            s_param (params, key, "string", json_object_new_string (path));
            snprintf (key, sizeof key, "block.%zu.path", i);
            s_param (params, key, "string", json_object_new_string (path));
            struct stat sb;
            lxc_io_stats_t io;
            if (running && stat (path, &sb) == 0 && S_ISBLK (sb.st_mode)
                && lxc_cgroup_read_io (&dom->cg, major (sb.st_rdev), minor (sb.st_rdev), &io,
                                       &err) == 0) {
                s_param_u64 (params, "block.%zu.%s", i, "rd.reqs", io.rd_reqs);
                s_param_u64 (params, "block.%zu.%s", i, "rd.bytes", io.rd_bytes);
                s_param_u64 (params, "block.%zu.%s", i, "wr.reqs", io.wr_reqs);
                s_param_u64 (params, "block.%zu.%s", i, "wr.bytes", io.wr_bytes);
            }
        }
    }
    if (groups & G_NET) {
        size_t count = 0;
        char *netdev = running? vb_read_file ("/proc/net/dev", 1 << 20, NULL, &err): NULL;
        for (size_t i = 0; i < dom->def->nnets; i++)
            if (dom->def->nets[i].target_dev)
                count++;
        s_param (params, "net.count", "uint", json_object_new_uint64 (count));
        for (size_t i = 0, n = 0; i < dom->def->nnets; i++) {
            const char *dev = dom->def->nets[i].target_dev;
            if (!dev)
                continue;
            char key[64];
            snprintf (key, sizeof key, "net.%zu.name", n);
            s_param (params, key, "string", json_object_new_string (dev));
            lxc_net_stats_t ns;
            if (netdev && lxc_stats_parse_net_dev (netdev, dev, &ns, &err) == 0) {
                /*  The host side's receive is the container's transmit. */
                s_param_u64 (params, "net.%zu.%s", n, "rx.bytes", ns.tx_bytes);
                s_param_u64 (params, "net.%zu.%s", n, "rx.pkts", ns.tx_pkts);
                s_param_u64 (params, "net.%zu.%s", n, "rx.errs", ns.tx_errs);
                s_param_u64 (params, "net.%zu.%s", n, "rx.drop", ns.tx_drop);
                s_param_u64 (params, "net.%zu.%s", n, "tx.bytes", ns.rx_bytes);
                s_param_u64 (params, "net.%zu.%s", n, "tx.pkts", ns.rx_pkts);
                s_param_u64 (params, "net.%zu.%s", n, "tx.errs", ns.rx_errs);
                s_param_u64 (params, "net.%zu.%s", n, "tx.drop", ns.rx_drop);
            }
            n++;
        }
        free (netdev);
    }
    if (strcmp (status, "ok") != 0)
        vb_warn ("lxc: stats of domain '%s' are incomplete: %s", dom->def->name, err.message);

    json_object *record = json_object_new_object ();
    json_object_object_add (record, "name", json_object_new_string (dom->def->name));
    json_object_object_add (record, "uuid", json_object_new_string (dom->def->uuid));
    vb_call_domain_info_add_origin (call, record);
    json_object_object_add (record, "status", json_object_new_string (status));
    json_object_object_add (record, "params", params);
    return record;
}

static void
s_get_stats (void *state, vb_call_t *call)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {
        { "state", G_STATE }, { "cpu-total", G_CPU }, { "balloon", G_BALLOON },
        { "block", G_BLOCK }, { "interface", G_NET }, { "vcpu", 0 },
    };
    lxc_drv_t *drv = (lxc_drv_t *) state;
    vb_error_t err = { 0 };
    json_object *groups = NULL, *domains = NULL;
    json_object *args = vb_call_args (call);
    unsigned want = 0;
    if (vb_json_get_array (args, "groups", false, &groups, &err) != 0
        || vb_json_get_array (args, "domains", false, &domains, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    size_t ng = groups? json_object_array_length (groups): 0;
    for (size_t i = 0; i < ng; i++) {
        json_object *g = json_object_array_get_idx (groups, i);
        if (!json_object_is_type (g, json_type_string)) {
            vb_call_reply_error (call, VB_ERR_INVALID_ARG,
                                 "field 'groups' must be an array of strings");
            return;
        }
        /*  Groups a container has no data for (vcpu) and unknown ones give no fields. */
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            if (strcmp (json_object_get_string (g), names[k].name) == 0)
                want |= names[k].bit;
    }
    if (ng == 0)
        want = G_STATE | G_CPU | G_BALLOON | G_BLOCK | G_NET;
    size_t nd = domains? json_object_array_length (domains): 0;
    for (size_t i = 0; i < nd; i++)
        if (!json_object_is_type (json_object_array_get_idx (domains, i), json_type_string)) {
            vb_call_reply_error (call, VB_ERR_INVALID_ARG,
                                 "field 'domains' must be an array of strings");
            return;
        }
    json_object *result = json_object_new_array ();
    for (ldom_t *dom = zlistx_first (drv->domains); dom; dom = zlistx_next (drv->domains)) {
        bool listed = !domains;
        for (size_t i = 0; i < nd && !listed; i++) {
            const char *key = json_object_get_string (json_object_array_get_idx (domains, i));
            listed = strcmp (key, dom->def->name) == 0 || strcasecmp (key, dom->def->uuid) == 0;
        }
        if (!listed)
            continue;
        s_refresh (dom);
        json_object_array_add (result, s_stats_record (dom, call, want));
    }
    vb_call_reply_ok (call, result);
}

const vb_driver_t lxc_driver = {
    .name = "lxc",
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
    .extra_ops = NULL,
    .help = "virtbus-lxc serves Linux containers (<domain type='lxc'>) through liblxc: a busybox\n"
            "rootfs or a given directory, a memory cgroup limit, host block devices, veths.\n"
            "Its containers keep running when it stops; a restarted worker takes them back.",
};
