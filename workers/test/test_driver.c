/*  test_driver — the in-memory test double behind virtbus-test (see test_driver.h).
 *
 *  Nothing here touches a hypervisor: each domain is a parsed definition plus a libvirt state and
 *  reason. Operations answer before returning, except the two extra ops that run on zloop timers.
 */
#include "test_driver.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vb_domstate.h"
#include "vb_domxml.h"
#include "vb_json.h"
#include "vb_util.h"
#include "vb_worker.h"

/*  Events emitted per loop turn by test.emit_events: enough to be fast, small enough that
 *  requests and heartbeats keep being served in between. */
#define TEST_EMIT_BATCH 256
#define TEST_EMIT_MAX 1000000
#define TEST_SLEEP_MAX_MS 3600000

typedef struct {
    vb_domain_def_t *def;
    int state;              /* vb_state_t */
    int reason;
    int id;                 /* -1 when not running */
    bool persistent;        /* false once undefined while running (then gone when stopped) */
    int64_t cpu_ns;         /* time spent running before RUN_SINCE */
    int64_t run_since;      /* monotonic ns when it last entered "running"; 0 otherwise */
} test_dom_t;

typedef struct _test_state_t test_state_t;

/*  A call answered later from a timer (test.sleep, test.emit_events). */
typedef struct {
    test_state_t *st;
    vb_call_t *call;
    int timer;
    char *domain;           /* emit: copies, so an undefine meanwhile changes nothing */
    char *uuid;
    uint64_t count;
    uint64_t done;
    void *handle;           /* in st->jobs */
} test_job_t;

struct _test_state_t {
    vb_worker_t *worker;
    zlistx_t *domains;      /* test_dom_t *, in definition order */
    zlistx_t *jobs;         /* test_job_t * */
    int next_id;
};

/* --- domains ------------------------------------------------------------------------------- */

static void
s_dom_destroy (void **item)
{
    test_dom_t *dom = (test_dom_t *) *item;
    if (dom) {
        vb_domain_def_free (&dom->def);
        free (dom);
        *item = NULL;
    }
}

static void
s_job_destroy (void **item)
{
    test_job_t *job = (test_job_t *) *item;
    if (job) {
        free (job->domain);
        free (job->uuid);
        free (job);
        *item = NULL;
    }
}

static test_dom_t *
s_find (test_state_t *st, const char *key)
{
    if (!key)
        return NULL;
    for (test_dom_t *dom = (test_dom_t *) zlistx_first (st->domains); dom;
         dom = (test_dom_t *) zlistx_next (st->domains))
        if (strcmp (dom->def->name, key) == 0 || strcasecmp (dom->def->uuid, key) == 0)
            return dom;
    return NULL;
}

/*  The call's target domain, or NULL after answering NO_DOMAIN. */
static test_dom_t *
s_target (test_state_t *st, vb_call_t *call)
{
    const char *key = vb_call_domain (call);
    test_dom_t *dom = s_find (st, key);
    if (!dom)
        vb_call_reply_error (call, VB_ERR_NO_DOMAIN, "domain '%s' not found on host %s",
                             key? key: "", vb_worker_host (st->worker));
    return dom;
}

static bool
s_is_active (const test_dom_t *dom)
{
    return dom->state != VB_STATE_SHUTOFF;
}

static int64_t
s_cpu_time (const test_dom_t *dom)
{
    return dom->cpu_ns + (dom->run_since? vb_now_ns () - dom->run_since: 0);
}

/*  Every state change goes through here so the running-time account stays right. */
static void
s_set_state (test_dom_t *dom, int state, int reason)
{
    if (dom->run_since && state != VB_STATE_RUNNING) {
        dom->cpu_ns += vb_now_ns () - dom->run_since;
        dom->run_since = 0;
    }
    else if (!dom->run_since && state == VB_STATE_RUNNING)
        dom->run_since = vb_now_ns ();
    dom->state = state;
    dom->reason = reason;
}

static void
s_event (test_state_t *st, const test_dom_t *dom, const char *event, const char *detail)
{
    vb_worker_emit_event (st->worker, dom->def->name, dom->def->uuid, "lifecycle", event, detail,
                          NULL);
}

static json_object *
s_info (const test_dom_t *dom, const vb_call_t *call)
{
    json_object *info = json_object_new_object ();
    json_object_object_add (info, "name", json_object_new_string (dom->def->name));
    json_object_object_add (info, "uuid", json_object_new_string (dom->def->uuid));
    json_object_object_add (info, "id", json_object_new_int (dom->id));
    json_object_object_add (info, "state", json_object_new_int (dom->state));
    json_object_object_add (info, "reason", json_object_new_int (dom->reason));
    json_object_object_add (info, "max_mem_kib", json_object_new_uint64 (dom->def->memory_kib));
    json_object_object_add (info, "memory_kib",
                            json_object_new_uint64 (dom->def->current_memory_kib));
    json_object_object_add (info, "vcpus", json_object_new_int ((int) dom->def->vcpus));
    json_object_object_add (info, "cpu_time_ns", json_object_new_int64 (s_cpu_time (dom)));
    json_object_object_add (info, "persistent", json_object_new_boolean (dom->persistent));
    json_object_object_add (info, "autostart", json_object_new_boolean (false));
    vb_call_domain_info_add_origin (call, info);
    return info;
}

/*  Stop DOM (running or paused) with REASON; a transient domain disappears. */
static void
s_stop (test_state_t *st, test_dom_t *dom, int reason, const char *detail)
{
    s_set_state (dom, VB_STATE_SHUTOFF, reason);
    dom->id = -1;
    s_event (st, dom, "stopped", detail);
    if (!dom->persistent) {
        void *handle = zlistx_find (st->domains, dom);
        if (handle)
            zlistx_delete (st->domains, handle);
        vb_worker_inventory_changed (st->worker);
    }
}

/* --- the driver table ---------------------------------------------------------------------- */

static void *
s_open (vb_worker_t *worker, const vb_driver_config_t *config, vb_error_t *err)
{
    (void) config;
    test_state_t *st = calloc (1, sizeof *st);
    if (st) {
        st->worker = worker;
        st->next_id = 1;
        st->domains = zlistx_new ();
        st->jobs = zlistx_new ();
    }
    if (!st || !st->domains || !st->jobs) {
        if (st) {
            zlistx_destroy (&st->domains);
            zlistx_destroy (&st->jobs);
            free (st);
        }
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory while opening the test driver");
        return NULL;
    }
    zlistx_set_destructor (st->domains, s_dom_destroy);
    zlistx_set_destructor (st->jobs, s_job_destroy);
    return st;
}

static void
s_close (void *state)
{
    test_state_t *st = (test_state_t *) state;
    /*  Pending timers end here; their calls belong to the core, which frees them unanswered. */
    zloop_t *loop = vb_worker_loop (st->worker);
    for (test_job_t *job = (test_job_t *) zlistx_first (st->jobs); job;
         job = (test_job_t *) zlistx_next (st->jobs))
        if (job->timer != -1)
            zloop_timer_end (loop, job->timer);
    zlistx_destroy (&st->jobs);
    zlistx_destroy (&st->domains);
    free (st);
}

static json_object *
s_inventory (void *state)
{
    test_state_t *st = (test_state_t *) state;
    json_object *domains = json_object_new_array ();
    for (test_dom_t *dom = (test_dom_t *) zlistx_first (st->domains); dom;
         dom = (test_dom_t *) zlistx_next (st->domains)) {
        json_object *entry = json_object_new_object ();
        json_object_object_add (entry, "name", json_object_new_string (dom->def->name));
        json_object_object_add (entry, "uuid", json_object_new_string (dom->def->uuid));
        json_object_object_add (entry, "state", json_object_new_int (dom->state));
        json_object_array_add (domains, entry);
    }
    return domains;
}

static void
s_define (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    vb_error_t err = { 0 };
    const char *xml = NULL;
    vb_domain_def_t *def = NULL;
    test_dom_t *dom = NULL;

    if (vb_json_get_string (vb_call_args (call), "xml", true, &xml, &err) != 0)
        goto error;
    def = vb_domxml_parse (xml, strlen (xml), &err);
    if (!def)
        goto error;
    if (!def->type || strcmp (def->type, "test") != 0) {
        vb_error_set (&err, VB_ERR_INVALID_XML,
                      "domain type '%s' is not served by the test driver; use "
                      "<domain type='test'>", def->type? def->type: "");
        goto error;
    }
    test_dom_t *same = s_find (st, def->name);
    if (same) {
        vb_error_set (&err, VB_ERR_OPERATION_INVALID, "domain '%s' already exists", def->name);
        goto error;
    }
    same = s_find (st, def->uuid);
    if (same) {
        vb_error_set (&err, VB_ERR_OPERATION_INVALID,
                      "domain '%s' already exists with uuid %s", same->def->name, def->uuid);
        goto error;
    }
    dom = calloc (1, sizeof *dom);
    if (!dom) {
        vb_error_set (&err, VB_ERR_INTERNAL, "out of memory while defining domain '%s'",
                      def->name);
        goto error;
    }
    dom->def = def;
    def = NULL;
    dom->state = VB_STATE_SHUTOFF;
    dom->reason = VB_REASON_UNKNOWN;
    dom->id = -1;
    dom->persistent = true;
    if (!zlistx_add_end (st->domains, dom)) {
        vb_error_set (&err, VB_ERR_INTERNAL, "out of memory while defining domain '%s'",
                      dom->def->name);
        goto error;
    }
    /*  DOMAINS before the reply, on the same socket: the broker's index knows the domain by the
     *  time the client hears it was defined. */
    vb_worker_inventory_changed (st->worker);
    s_event (st, dom, "defined", "added");
    json_object *result = json_object_new_object ();
    json_object_object_add (result, "name", json_object_new_string (dom->def->name));
    json_object_object_add (result, "uuid", json_object_new_string (dom->def->uuid));
    vb_call_reply_ok (call, result);
    return;

error:
    if (dom)
        s_dom_destroy ((void **) &dom);
    vb_domain_def_free (&def);
    vb_call_reply_err (call, &err);
}

static void
s_undefine (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    test_dom_t *dom = s_target (st, call);
    if (!dom)
        return;
    if (!dom->persistent) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID,
                             "cannot undefine transient domain '%s'", dom->def->name);
        return;
    }
    s_event (st, dom, "undefined", "removed");
    if (s_is_active (dom))
        dom->persistent = false;   /* libvirt: it lives on until it stops */
    else
        zlistx_delete (st->domains, zlistx_find (st->domains, dom));
    vb_worker_inventory_changed (st->worker);
    vb_call_reply_ok (call, NULL);
}

static void
s_start (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    test_dom_t *dom = s_target (st, call);
    if (!dom)
        return;
    if (s_is_active (dom)) {
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
    dom->id = st->next_id++;
    s_set_state (dom, VB_STATE_RUNNING, VB_RUNNING_BOOTED);
    s_event (st, dom, "started", "booted");
    if (paused) {
        s_set_state (dom, VB_STATE_PAUSED, VB_PAUSED_USER);
        s_event (st, dom, "suspended", "paused");
    }
    vb_call_reply_ok (call, NULL);
}

/*  The domain of CALL if it is running or paused; else answers "is not running". */
static test_dom_t *
s_active_target (test_state_t *st, vb_call_t *call)
{
    test_dom_t *dom = s_target (st, call);
    if (dom && !s_is_active (dom)) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is not running",
                             dom->def->name);
        return NULL;
    }
    return dom;
}

static void
s_shutdown (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    test_dom_t *dom = s_active_target (st, call);
    if (!dom)
        return;
    /*  A test guest obeys the power button at once. */
    s_event (st, dom, "shutdown", "finished");
    s_stop (st, dom, VB_SHUTOFF_SHUTDOWN, "shutdown");
    vb_call_reply_ok (call, NULL);
}

static void
s_destroy (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    test_dom_t *dom = s_active_target (st, call);
    if (!dom)
        return;
    s_stop (st, dom, VB_SHUTOFF_DESTROYED, "destroyed");
    vb_call_reply_ok (call, NULL);
}

static void
s_suspend (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    test_dom_t *dom = s_active_target (st, call);
    if (!dom)
        return;
    if (dom->state == VB_STATE_PAUSED) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is already paused",
                             dom->def->name);
        return;
    }
    s_set_state (dom, VB_STATE_PAUSED, VB_PAUSED_USER);
    s_event (st, dom, "suspended", "paused");
    vb_call_reply_ok (call, NULL);
}

static void
s_resume (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    test_dom_t *dom = s_active_target (st, call);
    if (!dom)
        return;
    if (dom->state != VB_STATE_PAUSED) {
        vb_call_reply_error (call, VB_ERR_OPERATION_INVALID, "domain '%s' is not paused",
                             dom->def->name);
        return;
    }
    s_set_state (dom, VB_STATE_RUNNING, VB_RUNNING_UNPAUSED);
    s_event (st, dom, "resumed", "unpaused");
    vb_call_reply_ok (call, NULL);
}

static void
s_reboot (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    test_dom_t *dom = s_active_target (st, call);
    if (!dom)
        return;
    s_set_state (dom, VB_STATE_RUNNING, VB_RUNNING_BOOTED);
    vb_worker_emit_event (st->worker, dom->def->name, dom->def->uuid, "reboot", "reboot", "",
                          NULL);
    vb_call_reply_ok (call, NULL);
}

static void
s_get_info (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    test_dom_t *dom = s_target (st, call);
    if (dom)
        vb_call_reply_ok (call, s_info (dom, call));
}

static void
s_get_xml (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    test_dom_t *dom = s_target (st, call);
    if (!dom)
        return;
    char *xml = vb_domxml_format (dom->def);
    if (!xml) {
        vb_call_reply_error (call, VB_ERR_INTERNAL,
                             "out of memory while formatting the XML of domain '%s'",
                             dom->def->name);
        return;
    }
    json_object *result = json_object_new_object ();
    json_object_object_add (result, "xml", json_object_new_string (xml));
    free (xml);
    vb_call_reply_ok (call, result);
}

/*  virsh's order: running domains by id, then the others by name. */
static int
s_list_cmp (const void *a, const void *b)
{
    const test_dom_t *x = *(const test_dom_t *const *) a;
    const test_dom_t *y = *(const test_dom_t *const *) b;
    if (s_is_active (x) != s_is_active (y))
        return s_is_active (x)? -1: 1;
    if (s_is_active (x))
        return (x->id > y->id) - (x->id < y->id);
    return strcmp (x->def->name, y->def->name);
}

static void
s_list (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    vb_error_t err = { 0 };
    bool all = false, inactive = false;
    if (vb_json_get_bool (vb_call_args (call), "all", false, &all, &err) != 0
        || vb_json_get_bool (vb_call_args (call), "inactive", false, &inactive, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    size_t n = zlistx_size (st->domains), count = 0;
    test_dom_t **doms = calloc (n? n: 1, sizeof *doms);
    if (!doms) {
        vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory while listing domains");
        return;
    }
    for (test_dom_t *dom = (test_dom_t *) zlistx_first (st->domains); dom;
         dom = (test_dom_t *) zlistx_next (st->domains)) {
        bool want = all || (inactive? !s_is_active (dom): s_is_active (dom));
        if (want)
            doms[count++] = dom;
    }
    qsort (doms, count, sizeof *doms, s_list_cmp);
    json_object *result = json_object_new_array ();
    for (size_t i = 0; i < count; i++)
        json_object_array_add (result, s_info (doms[i], call));
    free (doms);
    vb_call_reply_ok (call, result);
}

static json_object *
s_param (const char *key, const char *type, json_object *value)
{
    json_object *param = json_object_new_array ();
    json_object_array_add (param, json_object_new_string (key));
    json_object_array_add (param, json_object_new_string (type));
    json_object_array_add (param, value);
    return param;
}

static json_object *
s_stats_record (const test_dom_t *dom, const vb_call_t *call, bool want_state)
{
    json_object *record = json_object_new_object ();
    json_object_object_add (record, "name", json_object_new_string (dom->def->name));
    json_object_object_add (record, "uuid", json_object_new_string (dom->def->uuid));
    vb_call_domain_info_add_origin (call, record);
    json_object_object_add (record, "state", json_object_new_string ("ok"));
    json_object *params = json_object_new_array ();
    if (want_state) {
        json_object_array_add (params, s_param ("state.state", "int",
                                                json_object_new_int (dom->state)));
        json_object_array_add (params, s_param ("state.reason", "int",
                                                json_object_new_int (dom->reason)));
    }
    json_object_object_add (record, "params", params);
    return record;
}

/*  Only the "state" group exists here; other groups give records without their fields. Names in
 *  "domains" that this worker does not have are skipped: a fan-out asks every worker. */
static void
s_get_stats (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    vb_error_t err = { 0 };
    json_object *groups = NULL, *domains = NULL;
    json_object *args = vb_call_args (call);
    if (vb_json_get_array (args, "groups", false, &groups, &err) != 0
        || vb_json_get_array (args, "domains", false, &domains, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    bool want_state = !groups || json_object_array_length (groups) == 0;
    for (size_t i = 0; groups && i < json_object_array_length (groups); i++) {
        json_object *g = json_object_array_get_idx (groups, i);
        if (!json_object_is_type (g, json_type_string)) {
            vb_call_reply_error (call, VB_ERR_INVALID_ARG,
                                 "field 'groups' must be an array of strings");
            return;
        }
        if (strcmp (json_object_get_string (g), "state") == 0)
            want_state = true;
    }
    json_object *result = json_object_new_array ();
    if (domains) {
        for (size_t i = 0; i < json_object_array_length (domains); i++) {
            json_object *d = json_object_array_get_idx (domains, i);
            if (!json_object_is_type (d, json_type_string)) {
                json_object_put (result);
                vb_call_reply_error (call, VB_ERR_INVALID_ARG,
                                     "field 'domains' must be an array of strings");
                return;
            }
            test_dom_t *dom = s_find (st, json_object_get_string (d));
            if (dom)
                json_object_array_add (result, s_stats_record (dom, call, want_state));
        }
    }
    else {
        for (test_dom_t *dom = (test_dom_t *) zlistx_first (st->domains); dom;
             dom = (test_dom_t *) zlistx_next (st->domains))
            json_object_array_add (result, s_stats_record (dom, call, want_state));
    }
    vb_call_reply_ok (call, result);
}

/* --- extra ops ----------------------------------------------------------------------------- */

static test_job_t *
s_job_new (test_state_t *st, vb_call_t *call)
{
    test_job_t *job = calloc (1, sizeof *job);
    if (!job)
        return NULL;
    job->st = st;
    job->call = call;
    job->timer = -1;
    job->handle = zlistx_add_end (st->jobs, job);
    if (!job->handle) {
        free (job);
        return NULL;
    }
    return job;
}

/*  Answer the job's call with RESULT (taken) and forget the job. */
static void
s_job_finish (test_job_t *job, json_object *result)
{
    test_state_t *st = job->st;
    vb_call_t *call = job->call;
    zlistx_delete (st->jobs, job->handle);
    vb_call_reply_ok (call, result);
}

static int
s_on_sleep (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    ((test_job_t *) arg)->timer = -1;
    s_job_finish ((test_job_t *) arg, NULL);
    return 0;
}

static void
s_sleep (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    vb_error_t err = { 0 };
    int64_t ms = 0;
    if (vb_json_get_int64 (vb_call_args (call), "ms", true, &ms, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    if (ms < 0 || ms > TEST_SLEEP_MAX_MS) {
        vb_call_reply_error (call, VB_ERR_INVALID_ARG,
                             "field 'ms' is %" PRId64 "; it must be in 0..%d", ms,
                             TEST_SLEEP_MAX_MS);
        return;
    }
    test_job_t *job = s_job_new (st, call);
    if (!job) {
        vb_call_reply_error (call, VB_ERR_INTERNAL, "out of memory while scheduling test.sleep");
        return;
    }
    /*  zloop fires a zero-delay timer on the next turn, which is what 0 ms means here. */
    job->timer = zloop_timer (vb_worker_loop (st->worker), (size_t) ms, 1, s_on_sleep, job);
}

/*  One batch per one-shot timer, re-armed while events remain: a repeating timer could fire
 *  again in the same zloop turn after zloop_timer_end() and touch the freed job. */
static int
s_on_emit (zloop_t *loop, int timer_id, void *arg)
{
    (void) timer_id;
    test_job_t *job = (test_job_t *) arg;
    job->timer = -1;
    for (int i = 0; i < TEST_EMIT_BATCH && job->done < job->count; i++) {
        char detail[24];
        snprintf (detail, sizeof detail, "%" PRIu64, ++job->done);
        vb_worker_emit_event (job->st->worker, job->domain, job->uuid, "test", "test", detail,
                              NULL);
    }
    if (job->done < job->count)
        job->timer = zloop_timer (loop, 1, 1, s_on_emit, job);
    else {
        json_object *result = json_object_new_object ();
        json_object_object_add (result, "emitted", json_object_new_uint64 (job->count));
        s_job_finish (job, result);
    }
    return 0;
}

static void
s_emit_events (void *state, vb_call_t *call)
{
    test_state_t *st = (test_state_t *) state;
    vb_error_t err = { 0 };
    json_object *args = vb_call_args (call);
    const char *name = vb_call_domain (call);
    int64_t count = 0;
    if (vb_json_get_string (args, "domain", name == NULL, &name, &err) != 0
        || vb_json_get_int64 (args, "count", true, &count, &err) != 0) {
        vb_call_reply_err (call, &err);
        return;
    }
    if (count < 1 || count > TEST_EMIT_MAX) {
        vb_call_reply_error (call, VB_ERR_INVALID_ARG,
                             "field 'count' is %" PRId64 "; it must be in 1..%d", count,
                             TEST_EMIT_MAX);
        return;
    }
    test_dom_t *dom = s_find (st, name);
    if (!dom) {
        vb_call_reply_error (call, VB_ERR_NO_DOMAIN, "domain '%s' not found on host %s", name,
                             vb_worker_host (st->worker));
        return;
    }
    test_job_t *job = s_job_new (st, call);
    if (job) {
        job->domain = strdup (dom->def->name);
        job->uuid = strdup (dom->def->uuid);
        job->count = (uint64_t) count;
    }
    if (!job || !job->domain || !job->uuid) {
        if (job)
            zlistx_delete (st->jobs, job->handle);
        vb_call_reply_error (call, VB_ERR_INTERNAL,
                             "out of memory while scheduling test.emit_events");
        return;
    }
    job->timer = zloop_timer (vb_worker_loop (st->worker), 1, 1, s_on_emit, job);
}

static const struct vb_driver_extra_op s_extra_ops[] = {
    { "test.emit_events", s_emit_events },
    { "test.sleep", s_sleep },
    { NULL, NULL },
};

const vb_driver_t test_driver = {
    .name = "test",
    .help = "virtbus-test is an in-memory TEST DOUBLE, like libvirt's test:///default: it runs\n"
            "no guests and is not a hypervisor. Its domains (<domain type='test'>) live in this\n"
            "process's memory and follow libvirt's lifecycle rules and events, for testing the\n"
            "broker, vbsh and benchmarks. Extra ops: test.emit_events {domain, count},\n"
            "test.sleep {ms}.",
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
    .extra_ops = s_extra_ops,
};
