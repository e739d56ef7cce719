/*  vb_broker — sockets, jobs and routing of virtbusd (see vb_broker.h). */
#include "vb_broker.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vb_auth.h"
#include "vb_domxml.h"
#include "vb_endpoint.h"
#include "vb_events.h"
#include "vb_gather.h"
#include "vb_json.h"
#include "vb_log.h"
#include "vb_proto.h"
#include "vb_registry.h"
#include "vb_util.h"

/*  A worker request id is (job id << SHARE_BITS) | share index, so a REPLY finds its job and
 *  share without a second table. */
#define SHARE_BITS 16
#define MAX_SHARES (1u << SHARE_BITS)

/*  Messages handled per reader callback before zloop gets to serve the other sockets. */
#define READ_BATCH 256

/*  How often deadlines are checked while jobs are in flight: TIMEOUT is answered at most this
 *  late. */
#define SWEEP_MS 5

typedef enum { JOB_SINGLE = 0, JOB_GATHER } job_kind_t;

typedef struct {
    char *worker;     /* worker id the share went to */
    char *host;
    bool pending;
    bool is_define;   /* counted in that worker's pending_defines */
} share_t;

typedef struct {
    uint64_t id;
    job_kind_t kind;
    zframe_t *client;       /* client routing id */
    uint64_t client_id;     /* the client's request id */
    char *client_key;       /* key in broker->inflight this job counts against */
    char *op;
    int64_t deadline_at;    /* monotonic ms */
    uint32_t deadline_ms;
    share_t *shares;
    size_t nshares;
    vb_gather_t *gather;    /* JOB_GATHER */
} job_t;

struct _vb_broker_t {
    zsock_t *clients;
    zsock_t *workers;
    zsock_t *events;
    char *clients_ep;       /* advertised endpoints */
    char *workers_ep;
    char *events_ep;
    char host[256];
    int heartbeat_ms;
    zloop_t *loop;
    vb_registry_t *registry;
    vb_events_t *ring;
    zhashx_t *jobs;         /* "%016" PRIx64 job id -> job_t (owned) */
    uint64_t next_job;
    int sweep_timer;        /* 0 = not running */
    int64_t last_heartbeat;
    zlistx_t *gone;         /* worker ids to remove once the current handler is done */
    vb_limits_t client_limits;
    vb_limits_t worker_limits;
    vb_auth_server_t *auth;  /* NULL: no keys */
    int max_inflight;
    zhashx_t *inflight;      /* hex client routing id -> jobs in flight (a size_t in the ptr) */
};

/* --- Small helpers -------------------------------------------------------------------------- */

static void
s_job_key (char *buf, size_t size, uint64_t id)
{
    snprintf (buf, size, "%016" PRIx64, id);
}

static char *
s_hex (const void *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *bytes = data;
    char *out = malloc (len * 2 + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[len * 2] = '\0';
    return out;
}

/*  Send MSG (taken) without ever blocking. Returns 0 or the errno of the failed send
 *  (EHOSTUNREACH: no such peer; EAGAIN: the peer's queue is full). Only the first frame can
 *  fail on a ROUTER: once it is accepted, the rest of the message follows. */
static int
s_send (zsock_t *sock, zmsg_t **msg_p)
{
    zmsg_t *msg = *msg_p;
    *msg_p = NULL;
    if (!msg)
        return ENOMEM;
    int rc = 0;
    size_t left = zmsg_size (msg);
    zframe_t *frame;
    while ((frame = zmsg_pop (msg))) {
        left--;
        if (zframe_send (&frame, sock, ZFRAME_DONTWAIT | (left ? ZFRAME_MORE : 0)) != 0) {
            rc = zmq_errno () ? zmq_errno () : EAGAIN;
            zframe_destroy (&frame);
            break;
        }
    }
    zmsg_destroy (&msg);
    return rc;
}

static void
s_mark_gone (vb_broker_t *self, const char *worker_id)
{
    for (const char *id = zlistx_first (self->gone); id; id = zlistx_next (self->gone))
        if (streq (id, worker_id))
            return;
    char *copy = strdup (worker_id);
    if (copy)
        zlistx_add_end (self->gone, copy);
}

/* --- Replies to clients ----------------------------------------------------------------------- */

static void
s_send_reply (vb_broker_t *self, zframe_t *client, vb_reply_t **reply_p)
{
    vb_reply_t *reply = *reply_p;
    *reply_p = NULL;
    if (!reply)
        return;
    zframe_t *body = vb_reply_encode (reply);
    vb_reply_destroy (&reply);
    zmsg_t *msg = body ? vb_client_msg_new (&body) : NULL;
    zframe_destroy (&body);
    if (!msg) {
        vb_error_log ("cannot encode a reply: out of memory");
        return;
    }
    if (zmsg_pushmem (msg, zframe_data (client), zframe_size (client)) != 0) {
        zmsg_destroy (&msg);
        return;
    }
    int rc = s_send (self->clients, &msg);
    if (rc != 0)
        vb_debug ("reply to a client dropped: %s", zmq_strerror (rc));
}

static void
s_reply_error (vb_broker_t *self, zframe_t *client, uint64_t id, const vb_error_t *err)
{
    vb_reply_t *reply = vb_reply_new_from_error (id, err);
    s_send_reply (self, client, &reply);
}

static void
s_reply_ok (vb_broker_t *self, zframe_t *client, uint64_t id, json_object *result)
{
    vb_reply_t *reply = vb_reply_new_ok (id, result);
    if (!reply) {
        json_object_put (result);
        vb_error_t err;
        vb_error_set (&err, VB_ERR_INTERNAL, "the broker ran out of memory building a reply");
        s_reply_error (self, client, id, &err);
        return;
    }
    s_send_reply (self, client, &reply);
}

/* --- Jobs ------------------------------------------------------------------------------------ */

static void
s_share_settle (vb_broker_t *self, share_t *share)
{
    if (!share->pending)
        return;
    share->pending = false;
    if (share->is_define) {
        vb_reg_worker_t *worker = vb_registry_get (self->registry, share->worker);
        if (worker && worker->pending_defines > 0)
            worker->pending_defines--;
    }
}

static void
s_job_free (vb_broker_t *self, job_t **job_p)
{
    job_t *job = *job_p;
    if (!job)
        return;
    for (size_t i = 0; i < job->nshares; i++) {
        s_share_settle (self, &job->shares[i]);
        free (job->shares[i].worker);
        free (job->shares[i].host);
    }
    free (job->shares);
    if (job->client_key) {
        size_t count = (size_t) (uintptr_t) zhashx_lookup (self->inflight, job->client_key);
        if (count > 1)
            zhashx_update (self->inflight, job->client_key, (void *) (uintptr_t) (count - 1));
        else
            zhashx_delete (self->inflight, job->client_key);
        free (job->client_key);
    }
    zframe_destroy (&job->client);
    free (job->op);
    vb_gather_destroy (&job->gather);
    free (job);
    *job_p = NULL;
}

/*  Take JOB out of the table and free it. */
static void
s_job_end (vb_broker_t *self, job_t *job)
{
    char key[24];
    s_job_key (key, sizeof key, job->id);
    zhashx_delete (self->jobs, key);
    s_job_free (self, &job);
}

static int s_sweep (zloop_t *loop, int timer_id, void *arg);

static job_t *
s_job_new (vb_broker_t *self, job_kind_t kind, zframe_t *client, const vb_request_t *req,
           uint32_t deadline_ms, size_t nshares, vb_error_t *err)
{
    if (zhashx_size (self->jobs) >= VB_BROKER_MAX_JOBS) {
        vb_error_set (err, VB_ERR_BUSY, "the broker has %d requests in flight; try again later",
                      VB_BROKER_MAX_JOBS);
        return NULL;
    }
    if (nshares > MAX_SHARES) {
        vb_error_set (err, VB_ERR_BUSY, "%zu workers match; the broker fans out to at most %u",
                      nshares, MAX_SHARES);
        return NULL;
    }
    char *client_key = s_hex (zframe_data (client), zframe_size (client));
    size_t inflight = client_key ? (size_t) (uintptr_t) zhashx_lookup (self->inflight,
                                                                       client_key) : 0;
    if (client_key && inflight >= (size_t) self->max_inflight) {
        free (client_key);
        vb_error_set (err, VB_ERR_BUSY, "this client already has %zu requests in flight, the "
                      "most the broker accepts; wait for their answers", inflight);
        return NULL;
    }
    job_t *job = calloc (1, sizeof *job);
    if (!job) {
        free (client_key);
        goto nomem;
    }
    if (client_key) {
        /*  Counted from here on: s_job_free gives it back on every path. */
        zhashx_update (self->inflight, client_key, (void *) (uintptr_t) (inflight + 1));
        job->client_key = client_key;
    }
    job->id = self->next_job++;
    job->kind = kind;
    job->client = zframe_dup (client);
    job->client_id = req->id;
    job->op = strdup (req->op);
    job->deadline_ms = deadline_ms;
    job->deadline_at = vb_now_ms () + deadline_ms;
    job->shares = calloc (nshares ? nshares : 1, sizeof *job->shares);
    job->nshares = nshares;
    if (kind == JOB_GATHER)
        job->gather = vb_gather_new (req->id, nshares);
    if (!job->client || !job->op || !job->shares || (kind == JOB_GATHER && !job->gather))
        goto nomem;
    char key[24];
    s_job_key (key, sizeof key, job->id);
    zhashx_insert (self->jobs, key, job);
    if (self->sweep_timer == 0) {
        int timer = zloop_timer (self->loop, SWEEP_MS, 0, s_sweep, self);
        self->sweep_timer = timer > 0 ? timer : 0;
    }
    return job;

nomem:
    s_job_free (self, &job);
    vb_error_set (err, VB_ERR_INTERNAL, "the broker ran out of memory accepting a request");
    return NULL;
}

static int
s_share_set (job_t *job, size_t index, const vb_reg_worker_t *worker, bool is_define)
{
    share_t *share = &job->shares[index];
    share->worker = strdup (worker->id);
    share->host = strdup (worker->host);
    share->is_define = is_define;
    if (job->gather)
        vb_gather_set_share (job->gather, index, worker->id, worker->host, worker->driver);
    return share->worker && share->host ? 0 : -1;
}

/*  Send share INDEX of JOB to WORKER: REQ_JSON (borrowed; a request object from
 *  vb_request_to_json) with id, deadline_ms, target and origin set for this share. ARGS (taken,
 *  may be NULL) replaces the request's args. Returns 0, or -1 with ERR (BUSY when the worker's
 *  queue is full, NO_WORKER when it is not connected — then it is marked gone). */
static int
s_forward (vb_broker_t *self, job_t *job, size_t index, vb_reg_worker_t *worker,
           json_object *req_json, const char *domain_uuid, json_object *args, vb_error_t *err)
{
    int64_t remaining = job->deadline_at - vb_now_ms ();
    if (remaining < 1)
        remaining = 1;
    json_object *body = NULL;
    char *origin = s_hex (zframe_data (job->client), zframe_size (job->client));
    json_object *target = json_object_new_object ();
    if (json_object_deep_copy (req_json, &body, NULL) != 0 || !origin || !target) {
        json_object_put (args);
        json_object_put (body);
        json_object_put (target);
        free (origin);
        return vb_error_set (err, VB_ERR_INTERNAL, "the broker ran out of memory forwarding "
                             "%s", job->op);
    }
    json_object_object_add (target, "host", json_object_new_string (worker->host));
    json_object_object_add (target, "driver", json_object_new_string (worker->driver));
    if (domain_uuid)
        json_object_object_add (target, "domain", json_object_new_string (domain_uuid));
    json_object_object_add (body, "target", target);
    json_object_object_add (body, "id",
                            json_object_new_uint64 ((job->id << SHARE_BITS) | (uint64_t) index));
    json_object_object_add (body, "deadline_ms", json_object_new_int64 (remaining));
    json_object_object_add (body, "origin", json_object_new_string (origin));
    if (args)
        json_object_object_add (body, "args", args);
    free (origin);

    zmsg_t *msg = vb_wmsg_encode (VB_WCMD_REQUEST, body);
    if (!msg || zmsg_pushmem (msg, worker->route, worker->route_len) != 0) {
        zmsg_destroy (&msg);
        return vb_error_set (err, VB_ERR_INTERNAL, "the broker ran out of memory forwarding "
                             "%s", job->op);
    }
    int rc = s_send (self->workers, &msg);
    if (rc == EAGAIN)
        return vb_error_set (err, VB_ERR_BUSY, "worker %s on host %s has a full queue; try "
                             "again later", worker->id, worker->host);
    if (rc != 0) {
        s_mark_gone (self, worker->id);
        return vb_error_set (err, VB_ERR_NO_WORKER, "worker %s on host %s is not connected",
                             worker->id, worker->host);
    }
    job->shares[index].pending = true;
    if (job->shares[index].is_define)
        worker->pending_defines++;
    return 0;
}

/*  A gathering job whose shares are all settled (or whose deadline passed) answers now. */
static void
s_gather_complete (vb_broker_t *self, job_t *job)
{
    vb_reply_t *reply = vb_gather_finish (job->gather, job->deadline_ms);
    if (!reply) {
        vb_error_t err;
        vb_error_set (&err, VB_ERR_INTERNAL, "the broker ran out of memory merging %s",
                      job->op);
        s_reply_error (self, job->client, job->client_id, &err);
    }
    else
        s_send_reply (self, job->client, &reply);
    s_job_end (self, job);
}

/*  Share INDEX of JOB failed with ERR and no worker reply. Ends the job when that completes it. */
static void
s_share_failed (vb_broker_t *self, job_t *job, size_t index, const vb_error_t *err)
{
    share_t *share = &job->shares[index];
    if (!share->pending)
        return;
    s_share_settle (self, share);
    if (job->kind == JOB_SINGLE) {
        s_reply_error (self, job->client, job->client_id, err);
        s_job_end (self, job);
        return;
    }
    vb_gather_fail (job->gather, index, err->code, err->message);
    if (vb_gather_pending (job->gather) == 0)
        s_gather_complete (self, job);
}

static void
s_job_timeout (vb_broker_t *self, job_t *job)
{
    if (job->kind == JOB_GATHER) {
        s_gather_complete (self, job);
        return;
    }
    share_t *share = &job->shares[0];
    vb_error_t err;
    vb_error_set (&err, VB_ERR_TIMEOUT, "worker %s on host %s did not answer %s within %u ms",
                  share->worker ? share->worker : "?", share->host ? share->host : "?",
                  job->op, job->deadline_ms);
    s_reply_error (self, job->client, job->client_id, &err);
    s_job_end (self, job);
}

/*  Answer every job share waiting on WORKER_ID with CODE/MESSAGE. */
static void
s_fail_worker_jobs (vb_broker_t *self, const char *worker_id, vb_error_code_t code,
                    const char *message)
{
    zlistx_t *keys = zhashx_keys (self->jobs);
    if (!keys)
        return;
    vb_error_t err;
    vb_error_set (&err, code, "%s", message);
    for (const char *key = zlistx_first (keys); key; key = zlistx_next (keys)) {
        job_t *job = zhashx_lookup (self->jobs, key);
        for (size_t i = 0; job && i < job->nshares; i++) {
            share_t *share = &job->shares[i];
            if (!share->pending || !share->worker || !streq (share->worker, worker_id))
                continue;
            /*  A job has one share per worker, and the job may be gone after this. */
            s_share_failed (self, job, i, &err);
            break;
        }
    }
    zlistx_destroy (&keys);
}

/*  WORKER_ID is dead or gone: answer its in-flight work, drop it from the registry (its domains
 *  become tombstones). */
static void
s_worker_lost (vb_broker_t *self, const char *worker_id, const char *why)
{
    vb_reg_worker_t *worker = vb_registry_get (self->registry, worker_id);
    if (!worker)
        return;
    char message[512];
    snprintf (message, sizeof message, "worker %s on host %s %s with the request in flight",
              worker->id, worker->host, why);
    vb_warn ("worker %s on host %s %s; dropping it", worker->id, worker->host, why);
    s_fail_worker_jobs (self, worker->id, VB_ERR_WORKER_LOST, message);
    /*  WORKER_ID may be the record's own string: nothing uses it after this. */
    vb_registry_remove (self->registry, worker->id);
}

static void
s_reap_gone (vb_broker_t *self)
{
    char *id;
    while ((id = zlistx_detach (self->gone, NULL))) {
        s_worker_lost (self, id, "is not connected");
        free (id);
    }
}

static int
s_sweep (zloop_t *loop, int timer_id, void *arg)
{
    vb_broker_t *self = arg;
    if (zhashx_size (self->jobs) == 0) {
        zloop_timer_end (loop, timer_id);
        self->sweep_timer = 0;
        return 0;
    }
    /*  Runs every few ms: find the expired jobs without copying the table, then answer them
     *  (answering removes them, which would break the iteration). */
    int64_t now = vb_now_ms ();
    uint64_t expired[64];
    size_t n = 0;
    for (job_t *job = zhashx_first (self->jobs); job && n < 64; job = zhashx_next (self->jobs))
        if (now >= job->deadline_at)
            expired[n++] = job->id;
    for (size_t i = 0; i < n; i++) {
        char key[24];
        s_job_key (key, sizeof key, expired[i]);
        job_t *job = zhashx_lookup (self->jobs, key);
        if (job)
            s_job_timeout (self, job);
    }
    s_reap_gone (self);
    return 0;
}

/* --- Local ops -------------------------------------------------------------------------------- */

static json_object *
s_broker_info (vb_broker_t *self)
{
    json_object *info = json_object_new_object ();
    if (!info)
        return NULL;
    json_object_object_add (info, "version", json_object_new_string (VB_VERSION));
    json_object_object_add (info, "host", json_object_new_string (self->host));
    json_object_object_add (info, "clients", json_object_new_string (self->clients_ep));
    json_object_object_add (info, "workers", json_object_new_string (self->workers_ep));
    json_object_object_add (info, "events", json_object_new_string (self->events_ep));
    json_object_object_add (info, "heartbeat_ms", json_object_new_int (self->heartbeat_ms));
    return info;
}

static json_object *
s_hosts (vb_broker_t *self, const vb_target_t *target)
{
    json_object *list = json_object_new_array ();
    if (!list)
        return NULL;
    size_t n = 0;
    vb_reg_worker_t **workers = vb_registry_select (self->registry, target->host,
                                                    target->driver, &n);
    int64_t now = vb_now_ms ();
    for (size_t i = 0; i < n; i++) {
        vb_reg_worker_t *w = workers[i];
        json_object *item = json_object_new_object ();
        if (!item)
            break;
        json_object_object_add (item, "host", json_object_new_string (w->host));
        json_object_object_add (item, "driver", json_object_new_string (w->driver));
        json_object_object_add (item, "worker", json_object_new_string (w->id));
        json_object_object_add (item, "domains", json_object_new_int64 ((int64_t) w->ndomains));
        json_object_object_add (item, "load",
                                json_object_new_int64 ((int64_t) vb_reg_worker_load (w)));
        json_object_object_add (item, "heartbeat_age_ms",
                                json_object_new_int64 (now - w->last_seen_ms));
        json_object_object_add (item, "version", json_object_get (w->version));
        json_object_object_add (item, "pid", json_object_new_int64 (w->pid));
        json_object_array_add (list, item);
    }
    free (workers);
    return list;
}

static void
s_op_events_replay (vb_broker_t *self, zframe_t *client, const vb_request_t *req)
{
    vb_error_t err = {0};
    uint64_t since = 0, limit = 0;
    const char *prefix = NULL;
    if (vb_json_get_uint64 (req->args, "since", false, &since, &err) != 0
        || vb_json_get_string (req->args, "prefix", false, &prefix, &err) != 0
        || vb_json_get_uint64 (req->args, "limit", false, &limit, &err) != 0) {
        s_reply_error (self, client, req->id, &err);
        return;
    }
    json_object *result = vb_events_replay (self->ring, since, prefix, (size_t) limit);
    if (!result) {
        vb_error_set (&err, VB_ERR_INTERNAL, "the broker ran out of memory replaying events");
        s_reply_error (self, client, req->id, &err);
        return;
    }
    s_reply_ok (self, client, req->id, result);
}

static void
s_op_events_sync (vb_broker_t *self, zframe_t *client, const vb_request_t *req)
{
    vb_error_t err = {0};
    const char *token = NULL;
    if (vb_json_get_string (req->args, "token", true, &token, &err) != 0) {
        s_reply_error (self, client, req->id, &err);
        return;
    }
    if (strlen (token) == 0 || strlen (token) > 128) {
        vb_error_set (&err, VB_ERR_INVALID_ARG, "the sync token must have 1 to 128 bytes");
        s_reply_error (self, client, req->id, &err);
        return;
    }
    json_object *body = json_object_new_object ();
    json_object_object_add (body, "token", json_object_new_string (token));
    zframe_t *frame = vb_msgpack_encode (body);
    json_object_put (body);
    zmsg_t *msg = zmsg_new ();
    if (!frame || !msg || zmsg_addstrf (msg, "!sync/%s", token) != 0) {
        zframe_destroy (&frame);
        zmsg_destroy (&msg);
        vb_error_set (&err, VB_ERR_INTERNAL, "the broker ran out of memory publishing a sync");
        s_reply_error (self, client, req->id, &err);
        return;
    }
    zmsg_append (msg, &frame);
    s_send (self->events, &msg);
    s_reply_ok (self, client, req->id, json_object_new_object ());
}

/* --- Forwarded ops ---------------------------------------------------------------------------- */

static uint32_t
s_deadline (const vb_request_t *req, bool fanout)
{
    if (req->deadline_ms)
        return req->deadline_ms;
    return fanout ? VB_DEADLINE_FANOUT_MS : VB_DEADLINE_SINGLE_MS;
}

/*  One request to one worker; DOMAIN_UUID (may be NULL) replaces target.domain. */
static void
s_single (vb_broker_t *self, zframe_t *client, const vb_request_t *req, vb_reg_worker_t *worker,
          const char *domain_uuid, bool is_define)
{
    vb_error_t err = {0};
    json_object *req_json = vb_request_to_json (req);
    job_t *job = req_json ? s_job_new (self, JOB_SINGLE, client, req, s_deadline (req, false),
                                       1, &err) : NULL;
    if (!req_json && err.code == VB_OK)
        vb_error_set (&err, VB_ERR_INTERNAL, "the broker ran out of memory forwarding %s",
                      req->op);
    if (job && s_share_set (job, 0, worker, is_define) != 0) {
        vb_error_set (&err, VB_ERR_INTERNAL, "the broker ran out of memory forwarding %s",
                      req->op);
        s_job_end (self, job);
        job = NULL;
    }
    if (job && s_forward (self, job, 0, worker, req_json, domain_uuid, NULL, &err) != 0) {
        s_job_end (self, job);
        job = NULL;
    }
    json_object_put (req_json);
    if (!job)
        s_reply_error (self, client, req->id, &err);
}

/*  Fan REQ out to WORKERS (N of them, sorted by id). ARGS[i] (taken, may be NULL) replaces the
 *  args of share i. LOST (NLOST entries) are shares answered NO_WORKER at once: domains named by
 *  the request whose worker is gone. */
static void
s_fanout (vb_broker_t *self, zframe_t *client, const vb_request_t *req, vb_reg_worker_t **workers,
          size_t n, json_object **args, const vb_reg_domain_t **lost, size_t nlost)
{
    vb_error_t err = {0};
    json_object *req_json = vb_request_to_json (req);
    job_t *job = req_json ? s_job_new (self, JOB_GATHER, client, req, s_deadline (req, true),
                                       n + nlost, &err) : NULL;
    if (!req_json && err.code == VB_OK)
        vb_error_set (&err, VB_ERR_INTERNAL, "the broker ran out of memory forwarding %s",
                      req->op);
    if (!job) {
        for (size_t i = 0; args && i < n; i++)
            json_object_put (args[i]);
        json_object_put (req_json);
        s_reply_error (self, client, req->id, &err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *share_args = args ? args[i] : NULL;
        if (s_share_set (job, i, workers[i], false) != 0) {
            json_object_put (share_args);
            vb_error_set (&err, VB_ERR_INTERNAL, "the broker ran out of memory forwarding %s",
                          req->op);
            vb_gather_fail (job->gather, i, err.code, err.message);
            continue;
        }
        if (s_forward (self, job, i, workers[i], req_json, NULL, share_args, &err) != 0)
            vb_gather_fail (job->gather, i, err.code, err.message);
    }
    for (size_t i = 0; i < nlost; i++) {
        char message[512];
        snprintf (message, sizeof message, "domain '%s' on host %s belongs to worker %s, which "
                  "is not connected", lost[i]->name, lost[i]->host, lost[i]->worker);
        vb_gather_set_share (job->gather, n + i, lost[i]->worker, lost[i]->host,
                             lost[i]->driver);
        vb_gather_fail (job->gather, n + i, VB_ERR_NO_WORKER, message);
    }
    json_object_put (req_json);
    if (vb_gather_pending (job->gather) == 0)
        s_gather_complete (self, job);
}

static void
s_op_fanout_all (vb_broker_t *self, zframe_t *client, const vb_request_t *req)
{
    size_t n = 0;
    vb_reg_worker_t **workers = vb_registry_select (self->registry, req->target.host,
                                                    req->target.driver, &n);
    if (n == 0 && (req->target.host || req->target.driver)) {
        vb_error_t err;
        if (req->target.host && !vb_registry_host_known (self->registry, req->target.host))
            vb_error_set (&err, VB_ERR_NO_HOST, "host '%s' is not known to the broker",
                          req->target.host);
        else
            vb_error_set (&err, VB_ERR_NO_WORKER, "no live %s worker%s%s",
                          req->target.driver ? req->target.driver : "",
                          req->target.host ? " on host " : "",
                          req->target.host ? req->target.host : "");
        s_reply_error (self, client, req->id, &err);
        return;
    }
    s_fanout (self, client, req, workers, n, NULL, NULL, 0);
    free (workers);
}

/*  domain.stats with args.domains: each worker gets the UUIDs of its own domains. */
static void
s_op_stats_domains (vb_broker_t *self, zframe_t *client, const vb_request_t *req,
                    json_object *names)
{
    vb_error_t err = {0};
    size_t count = json_object_array_length (names);
    vb_reg_worker_t **workers = calloc (count ? count : 1, sizeof *workers);
    json_object **args = calloc (count ? count : 1, sizeof *args);
    const vb_reg_domain_t **lost = calloc (count ? count : 1, sizeof *lost);
    size_t n = 0, nlost = 0;
    if (!workers || !args || !lost) {
        vb_error_set (&err, VB_ERR_INTERNAL, "the broker ran out of memory routing %s",
                      req->op);
        goto fail;
    }
    for (size_t i = 0; i < count; i++) {
        json_object *item = json_object_array_get_idx (names, i);
        if (!json_object_is_type (item, json_type_string)) {
            vb_error_set (&err, VB_ERR_INVALID_ARG, "args.domains must list domain names");
            goto fail;
        }
        vb_target_t target = req->target;
        target.domain = (char *) json_object_get_string (item);
        vb_route_t route = {0};
        if (vb_registry_resolve (self->registry, &target, &route, &err) != 0) {
            if (err.code != VB_ERR_NO_WORKER)
                goto fail;
            size_t j = 0;
            while (j < nlost && !streq (lost[j]->worker, route.domain->worker))
                j++;
            if (j == nlost)
                lost[nlost++] = route.domain;
            continue;
        }
        size_t j = 0;
        while (j < n && workers[j] != route.worker)
            j++;
        if (j == n) {
            workers[n] = route.worker;
            args[n] = NULL;
            if (json_object_deep_copy (req->args, &args[n], NULL) != 0) {
                vb_error_set (&err, VB_ERR_INTERNAL, "the broker ran out of memory routing %s",
                              req->op);
                goto fail;
            }
            json_object_object_add (args[n], "domains", json_object_new_array ());
            n++;
        }
        json_object *subset = json_object_object_get (args[j], "domains");
        bool seen = false;
        for (size_t k = 0; k < json_object_array_length (subset); k++)
            if (streq (json_object_get_string (json_object_array_get_idx (subset, k)),
                       route.domain->uuid))
                seen = true;
        if (!seen)
            json_object_array_add (subset, json_object_new_string (route.domain->uuid));
    }
    /*  Shares go out in worker id order, as for a plain fan-out. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp (workers[j - 1]->id, workers[j]->id) > 0; j--) {
            vb_reg_worker_t *w = workers[j];
            workers[j] = workers[j - 1];
            workers[j - 1] = w;
            json_object *a = args[j];
            args[j] = args[j - 1];
            args[j - 1] = a;
        }
    s_fanout (self, client, req, workers, n, args, lost, nlost);
    free (workers);
    free (args);
    free (lost);
    return;

fail:
    for (size_t i = 0; args && i < n; i++)
        json_object_put (args[i]);
    free (workers);
    free (args);
    free (lost);
    s_reply_error (self, client, req->id, &err);
}

static void
s_op_define (vb_broker_t *self, zframe_t *client, const vb_request_t *req)
{
    vb_error_t err = {0};
    const char *xml = NULL;
    char *type = NULL;
    const char *driver = req->target.driver;
    vb_reg_worker_t *worker = NULL;
    if (vb_json_get_string (req->args, "xml", true, &xml, &err) != 0)
        goto fail;
    if (!driver) {
        type = vb_domxml_peek_type (xml, strlen (xml), &err);
        if (!type)
            goto fail;
        driver = vb_domxml_driver_for_type (type);
        if (!driver) {
            vb_error_set (&err, VB_ERR_UNSUPPORTED, "no virtbus driver serves domain type '%s'",
                          type);
            goto fail;
        }
    }
    worker = vb_registry_place (self->registry, req->target.host, driver, &err);
    if (!worker)
        goto fail;
    free (type);
    s_single (self, client, req, worker, NULL, true);
    return;

fail:
    free (type);
    s_reply_error (self, client, req->id, &err);
}

static void
s_op_targeted (vb_broker_t *self, zframe_t *client, const vb_request_t *req)
{
    vb_error_t err = {0};
    vb_route_t route = {0};
    if (vb_registry_resolve (self->registry, &req->target, &route, &err) != 0) {
        s_reply_error (self, client, req->id, &err);
        return;
    }
    s_single (self, client, req, route.worker, route.domain->uuid, false);
}

/*  A driver op aimed at a host (and/or driver) rather than a domain: it goes to the one live
 *  worker that matches. */
static void
s_op_worker (vb_broker_t *self, zframe_t *client, const vb_request_t *req)
{
    vb_error_t err = {0};
    const char *host = req->target.host, *driver = req->target.driver;
    size_t n = 0;
    vb_reg_worker_t **workers = vb_registry_select (self->registry, host, driver, &n);
    if (n == 1)
        s_single (self, client, req, workers[0], NULL, false);
    else {
        if (n > 1)
            vb_error_set (&err, VB_ERR_AMBIGUOUS, "%zu workers serve %s%s%s%s; name the host "
                          "and the driver", n, host ? "host " : "", host ? host : "",
                          host && driver ? " and driver " : (driver ? "driver " : ""),
                          driver ? driver : "");
        else if (host && !vb_registry_host_known (self->registry, host))
            vb_error_set (&err, VB_ERR_NO_HOST, "host '%s' is not known to the broker", host);
        else
            vb_error_set (&err, VB_ERR_NO_WORKER, "no live worker serves %s%s%s%s",
                          host ? "host " : "", host ? host : "",
                          host && driver ? " and driver " : (driver ? "driver " : ""),
                          driver ? driver : "");
        s_reply_error (self, client, req->id, &err);
    }
    free (workers);
}

static bool
s_is_targeted_op (const char *op)
{
    static const char *const ops[] = {
        "domain.undefine", "domain.start", "domain.shutdown", "domain.destroy",
        "domain.suspend", "domain.resume", "domain.reboot", "domain.info", "domain.xml", NULL
    };
    for (size_t i = 0; ops[i]; i++)
        if (streq (op, ops[i]))
            return true;
    return false;
}

static void
s_dispatch (vb_broker_t *self, zframe_t *client, const vb_request_t *req)
{
    vb_error_t err = {0};
    const char *op = req->op;
    vb_debug ("request %" PRIu64 " %s", req->id, op);
    if (streq (op, "broker.info"))
        s_reply_ok (self, client, req->id, s_broker_info (self));
    else if (streq (op, "hosts"))
        s_reply_ok (self, client, req->id, s_hosts (self, &req->target));
    else if (streq (op, "events.replay"))
        s_op_events_replay (self, client, req);
    else if (streq (op, "events.sync"))
        s_op_events_sync (self, client, req);
    else if (streq (op, "domain.list"))
        s_op_fanout_all (self, client, req);
    else if (streq (op, "domain.stats")) {
        json_object *names = NULL;
        if (vb_json_get_array (req->args, "domains", false, &names, &err) != 0)
            s_reply_error (self, client, req->id, &err);
        else if (names && !req->target.domain)
            s_op_stats_domains (self, client, req, names);
        else if (req->target.domain)
            s_op_targeted (self, client, req);
        else
            s_op_fanout_all (self, client, req);
    }
    else if (streq (op, "domain.define"))
        s_op_define (self, client, req);
    else if (s_is_targeted_op (op)) {
        if (!req->target.domain) {
            vb_error_set (&err, VB_ERR_INVALID_ARG, "%s needs a target domain", op);
            s_reply_error (self, client, req->id, &err);
        }
        else
            s_op_targeted (self, client, req);
    }
    else if (req->target.domain)
        /*  Driver ops the broker does not know (block jobs, test.*): the owner's driver knows
         *  them or answers UNSUPPORTED itself. */
        s_op_targeted (self, client, req);
    else if (req->target.host || req->target.driver)
        s_op_worker (self, client, req);
    else {
        vb_error_set (&err, VB_ERR_UNSUPPORTED, "the broker does not know the operation '%s'",
                      op);
        s_reply_error (self, client, req->id, &err);
    }
}

/* --- Client endpoint -------------------------------------------------------------------------- */

static void
s_client_message (vb_broker_t *self, zmsg_t *msg)
{
    vb_error_t err = {0};
    uint64_t id = 0;
    zframe_t *client = zmsg_pop (msg);
    if (!client)
        return;
    zframe_t *body = vb_client_msg_body (msg, &err);
    vb_request_t *req = body ? vb_request_decode (body, &self->client_limits, &id, &err) : NULL;
    const char *key_name = NULL;
    vb_auth_role_t role = VB_AUTH_ROLE_NONE;
    if (!req) {
        vb_debug ("malformed client request: %s", err.message);
        s_reply_error (self, client, id, &err);
    }
    else if (self->auth && (vb_auth_peer (body, &key_name, &role) != 0
                            || vb_auth_check (key_name, role, req->op, &err) != 0)) {
        if (err.code == VB_OK)
            vb_error_set (&err, VB_ERR_DENIED, "this connection has no key; %s needs one",
                          req->op);
        vb_info ("request %s denied: %s", req->op, err.message);
        s_reply_error (self, client, req->id, &err);
    }
    else
        s_dispatch (self, client, req);
    vb_request_destroy (&req);
    zframe_destroy (&client);
}

static bool
s_readable (zsock_t *sock)
{
    return (zsock_events (sock) & ZMQ_POLLIN) != 0;
}

static int
s_client_reader (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    vb_broker_t *self = arg;
    for (int i = 0; i < READ_BATCH && s_readable (sock); i++) {
        zmsg_t *msg = zmsg_recv (sock);
        if (!msg)
            break;
        s_client_message (self, msg);
        zmsg_destroy (&msg);
    }
    s_reap_gone (self);
    return 0;
}

/* --- Worker endpoint -------------------------------------------------------------------------- */

static void
s_send_worker (vb_broker_t *self, const void *route, size_t route_len, vb_wcmd_t cmd,
               json_object *body, const char *worker_id)
{
    zmsg_t *msg = vb_wmsg_encode (cmd, body);
    if (!msg || zmsg_pushmem (msg, route, route_len) != 0) {
        zmsg_destroy (&msg);
        return;
    }
    int rc = s_send (self->workers, &msg);
    if (rc == EHOSTUNREACH && worker_id)
        s_mark_gone (self, worker_id);
    else if (rc != 0)
        vb_debug ("%s to a worker dropped: %s", vb_wcmd_name (cmd), zmq_strerror (rc));
}

static void
s_worker_reply (vb_broker_t *self, vb_reg_worker_t *worker, json_object *body)
{
    vb_error_t err = {0};
    vb_reply_t *reply = vb_reply_from_json (body, &err);
    if (!reply) {
        vb_warn ("worker %s sent a malformed reply: %s", worker->id, err.message);
        return;
    }
    char key[24];
    s_job_key (key, sizeof key, reply->id >> SHARE_BITS);
    size_t index = (size_t) (reply->id & (MAX_SHARES - 1));
    job_t *job = zhashx_lookup (self->jobs, key);
    if (!job || index >= job->nshares || !job->shares[index].pending
        || !streq (job->shares[index].worker, worker->id)) {
        vb_debug ("late or unknown reply %" PRIu64 " from worker %s dropped", reply->id,
                  worker->id);
        vb_reply_destroy (&reply);
        return;
    }
    s_share_settle (self, &job->shares[index]);
    if (job->kind == JOB_SINGLE) {
        reply->id = job->client_id;
        s_send_reply (self, job->client, &reply);
        s_job_end (self, job);
        return;
    }
    vb_gather_reply (job->gather, index, reply);
    vb_reply_destroy (&reply);
    if (vb_gather_pending (job->gather) == 0)
        s_gather_complete (self, job);
}

static void s_worker_event_store (vb_broker_t *self, vb_reg_worker_t *worker,
                                  json_object *body, uint64_t wseq);

static void
s_worker_event (vb_broker_t *self, vb_reg_worker_t *worker, json_object *body)
{
    uint64_t wseq = vb_json_uint (body, "wseq", 0);
    s_worker_event_store (self, worker, body, wseq);
    /*  Acknowledged only once stored (and journaled): a broker killed before this line has not
     *  acknowledged, so the worker resends. A duplicate is acknowledged too. */
    json_object *ack = json_object_new_object ();
    if (ack) {
        json_object_object_add (ack, "wseq", json_object_new_uint64 (wseq));
        s_send_worker (self, worker->route, worker->route_len, VB_WCMD_EVENT_ACK, ack,
                       worker->id);
    }
}

static void
s_worker_event_store (vb_broker_t *self, vb_reg_worker_t *worker, json_object *body,
                      uint64_t wseq)
{
    vb_event_t *event = vb_event_new ();
    if (!event)
        return;
    event->wseq = wseq;
    event->time_ns = vb_json_uint (body, "time_ns", 0);
    event->worker = strdup (worker->id);
    event->host = strdup (worker->host);
    event->driver = strdup (worker->driver);
    event->domain = strdup (vb_json_str (body, "domain", ""));
    event->uuid = strdup (vb_json_str (body, "uuid", ""));
    event->kind = strdup (vb_json_str (body, "kind", "lifecycle"));
    event->event = strdup (vb_json_str (body, "event", ""));
    event->detail = strdup (vb_json_str (body, "detail", ""));
    json_object *extra = NULL;
    if (json_object_object_get_ex (body, "extra", &extra)
        && json_object_is_type (extra, json_type_object))
        event->extra = json_object_get (extra);
    if (!event->worker || !event->host || !event->driver || !event->domain || !event->uuid
        || !event->kind || !event->event || !event->detail) {
        vb_event_destroy (&event);
        return;
    }
    uint64_t gap = 0;
    const vb_event_t *stored = vb_events_append (self->ring, &event, &gap);
    if (!stored)
        return;  /* a resent event already published */
    if (gap)
        vb_warn ("worker %s skipped %" PRIu64 " event(s) before wseq %" PRIu64, worker->id, gap,
                 wseq);
    zmsg_t *msg = vb_event_encode (stored);
    if (msg && s_send (self->events, &msg) != 0)
        vb_debug ("event %" PRIu64 " not published: subscriber queue full", stored->seq);
}

static void
s_worker_ready (vb_broker_t *self, zframe_t *route, json_object *body)
{
    vb_error_t err = {0};
    vb_reg_worker_t *previous = vb_registry_by_route (self->registry, zframe_data (route),
                                                      zframe_size (route));
    const char *id = vb_json_str (body, "worker", "");
    if (previous && !streq (previous->id, id))
        s_worker_lost (self, previous->id, "was replaced on its connection");
    vb_reg_ready_t how;
    vb_reg_worker_t *worker = vb_registry_ready (self->registry, zframe_data (route),
                                                 zframe_size (route), body, vb_now_ms (), &how,
                                                 &err);
    if (!worker) {
        vb_warn ("READY refused: %s", err.message);
        return;
    }
    if (how == VB_REG_RESTARTED) {
        char message[512];
        snprintf (message, sizeof message, "worker %s on host %s restarted with the request in "
                  "flight", worker->id, worker->host);
        s_fail_worker_jobs (self, worker->id, VB_ERR_WORKER_LOST, message);
    }
    vb_info ("worker %s registered (host %s, driver %s, pid %" PRId64 ", %zu domains)%s",
             worker->id, worker->host, worker->driver, worker->pid, worker->ndomains,
             how == VB_REG_NEW ? "" : how == VB_REG_RECONNECT ? " again" : " after a restart");
    /*  An immediate heartbeat acknowledges the registration: the worker announces itself as
     *  ready only once it hears it, so nobody routes to a worker the broker does not know yet. */
    s_send_worker (self, zframe_data (route), zframe_size (route), VB_WCMD_HEARTBEAT, NULL, NULL);
}

static void
s_worker_message (vb_broker_t *self, zmsg_t *msg)
{
    vb_error_t err = {0};
    zframe_t *route = zmsg_pop (msg);
    if (!route)
        return;
    vb_reg_worker_t *worker = vb_registry_by_route (self->registry, zframe_data (route),
                                                    zframe_size (route));
    if (worker)
        vb_registry_touch (worker, vb_now_ms ());
    vb_wmsg_t *wmsg = vb_wmsg_decode (msg, &self->worker_limits, &err);
    if (!wmsg) {
        vb_warn ("malformed message on the worker endpoint%s%s dropped: %s",
                 worker ? " from worker " : "", worker ? worker->id : "", err.message);
        zframe_destroy (&route);
        return;
    }
    if (wmsg->cmd == VB_WCMD_READY)
        s_worker_ready (self, route, wmsg->body);
    else if (!worker) {
        json_object *body = json_object_new_object ();
        if (body)
            json_object_object_add (body, "reason", json_object_new_string (
                                    "this broker does not know you; send READY"));
        s_send_worker (self, zframe_data (route), zframe_size (route), VB_WCMD_DISCONNECT, body,
                       NULL);
    }
    else if (wmsg->cmd == VB_WCMD_HEARTBEAT)
        ;  /* the touch above is all a heartbeat is for */
    else if (wmsg->cmd == VB_WCMD_REPLY)
        s_worker_reply (self, worker, wmsg->body);
    else if (wmsg->cmd == VB_WCMD_DOMAINS) {
        json_object *domains = NULL;
        if (!json_object_object_get_ex (wmsg->body, "domains", &domains)
            || vb_registry_set_domains (self->registry, worker->id, domains, &err) != 0)
            vb_warn ("DOMAINS from worker %s ignored: %s", worker->id,
                     err.code ? err.message : "no domain list");
    }
    else if (wmsg->cmd == VB_WCMD_EVENT)
        s_worker_event (self, worker, wmsg->body);
    else
        vb_warn ("worker %s sent %s, which only the broker sends; ignored", worker->id,
                 vb_wcmd_name (wmsg->cmd));
    vb_wmsg_destroy (&wmsg);
    zframe_destroy (&route);
}

static int
s_worker_reader (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    vb_broker_t *self = arg;
    for (int i = 0; i < READ_BATCH && s_readable (sock); i++) {
        zmsg_t *msg = zmsg_recv (sock);
        if (!msg)
            break;
        s_worker_message (self, msg);
        zmsg_destroy (&msg);
    }
    /*  One fdatasync for the events of the whole batch (see vb_journal.h). */
    vb_error_t err = {0};
    if (vb_events_sync (self->ring, &err) != 0)
        vb_error_log ("%s", err.message);
    s_reap_gone (self);
    return 0;
}

/*  Subscriptions arrive on the XPUB as messages; they must be read or they pile up. */
static int
s_events_reader (zloop_t *loop, zsock_t *sock, void *arg)
{
    (void) loop;
    (void) arg;
    for (int i = 0; i < READ_BATCH && s_readable (sock); i++) {
        zmsg_t *msg = zmsg_recv (sock);
        if (!msg)
            break;
        zmsg_destroy (&msg);
    }
    return 0;
}

/*  Heartbeats out, and the silent workers declared dead. */
static int
s_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    vb_broker_t *self = arg;
    int64_t now = vb_now_ms ();
    if (now - self->last_heartbeat >= self->heartbeat_ms) {
        self->last_heartbeat = now;
        size_t n = 0;
        vb_reg_worker_t **workers = vb_registry_select (self->registry, NULL, NULL, &n);
        for (size_t i = 0; i < n; i++)
            s_send_worker (self, workers[i]->route, workers[i]->route_len, VB_WCMD_HEARTBEAT,
                           NULL, workers[i]->id);
        free (workers);
    }
    const char *id;
    int64_t timeout = 3 * (int64_t) self->heartbeat_ms;
    char why[96];
    snprintf (why, sizeof why, "was silent for more than %" PRId64 " ms", timeout);
    while ((id = vb_registry_next_expired (self->registry, now, timeout)))
        s_worker_lost (self, id, why);
    s_reap_gone (self);
    return 0;
}

/* --- Setup ------------------------------------------------------------------------------------ */

char *
vb_broker_advertised_endpoint (const char *resolved, const char *advertise)
{
    static const char *const wildcards[] = {"0.0.0.0", "*", "[::]", "::", "[*]", NULL};
    if (!advertise || strncmp (resolved, "tcp://", 6) != 0)
        return strdup (resolved);
    const char *host = resolved + 6;
    const char *colon = strrchr (host, ':');
    if (!colon)
        return strdup (resolved);
    size_t host_len = (size_t) (colon - host);
    bool wildcard = false;
    for (size_t i = 0; wildcards[i]; i++)
        if (strlen (wildcards[i]) == host_len && strncmp (host, wildcards[i], host_len) == 0)
            wildcard = true;
    if (!wildcard)
        return strdup (resolved);
    char *out = NULL;
    if (asprintf (&out, "tcp://%s%s", advertise, colon) < 0)
        return NULL;
    return out;
}

/*  Options go on before bind: a listener copies them when it is created, so later changes would
 *  not reach the connections it accepts. */
static zsock_t *
s_bind (int type, const char *endpoint, const char *role, const char *advertise,
        int max_msg_size, const vb_auth_server_t *auth, const char *zap_domain, char **ep_out,
        vb_error_t *err)
{
    zsock_t *sock = zsock_new (type);
    if (!sock) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot create the %s socket", role);
        return NULL;
    }
    if (auth)
        vb_auth_server_apply (auth, sock, zap_domain);
    zsock_set_linger (sock, 0);
    zsock_set_sndtimeo (sock, 0);
    zsock_set_maxmsgsize (sock, max_msg_size);
    if (type == ZMQ_ROUTER) {
        zsock_set_router_mandatory (sock, 1);
        zsock_set_router_handover (sock, 1);
        zsock_set_sndhwm (sock, 10000);
        zsock_set_rcvhwm (sock, 10000);
    }
    else
        zsock_set_sndhwm (sock, 100000);
    if (zsock_bind (sock, "%s", endpoint) < 0) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "cannot bind the %s endpoint %s: %s", role,
                      endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    char *resolved = zsock_last_endpoint (sock);
    *ep_out = resolved ? vb_broker_advertised_endpoint (resolved, advertise) : NULL;
    free (resolved);
    if (!*ep_out) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot read the bound %s endpoint", role);
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}

vb_broker_t *
vb_broker_new (const vb_broker_config_t *config, vb_error_t *err)
{
    vb_broker_t *self = calloc (1, sizeof *self);
    if (!self) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory creating the broker");
        return NULL;
    }
    self->heartbeat_ms = config->heartbeat_ms > 0 ? config->heartbeat_ms
                                                  : VB_BROKER_DEFAULT_HEARTBEAT_MS;
    self->client_limits = vb_limits_client ();
    self->worker_limits = vb_limits_worker ();
    self->next_job = 1;
    if (config->advertise)
        snprintf (self->host, sizeof self->host, "%s", config->advertise);
    else if (gethostname (self->host, sizeof self->host - 1) != 0)
        snprintf (self->host, sizeof self->host, "localhost");
    self->registry = vb_registry_new ();
    self->ring = vb_events_open (config->event_ring ? config->event_ring
                                                    : VB_EVENTS_DEFAULT_CAPACITY,
                                 config->state_dir, err);
    if (!self->ring)
        goto fail;
    self->jobs = zhashx_new ();
    self->gone = zlistx_new ();
    self->loop = zloop_new ();
    self->inflight = zhashx_new ();
    self->max_inflight = config->max_inflight > 0 ? config->max_inflight
                                                  : VB_BROKER_DEFAULT_MAX_INFLIGHT;
    if (!self->registry || !self->ring || !self->jobs || !self->gone || !self->loop
        || !self->inflight) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory creating the broker");
        goto fail;
    }
    const char *endpoints[] = {
        config->clients ? config->clients : VB_BROKER_DEFAULT_CLIENTS,
        config->workers ? config->workers : VB_BROKER_DEFAULT_WORKERS,
        config->events ? config->events : VB_BROKER_DEFAULT_EVENTS, NULL
    };
    if (vb_endpoint_policy (endpoints, config->advertise, config->keys_dir != NULL,
                            config->insecure, err) != 0)
        goto fail;
    /*  The authenticator must be listening before the first CURVE socket binds. */
    if (config->keys_dir && !(self->auth = vb_auth_server_new (config->keys_dir, err)))
        goto fail;
    zlistx_set_destructor (self->gone, (zlistx_destructor_fn *) zstr_free);

    self->clients = s_bind (ZMQ_ROUTER, config->clients ? config->clients
                            : VB_BROKER_DEFAULT_CLIENTS, "clients", config->advertise,
                            2 * (int) VB_LIMIT_CLIENT_FRAME, self->auth,
                            VB_AUTH_DOMAIN_CLIENTS, &self->clients_ep, err);
    if (!self->clients)
        goto fail;
    self->workers = s_bind (ZMQ_ROUTER, config->workers ? config->workers
                            : VB_BROKER_DEFAULT_WORKERS, "workers", config->advertise,
                            (int) VB_LIMIT_WORKER_FRAME + (1 << 20), self->auth,
                            VB_AUTH_DOMAIN_WORKERS, &self->workers_ep, err);
    if (!self->workers)
        goto fail;
    self->events = s_bind (ZMQ_XPUB, config->events ? config->events
                           : VB_BROKER_DEFAULT_EVENTS, "events", config->advertise, 4096,
                           self->auth, VB_AUTH_DOMAIN_EVENTS, &self->events_ep, err);
    if (!self->events)
        goto fail;
    if (zloop_reader (self->loop, self->clients, s_client_reader, self) != 0
        || zloop_reader (self->loop, self->workers, s_worker_reader, self) != 0
        || zloop_reader (self->loop, self->events, s_events_reader, self) != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot register the broker sockets");
        goto fail;
    }
    int tick = self->heartbeat_ms / 4 > 10 ? self->heartbeat_ms / 4 : 10;
    if (zloop_timer (self->loop, (size_t) tick, 0, s_heartbeat, self) < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot start the heartbeat timer");
        goto fail;
    }
    self->last_heartbeat = vb_now_ms ();
    return self;

fail:
    vb_broker_destroy (&self);
    return NULL;
}

void
vb_broker_destroy (vb_broker_t **self_p)
{
    vb_broker_t *self = *self_p;
    if (!self)
        return;
    if (self->jobs) {
        for (job_t *job = zhashx_first (self->jobs); job; job = zhashx_next (self->jobs))
            s_job_free (self, &job);
        zhashx_destroy (&self->jobs);
    }
    zloop_destroy (&self->loop);
    zsock_destroy (&self->clients);
    zsock_destroy (&self->workers);
    zsock_destroy (&self->events);
    /*  After the sockets: their handshakes need the authenticator up to the end. */
    vb_auth_server_destroy (&self->auth);
    zhashx_destroy (&self->inflight);
    free (self->clients_ep);
    free (self->workers_ep);
    free (self->events_ep);
    vb_registry_destroy (&self->registry);
    vb_events_destroy (&self->ring);
    zlistx_destroy (&self->gone);
    free (self);
    *self_p = NULL;
}

const char *
vb_broker_clients_endpoint (const vb_broker_t *self)
{
    return self->clients_ep;
}

const char *
vb_broker_workers_endpoint (const vb_broker_t *self)
{
    return self->workers_ep;
}

const char *
vb_broker_events_endpoint (const vb_broker_t *self)
{
    return self->events_ep;
}

zloop_t *
vb_broker_loop (vb_broker_t *self)
{
    return self->loop;
}

int
vb_broker_run (vb_broker_t *self)
{
    int rc = zloop_start (self->loop);
    /*  zloop_start returns 0 when interrupted, -1 when a handler asked to stop. */
    return rc == 0 || zsys_interrupted ? 0 : -1;
}
