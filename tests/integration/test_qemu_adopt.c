/*  QEMU worker check: a sibling adopts a dead worker's running domain (issue 3, "Checks" 4).
 *
 *  Two virtbus-qemu workers (ids w1, w2) share one host's state directory. A domain is defined
 *  and started; kill -9 of its owner releases the flock on its lock file, the sibling takes it on
 *  its next heartbeat tick and reattaches to the QEMU: within 5 s `dominfo` answers running
 *  through the sibling with the pid unchanged, and suspend/resume works.
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

typedef struct {
    vb_client_t *client;
    const char *worker;
    pid_t pid;
} s_adopted_t;

static bool
s_adopted (void *arg)
{
    s_adopted_t *a = arg;
    pid_t pid = 0;
    char worker[128];
    return qt_state (a->client, "web", &pid, worker, sizeof worker) == VB_STATE_RUNNING
           && pid == a->pid && strcmp (worker, a->worker) == 0;
}

static void
test_qemu_adopt_sibling_takes_running_domain_within_5s (void **state)
{
    vb_testenv_t *env = *state;
    char root[512], path[512];
    snprintf (root, sizeof root, "%s/shared", vb_testenv_dir (env));

    assert_non_null (vb_testenv_start_broker (env));
    vb_testproc_t *w[2] = {qt_start_worker (env, "h1", "w1", root),
                           qt_start_worker (env, "h1", "w2", root)};
    assert_non_null (w[0]);
    assert_non_null (w[1]);
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);
    const char *hosts[] = {"h1"};
    vb_testcall_hosts_t want = {client, hosts, 1, 2, 1000};
    assert_true (vb_test_poll_until (vb_testcall_hosts_listed, &want, 50,
                                     vb_testenv_intervals_ms (env, 10), NULL));

    snprintf (path, sizeof path, "%s/web.raw", vb_testenv_dir (env));
    qt_write_guest (path, "idle");
    char *disk = qt_disk_xml (path, "raw", "vda");
    char *xml = qt_domain_xml ("web", disk, NULL);
    qt_define (client, xml);
    qt_ok (client, "domain.start", "web");
    pid_t pid = 0;
    char owner[128];
    assert_int_equal (qt_state (client, "web", &pid, owner, sizeof owner), VB_STATE_RUNNING);
    assert_true (pid > 0);
    int dead = strcmp (owner, "w1") == 0 ? 0 : 1;
    assert_string_equal (owner, dead == 0 ? "w1" : "w2");

    assert_int_equal (vb_testproc_signal (w[dead], SIGKILL), 0);
    assert_int_equal (vb_testproc_wait_exit (w[dead], 5000, NULL), 0);
    assert_true (qt_alive (pid));

    s_adopted_t a = {client, dead == 0 ? "w2" : "w1", pid};
    int64_t elapsed = 0;
    if (!vb_test_poll_until (s_adopted, &a, 50, 5000, &elapsed))
        fail_msg ("domain web not running through sibling %s with pid %d within 5 s", a.worker,
                  (int) pid);
    qt_ok (client, "domain.suspend", "web");
    assert_int_equal (qt_state (client, "web", NULL, NULL, 0), VB_STATE_PAUSED);
    qt_ok (client, "domain.resume", "web");
    assert_int_equal (qt_state (client, "web", NULL, NULL, 0), VB_STATE_RUNNING);
    qt_ok (client, "domain.destroy", "web");
    assert_false (qt_alive (pid));

    vb_testproc_destroy (&w[0]);
    vb_testproc_destroy (&w[1]);
    free (disk);
    free (xml);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("qemu_adopt", 0);
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    qt_kill_qemus (vb_testenv_dir (env));
    vb_testproc_kill_all ();
    vb_testenv_destroy (&env);
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_qemu_adopt_sibling_takes_running_domain_within_5s,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
