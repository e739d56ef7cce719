/*  Multi-host check with real QEMU (issue 8): two workers of one host, and the death of one.
 *
 *  Hosts are network namespaces on one bridge: "hub" runs virtbusd, "H" runs two virtbus-qemu
 *  workers (ids w1, w2) sharing H's state directory, and "client" runs vbsh and this program's
 *  own client. Ten domains d0..d9 are defined on H (idle boot-sector guests, KVM when /dev/kvm
 *  opens read-write, else TCG), and one domain of each worker is started paused, so adoption
 *  covers both a defined and a running domain.
 *  - placement spreads the ten by load: `hosts` shows w1 and w2 owning 5 each, and domain.info
 *    of each domain names the same split;
 *  - kill -9 of w1: within 5 s all 10 answer domain.info through w2, the running one with its
 *    QEMU pid unchanged and still paused; `hosts` then shows w2 owning 10, and `vbsh dominfo`
 *    answers each of the 10 by name.
 *  Teardown kills every QEMU by pid before the namespaces go.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vb_cluster.h"
#include "vb_cluster_qemu.h"
#include "vb_domstate.h"
#include "vb_json.h"
#include "vb_testcall.h"
#include "vb_testenv.h"

#define NDOMS 10
#define ADOPT_BOUND_MS 5000

static const char *const s_ids[2] = {"w1", "w2"};

typedef struct {
    vb_cluster_t *cluster;
    vb_client_t *client;
    vb_testproc_t *workers[2];
    char names[NDOMS][8];
    char uuids[NDOMS][37];
} s_world_t;

static int
s_setup (void **state)
{
    s_world_t *w = calloc (1, sizeof *w);
    if (!w)
        return -1;
    *state = w;
    w->cluster = vb_cluster_new ("multihost_qemu_scale", 0);
    if (!w->cluster)
        return -1;
    const char *all[] = {"hub", "H", "client"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!vb_cluster_add_host (w->cluster, all[i]))
            return -1;
    if (!vb_cluster_start_broker (w->cluster, "hub"))
        return -1;
    for (size_t i = 0; i < 2; i++)
        if (!(w->workers[i] = vb_cluster_start_worker (w->cluster, "virtbus-qemu", "H",
                                                       s_ids[i], NULL)))
            return -1;
    w->client = vb_cluster_client (w->cluster, "client");
    if (!w->client)
        return -1;
    const char *hosts[] = {"H"};
    vb_testcall_hosts_t want = {.client = w->client, .hosts = hosts, .count = 1, .workers = 2,
                                .deadline_ms = 1000};
    if (!vb_test_poll_until (vb_testcall_hosts_listed, &want, 20,
                             vb_cluster_intervals_ms (w->cluster, 2), NULL)) {
        fprintf (stderr, "setup: hosts does not list both workers of H within 2 intervals\n");
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

/*  The number of domains `hosts` says worker ID owns, or -1 when it is not listed. */
static int64_t
s_hosts_domains (s_world_t *w, const char *id)
{
    vb_error_t err = {0};
    vb_reply_t *r = vb_testcall (w->client, "hosts", NULL, NULL, NULL, 1000, NULL, &err);
    int64_t n = -1;
    for (size_t i = 0; r && r->ok && i < json_object_array_length (r->result); i++) {
        json_object *rec = json_object_array_get_idx (r->result, i);
        if (strcmp (vb_json_str (rec, "host", ""), "H") == 0
            && strcmp (vb_json_str (rec, "worker", ""), id) == 0)
            n = vb_json_int (rec, "domains", -1);
    }
    vb_reply_destroy (&r);
    return n;
}

/*  A vb_test_cond_fn: `hosts` shows w1 and w2 owning 5 domains each. */
static bool
s_five_and_five (void *arg)
{
    s_world_t *w = arg;
    return s_hosts_domains (w, "w1") == 5 && s_hosts_domains (w, "w2") == 5;
}

/*  A vb_test_cond_fn: `hosts` shows w2 alone on H, owning all 10. */
static bool
s_w2_owns_all (void *arg)
{
    s_world_t *w = arg;
    return s_hosts_domains (w, "w1") == -1 && s_hosts_domains (w, "w2") == NDOMS;
}

typedef struct {
    s_world_t *w;
    size_t running[2];      /* indexes of the started domains */
    pid_t pids[2];          /* their QEMUs */
    char last[512];         /* why the last poll was not yet done */
} s_adopt_t;

/*  A vb_test_cond_fn: every domain answers domain.info through w2; the started ones paused,
 *  with their QEMU pids. */
static bool
s_all_through_w2 (void *arg)
{
    s_adopt_t *a = arg;
    for (size_t d = 0; d < NDOMS; d++) {
        int state = -1;
        pid_t pid = 0;
        char worker[128] = "";
        if (vb_cluster_qemu_info (a->w->client, a->w->uuids[d], 500, &state, &pid, worker,
                                  sizeof worker) != 0) {
            snprintf (a->last, sizeof a->last, "%s does not answer domain.info", a->w->names[d]);
            return false;
        }
        if (strcmp (worker, "w2") != 0) {
            snprintf (a->last, sizeof a->last, "%s answers through '%s'", a->w->names[d],
                      worker);
            return false;
        }
        for (size_t i = 0; i < 2; i++)
            if (d == a->running[i] && (state != VB_STATE_PAUSED || pid != a->pids[i])) {
                snprintf (a->last, sizeof a->last, "%s answers state %d pid %d, want paused "
                          "with pid %d", a->w->names[d], state, (int) pid, (int) a->pids[i]);
                return false;
            }
    }
    return true;
}

static void
test_multihost_qemu_two_workers_split_ten_and_survivor_answers_all_within_5s (void **state)
{
    s_world_t *w = *state;
    char line[1024];

    for (size_t d = 0; d < NDOMS; d++) {
        snprintf (w->names[d], sizeof w->names[d], "d%zu", d);
        if (vb_cluster_qemu_define (w->cluster, w->client, "H", w->names[d], w->uuids[d]) != 0)
            fail_msg ("cannot define %s on host H", w->names[d]);
    }
    if (!vb_test_poll_until (s_five_and_five, w, 20, vb_cluster_intervals_ms (w->cluster, 2),
                             NULL))
        fail_msg ("hosts should show w1 and w2 owning 5 domains each; they own %lld and %lld",
                  (long long) s_hosts_domains (w, "w1"), (long long) s_hosts_domains (w, "w2"));

    /* domain.info agrees with the split; start the first domain of each worker, paused. */
    s_adopt_t a = {.w = w, .running = {NDOMS, NDOMS}};
    size_t owned[2] = {0, 0};
    for (size_t d = 0; d < NDOMS; d++) {
        char worker[128] = "";
        if (vb_cluster_qemu_info (w->client, w->uuids[d], 2000, NULL, NULL, worker,
                                  sizeof worker) != 0)
            fail_msg ("domain.info %s does not answer", w->names[d]);
        size_t i = strcmp (worker, "w1") == 0 ? 0 : strcmp (worker, "w2") == 0 ? 1 : 2;
        if (i == 2)
            fail_msg ("domain.info %s answers through '%s', neither w1 nor w2", w->names[d],
                      worker);
        owned[i]++;
        if (a.running[i] == NDOMS)
            a.running[i] = d;
    }
    if (owned[0] != 5 || owned[1] != 5)
        fail_msg ("domain.info names w1 for %zu domains and w2 for %zu, want 5 and 5", owned[0],
                  owned[1]);
    for (size_t i = 0; i < 2; i++) {
        size_t d = a.running[i];
        json_object *args = json_object_new_object ();
        json_object_object_add (args, "paused", json_object_new_boolean (1));
        vb_error_t err = {0};
        vb_reply_t *r = vb_testcall (w->client, "domain.start", NULL, w->uuids[d], args, 20000,
                                     NULL, &err);
        if (!r || !r->ok)
            fail_msg ("start --paused %s: %s", w->names[d],
                      vb_testcall_describe (r, &err, line, sizeof line));
        vb_reply_destroy (&r);
        int st = -1;
        char worker[128] = "";
        if (vb_cluster_qemu_info (w->client, w->uuids[d], 2000, &st, &a.pids[i], worker,
                                  sizeof worker) != 0
            || st != VB_STATE_PAUSED || !vb_cluster_qemu_alive (a.pids[i])
            || strcmp (worker, s_ids[i]) != 0)
            fail_msg ("%s should be paused through %s with a live QEMU: state %d pid %d "
                      "worker '%s'", w->names[d], s_ids[i], st, (int) a.pids[i], worker);
    }

    /* kill -9 w1: its flocks go with it, w2 takes its domains on its next tick. */
    assert_int_equal (vb_testproc_signal (w->workers[0], SIGKILL), 0);
    assert_int_equal (vb_testproc_wait_exit (w->workers[0], 5000, NULL), 0);
    int64_t elapsed = 0;
    if (!vb_test_poll_until (s_all_through_w2, &a, 50, ADOPT_BOUND_MS, &elapsed))
        fail_msg ("not all 10 domains answer through w2 within %d ms of w1's kill -9: %s",
                  ADOPT_BOUND_MS, a.last);
    print_message ("w1 killed: all 10 answer through w2 in %lld ms\n", (long long) elapsed);
    for (size_t i = 0; i < 2; i++)
        if (!vb_cluster_qemu_alive (a.pids[i]))
            fail_msg ("QEMU %d of %s died", (int) a.pids[i], w->names[a.running[i]]);

    if (!vb_test_poll_until (s_w2_owns_all, w, 20, vb_cluster_intervals_ms (w->cluster, 4),
                             NULL))
        fail_msg ("hosts should show w2 alone owning 10 domains; w1 %lld, w2 %lld",
                  (long long) s_hosts_domains (w, "w1"), (long long) s_hosts_domains (w, "w2"));

    /* And through the CLI, by name. */
    for (size_t d = 0; d < NDOMS; d++) {
        vb_testrun_t run;
        vb_cluster_vbsh (w->cluster, "client", &run, "dominfo", w->names[d], NULL);
        char want_uuid[64];
        snprintf (want_uuid, sizeof want_uuid, "UUID:           %s\n", w->uuids[d]);
        bool running = d == a.running[0] || d == a.running[1];
        if (run.exit_code != 0 || run.err[0] || !strstr (run.out, want_uuid)
            || !strstr (run.out, running ? "paused" : "shut off"))
            fail_msg ("vbsh dominfo %s should exit 0 showing UUID %s, %s: exit %d\n%s%s",
                      w->names[d], w->uuids[d], running ? "paused" : "shut off", run.exit_code,
                      run.out, run.err);
        vb_testrun_clear (&run);
    }
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
        cmocka_unit_test (
            test_multihost_qemu_two_workers_split_ten_and_survivor_answers_all_within_5s),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
