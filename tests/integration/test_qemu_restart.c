/*  QEMU worker check: kill -9 of the worker while two domains run (issue 3, "Checks" 3).
 *
 *  Both QEMU processes keep running (they live in their own sessions); a worker restarted with
 *  the same state directory reports both running with the same pids within 2 s (plus the test
 *  margin) — it reattached through the status files and the QMP monitors — and suspend/resume
 *  of each works through QMP.
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

#include "test_qemu_support.h"
#include "vb_domstate.h"
#include "vb_testcall.h"
#include "vb_testenv.h"

static void
test_qemu_restart_kill9_worker_reattaches_same_pids_within_2s (void **state)
{
    vb_testenv_t *env = *state;
    const char *names[2] = {"a", "b"};
    pid_t pids[2] = {0, 0};

    assert_non_null (vb_testenv_start_broker (env));
    vb_testproc_t *w = vb_testenv_start_worker (env, "virtbus-qemu", "h1", NULL);
    assert_non_null (w);
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);

    for (int i = 0; i < 2; i++) {
        char path[512];
        snprintf (path, sizeof path, "%s/%s.raw", vb_testenv_dir (env), names[i]);
        qt_write_guest (path, "idle");
        char *disk = qt_disk_xml (path, "raw", "vda");
        char *xml = qt_domain_xml (names[i], disk, NULL);
        qt_define (client, xml);
        qt_ok (client, "domain.start", names[i]);
        assert_int_equal (qt_state (client, names[i], &pids[i], NULL, 0), VB_STATE_RUNNING);
        assert_true (pids[i] > 0);
        free (disk);
        free (xml);
    }

    assert_int_equal (vb_testproc_signal (w, SIGKILL), 0);
    assert_int_equal (vb_testproc_wait_exit (w, 5000, NULL), 0);
    for (int i = 0; i < 2; i++)
        assert_true (qt_alive (pids[i]));

    assert_non_null (vb_testenv_start_worker (env, "virtbus-qemu", "h1", NULL));
    for (int i = 0; i < 2; i++)
        if (!qt_wait_state (client, names[i], VB_STATE_RUNNING, pids[i],
                            2000 + vb_test_margin_ms ()))
            fail_msg ("domain %s not reported running with pid %d after the restart", names[i],
                      (int) pids[i]);
    for (int i = 0; i < 2; i++) {
        qt_ok (client, "domain.suspend", names[i]);
        assert_int_equal (qt_state (client, names[i], NULL, NULL, 0), VB_STATE_PAUSED);
        qt_ok (client, "domain.resume", names[i]);
        assert_int_equal (qt_state (client, names[i], NULL, NULL, 0), VB_STATE_RUNNING);
        qt_ok (client, "domain.destroy", names[i]);
        assert_false (qt_alive (pids[i]));
    }
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("qemu_rst", 0);
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
            test_qemu_restart_kill9_worker_reattaches_same_pids_within_2s, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
