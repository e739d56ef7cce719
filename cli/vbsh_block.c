/*  vbsh_block — backing-chain commands (issue 9): snapshot-create-as --disk-only, blockcommit,
 *  blockpull, blockjob. Messages are virsh 9.0's (tools/virsh-snapshot.c, tools/virsh-domain.c):
 *  progress goes to stderr as "\r<label>: [ NN %]", the closing line to stdout. --wait polls
 *  domain.blockjob {action: info} until the job is gone (its outcome is the "last" entry the
 *  worker keeps for the disk) or, for an active commit, ready.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vb_json.h"
#include "vb_util.h"
#include "vbsh.h"

#define VBSH_OP_SNAPSHOT "domain.snapshot_create"
#define VBSH_OP_COMMIT "domain.blockcommit"
#define VBSH_OP_PULL "domain.blockpull"
#define VBSH_OP_BLOCKJOB "domain.blockjob"

/*  How often --wait asks for the job's state. */
#define VBSH_BLOCK_POLL_MS 200

typedef enum { WAIT_ERROR = -1, WAIT_COMPLETED, WAIT_FAILED, WAIT_CANCELED, WAIT_READY } s_wait_t;

/*  virsh's virshPrintJobProgress. */
static void
s_progress (vbsh_ctx_t *ctx, const char *label, uint64_t remaining, uint64_t total)
{
    int progress;
    if (remaining == 0)
        progress = 100;
    else {
        progress = (int) (100.0 - remaining * 100.0 / (double) total);
        if (progress >= 100)
            progress = 99;
    }
    fflush (ctx->out);
    fprintf (ctx->err, "\r%s: [%3d %%]", label, progress);
    fflush (ctx->err);
}

static const char *
s_job_label (const char *type)
{
    if (!type)
        return "Unknown job";
    if (strcmp (type, "pull") == 0)
        return "Block Pull";
    if (strcmp (type, "copy") == 0)
        return "Block Copy";
    if (strcmp (type, "commit") == 0)
        return "Block Commit";
    if (strcmp (type, "active_commit") == 0)
        return "Active Block Commit";
    return "Unknown job";
}

static void
s_sleep_ms (int ms)
{
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000L };
    while (nanosleep (&ts, &ts) != 0 && errno == EINTR)
        ;
}

/*  --bandwidth: MiB/s, or a scaled size in bytes (virsh: "10M" = 10 MiB/s). Returns 0 and sets
 *  *MIB (0 when absent), or 1 (reported). */
static int
s_bandwidth (vbsh_ctx_t *ctx, const vbsh_args_t *args, uint64_t *mib)
{
    const char *v = vbsh_arg (args, "bandwidth");
    *mib = 0;
    if (!v)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long long n = strtoull (v, &end, 10);
    if (errno || end == v || v[0] == '-')
        goto bad;
    if (*end) {
        /*  A scaled size: bytes, shifted down to MiB as virsh does. */
        unsigned shift = 0;
        if (strcmp (end, "b") == 0 || strcmp (end, "B") == 0)
            shift = 0;
        else if (strchr ("kK", end[0]) && (end[1] == '\0' || strcmp (end + 1, "iB") == 0))
            shift = 10;
        else if (strchr ("mM", end[0]) && (end[1] == '\0' || strcmp (end + 1, "iB") == 0))
            shift = 20;
        else if (strchr ("gG", end[0]) && (end[1] == '\0' || strcmp (end + 1, "iB") == 0))
            shift = 30;
        else
            goto bad;
        if (shift && n > (ULLONG_MAX >> shift))
            goto bad;
        n = (n << shift) >> 20;
    }
    *mib = n;
    return 0;
bad:
    return vbsh_error (ctx, "Scaled numeric value '%s' for <--bandwidth> option is malformed or "
                            "out of range", v);
}

/*  --timeout in seconds -> ms (0 when absent). Returns 0 or 1 (reported). */
static int
s_timeout (vbsh_ctx_t *ctx, const vbsh_args_t *args, int64_t *ms)
{
    const char *v = vbsh_arg (args, "timeout");
    *ms = 0;
    if (!v)
        return 0;
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul (v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || n == 0 || n > INT_MAX / 1000)
        return vbsh_error (ctx, "Numeric value '%s' for <%s> option is malformed or out of "
                                "range", v, "timeout");
    *ms = (int64_t) n * 1000;
    return 0;
}

/*  domain.blockjob ACTION on DISK. The reply, or NULL (reported unless QUIET_FAIL). */
static vb_reply_t *
s_blockjob_call (vbsh_ctx_t *ctx, const char *dom, const char *disk, const char *action,
                 const char *failed_line)
{
    json_object *jargs = json_object_new_object ();
    if (!jargs) {
        vbsh_error (ctx, "out of memory");
        return NULL;
    }
    json_object_object_add (jargs, "disk", json_object_new_string (disk));
    json_object_object_add (jargs, "action", json_object_new_string (action));
    vb_target_t target = { .domain = (char *) dom };
    return vbsh_call (ctx, VBSH_OP_BLOCKJOB, &target, jargs, failed_line);
}

/*  virsh's virshBlockJobWait: poll until the job JOB_ID on DISK ended or (READY_ENDS) is
 *  ready; abort it after TIMEOUT_MS (0 = never). */
static s_wait_t
s_wait (vbsh_ctx_t *ctx, const char *dom, const char *disk, const char *job_id,
        const char *label, bool verbose, int64_t timeout_ms, bool ready_ends)
{
    int64_t start = vb_now_ms ();
    uint64_t last_cur = 0, last_end = 0;
    s_wait_t ret = WAIT_ERROR;
    char failed[256];
    snprintf (failed, sizeof failed, "failed to query job for disk %s", disk);
    for (;;) {
        vb_reply_t *reply = s_blockjob_call (ctx, dom, disk, "info", failed);
        if (!reply)
            return WAIT_ERROR;
        json_object *job = NULL, *last = NULL;
        json_object_object_get_ex (reply->result, "job", &job);
        json_object_object_get_ex (reply->result, "last", &last);
        if (!job || !json_object_is_type (job, json_type_object)) {
            const char *event = NULL;
            if (last && strcmp (vb_json_str (last, "id", ""), job_id) == 0)
                event = vb_json_str (last, "event", NULL);
            ret = !event || strcmp (event, "completed") == 0 ? WAIT_COMPLETED :
                  strcmp (event, "canceled") == 0 ? WAIT_CANCELED : WAIT_FAILED;
            vb_reply_destroy (&reply);
            break;
        }
        uint64_t cur = (uint64_t) vb_json_int (job, "cur", 0);
        uint64_t end = (uint64_t) vb_json_int (job, "end", 0);
        bool ready = vb_json_bool (job, "ready", false);
        vb_reply_destroy (&reply);
        if (ready && ready_ends) {
            ret = WAIT_READY;
            break;
        }
        if (verbose && (cur != last_cur || end != last_end))
            s_progress (ctx, label, end - cur, end);
        last_cur = cur;
        last_end = end;
        if (timeout_ms && vb_now_ms () - start > timeout_ms) {
            snprintf (failed, sizeof failed, "failed to abort job for disk '%s'", disk);
            reply = s_blockjob_call (ctx, dom, disk, "abort", failed);
            if (!reply)
                return WAIT_ERROR;
            vb_reply_destroy (&reply);
            ret = WAIT_CANCELED;
            break;
        }
        s_sleep_ms (VBSH_BLOCK_POLL_MS);
    }
    if (verbose && (ret == WAIT_COMPLETED || ret == WAIT_READY))
        s_progress (ctx, label, 0, 1);
    return ret;
}

/* --- snapshot-create-as ------------------------------------------------------------------ */

/*  virsh's vshStringToArray: split on ',' with ",," meaning a literal comma. */
static size_t
s_split (const char *text, char **out, size_t max)
{
    size_t n = 0, len = strlen (text);
    char *buf = malloc (len + 1);
    if (!buf)
        return 0;
    size_t b = 0;
    for (size_t i = 0; i <= len; i++) {
        if (text[i] == ',' && text[i + 1] == ',') {
            buf[b++] = ',';
            i++;
            continue;
        }
        if (text[i] == ',' || text[i] == '\0') {
            buf[b] = '\0';
            if (n < max)
                out[n++] = strdup (buf);
            b = 0;
            continue;
        }
        buf[b++] = text[i];
    }
    free (buf);
    return n;
}

/*  One --diskspec as a diskspecs entry, or NULL (reported). */
static json_object *
s_diskspec (vbsh_ctx_t *ctx, const char *text)
{
    char *parts[8] = { NULL };
    size_t n = s_split (text, parts, 8);
    json_object *spec = NULL;
    const char *snapshot = NULL, *driver = NULL, *stype = NULL, *file = NULL;
    bool ok = n > 0 && n < 8 && parts[0] && parts[0][0];
    for (size_t i = 1; ok && i < n; i++) {
        if (!parts[i])
            ok = false;
        else if (!snapshot && strncmp (parts[i], "snapshot=", 9) == 0)
            snapshot = parts[i] + 9;
        else if (!driver && strncmp (parts[i], "driver=", 7) == 0)
            driver = parts[i] + 7;
        else if (!stype && strncmp (parts[i], "stype=", 6) == 0)
            stype = parts[i] + 6;
        else if (!file && strncmp (parts[i], "file=", 5) == 0)
            file = parts[i] + 5;
        else
            ok = false;
    }
    if (!ok)
        vbsh_error (ctx, "unable to parse diskspec: %s", text);
    else if (stype && strcmp (stype, "file") != 0 && strcmp (stype, "block") != 0)
        vbsh_error (ctx, "Unknown storage type: '%s'", stype);
    else if (stype && strcmp (stype, "block") == 0)
        vbsh_error (ctx, "diskspec %s: block device overlays are not supported", text);
    else if (driver && strcmp (driver, "qcow2") != 0)
        vbsh_error (ctx, "diskspec %s: overlays are qcow2, not %s", text, driver);
    else if ((spec = json_object_new_object ())) {
        json_object_object_add (spec, "disk", json_object_new_string (parts[0]));
        if (snapshot)
            json_object_object_add (spec, "snapshot", json_object_new_string (snapshot));
        if (file)
            json_object_object_add (spec, "file", json_object_new_string (file));
    }
    else
        vbsh_error (ctx, "out of memory");
    for (size_t i = 0; i < n; i++)
        free (parts[i]);
    return spec;
}

static int
s_run_snapshot (vbsh_ctx_t *ctx, const char *cmd, vbsh_args_t *args)
{
    (void) cmd;
    const char *dom = vbsh_arg (args, "domain");
    const char *name = vbsh_arg (args, "name");
    json_object *jargs = json_object_new_object ();
    json_object *specs = json_object_new_array ();
    if (!jargs || !specs) {
        json_object_put (jargs);
        json_object_put (specs);
        return vbsh_error (ctx, "out of memory");
    }
    for (size_t i = 0; i < args->argc; i++) {
        json_object *spec = s_diskspec (ctx, args->argv[i]);
        if (!spec) {
            json_object_put (jargs);
            json_object_put (specs);
            return 1;
        }
        json_object_array_add (specs, spec);
    }
    json_object_object_add (jargs, "name", json_object_new_string (name));
    json_object_object_add (jargs, "disk_only",
                            json_object_new_boolean (vbsh_flag (args, "disk-only")));
    if (args->argc)
        json_object_object_add (jargs, "diskspecs", specs);
    else
        json_object_put (specs);
    vb_target_t target = { .domain = (char *) dom };
    vb_reply_t *reply = vbsh_call (ctx, VBSH_OP_SNAPSHOT, &target, jargs, NULL);
    if (!reply)
        return 1;
    if (ctx->json)
        vbsh_print_json (ctx, reply->result);
    else
        fprintf (ctx->out, "Domain snapshot %s created", vb_json_str (reply->result, "name",
                                                                      name));
    vb_reply_destroy (&reply);
    return 0;
}

/* --- blockcommit / blockpull ------------------------------------------------------------- */

static int
s_run_job (vbsh_ctx_t *ctx, const char *cmd, vbsh_args_t *args)
{
    bool commit = strcmp (cmd, "blockcommit") == 0;
    const char *dom = vbsh_arg (args, "domain");
    const char *disk = vbsh_arg (args, "path");
    bool verbose = vbsh_flag (args, "verbose");
    bool pivot = commit && vbsh_flag (args, "pivot");
    bool active = commit && (vbsh_flag (args, "active") || pivot);
    bool blocking = vbsh_flag (args, "wait") || pivot;
    uint64_t mib = 0;
    int64_t timeout_ms = 0;

    if (!commit && verbose && !vbsh_flag (args, "wait"))
        return vbsh_error (ctx, "Option --%s is required by option --%s", "wait", "verbose");
    if (s_bandwidth (ctx, args, &mib) != 0 || s_timeout (ctx, args, &timeout_ms) != 0)
        return 1;
    if (timeout_ms)
        blocking = true;
    if (commit && !blocking && verbose)
        return vbsh_error (ctx, "--verbose requires at least one of --timeout, --wait, "
                                "--pivot, or --keep-overlay");

    json_object *jargs = json_object_new_object ();
    if (!jargs)
        return vbsh_error (ctx, "out of memory");
    json_object_object_add (jargs, "disk", json_object_new_string (disk));
    if (mib)
        json_object_object_add (jargs, "bandwidth_mib", json_object_new_int64 ((int64_t) mib));
    if (commit) {
        if (vbsh_arg (args, "top"))
            json_object_object_add (jargs, "top", json_object_new_string (vbsh_arg (args,
                                                                                  "top")));
        if (vbsh_arg (args, "base"))
            json_object_object_add (jargs, "base", json_object_new_string (vbsh_arg (args,
                                                                                   "base")));
        if (active)
            json_object_object_add (jargs, "active", json_object_new_boolean (1));
    }
    vb_target_t target = { .domain = (char *) dom };
    vb_reply_t *reply = vbsh_call (ctx, commit ? VBSH_OP_COMMIT : VBSH_OP_PULL, &target, jargs,
                                   NULL);
    if (!reply)
        return 1;
    char *job_id = strdup (vb_json_str (reply->result, "job", ""));
    if (ctx->json && !blocking)
        vbsh_print_json (ctx, reply->result);
    vb_reply_destroy (&reply);
    if (!job_id)
        return vbsh_error (ctx, "out of memory");
    int rc = 0;
    if (!blocking) {
        if (!ctx->json)
            fprintf (ctx->out, "%s", commit ? (active ? "Active Block Commit started" :
                                                        "Block Commit started") :
                                              "Block Pull started");
        goto done;
    }
    s_wait_t outcome = s_wait (ctx, dom, disk, job_id, commit ? "Block commit" : "Block Pull",
                               verbose, timeout_ms, active);
    switch (outcome) {
        case WAIT_ERROR:
            rc = 1;
            goto done;
        case WAIT_CANCELED:
            fprintf (ctx->out, "\n%s", commit ? "Commit aborted" : "Pull aborted");
            rc = 1;
            goto done;
        case WAIT_FAILED:
            fprintf (ctx->out, "\n%s", commit ? "Commit failed" : "Pull failed");
            rc = 1;
            goto done;
        default:
            break;
    }
    if (!commit)
        fprintf (ctx->out, "\n%s", "Pull complete");
    else if (!active)
        fprintf (ctx->out, "\n%s", "Commit complete");
    else if (pivot) {
        char failed[128];
        snprintf (failed, sizeof failed, "failed to pivot job for disk %s", disk);
        reply = s_blockjob_call (ctx, dom, disk, "pivot", failed);
        if (!reply) {
            rc = 1;
            goto done;
        }
        vb_reply_destroy (&reply);
        fprintf (ctx->out, "\n%s", "Successfully pivoted");
    }
    else
        fprintf (ctx->out, "\n%s", "Now in synchronized phase");
done:
    free (job_id);
    return rc;
}

/* --- blockjob ---------------------------------------------------------------------------- */

/*  virsh's vshPrettyCapacity. */
static double
s_pretty (uint64_t val, const char **unit)
{
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    double limit = 1024;
    for (size_t i = 0; i < 6; i++, limit *= 1024)
        if (val < limit) {
            *unit = units[i];
            return i == 0 ? (double) val : (double) val / (limit / 1024);
        }
    *unit = units[6];
    return (double) val / limit * 1024;
}

static int
s_run_blockjob (vbsh_ctx_t *ctx, const char *cmd, vbsh_args_t *args)
{
    (void) cmd;
    const char *dom = vbsh_arg (args, "domain");
    const char *disk = vbsh_arg (args, "path");
    bool info = vbsh_flag (args, "info");
    bool abort_mode = vbsh_flag (args, "abort");
    bool pivot = vbsh_flag (args, "pivot");
    if (info && (abort_mode || pivot))
        return vbsh_error (ctx, "Options --%s and --%s are mutually exclusive", "info",
                           abort_mode ? "abort" : "pivot");
    const char *action = pivot ? "pivot" : abort_mode ? "abort" : "info";
    vb_reply_t *reply = s_blockjob_call (ctx, dom, disk, action, NULL);
    if (!reply)
        return 1;
    if (ctx->json) {
        vbsh_print_json (ctx, reply->result);
        vb_reply_destroy (&reply);
        return 0;
    }
    if (strcmp (action, "info") == 0) {
        json_object *job = NULL;
        json_object_object_get_ex (reply->result, "job", &job);
        if (!job || !json_object_is_type (job, json_type_object))
            fprintf (ctx->out, "No current block job for %s", disk);
        else {
            uint64_t cur = (uint64_t) vb_json_int (job, "cur", 0);
            uint64_t end = (uint64_t) vb_json_int (job, "end", 0);
            uint64_t speed = (uint64_t) vb_json_int (job, "bandwidth", 0);
            s_progress (ctx, s_job_label (vb_json_str (job, "job_type", NULL)), end - cur, end);
            if (speed) {
                const char *unit;
                double val = s_pretty (speed, &unit);
                fprintf (ctx->out, "    Bandwidth limit: %" PRIu64 " bytes/s (%-.3lf %s/s)",
                         speed, val, unit);
            }
            fprintf (ctx->out, "\n");
        }
    }
    vb_reply_destroy (&reply);
    return 0;
}

static const vbsh_opt_def_t s_opts_snapshot[] = {
    { "domain", VBSH_OPT_DATA, "domain name, host/name or UUID" },
    { "name", VBSH_OPT_DATA, "name of snapshot" },
    { "disk-only", VBSH_OPT_BOOL, "capture disk state but not vm state" },
    { "diskspec", VBSH_OPT_MULTI, "disk attributes: disk[,snapshot=type][,file=name]" },
    { NULL, 0, NULL },
};

static const vbsh_opt_def_t s_opts_commit[] = {
    { "domain", VBSH_OPT_DATA, "domain name, host/name or UUID" },
    { "path", VBSH_OPT_DATA, "disk target (vda) or source path" },
    { "bandwidth", VBSH_OPT_STRING, "bandwidth limit in MiB/s" },
    { "base", VBSH_OPT_STRING, "layer to commit into: vda[N] or a path (default bottom)" },
    { "top", VBSH_OPT_STRING, "layer to commit from: vda[N] or a path (default top)" },
    { "active", VBSH_OPT_BOOL, "trigger two-stage active commit of top file" },
    { "wait", VBSH_OPT_BOOL, "wait for job to complete (with --active, wait for job to sync)" },
    { "verbose", VBSH_OPT_BOOL, "with --wait, display the progress" },
    { "timeout", VBSH_OPT_STRING, "implies --wait, abort if copy exceeds timeout (in seconds)" },
    { "pivot", VBSH_OPT_BOOL, "implies --active --wait, pivot when commit is synced" },
    { NULL, 0, NULL },
};

static const vbsh_opt_def_t s_opts_pull[] = {
    { "domain", VBSH_OPT_DATA, "domain name, host/name or UUID" },
    { "path", VBSH_OPT_DATA, "disk target (vda) or source path" },
    { "bandwidth", VBSH_OPT_STRING, "bandwidth limit in MiB/s" },
    { "wait", VBSH_OPT_BOOL, "wait for job to finish" },
    { "verbose", VBSH_OPT_BOOL, "with --wait, display the progress" },
    { "timeout", VBSH_OPT_STRING, "with --wait, abort if pull exceeds timeout (in seconds)" },
    { NULL, 0, NULL },
};

static const vbsh_opt_def_t s_opts_blockjob[] = {
    { "domain", VBSH_OPT_DATA, "domain name, host/name or UUID" },
    { "path", VBSH_OPT_DATA, "disk target (vda) or source path" },
    { "abort", VBSH_OPT_BOOL, "abort the active job on the specified disk" },
    { "pivot", VBSH_OPT_BOOL, "implies --abort; conclude and pivot a copy or commit job" },
    { "info", VBSH_OPT_BOOL, "get active job information for the specified disk" },
    { NULL, 0, NULL },
};

const vbsh_cmd_t vbsh_block_cmds[] = {
    { "snapshot-create-as", s_opts_snapshot, s_run_snapshot,
      "create a disk-only snapshot from a set of args" },
    { "blockcommit", s_opts_commit, s_run_job, "start a block commit operation" },
    { "blockpull", s_opts_pull, s_run_job, "populate a disk from its backing image" },
    { "blockjob", s_opts_blockjob, s_run_blockjob, "manage active block operations" },
    { NULL, NULL, NULL, NULL },
};
