/*  qemu_blockjob — snapshots, commit, pull and block jobs (see qemu_blockjob.h).
 *
 *  A request that needs several QMP round trips is a bj_op_t carried through
 *  qemu_monitor_command; s_on_reply moves it to its next step. Destroying the monitor fails its
 *  pending commands synchronously, so an op is always finished before its domain goes away.
 *  A job (bj_job_t) is registered before its QMP command is sent, so a second request for the
 *  same disk is refused even while the first is in flight, and an event that overtakes the
 *  command's reply still finds it.
 */
#include "qemu_blockjob.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vb_json.h"
#include "vb_log.h"
#include "vb_util.h"
#include "vb_worker.h"

/*  What a QMP deadline keeps below the request's remaining budget. */
#define BJ_DEADLINE_MARGIN_MS 100
/*  Deadline of the query-block that follows a job's end (no call waits on it). */
#define BJ_FINISH_QUERY_MS 5000
/*  How much of qemu-img's stderr an error quotes. */
#define BJ_QEMU_IMG_ERR_MAX 512
#define BJ_ID_PREFIX "vbjob-"

typedef enum { BJ_PULL, BJ_COMMIT, BJ_ACTIVE_COMMIT, BJ_COPY } bj_type_t;

static const char *const s_type_names[] = { "pull", "commit", "active_commit", "copy" };

typedef struct {
    char disk[32];
    char id[48];
    bj_type_t type;
    char *path;                 /* the disk's top when the job started */
    bool ready;
    bool abort_requested;
    bool pivot_requested;
    bool ended;                 /* its terminal QMP event arrived */
    const char *final_event;    /* completed | failed | canceled, once ended */
    vb_call_t *waiter;          /* an abort or pivot answered when the job ends */
    void *handle;
} bj_job_t;

struct _qemu_blockjobs_t {
    qemu_dom_t *dom;
    zlistx_t *jobs;             /* bj_job_t * */
    json_object *last;          /* disk -> {id, job_type, event} of its last finished job */
};

typedef enum {
    OP_SNAPSHOT, OP_COMMIT, OP_PULL, OP_INFO, OP_ABORT, OP_PIVOT,
    OP_FINISH,      /* after a job's end: new top, then drop the nodes that left the chain */
    OP_CLEANUP,     /* a blockdev-del nobody waits for */
} bj_kind_t;

typedef enum {
    ST_QUERY_BLOCK, ST_QUERY_NODES, ST_START, ST_ADD, ST_TRANSACTION, ST_JOBS, ST_END,
} bj_step_t;

/*  One disk of a snapshot in progress. */
typedef struct {
    char *target;
    char *file;                 /* the overlay */
    char *root;                 /* the disk's root node before the snapshot */
    char node[32], storage[32]; /* the overlay's node names */
    bool created;               /* the file was made by us */
    bool added;                 /* blockdev-add succeeded */
} bj_snapdisk_t;

typedef struct {
    qemu_dom_t *dom;
    vb_call_t *call;
    bj_kind_t kind;
    bj_step_t step;
    char disk[32];
    /* commit */
    char *top_spec, *base_spec;
    bool active;
    uint64_t speed;
    json_object *block;         /* the disk's query-block entry's "inserted" (taken ref) */
    bj_job_t *job;              /* the job this op starts or ends */
    /* snapshot */
    char *name;
    bj_snapdisk_t *disks;
    size_t ndisks, next;
} bj_op_t;

static void s_send (bj_op_t *op, const char *command, json_object *args);

/* --- small helpers ------------------------------------------------------------------------- */

static int
s_deadline (vb_call_t *call)
{
    if (!call)
        return BJ_FINISH_QUERY_MS;
    int64_t left = vb_call_remaining_ms (call);
    int64_t ms = left > 2 * BJ_DEADLINE_MARGIN_MS ? left - BJ_DEADLINE_MARGIN_MS : left / 2;
    if (ms > 24 * 3600 * 1000)
        ms = 24 * 3600 * 1000;
    return ms > 0 ? (int) ms : 1;
}

static qemu_blockjobs_t *
s_state (qemu_dom_t *dom)
{
    qemu_blockjobs_t **slot = qemu_dom_blockjobs (dom);
    if (!*slot) {
        qemu_blockjobs_t *self = calloc (1, sizeof *self);
        if (!self)
            return NULL;
        self->dom = dom;
        self->jobs = zlistx_new ();
        self->last = json_object_new_object ();
        if (!self->jobs || !self->last) {
            zlistx_destroy (&self->jobs);
            json_object_put (self->last);
            free (self);
            return NULL;
        }
        *slot = self;
    }
    return *slot;
}

static bj_job_t *
s_job_for_disk (qemu_blockjobs_t *self, const char *disk)
{
    if (!self)
        return NULL;
    for (bj_job_t *job = (bj_job_t *) zlistx_first (self->jobs); job;
         job = (bj_job_t *) zlistx_next (self->jobs))
        if (strcmp (job->disk, disk) == 0)
            return job;
    return NULL;
}

static bj_job_t *
s_job_for_id (qemu_blockjobs_t *self, const char *id)
{
    if (!self || !id)
        return NULL;
    for (bj_job_t *job = (bj_job_t *) zlistx_first (self->jobs); job;
         job = (bj_job_t *) zlistx_next (self->jobs))
        if (strcmp (job->id, id) == 0)
            return job;
    return NULL;
}

static bj_job_t *
s_job_add (qemu_blockjobs_t *self, const char *disk, bj_type_t type, const char *path)
{
    bj_job_t *job = calloc (1, sizeof *job);
    if (!job)
        return NULL;
    snprintf (job->disk, sizeof job->disk, "%s", disk);
    snprintf (job->id, sizeof job->id, BJ_ID_PREFIX "%s", disk);
    job->type = type;
    job->path = strdup (path ? path : "");
    job->handle = job->path ? zlistx_add_end (self->jobs, job) : NULL;
    if (!job->handle) {
        free (job->path);
        free (job);
        return NULL;
    }
    return job;
}

static void
s_job_remove (qemu_blockjobs_t *self, bj_job_t *job)
{
    zlistx_detach (self->jobs, job->handle);
    free (job->path);
    free (job);
}

static const vb_disk_def_t *
s_disk (const qemu_dom_t *dom, const char *target)
{
    const vb_domain_def_t *def = qemu_dom_current_def (dom);
    for (size_t i = 0; def && i < def->ndisks; i++)
        if (def->disks[i].target_dev && strcmp (def->disks[i].target_dev, target) == 0)
            return &def->disks[i];
    return NULL;
}

static void
s_emit (qemu_dom_t *dom, const bj_job_t *job, const char *event)
{
    json_object *extra = json_object_new_object ();
    if (extra) {
        json_object_object_add (extra, "disk", json_object_new_string (job->disk));
        json_object_object_add (extra, "path", json_object_new_string (job->path));
        json_object_object_add (extra, "job_type",
                                json_object_new_string (s_type_names[job->type]));
        json_object_object_add (extra, "type", json_object_new_string (s_type_names[job->type]));
    }
    vb_worker_emit_event (qemu_dom_worker (dom), qemu_dom_name (dom), qemu_dom_uuid (dom),
                          "block-job", event, s_type_names[job->type], extra);
}

/*  The "inserted" member of the query-block entry of disk TARGET, or NULL. Borrowed. */
static json_object *
s_find_inserted (json_object *blocks, const char *target)
{
    char qdev_part[64];
    snprintf (qdev_part, sizeof qdev_part, "/%s/", target);
    for (size_t j = 0; json_object_is_type (blocks, json_type_array)
                       && j < json_object_array_length (blocks); j++) {
        json_object *entry = json_object_array_get_idx (blocks, j), *inserted = NULL;
        const char *qdev = vb_json_str (entry, "qdev", "");
        if (!json_object_object_get_ex (entry, "inserted", &inserted)
            || !json_object_is_type (inserted, json_type_object))
            continue;
        if (strcmp (qdev, target) == 0 || strstr (qdev, qdev_part)
            || (strncmp (qdev, "/machine/peripheral/", 20) == 0
                && strcmp (qdev + 20, target) == 0))
            return inserted;
    }
    return NULL;
}

/*  Layer DEPTH (0 = top) of an "inserted" object's image chain, or NULL. Borrowed. */
static json_object *
s_layer (json_object *inserted, size_t depth)
{
    json_object *image = NULL;
    if (!json_object_object_get_ex (inserted, "image", &image))
        return NULL;
    for (size_t d = 0; image && d < depth; d++) {
        json_object *next = NULL;
        if (!json_object_object_get_ex (image, "backing-image", &next)
            || !json_object_is_type (next, json_type_object))
            return NULL;
        image = next;
    }
    return image;
}

static size_t
s_chain_length (json_object *inserted)
{
    size_t n = 0;
    while (n < 1000 && s_layer (inserted, n))
        n++;
    return n;
}

static bool
s_same_file (const char *a, const char *b)
{
    if (strcmp (a, b) == 0)
        return true;
    struct stat sa, sb;
    return stat (a, &sa) == 0 && stat (b, &sb) == 0 && sa.st_dev == sb.st_dev
           && sa.st_ino == sb.st_ino;
}

/*  Resolve layer SPEC ("vda[N]" or a path) of disk DISK in INSERTED's chain. Returns the depth,
 *  or -1 with ERR. */
static int
s_resolve_layer (json_object *inserted, const char *disk, const char *spec, vb_error_t *err)
{
    size_t n = s_chain_length (inserted);
    size_t dlen = strlen (disk);
    if (strncmp (spec, disk, dlen) == 0 && spec[dlen] == '[') {
        char *end = NULL;
        errno = 0;
        unsigned long depth = strtoul (spec + dlen + 1, &end, 10);
        if (errno == 0 && end != spec + dlen + 1 && *end == ']' && end[1] == '\0'
            && spec[dlen + 1] != '-' && depth < n)
            return (int) depth;
    }
    else if (spec[0] == '/') {
        for (size_t d = 0; d < n; d++) {
            const char *path = vb_json_str (s_layer (inserted, d), "filename", "");
            if (s_same_file (path, spec))
                return (int) d;
        }
    }
    vb_error_set (err, VB_ERR_INVALID_ARG, "could not find image '%s' in chain for '%s'", spec,
                  disk);
    return -1;
}

/*  The format node of PATH among query-named-block-nodes' entries (not a protocol node). */
static const char *
s_node_of (json_object *nodes, const char *path)
{
    for (size_t i = 0; json_object_is_type (nodes, json_type_array)
                       && i < json_object_array_length (nodes); i++) {
        json_object *node = json_object_array_get_idx (nodes, i);
        const char *drv = vb_json_str (node, "drv", "");
        if (strcmp (drv, "file") == 0 || strcmp (drv, "host_device") == 0
            || strcmp (drv, "throttle") == 0)
            continue;
        if (strcmp (vb_json_str (node, "file", ""), path) == 0)
            return vb_json_str (node, "node-name", NULL);
    }
    return NULL;
}

/*  Run qemu-img with ARGV (argv[0] = "qemu-img"). Returns 0 or -1 with ERR quoting its
 *  stderr. */
static int
s_qemu_img (char *const argv[], const char *what, vb_error_t *err)
{
    int pipefd[2];
    if (pipe2 (pipefd, O_CLOEXEC) != 0)
        return vb_error_set (err, VB_ERR_INTERNAL, "cannot make a pipe for qemu-img: %s",
                             strerror (errno));
    pid_t pid = fork ();
    if (pid < 0) {
        close (pipefd[0]);
        close (pipefd[1]);
        return vb_error_set (err, VB_ERR_INTERNAL, "cannot fork qemu-img: %s",
                             strerror (errno));
    }
    if (pid == 0) {
        int devnull = open ("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2 (devnull, 0);
            dup2 (devnull, 1);
        }
        dup2 (pipefd[1], 2);
        execvp (argv[0], argv);
        _exit (127);
    }
    close (pipefd[1]);
    char msg[BJ_QEMU_IMG_ERR_MAX + 1];
    size_t len = 0;
    ssize_t got;
    char sink[256];
    while ((got = read (pipefd[0], len < BJ_QEMU_IMG_ERR_MAX ? msg + len : sink,
                        len < BJ_QEMU_IMG_ERR_MAX ? BJ_QEMU_IMG_ERR_MAX - len : sizeof sink))
               > 0
           || (got < 0 && errno == EINTR))
        if (got > 0 && len < BJ_QEMU_IMG_ERR_MAX)
            len += (size_t) got;
    close (pipefd[0]);
    msg[len] = '\0';
    while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';
    int status = 0;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED (status) && WEXITSTATUS (status) == 0)
        return 0;
    if (WIFEXITED (status) && WEXITSTATUS (status) == 127 && len == 0)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "%s: qemu-img cannot be executed",
                             what);
    return vb_error_set (err, VB_ERR_OPERATION_FAILED, "%s: qemu-img failed: %s", what,
                         len ? msg : "no message");
}

/* --- ops: life and replies ----------------------------------------------------------------- */

static bj_op_t *
s_op_new (qemu_dom_t *dom, vb_call_t *call, bj_kind_t kind, const char *disk)
{
    bj_op_t *op = calloc (1, sizeof *op);
    if (!op) {
        if (call)
            vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory while serving a block "
                                 "operation of domain '%s'", qemu_dom_name (dom));
        return NULL;
    }
    op->dom = dom;
    op->call = call;
    op->kind = kind;
    if (disk)
        snprintf (op->disk, sizeof op->disk, "%s", disk);
    return op;
}

static void
s_op_free (bj_op_t *op)
{
    if (!op)
        return;
    free (op->top_spec);
    free (op->base_spec);
    free (op->name);
    json_object_put (op->block);
    for (size_t i = 0; op->disks && i < op->ndisks; i++) {
        free (op->disks[i].target);
        free (op->disks[i].file);
        free (op->disks[i].root);
    }
    free (op->disks);
    free (op);
}

/*  Undo what a failed running snapshot made: added nodes (asked to go, not awaited) and files. */
static void
s_snapshot_undo (bj_op_t *op)
{
    vb_error_t err = { 0 };
    qemu_monitor_t *mon = qemu_dom_closing (op->dom) ? NULL : qemu_dom_monitor (op->dom, &err);
    for (size_t i = 0; i < op->ndisks; i++) {
        bj_snapdisk_t *d = &op->disks[i];
        if (d->added && mon) {
            json_object *args = json_object_new_object ();
            json_object_object_add (args, "node-name", json_object_new_string (d->node));
            bj_op_t *del = s_op_new (op->dom, NULL, OP_CLEANUP, NULL);
            if (del) {
                del->step = ST_END;
                s_send (del, "blockdev-del", args);
            }
            else
                json_object_put (args);
        }
        if (d->created)
            unlink (d->file);
    }
}

/*  Finish OP with an error: undo, answer, free. */
static void s_job_finish (qemu_blockjobs_t *self, bj_job_t *job);

static void
s_op_fail (bj_op_t *op, const vb_error_t *err)
{
    qemu_blockjobs_t *self = *qemu_dom_blockjobs (op->dom);
    if (op->kind == OP_FINISH && self && !qemu_dom_closing (op->dom))
        s_job_finish (self, op->job);
    if (op->kind == OP_SNAPSHOT)
        s_snapshot_undo (op);
    if ((op->kind == OP_COMMIT || op->kind == OP_PULL) && op->job && self
        && !op->job->ended)
        s_job_remove (self, op->job);
    if (op->call && !qemu_dom_closing (op->dom))
        vb_call_reply_err (op->call, err);
    s_op_free (op);
}

static void s_on_reply (qemu_monitor_t *mon, json_object *result, const char *qmp_class,
                        const vb_error_t *err, void *cb_data);

/*  Send COMMAND (ARGS taken, may be NULL) for OP; a failure to send fails the op. */
static void
s_send (bj_op_t *op, const char *command, json_object *args)
{
    vb_error_t err = { 0 };
    qemu_monitor_t *mon = qemu_dom_monitor (op->dom, &err);
    if (!mon) {
        json_object_put (args);
        vb_error_t e = { 0 };
        vb_error_set (&e, VB_ERR_OPERATION_FAILED, "cannot reach the QEMU monitor of domain "
                      "'%s': %s", qemu_dom_name (op->dom), err.message);
        s_op_fail (op, &e);
        return;
    }
    if (qemu_monitor_command (mon, command, &args, s_deadline (op->call), s_on_reply, op,
                              &err) != 0) {
        vb_error_t e = { 0 };
        vb_error_set (&e, err.code, "domain '%s': %s", qemu_dom_name (op->dom), err.message);
        s_op_fail (op, &e);
    }
}

/* --- job ends ------------------------------------------------------------------------------ */

/*  The job ended and the definition is up to date: publish, remember, answer the waiter. */
static void
s_job_finish (qemu_blockjobs_t *self, bj_job_t *job)
{
    qemu_dom_t *dom = self->dom;
    s_emit (dom, job, job->final_event);
    json_object *last = json_object_new_object ();
    if (last) {
        json_object_object_add (last, "id", json_object_new_string (job->id));
        json_object_object_add (last, "job_type",
                                json_object_new_string (s_type_names[job->type]));
        json_object_object_add (last, "event", json_object_new_string (job->final_event));
        json_object_object_add (self->last, job->disk, last);
    }
    if (job->waiter) {
        vb_call_t *call = job->waiter;
        job->waiter = NULL;
        bool wanted = (job->pivot_requested && strcmp (job->final_event, "completed") == 0)
                      || (job->abort_requested && strcmp (job->final_event, "canceled") == 0);
        if (wanted) {
            json_object *result = json_object_new_object ();
            json_object_object_add (result, "disk", json_object_new_string (job->disk));
            json_object_object_add (result, "event", json_object_new_string (job->final_event));
            vb_call_reply_ok (call, result);
        }
        else
            vb_call_reply_error (call, VB_ERR_OPERATION_FAILED, "block job on disk '%s' of "
                                 "domain '%s' ended %s", job->disk, qemu_dom_name (dom),
                                 job->final_event);
    }
    s_job_remove (self, job);
}

/*  The nodes of disk DISK this driver named (-blockdev vb-DISK-format / vb-DISK-storage, the
 *  overlays' vb-DISK-XXXXXXf) that are no longer in the chain INSERTED: they stay open until
 *  deleted. Each is asked to go, the upper layers first (a node still used as a backing file
 *  cannot be deleted), protocol nodes last. */
static void
s_drop_stale_nodes (bj_op_t *op, json_object *nodes)
{
    char prefix[40], storage[48];
    snprintf (prefix, sizeof prefix, "vb-%s-", op->disk);
    snprintf (storage, sizeof storage, "vb-%s-storage", op->disk);
    size_t n = json_object_is_type (nodes, json_type_array) ? json_object_array_length (nodes) :
                                                               0;
    size_t nlayers = op->block ? s_chain_length (op->block) : 0;
    json_object **stale = calloc (n ? n : 1, sizeof *stale);
    size_t nstale = 0;
    if (!stale)
        return;
    for (size_t i = 0; i < n; i++) {
        json_object *node = json_object_array_get_idx (nodes, i);
        const char *name = vb_json_str (node, "node-name", "");
        const char *file = vb_json_str (node, "file", "");
        size_t len = strlen (name);
        if (strncmp (name, prefix, strlen (prefix)) != 0 || len == 0)
            continue;
        bool format = strcmp (vb_json_str (node, "drv", ""), "file") != 0
                      && strcmp (vb_json_str (node, "drv", ""), "host_device") != 0;
        if (!(format && name[len - 1] == 'f') && !(format && strcmp (name + len - 6, "format")
                                                   == 0) && strcmp (name, storage) != 0)
            continue;
        bool in_chain = false;
        for (size_t d = 0; d < nlayers && !in_chain; d++)
            in_chain = strcmp (vb_json_str (s_layer (op->block, d), "filename", ""), file) == 0;
        if (!in_chain)
            stale[nstale++] = node;
    }
    /*  Format nodes by depth, highest first; then the protocol node. */
    for (size_t i = 0; i < nstale; i++)
        for (size_t k = i + 1; k < nstale; k++) {
            bool ki = strcmp (vb_json_str (stale[i], "node-name", ""), storage) == 0;
            bool kk = strcmp (vb_json_str (stale[k], "node-name", ""), storage) == 0;
            int64_t di = vb_json_int (stale[i], "backing_file_depth", 0);
            int64_t dk = vb_json_int (stale[k], "backing_file_depth", 0);
            if ((ki && !kk) || (ki == kk && dk > di)) {
                json_object *t = stale[i];
                stale[i] = stale[k];
                stale[k] = t;
            }
        }
    for (size_t i = 0; i < nstale; i++) {
        bj_op_t *del = s_op_new (op->dom, NULL, OP_CLEANUP, NULL);
        json_object *args = json_object_new_object ();
        if (!del || !args) {
            s_op_free (del);
            json_object_put (args);
            break;
        }
        json_object_object_add (args, "node-name", json_object_new_string (
                                    vb_json_str (stale[i], "node-name", "")));
        del->step = ST_END;
        s_send (del, "blockdev-del", args);
    }
    free (stale);
}

/*  query-block after a job's end: point the definitions at the disk's new top, then ask for
 *  the nodes to drop. */
static void
s_finish_reply (bj_op_t *op, json_object *result)
{
    qemu_blockjobs_t *self = *qemu_dom_blockjobs (op->dom);
    bj_job_t *job = op->job;
    json_object *inserted = result ? s_find_inserted (result, job->disk) : NULL;
    json_object *top = inserted ? s_layer (inserted, 0) : NULL;
    const char *path = top ? vb_json_str (top, "filename", NULL) : NULL;
    const vb_disk_def_t *disk = s_disk (op->dom, job->disk);
    if (path && path[0] == '/' && disk && disk->source && strcmp (disk->source, path) != 0) {
        qemu_disk_source_t src = {
            .target = job->disk, .path = path,
            .format = strcmp (vb_json_str (top, "format", ""), "qcow2") == 0 ?
                      VB_DISK_FORMAT_QCOW2 : VB_DISK_FORMAT_RAW,
        };
        vb_error_t err = { 0 };
        if (qemu_dom_set_disk_sources (op->dom, &src, 1, &err) != 0)
            vb_warn ("qemu: domain '%s': the definition still names %s after the block job "
                     "on disk '%s': %s", qemu_dom_name (op->dom), disk->source, job->disk,
                     err.message);
    }
    if (!inserted) {
        if (self)
            s_job_finish (self, job);
        s_op_free (op);
        return;
    }
    op->block = json_object_get (inserted);
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "flat", json_object_new_boolean (1));
    op->step = ST_QUERY_NODES;
    s_send (op, "query-named-block-nodes", args);
}

/*  JOB's terminal QMP event arrived: learn the new chain, then finish it. */
static void
s_job_ended (qemu_blockjobs_t *self, bj_job_t *job, const char *event)
{
    if (job->ended)
        return;
    job->ended = true;
    job->final_event = event;
    bj_op_t *op = s_op_new (self->dom, NULL, OP_FINISH, job->disk);
    if (!op) {
        s_job_finish (self, job);
        return;
    }
    op->job = job;
    op->step = ST_END;
    s_send (op, "query-block", NULL);
}

void
qemu_blockjob_on_event (qemu_dom_t *dom, const char *name, json_object *data)
{
    if (strncmp (name, "BLOCK_JOB_", 10) != 0)
        return;
    const char *id = vb_json_str (data, "device", NULL);
    if (!id || strncmp (id, BJ_ID_PREFIX, strlen (BJ_ID_PREFIX)) != 0)
        return;
    qemu_blockjobs_t *self = s_state (dom);
    if (!self)
        return;
    bj_job_t *job = s_job_for_id (self, id);
    bool terminal = strcmp (name, "BLOCK_JOB_COMPLETED") == 0
                    || strcmp (name, "BLOCK_JOB_CANCELLED") == 0;
    if (!job && terminal) {
        /*  A job started before this worker (re)attached: report its end too. */
        const char *qtype = vb_json_str (data, "type", "");
        bj_type_t type = strcmp (qtype, "stream") == 0 ? BJ_PULL :
                         strcmp (qtype, "mirror") == 0 ? BJ_COPY : BJ_COMMIT;
        const vb_disk_def_t *disk = s_disk (dom, id + strlen (BJ_ID_PREFIX));
        job = s_job_add (self, id + strlen (BJ_ID_PREFIX), type, disk ? disk->source : "");
    }
    if (!job)
        return;
    if (strcmp (name, "BLOCK_JOB_READY") == 0) {
        if (!job->ready && !job->ended) {
            job->ready = true;
            s_emit (dom, job, "ready");
        }
    }
    else if (strcmp (name, "BLOCK_JOB_COMPLETED") == 0) {
        /*  A ready job that was cancelled ends "completed" in QEMU; for the caller it was
         *  aborted. */
        const char *event = job->abort_requested ? "canceled" :
                            vb_json_str (data, "error", NULL) ? "failed" : "completed";
        s_job_ended (self, job, event);
    }
    else if (strcmp (name, "BLOCK_JOB_CANCELLED") == 0)
        s_job_ended (self, job, "canceled");
}

void
qemu_blockjobs_destroy (qemu_blockjobs_t **self_p, bool stopped)
{
    qemu_blockjobs_t *self = *self_p;
    if (!self)
        return;
    bj_job_t *job;
    while ((job = (bj_job_t *) zlistx_first (self->jobs))) {
        if (stopped) {
            if (!job->ended)
                s_emit (self->dom, job, "failed");
            if (job->waiter)
                vb_call_reply_error (job->waiter, VB_ERR_OPERATION_FAILED, "domain '%s' "
                                     "stopped while its block job on disk '%s' was running",
                                     qemu_dom_name (self->dom), job->disk);
        }
        s_job_remove (self, job);
    }
    zlistx_destroy (&self->jobs);
    json_object_put (self->last);
    free (self);
    *self_p = NULL;
}

/* --- commit and pull ----------------------------------------------------------------------- */

static void
s_reply_started (bj_op_t *op)
{
    json_object *result = json_object_new_object ();
    json_object_object_add (result, "disk", json_object_new_string (op->disk));
    json_object_object_add (result, "job", json_object_new_string (op->job->id));
    json_object_object_add (result, "job_type",
                            json_object_new_string (s_type_names[op->job->type]));
    vb_call_reply_ok (op->call, result);
}

/*  query-block answered: check the chain, then pull, or ask for the node names (commit). */
static int
s_job_checks (bj_op_t *op, json_object *blocks, vb_error_t *err)
{
    json_object *inserted = s_find_inserted (blocks, op->disk);
    if (!inserted)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "QEMU of domain '%s' reports no "
                             "medium for disk '%s'", qemu_dom_name (op->dom), op->disk);
    op->block = json_object_get (inserted);
    size_t n = s_chain_length (inserted);
    const char *top_path = vb_json_str (s_layer (inserted, 0), "filename", "");
    if (n < 2) {
        if (op->kind == OP_PULL)
            return vb_error_set (err, VB_ERR_OPERATION_INVALID, "disk '%s' of domain '%s' has "
                                 "no backing file to pull from", op->disk,
                                 qemu_dom_name (op->dom));
        return vb_error_set (err, VB_ERR_OPERATION_INVALID, "top '%s' in chain for '%s' has "
                             "no backing file", top_path, op->disk);
    }
    return 0;
}

static void
s_start_pull (bj_op_t *op)
{
    qemu_blockjobs_t *self = s_state (op->dom);
    const char *top_path = vb_json_str (s_layer (op->block, 0), "filename", "");
    op->job = self ? s_job_add (self, op->disk, BJ_PULL, top_path) : NULL;
    if (!op->job) {
        vb_error_t e = { 0 };
        vb_error_set (&e, VB_ERR_INTERNAL, "out of memory while starting a block pull");
        s_op_fail (op, &e);
        return;
    }
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "job-id", json_object_new_string (op->job->id));
    json_object_object_add (args, "device",
                            json_object_new_string (vb_json_str (op->block, "node-name", "")));
    if (op->speed)
        json_object_object_add (args, "speed", json_object_new_int64 ((int64_t) op->speed));
    op->step = ST_START;
    s_send (op, "block-stream", args);
}

static void
s_start_commit (bj_op_t *op, json_object *nodes)
{
    vb_error_t err = { 0 };
    size_t n = s_chain_length (op->block);
    int top = 0, base = (int) n - 1;
    if (op->top_spec && (top = s_resolve_layer (op->block, op->disk, op->top_spec, &err)) < 0)
        goto fail;
    if (op->base_spec
        && (base = s_resolve_layer (op->block, op->disk, op->base_spec, &err)) < 0)
        goto fail;
    const char *top_path = vb_json_str (s_layer (op->block, (size_t) top), "filename", "");
    const char *base_path = vb_json_str (s_layer (op->block, (size_t) base), "filename", "");
    if (base <= top) {
        vb_error_set (&err, VB_ERR_INVALID_ARG, "base '%s' is not below top '%s' in chain for "
                      "'%s'", base_path, top_path, op->disk);
        goto fail;
    }
    if (top == 0 && !op->active) {
        vb_error_set (&err, VB_ERR_INVALID_ARG, "commit of '%s' active layer requires active "
                      "flag", op->disk);
        goto fail;
    }
    if (top > 0 && op->active) {
        vb_error_set (&err, VB_ERR_INVALID_ARG, "active commit requested but '%s' is not "
                      "active", top_path);
        goto fail;
    }
    const char *base_node = s_node_of (nodes, base_path);
    const char *top_node = top > 0 ? s_node_of (nodes, top_path) : NULL;
    if (!base_node || (top > 0 && !top_node)) {
        vb_error_set (&err, VB_ERR_OPERATION_FAILED, "QEMU of domain '%s' names no node for "
                      "'%s'", qemu_dom_name (op->dom), base_node ? top_path : base_path);
        goto fail;
    }
    qemu_blockjobs_t *self = s_state (op->dom);
    op->job = self ? s_job_add (self, op->disk, top == 0 ? BJ_ACTIVE_COMMIT : BJ_COMMIT,
                                vb_json_str (s_layer (op->block, 0), "filename", "")) : NULL;
    if (!op->job) {
        vb_error_set (&err, VB_ERR_INTERNAL, "out of memory while starting a block commit");
        goto fail;
    }
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "job-id", json_object_new_string (op->job->id));
    json_object_object_add (args, "device",
                            json_object_new_string (vb_json_str (op->block, "node-name", "")));
    json_object_object_add (args, "base-node", json_object_new_string (base_node));
    if (top_node)
        json_object_object_add (args, "top-node", json_object_new_string (top_node));
    if (op->speed)
        json_object_object_add (args, "speed", json_object_new_int64 ((int64_t) op->speed));
    op->step = ST_START;
    s_send (op, "block-commit", args);
    return;
fail:
    s_op_fail (op, &err);
}

/* --- snapshots ----------------------------------------------------------------------------- */

static void
s_snapshot_reply (bj_op_t *op)
{
    json_object *result = json_object_new_object ();
    json_object *disks = json_object_new_array ();
    json_object_object_add (result, "name", json_object_new_string (op->name));
    for (size_t i = 0; i < op->ndisks; i++) {
        json_object *d = json_object_new_object ();
        json_object_object_add (d, "disk", json_object_new_string (op->disks[i].target));
        json_object_object_add (d, "file", json_object_new_string (op->disks[i].file));
        json_object_array_add (disks, d);
    }
    json_object_object_add (result, "disks", disks);
    vb_call_reply_ok (op->call, result);
}

/*  Point the definitions at the overlays. Returns 0 or -1 with ERR. */
static int
s_snapshot_commit_def (bj_op_t *op, vb_error_t *err)
{
    qemu_disk_source_t *src = calloc (op->ndisks ? op->ndisks : 1, sizeof *src);
    if (!src)
        return vb_error_set (err, VB_ERR_INTERNAL, "out of memory while updating domain '%s'",
                             qemu_dom_name (op->dom));
    for (size_t i = 0; i < op->ndisks; i++) {
        src[i].target = op->disks[i].target;
        src[i].path = op->disks[i].file;
        src[i].format = VB_DISK_FORMAT_QCOW2;
    }
    int rc = qemu_dom_set_disk_sources (op->dom, src, op->ndisks, err);
    free (src);
    return rc;
}

/*  Create the overlay of disk D on top of TOP (format FORMAT, virtual size SIZE; 0 = read it
 *  from TOP, which must then not be in use). */
static int
s_create_overlay (bj_snapdisk_t *d, const char *top, const char *format, uint64_t size,
                  vb_error_t *err)
{
    char sizebuf[32];
    snprintf (sizebuf, sizeof sizebuf, "%" PRIu64, size);
    char what[PATH_MAX + 64];
    snprintf (what, sizeof what, "cannot create the overlay %s of disk '%s'", d->file,
              d->target);
    char *argv[16];
    size_t k = 0;
    argv[k++] = (char *) "qemu-img";
    argv[k++] = (char *) "create";
    argv[k++] = (char *) "-q";
    argv[k++] = (char *) "-f";
    argv[k++] = (char *) "qcow2";
    argv[k++] = (char *) "-F";
    argv[k++] = (char *) format;
    argv[k++] = (char *) "-b";
    argv[k++] = (char *) top;
    if (size)
        argv[k++] = (char *) "-u";
    argv[k++] = d->file;
    if (size)
        argv[k++] = sizebuf;
    argv[k] = NULL;
    /*  qemu-img creates with O_CREAT|O_TRUNC: the existence check was done before. */
    if (s_qemu_img (argv, what, err) != 0) {
        unlink (d->file);
        return -1;
    }
    d->created = true;
    return 0;
}

/*  query-block answered: make the overlay files, then add the first node. */
static void
s_snapshot_after_query (bj_op_t *op, json_object *blocks)
{
    vb_error_t err = { 0 };
    uint64_t stamp = (vb_wall_ns () / 1000) & 0xffffffu;
    for (size_t i = 0; i < op->ndisks; i++) {
        bj_snapdisk_t *d = &op->disks[i];
        json_object *inserted = s_find_inserted (blocks, d->target);
        json_object *top = inserted ? s_layer (inserted, 0) : NULL;
        const char *root = inserted ? vb_json_str (inserted, "node-name", NULL) : NULL;
        const char *path = top ? vb_json_str (top, "filename", NULL) : NULL;
        if (!top || !root || !path) {
            vb_error_set (&err, VB_ERR_OPERATION_FAILED, "QEMU of domain '%s' reports no "
                          "medium for disk '%s'", qemu_dom_name (op->dom), d->target);
            goto fail;
        }
        if (!(d->root = strdup (root))) {
            vb_error_set (&err, VB_ERR_INTERNAL, "out of memory while snapshotting");
            goto fail;
        }
        snprintf (d->node, sizeof d->node, "vb-%s-%06" PRIx64 "f", d->target,
                  (stamp + i) & 0xffffffu);
        snprintf (d->storage, sizeof d->storage, "vb-%s-%06" PRIx64 "s", d->target,
                  (stamp + i) & 0xffffffu);
        uint64_t size = (uint64_t) vb_json_int (top, "virtual-size", 0);
        const char *format = strcmp (vb_json_str (top, "format", ""), "qcow2") == 0 ? "qcow2" :
                                                                                     "raw";
        if (size == 0) {
            vb_error_set (&err, VB_ERR_OPERATION_FAILED, "QEMU of domain '%s' reports no size "
                          "for disk '%s'", qemu_dom_name (op->dom), d->target);
            goto fail;
        }
        if (s_create_overlay (d, path, format, size, &err) != 0)
            goto fail;
    }
    op->next = 0;
    op->step = ST_ADD;
    /*  Fall into the first blockdev-add through the common step function. */
    json_object *args = json_object_new_object ();
    json_object *file = json_object_new_object ();
    bj_snapdisk_t *d = &op->disks[0];
    json_object_object_add (file, "driver", json_object_new_string ("file"));
    json_object_object_add (file, "filename", json_object_new_string (d->file));
    json_object_object_add (file, "node-name", json_object_new_string (d->storage));
    json_object_object_add (args, "driver", json_object_new_string ("qcow2"));
    json_object_object_add (args, "node-name", json_object_new_string (d->node));
    json_object_object_add (args, "file", file);
    json_object_object_add (args, "backing", NULL);
    s_send (op, "blockdev-add", args);
    return;
fail:
    s_op_fail (op, &err);
}

static void
s_snapshot_next_add (bj_op_t *op)
{
    op->disks[op->next].added = true;
    op->next++;
    if (op->next < op->ndisks) {
        bj_snapdisk_t *d = &op->disks[op->next];
        json_object *args = json_object_new_object ();
        json_object *file = json_object_new_object ();
        json_object_object_add (file, "driver", json_object_new_string ("file"));
        json_object_object_add (file, "filename", json_object_new_string (d->file));
        json_object_object_add (file, "node-name", json_object_new_string (d->storage));
        json_object_object_add (args, "driver", json_object_new_string ("qcow2"));
        json_object_object_add (args, "node-name", json_object_new_string (d->node));
        json_object_object_add (args, "file", file);
        json_object_object_add (args, "backing", NULL);
        s_send (op, "blockdev-add", args);
        return;
    }
    /*  All added: one transaction puts every overlay on top, or none. */
    json_object *actions = json_object_new_array ();
    for (size_t i = 0; i < op->ndisks; i++) {
        json_object *action = json_object_new_object ();
        json_object *data = json_object_new_object ();
        json_object_object_add (data, "node", json_object_new_string (op->disks[i].root));
        json_object_object_add (data, "overlay", json_object_new_string (op->disks[i].node));
        json_object_object_add (action, "type", json_object_new_string ("blockdev-snapshot"));
        json_object_object_add (action, "data", data);
        json_object_array_add (actions, action);
    }
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "actions", actions);
    op->step = ST_TRANSACTION;
    s_send (op, "transaction", args);
}

/* --- the reply dispatcher ------------------------------------------------------------------ */

static void
s_on_reply (qemu_monitor_t *mon, json_object *result, const char *qmp_class,
            const vb_error_t *err, void *cb_data)
{
    (void) mon;
    (void) qmp_class;
    bj_op_t *op = (bj_op_t *) cb_data;
    if (qemu_dom_closing (op->dom)) {
        s_op_free (op);
        return;
    }
    if (op->kind == OP_CLEANUP) {
        if (err)
            vb_info ("qemu: domain '%s': %s", qemu_dom_name (op->dom), err->message);
        s_op_free (op);
        return;
    }
    if (op->kind == OP_FINISH) {
        if (op->step == ST_END) {
            s_finish_reply (op, err ? NULL : result);
            return;
        }
        /*  The deletions are queued before anything else is sent: QEMU runs commands in
         *  order, so whoever hears the end already sees the clean graph. */
        if (!err)
            s_drop_stale_nodes (op, result);
        qemu_blockjobs_t *self = *qemu_dom_blockjobs (op->dom);
        if (self)
            s_job_finish (self, op->job);
        s_op_free (op);
        return;
    }
    if (err) {
        vb_error_t e = { 0 };
        vb_error_set (&e, err->code == VB_ERR_HYPERVISOR_UNAVAILABLE ? VB_ERR_OPERATION_FAILED :
                      err->code, "domain '%s': %s", qemu_dom_name (op->dom), err->message);
        /*  An abort or pivot QEMU refused leaves the job as it was. */
        if ((op->kind == OP_ABORT || op->kind == OP_PIVOT) && op->job) {
            op->job->abort_requested = op->job->pivot_requested = false;
            op->job = NULL;
        }
        s_op_fail (op, &e);
        return;
    }
    vb_error_t e = { 0 };
    switch (op->kind) {
        case OP_COMMIT:
        case OP_PULL:
            if (op->step == ST_QUERY_BLOCK) {
                if (s_job_checks (op, result, &e) != 0) {
                    s_op_fail (op, &e);
                    return;
                }
                if (op->kind == OP_PULL) {
                    s_start_pull (op);
                    return;
                }
                json_object *args = json_object_new_object ();
                json_object_object_add (args, "flat", json_object_new_boolean (1));
                op->step = ST_QUERY_NODES;
                s_send (op, "query-named-block-nodes", args);
                return;
            }
            if (op->step == ST_QUERY_NODES) {
                s_start_commit (op, result);
                return;
            }
            s_reply_started (op);
            break;
        case OP_SNAPSHOT:
            if (op->step == ST_QUERY_BLOCK) {
                s_snapshot_after_query (op, result);
                return;
            }
            if (op->step == ST_ADD) {
                s_snapshot_next_add (op);
                return;
            }
            /*  The transaction succeeded: QEMU's chains have the overlays on top. */
            if (s_snapshot_commit_def (op, &e) != 0)
                vb_warn ("qemu: domain '%s': snapshot '%s' is live but %s", qemu_dom_name (
                             op->dom), op->name, e.message);
            s_snapshot_reply (op);
            break;
        case OP_INFO: {
            qemu_blockjobs_t *self = s_state (op->dom);
            bj_job_t *job = s_job_for_disk (self, op->disk);
            char id[48];
            snprintf (id, sizeof id, BJ_ID_PREFIX "%s", op->disk);
            json_object *found = NULL;
            for (size_t i = 0; json_object_is_type (result, json_type_array)
                               && i < json_object_array_length (result); i++) {
                json_object *entry = json_object_array_get_idx (result, i);
                if (strcmp (vb_json_str (entry, "device", ""), id) == 0)
                    found = entry;
            }
            json_object *reply = json_object_new_object ();
            json_object_object_add (reply, "disk", json_object_new_string (op->disk));
            if (found && !(job && job->ended)) {
                const char *qtype = vb_json_str (found, "type", "");
                const char *type = job ? s_type_names[job->type] :
                                   strcmp (qtype, "stream") == 0 ? "pull" :
                                   strcmp (qtype, "mirror") == 0 ? "copy" : "commit";
                json_object *j = json_object_new_object ();
                json_object_object_add (j, "id", json_object_new_string (id));
                json_object_object_add (j, "job_type", json_object_new_string (type));
                json_object_object_add (j, "cur", json_object_new_int64 (
                                            vb_json_int (found, "offset", 0)));
                json_object_object_add (j, "end", json_object_new_int64 (
                                            vb_json_int (found, "len", 0)));
                json_object_object_add (j, "bandwidth", json_object_new_int64 (
                                            vb_json_int (found, "speed", 0)));
                json_object_object_add (j, "ready", json_object_new_boolean (
                                            vb_json_bool (found, "ready", false)));
                json_object_object_add (reply, "job", j);
            }
            else
                json_object_object_add (reply, "job", NULL);
            json_object *last = NULL;
            if (self && json_object_object_get_ex (self->last, op->disk, &last))
                json_object_object_add (reply, "last", json_object_get (last));
            else
                json_object_object_add (reply, "last", NULL);
            vb_call_reply_ok (op->call, reply);
            break;
        }
        case OP_ABORT:
        case OP_PIVOT: {
            /*  QEMU took it; the answer waits for the job's end (s_job_finish). */
            qemu_blockjobs_t *self = s_state (op->dom);
            bj_job_t *job = s_job_for_disk (self, op->disk);
            if (job && job == op->job) {
                job->waiter = op->call;
                op->call = NULL;
            }
            else {
                /*  Already over (its end overtook this reply): report the outcome. */
                json_object *last = NULL, *reply = json_object_new_object ();
                json_object_object_add (reply, "disk", json_object_new_string (op->disk));
                if (self && json_object_object_get_ex (self->last, op->disk, &last))
                    json_object_object_add (reply, "event", json_object_new_string (
                                                vb_json_str (last, "event", "completed")));
                vb_call_reply_ok (op->call, reply);
            }
            break;
        }
        default:
            break;
    }
    s_op_free (op);
}

/* --- the ops ------------------------------------------------------------------------------- */

/*  The disk argument, checked against the definition; answers the call and returns NULL on a
 *  bad one. */
static const vb_disk_def_t *
s_disk_arg (qemu_dom_t *dom, vb_call_t *call)
{
    vb_error_t err = { 0 };
    const char *disk = NULL;
    if (vb_json_get_string (vb_call_args (call), "disk", true, &disk, &err) != 0) {
        vb_call_reply_err (call, &err);
        return NULL;
    }
    const vb_disk_def_t *d = s_disk (dom, disk);
    if (!d) {
        /*  libvirt also accepts the source path. */
        const vb_domain_def_t *def = qemu_dom_current_def (dom);
        for (size_t i = 0; def && i < def->ndisks && !d; i++)
            if (def->disks[i].source && s_same_file (def->disks[i].source, disk))
                d = &def->disks[i];
    }
    if (!d || !d->source || strlen (d->target_dev) >= 24)
        vb_call_reply_error (call, VB_ERR_INVALID_ARG, "disk '%s' not found in domain '%s'",
                             disk, qemu_dom_name (dom));
    return d && d->source && strlen (d->target_dev) < 24 ? d : NULL;
}

static bool
s_check_idle (qemu_dom_t *dom, vb_call_t *call, const char *disk)
{
    bj_job_t *job = s_job_for_disk (*qemu_dom_blockjobs (dom), disk);
    if (job) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "disk '%s' already in active "
                             "block job (%s) on domain '%s'", disk, s_type_names[job->type],
                             qemu_dom_name (dom));
        return false;
    }
    return true;
}

/*  bandwidth_mib -> bytes/s. */
static int
s_speed_arg (vb_call_t *call, uint64_t *speed)
{
    vb_error_t err = { 0 };
    uint64_t mib = 0;
    if (vb_json_get_uint64 (vb_call_args (call), "bandwidth_mib", false, &mib, &err) != 0)
        return vb_call_reply_err (call, &err), -1;
    if (mib > (UINT64_C (1) << 43)) {
        vb_call_reply_error (call, VB_ERR_INVALID_ARG, "bandwidth %" PRIu64 " MiB/s is too "
                             "large", mib);
        return -1;
    }
    *speed = mib << 20;
    return 0;
}

static void
s_op_blockcommit (void *state, vb_call_t *call)
{
    qemu_dom_t *dom = qemu_driver_call_target (state, call, true);
    if (!dom)
        return;
    const vb_disk_def_t *disk = s_disk_arg (dom, call);
    if (!disk || !s_check_idle (dom, call, disk->target_dev))
        return;
    vb_error_t err = { 0 };
    json_object *args = vb_call_args (call);
    const char *top = NULL, *base = NULL;
    bool active = false, pivot = false;
    uint64_t speed = 0;
    if (vb_json_get_string (args, "top", false, &top, &err) != 0
        || vb_json_get_string (args, "base", false, &base, &err) != 0
        || vb_json_get_bool (args, "active", false, &active, &err) != 0
        || vb_json_get_bool (args, "pivot", false, &pivot, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    if (s_speed_arg (call, &speed) != 0)
        return;
    bj_op_t *op = s_op_new (dom, call, OP_COMMIT, disk->target_dev);
    if (!op)
        return;
    op->active = active || pivot;
    op->speed = speed;
    if ((top && !(op->top_spec = strdup (top))) || (base && !(op->base_spec = strdup (base)))) {
        vb_error_set (&err, VB_ERR_INTERNAL, "out of memory while starting a block commit");
        s_op_fail (op, &err);
        return;
    }
    op->step = ST_QUERY_BLOCK;
    s_send (op, "query-block", NULL);
}

static void
s_op_blockpull (void *state, vb_call_t *call)
{
    qemu_dom_t *dom = qemu_driver_call_target (state, call, true);
    if (!dom)
        return;
    const vb_disk_def_t *disk = s_disk_arg (dom, call);
    if (!disk || !s_check_idle (dom, call, disk->target_dev))
        return;
    uint64_t speed = 0;
    if (s_speed_arg (call, &speed) != 0)
        return;
    bj_op_t *op = s_op_new (dom, call, OP_PULL, disk->target_dev);
    if (!op)
        return;
    op->speed = speed;
    op->step = ST_QUERY_BLOCK;
    s_send (op, "query-block", NULL);
}

static void
s_op_blockjob (void *state, vb_call_t *call)
{
    qemu_dom_t *dom = qemu_driver_call_target (state, call, true);
    if (!dom)
        return;
    const vb_disk_def_t *disk = s_disk_arg (dom, call);
    if (!disk)
        return;
    vb_error_t err = { 0 };
    const char *action = "info";
    if (vb_json_get_string (vb_call_args (call), "action", false, &action, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    bj_kind_t kind;
    if (strcmp (action, "info") == 0)
        kind = OP_INFO;
    else if (strcmp (action, "abort") == 0)
        kind = OP_ABORT;
    else if (strcmp (action, "pivot") == 0)
        kind = OP_PIVOT;
    else {
        vb_call_reply_error (call, VB_ERR_INVALID_ARG, "field 'action' must be info, abort or "
                             "pivot, not '%s'", action);
        return;
    }
    bj_job_t *job = s_job_for_disk (*qemu_dom_blockjobs (dom), disk->target_dev);
    if (kind != OP_INFO) {
        if (!job || job->ended) {
            vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "disk %s does not have an "
                                 "active block job", disk->target_dev);
            return;
        }
        if (job->waiter || job->abort_requested || job->pivot_requested) {
            vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "block job on disk %s is "
                                 "already being ended", disk->target_dev);
            return;
        }
        if (kind == OP_PIVOT && job->type != BJ_ACTIVE_COMMIT && job->type != BJ_COPY) {
            vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "pivot of disk '%s' requires "
                                 "an active copy or commit job, not %s", disk->target_dev,
                                 s_type_names[job->type]);
            return;
        }
        if (kind == OP_PIVOT && !job->ready) {
            vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "block job '%s' not ready "
                                 "for pivot yet", job->id);
            return;
        }
    }
    bj_op_t *op = s_op_new (dom, call, kind, disk->target_dev);
    if (!op)
        return;
    op->step = ST_JOBS;
    if (kind == OP_INFO) {
        s_send (op, "query-block-jobs", NULL);
        return;
    }
    op->job = job;
    if (kind == OP_ABORT)
        job->abort_requested = true;
    else
        job->pivot_requested = true;
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "device", json_object_new_string (job->id));
    s_send (op, kind == OP_ABORT ? "block-job-cancel" : "block-job-complete", args);
}

/*  Default overlay path: the source without its extension, "." NAME. */
static char *
s_default_overlay (const char *source, const char *name)
{
    const char *slash = strrchr (source, '/');
    const char *dot = strrchr (source, '.');
    size_t keep = dot && (!slash || dot > slash + 1) ? (size_t) (dot - source) : strlen (source);
    char *out = NULL;
    if (asprintf (&out, "%.*s.%s", (int) keep, source, name) < 0)
        return NULL;
    return out;
}

/*  Fill op->disks from the definition and the diskspecs. Returns 0 or -1 with ERR. */
static int
s_snapshot_disks (bj_op_t *op, json_object *specs, vb_error_t *err)
{
    const vb_domain_def_t *def = qemu_dom_current_def (op->dom);
    for (size_t i = 0; specs && i < json_object_array_length (specs); i++) {
        json_object *spec = json_object_array_get_idx (specs, i);
        const char *disk = NULL;
        if (!json_object_is_type (spec, json_type_object)
            || vb_json_get_string (spec, "disk", true, &disk, err) != 0)
            return vb_error_set (err, VB_ERR_INVALID_ARG, "each entry of 'diskspecs' must be "
                                 "an object with a 'disk' string");
        if (!s_disk (op->dom, disk))
            return vb_error_set (err, VB_ERR_INVALID_ARG, "no disk named '%s' in domain '%s'",
                                 disk, qemu_dom_name (op->dom));
    }
    op->disks = calloc (def->ndisks ? def->ndisks : 1, sizeof *op->disks);
    if (!op->disks)
        return vb_error_set (err, VB_ERR_INTERNAL, "out of memory while snapshotting");
    for (size_t i = 0; i < def->ndisks; i++) {
        const vb_disk_def_t *disk = &def->disks[i];
        json_object *spec = NULL;
        for (size_t s = 0; specs && s < json_object_array_length (specs); s++)
            if (strcmp (vb_json_str (json_object_array_get_idx (specs, s), "disk", ""),
                        disk->target_dev) == 0)
                spec = json_object_array_get_idx (specs, s);
        const char *mode = vb_json_str (spec, "snapshot", "external");
        const char *file = vb_json_str (spec, "file", NULL);
        if (strcmp (mode, "no") == 0)
            continue;
        if (strcmp (mode, "external") != 0)
            return vb_error_set (err, VB_ERR_UNSUPPORTED, "snapshot mode '%s' of disk '%s' is "
                                 "not supported: disk-only snapshots are external", mode,
                                 disk->target_dev);
        if (!disk->source || disk->readonly || disk->device != VB_DISK_DEVICE_DISK) {
            if (spec)
                return vb_error_set (err, VB_ERR_INVALID_ARG, "disk '%s' of domain '%s' cannot "
                                     "be snapshotted: it is read-only or has no source",
                                     disk->target_dev, qemu_dom_name (op->dom));
            continue;
        }
        if (strlen (disk->target_dev) > 8)
            return vb_error_set (err, VB_ERR_UNSUPPORTED, "disk name '%s' is too long for a "
                                 "QEMU node name", disk->target_dev);
        if (s_job_for_disk (*qemu_dom_blockjobs (op->dom), disk->target_dev))
            return vb_error_set (err, VB_ERR_OPERATION_INVALID, "disk '%s' already in active "
                                 "block job", disk->target_dev);
        if (file && file[0] != '/')
            return vb_error_set (err, VB_ERR_INVALID_ARG, "external snapshot file '%s' of "
                                 "disk '%s' must be an absolute path", file, disk->target_dev);
        bj_snapdisk_t *d = &op->disks[op->ndisks++];
        d->target = strdup (disk->target_dev);
        d->file = file ? strdup (file) : s_default_overlay (disk->source, op->name);
        if (!d->target || !d->file)
            return vb_error_set (err, VB_ERR_INTERNAL, "out of memory while snapshotting");
        struct stat st;
        if (stat (d->file, &st) == 0)
            return vb_error_set (err, VB_ERR_OPERATION_INVALID, "external snapshot file for "
                                 "disk %s already exists and is not a block device: %s",
                                 d->target, d->file);
        for (size_t k = 0; k + 1 < op->ndisks; k++)
            if (strcmp (op->disks[k].file, d->file) == 0)
                return vb_error_set (err, VB_ERR_INVALID_ARG, "disks '%s' and '%s' would use "
                                     "the same overlay %s", op->disks[k].target, d->target,
                                     d->file);
    }
    if (op->ndisks == 0)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s' has no disk to snapshot",
                             qemu_dom_name (op->dom));
    return 0;
}

static void
s_op_snapshot_create (void *state, vb_call_t *call)
{
    qemu_dom_t *dom = qemu_driver_call_target (state, call, false);
    if (!dom)
        return;
    vb_error_t err = { 0 };
    json_object *args = vb_call_args (call), *specs = NULL;
    const char *name = NULL;
    bool disk_only = false;
    bj_op_t *op = NULL;
    if (vb_json_get_string (args, "name", true, &name, &err) != 0
        || vb_json_get_bool (args, "disk_only", false, &disk_only, &err) != 0
        || vb_json_get_array (args, "diskspecs", false, &specs, &err) != 0)
        goto fail;
    if (!disk_only) {
        vb_error_set (&err, VB_ERR_UNSUPPORTED, "only disk-only snapshots are supported; set "
                      "'disk_only'");
        goto fail;
    }
    if (!vb_name_is_valid (name)) {
        vb_error_set (&err, VB_ERR_INVALID_ARG, "snapshot name '%s' is not valid: 1-64 "
                      "characters of letters, digits and _.-+, not starting with '.' or '-'",
                      name);
        goto fail;
    }
    op = s_op_new (dom, call, OP_SNAPSHOT, NULL);
    if (!op)
        return;
    if (!(op->name = strdup (name))) {
        vb_error_set (&err, VB_ERR_INTERNAL, "out of memory while snapshotting");
        goto fail;
    }
    if (s_snapshot_disks (op, specs, &err) != 0)
        goto fail;
    if (qemu_dom_is_active (dom)) {
        op->step = ST_QUERY_BLOCK;
        s_send (op, "query-block", NULL);
        return;
    }
    /*  Shut off: the overlays go on disk; the next start opens them. */
    const vb_domain_def_t *def = qemu_dom_current_def (dom);
    for (size_t i = 0; i < op->ndisks; i++) {
        const vb_disk_def_t *disk = s_disk (dom, op->disks[i].target);
        (void) def;
        if (s_create_overlay (&op->disks[i], disk->source,
                              disk->format == VB_DISK_FORMAT_QCOW2 ? "qcow2" : "raw", 0,
                              &err) != 0)
            goto fail;
    }
    if (s_snapshot_commit_def (op, &err) != 0)
        goto fail;
    s_snapshot_reply (op);
    s_op_free (op);
    return;
fail:
    if (op) {
        op->call = call;
        s_op_fail (op, &err);
    }
    else
        vb_call_reply_err (call, &err);
}

const struct vb_driver_extra_op qemu_blockjob_ops[] = {
    { "domain.snapshot_create", s_op_snapshot_create },
    { "domain.blockcommit", s_op_blockcommit },
    { "domain.blockpull", s_op_blockpull },
    { "domain.blockjob", s_op_blockjob },
    { NULL, NULL },
};
