/*  Multi-host check with real QEMU (issue 8): three hosts, a cut link, and its restore.
 *
 *  Hosts are network namespaces on one bridge: "hub" runs virtbusd, A, B and C each run a
 *  virtbus-qemu worker with two domains started paused (a1 a2, b1 b2, c1 c2; idle boot-sector
 *  guests, KVM when /dev/kvm opens read-write, else TCG), and "client" runs vbsh and this
 *  program's own client.
 *  - `vbsh list --all` shows the 6 domains, each on its host and paused; `hosts` shows one qemu
 *    worker with 2 domains on each host; fan-out domain.list and domain.stats return 6 with no
 *    partial, every stats record sampled ("status": "ok");
 *  - B's link cut: a domain.list and a domain.stats sent right after answer within their
 *    deadline with A's and C's 4 domains plus a `partial` naming B only;
 *  - after the broker has dropped B, B's link restored: all 6 answer again within 3 heartbeat
 *    intervals (+ margin), and nothing restarted: the same worker pids, the same QEMU pids
 *    (dominfo's `pid`, still alive), the same domain ids, still paused.
 *  Teardown kills every QEMU by pid before the namespaces go.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "vb_cluster.h"
#include "vb_cluster_qemu.h"
#include "vb_domstate.h"
#include "vb_json.h"
#include "vb_testcall.h"
#include "vb_testenv.h"

#define NHOSTS 3
#define NDOMS (2 * NHOSTS)

static const char *const s_hosts[NHOSTS] = {"A", "B", "C"};
static const char *const s_doms[NDOMS] = {"a1", "a2", "b1", "b2", "c1", "c2"};

typedef struct {
    vb_cluster_t *cluster;
    vb_client_t *client;
    vb_testproc_t *workers[NHOSTS];
    char uuids[NDOMS][37];
} s_world_t;

/*  Deadline of each fan-out request: a QEMU worker answers domain.stats with four QMP queries
 *  per domain, slower under sanitizers. */
static uint32_t
s_fanout_ms (void)
{
    return vb_test_sanitized () ? 3000 : 1500;
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *
s_host_of (size_t dom)
{
    return s_hosts[dom / 2];
}

static json_object *
s_args_all (void)
{
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "all", json_object_new_boolean (1));
    return args;
}

/*  The entry of RESULT (an array of domain records) with UUID, or NULL. */
static json_object *
s_find_uuid (json_object *result, const char *uuid)
{
    for (size_t i = 0; result && i < json_object_array_length (result); i++) {
        json_object *rec = json_object_array_get_idx (result, i);
        if (strcmp (vb_json_str (rec, "uuid", ""), uuid) == 0)
            return rec;
    }
    return NULL;
}

static int
s_setup (void **state)
{
    s_world_t *w = calloc (1, sizeof *w);
    char line[1024];
    if (!w)
        return -1;
    *state = w;
    w->cluster = vb_cluster_new ("multihost_qemu_cut", 0);
    if (!w->cluster)
        return -1;
    const char *all[] = {"hub", "A", "B", "C", "client"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!vb_cluster_add_host (w->cluster, all[i]))
            return -1;
    if (!vb_cluster_start_broker (w->cluster, "hub"))
        return -1;
    for (size_t i = 0; i < NHOSTS; i++)
        if (!(w->workers[i] = vb_cluster_start_worker (w->cluster, "virtbus-qemu", s_hosts[i],
                                                       NULL, NULL)))
            return -1;
    w->client = vb_cluster_client (w->cluster, "client");
    if (!w->client)
        return -1;
    vb_testcall_hosts_t want = {.client = w->client, .hosts = s_hosts, .count = NHOSTS,
                                .workers = NHOSTS, .deadline_ms = 1000};
    if (!vb_test_poll_until (vb_testcall_hosts_listed, &want, 20,
                             vb_cluster_intervals_ms (w->cluster, 2), NULL)) {
        fprintf (stderr, "setup: hosts does not list A, B and C within 2 intervals\n");
        return -1;
    }
    for (size_t d = 0; d < NDOMS; d++) {
        if (vb_cluster_qemu_define (w->cluster, w->client, s_host_of (d), s_doms[d],
                                    w->uuids[d]) != 0)
            return -1;
        json_object *args = json_object_new_object ();
        json_object_object_add (args, "paused", json_object_new_boolean (1));
        vb_error_t err = {0};
        vb_reply_t *r = vb_testcall (w->client, "domain.start", NULL, w->uuids[d], args, 20000,
                                     NULL, &err);
        bool ok = r && r->ok;
        if (!ok)
            fprintf (stderr, "setup: start --paused %s failed: %s\n", s_doms[d],
                     vb_testcall_describe (r, &err, line, sizeof line));
        vb_reply_destroy (&r);
        if (!ok)
            return -1;
    }
    return 0;
}

static int
s_teardown (void **state)
{
    s_world_t *w = *state;
    int rc = 0;
    if (!w)
        return 0;
    if (w->cluster) {
        /*  QEMUs first: each lives in a session of its own and would keep its namespace. */
        if (vb_cluster_qemu_kill_all (w->cluster, 10000) != 0)
            rc = -1;
        if (vb_cluster_stop (w->cluster) != 0)
            rc = -1;
    }
    vb_cluster_destroy (&w->cluster);
    free (w);
    return rc;
}

/*  Assert that R is an ok fan-out reply holding exactly the domains of HOSTS (by UUID), each
 *  once and on its host, and nothing else. */
static void
s_assert_domains_of (const vb_reply_t *r, const vb_error_t *err, const s_world_t *w,
                     const char *const *hosts, size_t nhosts, const char *what)
{
    char line[4096];
    if (!r || !r->ok || !json_object_is_type (r->result, json_type_array))
        fail_msg ("%s: no ok array reply: %s", what,
                  vb_testcall_describe (r, err, line, sizeof line));
    size_t want = 0;
    for (size_t d = 0; d < NDOMS; d++) {
        bool wanted = false;
        for (size_t h = 0; h < nhosts; h++)
            wanted = wanted || strcmp (s_host_of (d), hosts[h]) == 0;
        json_object *rec = s_find_uuid (r->result, w->uuids[d]);
        if (wanted && !rec)
            fail_msg ("%s: domain %s of host %s is missing: %s", what, s_doms[d],
                      s_host_of (d), vb_testcall_describe (r, err, line, sizeof line));
        if (!wanted && rec)
            fail_msg ("%s: domain %s of host %s should not be there: %s", what, s_doms[d],
                      s_host_of (d), vb_testcall_describe (r, err, line, sizeof line));
        if (rec && vb_testcall_count2 (r->result, "uuid", w->uuids[d], "host",
                                       s_host_of (d)) != 1)
            fail_msg ("%s: domain %s should be listed once, on host %s: %s", what, s_doms[d],
                      s_host_of (d), vb_testcall_describe (r, err, line, sizeof line));
        want += wanted;
    }
    if (json_object_array_length (r->result) != want)
        fail_msg ("%s: %zu records, want %zu: %s", what, json_object_array_length (r->result),
                  want, vb_testcall_describe (r, err, line, sizeof line));
}

/*  Assert that every record of the ok reply R says its sample was taken ("status": "ok"). */
static void
s_assert_sampled (const vb_reply_t *r, const char *what)
{
    char line[4096];
    for (size_t i = 0; i < json_object_array_length (r->result); i++) {
        json_object *rec = json_object_array_get_idx (r->result, i);
        if (strcmp (vb_json_str (rec, "status", ""), "ok") != 0)
            fail_msg ("%s: record of %s has status '%s', want ok: %s", what,
                      vb_json_str (rec, "name", "?"), vb_json_str (rec, "status", ""),
                      vb_testcall_describe (r, NULL, line, sizeof line));
    }
}

static void
test_multihost_qemu_list_hosts_and_stats_fanout_show_six_paused_domains (void **state)
{
    s_world_t *w = *state;
    vb_testrun_t run;

    vb_cluster_vbsh (w->cluster, "client", &run, "list", "--all", NULL);
    if (run.exit_code != 0 || run.err[0])
        fail_msg ("vbsh list --all: exit %d:\n%s%s", run.exit_code, run.out, run.err);
    /* Every domain on a line of its own that also names its host (the host column). */
    for (size_t d = 0; d < NDOMS; d++) {
        bool found = false;
        for (char *l = run.out; l && *l; l = strchr (l, '\n') ? strchr (l, '\n') + 1 : NULL) {
            size_t len = strcspn (l, "\n");
            char row[256], word[64];
            snprintf (row, sizeof row, "%.*s", (int) (len < 255 ? len : 255), l);
            int n = 0;
            bool has_name = false, has_host = false, has_state = false;
            for (char *p = row; sscanf (p, "%63s%n", word, &n) == 1; p += n) {
                has_name = has_name || strcmp (word, s_doms[d]) == 0;
                has_host = has_host || strcmp (word, s_host_of (d)) == 0;
                has_state = has_state || strcmp (word, "paused") == 0;
            }
            found = found || (has_name && has_host && has_state);
        }
        if (!found)
            fail_msg ("vbsh list --all has no row with %s, its host %s and 'paused':\n%s",
                      s_doms[d], s_host_of (d), run.out);
    }
    vb_testrun_clear (&run);

    /* One qemu worker per host, owning its 2 domains. */
    vb_error_t err = {0};
    char line[4096];
    vb_reply_t *r = vb_testcall (w->client, "hosts", NULL, NULL, NULL, 1000, NULL, &err);
    if (!r || !r->ok || json_object_array_length (r->result) != NHOSTS)
        fail_msg ("hosts should list 3 workers: %s",
                  vb_testcall_describe (r, &err, line, sizeof line));
    for (size_t h = 0; h < NHOSTS; h++) {
        json_object *rec = NULL;
        for (size_t i = 0; i < json_object_array_length (r->result); i++)
            if (strcmp (vb_json_str (json_object_array_get_idx (r->result, i), "host", ""),
                        s_hosts[h]) == 0)
                rec = json_object_array_get_idx (r->result, i);
        if (!rec || strcmp (vb_json_str (rec, "driver", ""), "qemu") != 0
            || vb_json_int (rec, "domains", -1) != 2
            || vb_json_int (rec, "pid", -1) != (int64_t) vb_testproc_pid (w->workers[h]))
            fail_msg ("hosts should show host %s with its qemu worker (pid %d) owning 2 "
                      "domains: %s", s_hosts[h], (int) vb_testproc_pid (w->workers[h]),
                      vb_testcall_describe (r, &err, line, sizeof line));
    }
    vb_reply_destroy (&r);

    r = vb_testcall (w->client, "domain.list", NULL, NULL, s_args_all (), s_fanout_ms (), NULL,
                     &err);
    s_assert_domains_of (r, &err, w, s_hosts, NHOSTS, "domain.list all");
    assert_int_equal (r->partial_count, 0);
    for (size_t d = 0; d < NDOMS; d++)
        if (vb_json_int (s_find_uuid (r->result, w->uuids[d]), "state", -1) != VB_STATE_PAUSED)
            fail_msg ("domain.list all: %s should be paused: %s", s_doms[d],
                      vb_testcall_describe (r, &err, line, sizeof line));
    vb_reply_destroy (&r);

    r = vb_testcall (w->client, "domain.stats", NULL, NULL, NULL, s_fanout_ms (), NULL, &err);
    s_assert_domains_of (r, &err, w, s_hosts, NHOSTS, "domain.stats");
    assert_int_equal (r->partial_count, 0);
    s_assert_sampled (r, "domain.stats");
    vb_reply_destroy (&r);
}

/*  What must not change across a cut and restore. */
typedef struct {
    int64_t worker_pids[NHOSTS];
    pid_t qemu_pids[NDOMS];
    int64_t ids[NDOMS];
    int states[NDOMS];
} s_snapshot_t;

static void
s_snapshot (s_world_t *w, s_snapshot_t *snap)
{
    vb_error_t err = {0};
    char line[4096];
    vb_reply_t *r = vb_testcall (w->client, "hosts", NULL, NULL, NULL, 1000, NULL, &err);
    if (!r || !r->ok)
        fail_msg ("hosts: %s", vb_testcall_describe (r, &err, line, sizeof line));
    for (size_t h = 0; h < NHOSTS; h++) {
        snap->worker_pids[h] = INT64_MIN;
        for (size_t i = 0; i < json_object_array_length (r->result); i++) {
            json_object *rec = json_object_array_get_idx (r->result, i);
            if (strcmp (vb_json_str (rec, "host", ""), s_hosts[h]) == 0)
                snap->worker_pids[h] = vb_json_int (rec, "pid", INT64_MIN);
        }
    }
    vb_reply_destroy (&r);
    for (size_t d = 0; d < NDOMS; d++) {
        r = vb_testcall (w->client, "domain.info", NULL, w->uuids[d], NULL, 2000, NULL, &err);
        if (!r || !r->ok)
            fail_msg ("domain.info %s: %s", s_doms[d],
                      vb_testcall_describe (r, &err, line, sizeof line));
        if (strcmp (vb_json_str (r->result, "host", ""), s_host_of (d)) != 0)
            fail_msg ("domain.info %s should answer from host %s: %s", s_doms[d],
                      s_host_of (d), vb_testcall_describe (r, &err, line, sizeof line));
        snap->qemu_pids[d] = (pid_t) vb_json_int (r->result, "pid", 0);
        snap->ids[d] = vb_json_int (r->result, "id", INT64_MIN);
        snap->states[d] = (int) vb_json_int (r->result, "state", -1);
        vb_reply_destroy (&r);
    }
}

/*  A vb_test_cond_fn: domain.list all answers all 6 domains with no partial. */
static bool
s_all_six (void *arg)
{
    s_world_t *w = arg;
    vb_error_t err = {0};
    vb_reply_t *r = vb_testcall (w->client, "domain.list", NULL, NULL, s_args_all (),
                                 (uint32_t) vb_cluster_heartbeat_ms (w->cluster), NULL, &err);
    bool ok = r && r->ok && r->partial_count == 0
              && json_object_array_length (r->result) == NDOMS;
    for (size_t d = 0; ok && d < NDOMS; d++)
        ok = s_find_uuid (r->result, w->uuids[d]) != NULL;
    vb_reply_destroy (&r);
    return ok;
}

/*  A vb_test_cond_fn: `hosts` no longer lists B. */
static bool
s_b_gone (void *arg)
{
    s_world_t *w = arg;
    return vb_testcall_hosts_count (w->client, "B", NULL, 1000, NULL) == 0;
}

static void
test_multihost_qemu_cut_host_gives_partial_and_restore_brings_six_back_unrestarted (
    void **state)
{
    s_world_t *w = *state;
    char line[4096];
    s_snapshot_t before, after;

    s_snapshot (w, &before);
    for (size_t h = 0; h < NHOSTS; h++)
        if (before.worker_pids[h] != (int64_t) vb_testproc_pid (w->workers[h]))
            fail_msg ("hosts reports pid %lld for host %s, its worker is pid %d",
                      (long long) before.worker_pids[h], s_hosts[h],
                      (int) vb_testproc_pid (w->workers[h]));
    for (size_t d = 0; d < NDOMS; d++)
        if (before.states[d] != VB_STATE_PAUSED || before.ids[d] < 1
            || !vb_cluster_qemu_alive (before.qemu_pids[d]))
            fail_msg ("domain %s should be paused with an id and a live QEMU: state %d id %lld "
                      "pid %d", s_doms[d], before.states[d], (long long) before.ids[d],
                      (int) before.qemu_pids[d]);

    /* Cut B, then ask at once, before the broker can know: B's share is in flight. */
    assert_int_equal (vb_cluster_cut (w->cluster, "B"), 0);
    assert_false (vb_netns_link_up (vb_cluster_net (w->cluster), "B"));
    int64_t sent = s_now_ms ();
    uint64_t list_id = vb_testcall_send (w->client, "domain.list", NULL, NULL, s_args_all (),
                                         s_fanout_ms ());
    uint64_t stats_id = vb_testcall_send (w->client, "domain.stats", NULL, NULL, NULL,
                                          s_fanout_ms ());
    assert_true (list_id != 0 && stats_id != 0);
    vb_reply_t *list = NULL, *stats = NULL;
    int64_t bound = s_fanout_ms () + vb_test_margin_ms ();
    while ((!list || !stats) && s_now_ms () - sent < bound) {
        vb_error_t err = {0};
        vb_reply_t *r = vb_client_recv (w->client, 50, &err);
        if (r && r->id == list_id && !list)
            list = r;
        else if (r && r->id == stats_id && !stats)
            stats = r;
        else
            vb_reply_destroy (&r);
    }
    int64_t took = s_now_ms () - sent;
    if (!list || !stats) {
        vb_reply_destroy (&list);
        vb_reply_destroy (&stats);
        fail_msg ("with B cut, domain.list and domain.stats (deadline %u ms) should answer "
                  "within %lld ms; list %s, stats %s", s_fanout_ms (), (long long) bound,
                  list ? "answered" : "did not", stats ? "answered" : "did not");
    }
    const char *ac[] = {"A", "C"};
    vb_error_t none = {0};
    s_assert_domains_of (list, &none, w, ac, 2, "domain.list all with B cut");
    s_assert_domains_of (stats, &none, w, ac, 2, "domain.stats with B cut");
    s_assert_sampled (stats, "domain.stats with B cut");
    if (!vb_testcall_partial_names (list, "B", NULL) || list->partial_count != 1)
        fail_msg ("domain.list with B cut should name B (only) in partial: %s",
                  vb_testcall_describe (list, NULL, line, sizeof line));
    if (!vb_testcall_partial_names (stats, "B", NULL) || stats->partial_count != 1)
        fail_msg ("domain.stats with B cut should name B (only) in partial: %s",
                  vb_testcall_describe (stats, NULL, line, sizeof line));
    print_message ("with B cut: 4 domains + partial B in %lld ms\n", (long long) took);
    vb_reply_destroy (&list);
    vb_reply_destroy (&stats);

    /* Let the broker drop B (3 silent intervals), so the restore is a real re-registration. */
    if (!vb_test_poll_until (s_b_gone, w, 20, vb_cluster_intervals_ms (w->cluster, 4), NULL))
        fail_msg ("host B is still in hosts %d ms after its link was cut",
                  vb_cluster_intervals_ms (w->cluster, 4));
    for (size_t d = 2; d < 4; d++)
        if (!vb_cluster_qemu_alive (before.qemu_pids[d]))
            fail_msg ("QEMU of %s (pid %d) died while B was cut off", s_doms[d],
                      (int) before.qemu_pids[d]);

    assert_int_equal (vb_cluster_restore (w->cluster, "B"), 0);
    int64_t elapsed = 0;
    int back_bound = vb_cluster_intervals_ms (w->cluster, 3);
    if (!vb_test_poll_until (s_all_six, w, 10, back_bound, &elapsed))
        fail_msg ("all 6 domains are not back %d ms (3 intervals + margin) after B's link "
                  "was restored", back_bound);
    print_message ("B restored: all 6 back in %lld ms\n", (long long) elapsed);

    vb_error_t err = {0};
    vb_reply_t *r = vb_testcall (w->client, "domain.stats", NULL, NULL, NULL, s_fanout_ms (),
                                 NULL, &err);
    s_assert_domains_of (r, &err, w, s_hosts, NHOSTS, "domain.stats after the restore");
    assert_int_equal (r->partial_count, 0);
    s_assert_sampled (r, "domain.stats after the restore");
    vb_reply_destroy (&r);

    /* Nothing restarted: same workers, same QEMUs, same domain ids, still paused. */
    s_snapshot (w, &after);
    for (size_t h = 0; h < NHOSTS; h++) {
        assert_true (vb_testproc_alive (w->workers[h]));
        if (after.worker_pids[h] != before.worker_pids[h])
            fail_msg ("worker of host %s: pid %lld before the cut, %lld after", s_hosts[h],
                      (long long) before.worker_pids[h], (long long) after.worker_pids[h]);
    }
    for (size_t d = 0; d < NDOMS; d++)
        if (after.qemu_pids[d] != before.qemu_pids[d] || after.ids[d] != before.ids[d]
            || after.states[d] != before.states[d]
            || !vb_cluster_qemu_alive (after.qemu_pids[d]))
            fail_msg ("domain %s: QEMU pid %d id %lld state %d before the cut, pid %d (%s) id "
                      "%lld state %d after", s_doms[d], (int) before.qemu_pids[d],
                      (long long) before.ids[d], before.states[d], (int) after.qemu_pids[d],
                      vb_cluster_qemu_alive (after.qemu_pids[d]) ? "alive" : "dead",
                      (long long) after.ids[d], after.states[d]);
}

int
main (void)
{
    char why[256];
    if (!vb_netns_supported (why, sizeof why)) {
        printf ("SKIP: %s\n", why);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_multihost_qemu_list_hosts_and_stats_fanout_show_six_paused_domains),
        cmocka_unit_test (
            test_multihost_qemu_cut_host_gives_partial_and_restore_brings_six_back_unrestarted),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
