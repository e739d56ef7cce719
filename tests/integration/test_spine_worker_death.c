/*  Spine check: a worker killed with SIGKILL among three.
 *
 *  Three virtbus-test workers (hosts h1, h2, h3), one domain on each. After kill -9 of h2:
 *  - it is gone from `hosts` within 3 heartbeat intervals (+ margin);
 *  - a request for its domain sent right after the kill answers WORKER_LOST or NO_WORKER as
 *    soon as the death is detected, and one sent afterwards answers at once, never hanging;
 *  - a fan-out (domain.list all) sent right after the kill, before the death can be detected,
 *    answers the two other workers' domains plus a `partial` naming h2, by its deadline.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "vb_testcall.h"
#include "vb_testenv.h"

#define LIST_DEADLINE_MS 1500

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*  The requests in flight across the kill, and the probe that watches `hosts`. */
typedef struct {
    vb_client_t *probe;
    vb_client_t *async;
    uint32_t probe_deadline_ms;
    uint64_t list_id, info_id;
    vb_reply_t *list, *info;
    int64_t list_at, info_at;
} s_watch_t;

/*  Collect the async replies that have arrived, with their arrival time. */
static void
s_collect (s_watch_t *w)
{
    vb_error_t err = {0};
    vb_reply_t *r;
    while ((r = vb_client_recv (w->async, 0, &err))) {
        if (r->id == w->list_id && !w->list) {
            w->list = r;
            w->list_at = s_now_ms ();
        }
        else if (r->id == w->info_id && !w->info) {
            w->info = r;
            w->info_at = s_now_ms ();
        }
        else
            vb_reply_destroy (&r);
    }
}

static bool
s_h2_gone (void *arg)
{
    s_watch_t *w = arg;
    s_collect (w);
    bool in_partial = true;
    int count = vb_testcall_hosts_count (w->probe, "h2", NULL, w->probe_deadline_ms, &in_partial);
    s_collect (w);
    return count == 0 && !in_partial;
}

static bool
s_both_answered (void *arg)
{
    s_watch_t *w = arg;
    s_collect (w);
    return w->list && w->info;
}

static void
test_spine_worker_kill9_leaves_hosts_and_fails_its_requests (void **state)
{
    vb_testenv_t *env = *state;
    char line[2048];
    const char *hosts[] = {"h1", "h2", "h3"};
    vb_testproc_t *workers[3];

    assert_non_null (vb_testenv_start_broker (env));
    for (int i = 0; i < 3; i++)
        assert_non_null (workers[i] = vb_testenv_start_worker (env, "virtbus-test", hosts[i],
                                                               NULL));
    const char *dead_id = vb_testproc_ready_value (workers[1], "worker");
    assert_non_null (dead_id);
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);

    /* Registration may trail the ready lines by a round trip: wait for all three, bounded. */
    vb_testcall_hosts_t all3 = {.client = client, .hosts = hosts, .count = 3, .workers = 3,
                                .deadline_ms = 1000};
    if (!vb_test_poll_until (vb_testcall_hosts_listed, &all3, 20,
                             vb_testenv_intervals_ms (env, 2), NULL))
        fail_msg ("hosts does not list h1, h2 and h3 within 2 intervals of their ready lines");

    vb_testrun_t run;
    vb_testenv_vbsh (env, &run, "hosts", NULL);
    if (run.exit_code != 0 || !strstr (run.out, "h1") || !strstr (run.out, "h2")
        || !strstr (run.out, "h3"))
        fail_msg ("vbsh hosts (exit %d) does not list h1, h2, h3:\n%s%s", run.exit_code, run.out,
                  run.err);
    vb_testrun_clear (&run);

    const char *domains[] = {"dom-h1", "dom-h2", "dom-h3"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal (vb_testcall_define (client, hosts[i], domains[i], NULL), 0);
        assert_true (vb_testcall_wait_ok (client, "domain.info", NULL, domains[i], 1000, 20,
                                          vb_testenv_intervals_ms (env, 2)));
    }

    /* Kill h2, then at once send a fan-out and a request for its domain: the broker cannot
     * know yet (it learns from 3 silent intervals), so both are in flight to a dead worker. */
    s_watch_t w = {.probe = vb_testenv_client (env), .async = vb_testenv_client (env),
                   .probe_deadline_ms = (uint32_t) vb_testenv_heartbeat_ms (env)};
    assert_non_null (w.probe);
    assert_non_null (w.async);
    assert_int_equal (vb_testproc_signal (workers[1], SIGKILL), 0);
    int64_t killed_at = s_now_ms ();
    json_object *all = json_object_new_object ();
    json_object_object_add (all, "all", json_object_new_boolean (true));
    w.list_id = vb_testcall_send (w.async, "domain.list", NULL, NULL, all, LIST_DEADLINE_MS);
    int64_t list_sent = s_now_ms ();
    w.info_id = vb_testcall_send (w.async, "domain.info", NULL, "dom-h2", NULL, 0);
    assert_true (w.list_id != 0 && w.info_id != 0);
    assert_int_equal (vb_testproc_wait_exit (workers[1], 2000, NULL), 0);

    int64_t gone_ms = 0;
    int gone_bound = vb_testenv_intervals_ms (env, 3);
    if (!vb_test_poll_until (s_h2_gone, &w, 20, gone_bound + 2000, &gone_ms))
        fail_msg ("h2 still in hosts (result or partial) %d ms after kill -9",
                  (int) (s_now_ms () - killed_at));
    gone_ms = s_now_ms () - killed_at;
    if (gone_ms > gone_bound)
        fail_msg ("h2 left hosts %d ms after kill -9; bound is 3 intervals + margin = %d ms",
                  (int) gone_ms, gone_bound);

    print_message ("h2 gone from hosts %d ms after kill -9 (bound %d ms)\n", (int) gone_ms,
                   gone_bound);
    if (!vb_test_poll_until (s_both_answered, &w, 10, LIST_DEADLINE_MS + vb_test_margin_ms (),
                             NULL))
        fail_msg ("no answer across the kill by the deadline: domain.list %s, domain.info %s",
                  w.list ? "answered" : "missing", w.info ? "answered" : "missing");

    /* The fan-out: h1's and h3's domains, h2 named in partial, by the deadline. */
    vb_testcall_describe (w.list, NULL, line, sizeof line);
    if (!w.list->ok)
        fail_msg ("domain.list across the kill failed: %s", line);
    if (vb_testcall_count (w.list->result, "name", "dom-h1") != 1
        || vb_testcall_count (w.list->result, "name", "dom-h3") != 1
        || vb_testcall_count (w.list->result, "name", "dom-h2") != 0)
        fail_msg ("domain.list across the kill lacks the live workers' domains: %s", line);
    if (!vb_testcall_partial_names (w.list, "h2", dead_id))
        fail_msg ("domain.list across the kill does not name h2 in partial: %s", line);
    if (w.list_at - list_sent > LIST_DEADLINE_MS + vb_test_margin_ms ())
        fail_msg ("domain.list answered after %d ms, past its %d ms deadline",
                  (int) (w.list_at - list_sent), LIST_DEADLINE_MS);

    /* The request in flight to the dead worker: failed as soon as the death was known. */
    vb_testcall_describe (w.info, NULL, line, sizeof line);
    if (!vb_testcall_is_error (w.info, VB_ERR_WORKER_LOST)
        && !vb_testcall_is_error (w.info, VB_ERR_NO_WORKER))
        fail_msg ("domain.info dom-h2 in flight across the kill: want WORKER_LOST or "
                  "NO_WORKER, got %s", line);
    if (w.info_at - killed_at > gone_bound)
        fail_msg ("domain.info dom-h2 failed %d ms after the kill; bound %d ms",
                  (int) (w.info_at - killed_at), gone_bound);

    print_message ("domain.list answered after %d ms (deadline %d): %s\n",
                   (int) (w.list_at - list_sent), LIST_DEADLINE_MS,
                   vb_testcall_describe (w.list, NULL, line, sizeof line));
    print_message ("domain.info dom-h2 answered %d ms after the kill: %s\n",
                   (int) (w.info_at - killed_at),
                   vb_testcall_describe (w.info, NULL, line, sizeof line));

    /* After the death: a request for its domain fails at once; the others are served. */
    vb_error_t err = {0};
    int64_t ms = 0;
    vb_reply_t *r = vb_testcall (client, "domain.info", NULL, "dom-h2", NULL, 0, &ms, &err);
    vb_testcall_describe (r, &err, line, sizeof line);
    if (!vb_testcall_is_error (r, VB_ERR_WORKER_LOST)
        && !vb_testcall_is_error (r, VB_ERR_NO_WORKER))
        fail_msg ("domain.info dom-h2 after the death: want NO_WORKER or WORKER_LOST, got %s",
                  line);
    if (ms > vb_test_margin_ms () + 500)
        fail_msg ("domain.info dom-h2 after the death took %d ms; it should fail at once",
                  (int) ms);
    vb_reply_destroy (&r);
    for (int i = 0; i < 3; i += 2) {
        r = vb_testcall (client, "domain.info", NULL, domains[i], NULL, 0, NULL, &err);
        vb_testcall_describe (r, &err, line, sizeof line);
        if (!r || !r->ok)
            fail_msg ("domain.info %s after h2 died: %s", domains[i], line);
        vb_reply_destroy (&r);
    }

    vb_testenv_vbsh (env, &run, "hosts", NULL);
    if (run.exit_code != 0 || !strstr (run.out, "h1") || strstr (run.out, "h2")
        || !strstr (run.out, "h3"))
        fail_msg ("vbsh hosts (exit %d) after h2 died should list h1 and h3 only:\n%s%s",
                  run.exit_code, run.out, run.err);
    vb_testrun_clear (&run);
    vb_testenv_vbsh (env, &run, "dominfo", "dom-h2", NULL);
    if (run.exit_code != 1 || strncmp (run.err, "error: ", 7) != 0)
        fail_msg ("vbsh dominfo dom-h2 after h2 died: want exit 1 and 'error: ...', got exit "
                  "%d:\n%s%s", run.exit_code, run.out, run.err);
    vb_testrun_clear (&run);

    vb_reply_destroy (&w.list);
    vb_reply_destroy (&w.info);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("spine_worker_death", 0);
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    int rc = env ? vb_testenv_stop (env) : 0;
    vb_testenv_destroy (&env);
    vb_testproc_kill_all ();
    return rc;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_spine_worker_kill9_leaves_hosts_and_fails_its_requests, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
