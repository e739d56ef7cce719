/*  LXC worker: shutdown and reboot of a real busybox container through vbsh (issue 6, Deliver 2
 *  and 4).
 *
 *  - shutdown: `vbsh shutdown` sends the container's halt signal (the busybox template's
 *    lxc.signal.halt, SIGUSR1); the init traps it and exits; the bus carries shutdown/guest then
 *    stopped/shutdown and nothing else; the domain is shut off (reason shutdown) and the init gone.
 *    An init that does not trap the signal keeps running: no event, still running; a destroy
 *    then reports stopped/destroyed.
 *  - reboot: `vbsh reboot` gives one event of kind "reboot" (no stopped/started), the container
 *    runs again with a new init pid, the old init is gone, and it can be destroyed afterwards.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_lxc_support.h"
#include "vb_domstate.h"
#include "vb_json.h"
#include "vb_testcall.h"
#include "vb_testenv.h"

/*  Exits 0 on the halt signal. The trap runs once the foreground sleep ends (<= 1 s). */
#define TRAPPING "trap 'exit 0' USR1; while :; do sleep 1; done"
/*  PID 1 of a namespace ignores signals it has no handler for. */
#define DEAF "while :; do sleep 1; done"

#define VBSH_OK(env, run, ...)                                                                 \
    do {                                                                                       \
        vb_testenv_vbsh (env, run, __VA_ARGS__, NULL);                                         \
        if ((run)->exit_code != 0 || (run)->err[0])                                            \
            fail_msg ("vbsh %s: exit %d\n%s%s", #__VA_ARGS__, (run)->exit_code, (run)->out,     \
                      (run)->err);                                                             \
    } while (0)

static void
s_expect_event (vb_subscriber_t *sub, const char *kind, const char *event, const char *detail)
{
    vb_error_t err = { 0 };
    vb_event_t *ev = vb_subscriber_recv (sub, 15000, &err);
    if (!ev)
        fail_msg ("no event %s %s/%s: %s", kind, event, detail, err.message);
    if (strcmp (ev->kind, kind) != 0 || strcmp (ev->event, event) != 0
        || strcmp (ev->detail, detail) != 0)
        fail_msg ("event %s %s/%s, wanted %s %s/%s", ev->kind, ev->event, ev->detail, kind,
                  event, detail);
    vb_event_destroy (&ev);
}

static void
s_expect_no_event (vb_subscriber_t *sub, int ms)
{
    vb_error_t err = { 0 };
    vb_event_t *ev = vb_subscriber_recv (sub, ms, &err);
    if (ev)
        fail_msg ("unexpected event %s %s/%s", ev->kind, ev->event, ev->detail);
}

static int
s_setup (void **state)
{
    vb_testenv_t *env = vb_testenv_new ("lxc_power", 0);
    if (!env)
        return -1;
    *state = env;
    return 0;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    lt_cleanup (env, NULL);
    int rc = vb_testenv_stop (env);
    vb_testenv_destroy (&env);
    return rc;
}

static void
s_define_start (vb_client_t *client, const char *name, const char *script)
{
    char *xml = lt_domain_xml (name, 128, script, "");
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string (xml));
    json_object_put (lt_call_ok (client, "domain.define", NULL, args));
    json_object_put (lt_call_ok (client, "domain.start", name, NULL));
    free (xml);
}

static bool
s_gone (void *arg)
{
    return !lt_alive (*(pid_t *) arg);
}

static void
test_lxc_shutdown_sends_the_halt_signal_and_reports_shutdown_then_shut_off (void **state)
{
    vb_testenv_t *env = *state;
    vb_testrun_t run;
    vb_error_t err = { 0 };

    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);
    vb_subscriber_t *sub = vb_subscriber_new (client, "h1/lxc/p1", 0, &err);
    assert_non_null (sub);
    s_define_start (client, "p1", TRAPPING);
    s_expect_event (sub, "lifecycle", "defined", "added");
    s_expect_event (sub, "lifecycle", "started", "booted");
    pid_t pid = 0;
    assert_int_equal (lt_state (client, "p1", &pid), VB_STATE_RUNNING);
    assert_true (lt_alive (pid));

    VBSH_OK (env, &run, "shutdown", "p1");
    vb_testrun_clear (&run);
    s_expect_event (sub, "lifecycle", "shutdown", "guest");
    s_expect_event (sub, "lifecycle", "stopped", "shutdown");
    s_expect_no_event (sub, 1000);
    assert_true (vb_test_poll_until (s_gone, &pid, 50, 10000, NULL));

    VBSH_OK (env, &run, "domstate", "p1", "--reason");
    if (strncmp (run.out, "shut off (shutdown)", strlen ("shut off (shutdown)")) != 0)
        fail_msg ("domstate --reason: %s", run.out);
    vb_testrun_clear (&run);
    json_object *info = lt_call_ok (client, "domain.info", "p1", NULL);
    assert_int_equal (vb_json_int (info, "state", -1), VB_STATE_SHUTOFF);
    assert_int_equal (vb_json_int (info, "reason", -1), VB_SHUTOFF_SHUTDOWN);
    assert_int_equal (vb_json_int (info, "id", 0), -1);
    json_object_put (info);

    /*  It starts again after a shutdown. */
    VBSH_OK (env, &run, "start", "p1");
    vb_testrun_clear (&run);
    s_expect_event (sub, "lifecycle", "started", "booted");
    pid_t again = 0;
    assert_int_equal (lt_state (client, "p1", &again), VB_STATE_RUNNING);
    assert_true (again != pid && lt_alive (again));
    VBSH_OK (env, &run, "destroy", "p1");
    vb_testrun_clear (&run);
    s_expect_event (sub, "lifecycle", "stopped", "destroyed");
    vb_subscriber_destroy (&sub);
}

static void
test_lxc_shutdown_ignored_by_the_init_leaves_it_running (void **state)
{
    vb_testenv_t *env = *state;
    vb_testrun_t run;
    vb_error_t err = { 0 };

    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    s_define_start (client, "p2", DEAF);
    pid_t pid = 0;
    assert_int_equal (lt_state (client, "p2", &pid), VB_STATE_RUNNING);
    vb_subscriber_t *sub = vb_subscriber_new (client, "h1/lxc/p2", 0, &err);
    assert_non_null (sub);

    VBSH_OK (env, &run, "shutdown", "p2");
    vb_testrun_clear (&run);
    s_expect_no_event (sub, 2500);
    pid_t still = 0;
    assert_int_equal (lt_state (client, "p2", &still), VB_STATE_RUNNING);
    assert_int_equal (still, pid);
    assert_true (lt_alive (pid));

    /*  destroy still ends it as a destroy, not as the shutdown asked before. */
    VBSH_OK (env, &run, "destroy", "p2");
    vb_testrun_clear (&run);
    s_expect_event (sub, "lifecycle", "stopped", "destroyed");
    s_expect_no_event (sub, 500);
    assert_false (lt_alive (pid));
    vb_subscriber_destroy (&sub);
}

static void
test_lxc_reboot_gives_one_reboot_event_and_a_new_init (void **state)
{
    vb_testenv_t *env = *state;
    vb_testrun_t run;
    vb_error_t err = { 0 };

    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    s_define_start (client, "r1", DEAF);
    pid_t pid = 0;
    assert_int_equal (lt_state (client, "r1", &pid), VB_STATE_RUNNING);
    assert_true (lt_alive (pid));
    vb_subscriber_t *sub = vb_subscriber_new (client, "h1/lxc/r1", 0, &err);
    assert_non_null (sub);

    VBSH_OK (env, &run, "reboot", "r1");
    vb_testrun_clear (&run);
    s_expect_event (sub, "reboot", "reboot", "");
    s_expect_no_event (sub, 1000);

    pid_t again = 0;
    assert_int_equal (lt_state (client, "r1", &again), VB_STATE_RUNNING);
    assert_true (again > 0 && again != pid);
    assert_true (lt_alive (again));
    assert_true (vb_test_poll_until (s_gone, &pid, 50, 10000, NULL));
    VBSH_OK (env, &run, "domstate", "r1");
    assert_int_equal (strncmp (run.out, "running\n", strlen ("running\n")), 0);
    vb_testrun_clear (&run);

    /*  The new init is watched: its death from outside is seen. */
    assert_int_equal (kill (again, SIGKILL), 0);
    s_expect_event (sub, "lifecycle", "stopped", "failed");
    assert_int_equal (lt_state (client, "r1", NULL), VB_STATE_SHUTOFF);

    /*  A paused container reboots too (it is thawed to die) and runs afterwards. */
    json_object_put (lt_call_ok (client, "domain.start", "r1", NULL));
    s_expect_event (sub, "lifecycle", "started", "booted");
    json_object_put (lt_call_ok (client, "domain.suspend", "r1", NULL));
    s_expect_event (sub, "lifecycle", "suspended", "paused");
    assert_int_equal (lt_state (client, "r1", &pid), VB_STATE_PAUSED);
    VBSH_OK (env, &run, "reboot", "r1");
    vb_testrun_clear (&run);
    s_expect_event (sub, "reboot", "reboot", "");
    assert_int_equal (lt_state (client, "r1", &again), VB_STATE_RUNNING);
    assert_true (again != pid && lt_alive (again));

    json_object_put (lt_call_ok (client, "domain.destroy", "r1", NULL));
    s_expect_event (sub, "lifecycle", "stopped", "destroyed");
    s_expect_no_event (sub, 500);
    vb_subscriber_destroy (&sub);
}

int
main (void)
{
    if (geteuid () != 0) {
        fprintf (stderr, "test_lxc_power needs root (containers)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_lxc_shutdown_sends_the_halt_signal_and_reports_shutdown_then_shut_off, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (test_lxc_shutdown_ignored_by_the_init_leaves_it_running,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_lxc_reboot_gives_one_reboot_event_and_a_new_init,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
