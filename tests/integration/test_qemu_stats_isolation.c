/*  domstats check: isolation (issue 4 "Checks", isolation; item 4).
 *
 *  20 domains (idle guest) started paused on one worker; after one complete `vbsh domstats`
 *  (so every domain has a good sample), 3 of the QEMUs get SIGSTOP. `vbsh --deadline 2000
 *  domstats` must answer within the deadline + 0.5 s with all 20 domains: the 17 others complete
 *  (every group's QEMU-supplied fields present, no warning), the 3 stopped ones named on stderr
 *  (`warning: domain 'iN' ... status timeout; its stats are from a sample N ms old`) and still
 *  carrying what is known without QEMU (state) plus their last sample (block counters). The
 *  QEMUs get SIGCONT at the end and every domain is destroyed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_qemu_stats_support.h"
#include "test_qemu_support.h"
#include "vb_domstate.h"
#include "vb_testenv.h"
#include "vb_util.h"

#define NDOMS 20
#define NSTOP 3
#define DEADLINE_MS 2000

static const int s_stopped[NSTOP] = {2, 9, 17};

static bool
s_is_stopped (int i)
{
    for (int k = 0; k < NSTOP; k++)
        if (s_stopped[k] == i)
            return true;
    return false;
}

/*  Fields only a QEMU answer supplies, one per queried reply. */
static const char *const s_qemu_keys[] = {
    "block.0.rd.reqs",      /* query-blockstats */
    "block.0.capacity",     /* query-block */
    "vcpu.0.state",         /* query-cpus-fast */
    "state.state",
    "balloon.current",
};

static void
test_qemu_stats_isolation_three_stopped_qemus_named_others_complete_in_time (void **state)
{
    vb_testenv_t *env = *state;
    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-qemu", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);

    char boot[512];
    snprintf (boot, sizeof boot, "%s/idle.raw", vb_testenv_dir (env));
    qt_write_guest (boot, "idle");
    pid_t pids[NDOMS] = {0};
    for (int i = 0; i < NDOMS; i++) {
        char name[16];
        snprintf (name, sizeof name, "i%d", i);
        char img[600], cmd[1400];
        snprintf (img, sizeof img, "%s/%s.raw", vb_testenv_dir (env), name);
        snprintf (cmd, sizeof cmd, "cp --sparse=always %s %s", boot, img);
        qt_sh (cmd);
        char *disk = qt_disk_xml (img, "raw", "vda");
        char *xml = qt_domain_xml (name, disk, NULL);
        qt_define (client, xml);
        qs_start_paused (client, name);
        assert_int_equal (qt_state (client, name, &pids[i], NULL, 0), VB_STATE_PAUSED);
        assert_true (pids[i] > 0);
        free (disk);
        free (xml);
    }

    vb_testrun_t run;
    qs_stats_t stats;
    qs_domstats (env, &run, &stats, 0, (char *) NULL);
    assert_int_equal (stats.ndoms, NDOMS);
    assert_string_equal (run.err, "");
    qs_stats_clear (&stats);
    vb_testrun_clear (&run);

    for (int k = 0; k < NSTOP; k++)
        assert_int_equal (kill (pids[s_stopped[k]], SIGSTOP), 0);
    qs_domstats (env, &run, &stats, DEADLINE_MS, (char *) NULL);
    int64_t bound = DEADLINE_MS + 500 + (vb_test_sanitized () ? vb_test_margin_ms () : 0);
    if (run.elapsed_ms > bound)
        fail_msg ("domstats took %lld ms with %d QEMUs stopped; bound %lld ms",
                  (long long) run.elapsed_ms, NSTOP, (long long) bound);
    assert_int_equal (stats.ndoms, NDOMS);
    for (int i = 0; i < NDOMS; i++) {
        char name[16], warning[128];
        snprintf (name, sizeof name, "i%d", i);
        const qs_dom_t *dom = qs_dom (&stats, name);
        if (!dom)
            fail_msg ("domain %s missing from domstats", name);
        snprintf (warning, sizeof warning, "warning: domain '%s' on host h1", name);
        char *w = strstr (run.err, warning);
        if (s_is_stopped (i)) {
            if (!w || !strstr (w, "status timeout; its stats are from a sample"))
                fail_msg ("stopped domain %s not named as stale on stderr: %s", name, run.err);
            /*  Known without QEMU: the state; from the last sample: the counters. */
            assert_int_equal (qs_u64 (dom, "state.state"), VB_STATE_PAUSED);
            assert_non_null (qs_get (dom, "block.0.rd.reqs"));
        }
        else {
            if (w)
                fail_msg ("domain %s has a warning: %s", name, run.err);
            for (size_t k = 0; k < sizeof s_qemu_keys / sizeof s_qemu_keys[0]; k++)
                if (!qs_get (dom, s_qemu_keys[k]))
                    fail_msg ("domain %s lacks %s", name, s_qemu_keys[k]);
        }
    }
    /*  Exactly the 3 are named. */
    size_t lines = 0;
    for (const char *p = strstr (run.err, "warning: "); p; p = strstr (p + 1, "warning: "))
        lines++;
    assert_int_equal (lines, NSTOP);
    qs_stats_clear (&stats);
    vb_testrun_clear (&run);

    for (int k = 0; k < NSTOP; k++)
        assert_int_equal (kill (pids[s_stopped[k]], SIGCONT), 0);
    for (int i = 0; i < NDOMS; i++) {
        char name[16];
        snprintf (name, sizeof name, "i%d", i);
        qt_ok (client, "domain.destroy", name);
    }
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("qemu_stats_iso", 0);
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    qt_kill_qemus (vb_testenv_dir (env));
    vb_testenv_destroy (&env);
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_qemu_stats_isolation_three_stopped_qemus_named_others_complete_in_time,
            s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
