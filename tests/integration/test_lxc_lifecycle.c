/*  LXC worker checks (issue 6): a real busybox container through virtbusd + virtbus-lxc + vbsh.
 *
 *  - lifecycle: define -> start -> running -> suspend (paused, its cgroup FROZEN) -> resume ->
 *    destroy -> undefine through vbsh, and exactly that event sequence on the bus.
 *  - restart: kill -9 the worker; the container keeps running; a restarted worker reports it
 *    running (same init pid) and can suspend and resume it.
 *  - bad XML: missing init, relative rootfs path, memory 0 answer INVALID_XML; nothing created.
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
#include "vb_testcall.h"
#include "vb_testenv.h"

#define IDLE "while :; do sleep 1; done"

#define VBSH_OK(env, run, ...)                                                                 \
    do {                                                                                       \
        vb_testenv_vbsh (env, run, __VA_ARGS__, NULL);                                         \
        if ((run)->exit_code != 0 || (run)->err[0])                                            \
            fail_msg ("vbsh %s: exit %d\n%s%s", #__VA_ARGS__, (run)->exit_code, (run)->out,     \
                      (run)->err);                                                             \
    } while (0)

static void
s_expect_event (vb_subscriber_t *sub, const char *event, const char *detail)
{
    vb_error_t err = { 0 };
    vb_event_t *ev = vb_subscriber_recv (sub, 15000, &err);
    if (!ev)
        fail_msg ("no event %s/%s: %s", event, detail, err.message);
    if (strcmp (ev->event, event) != 0 || strcmp (ev->detail, detail) != 0)
        fail_msg ("event %s/%s, wanted %s/%s", ev->event, ev->detail, event, detail);
    vb_event_destroy (&ev);
}

static void
s_expect_no_event (vb_subscriber_t *sub)
{
    vb_error_t err = { 0 };
    vb_event_t *ev = vb_subscriber_recv (sub, 500, &err);
    if (ev)
        fail_msg ("unexpected event %s/%s", ev->event, ev->detail);
}

static int
s_setup (void **state)
{
    vb_testenv_t *env = vb_testenv_new ("lxc_life", 0);
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

static bool
s_running (void *arg)
{
    void **a = arg;
    return lt_state (a[0], a[1], NULL) == VB_STATE_RUNNING;
}

static void
test_lxc_lifecycle_define_start_suspend_resume_destroy_undefine (void **state)
{
    vb_testenv_t *env = *state;
    vb_testrun_t run;
    vb_error_t err = { 0 };
    char path[1024];

    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);
    vb_subscriber_t *sub = vb_subscriber_new (client, "h1/lxc/c1", 0, &err);
    assert_non_null (sub);
    char *xml = lt_domain_xml ("c1", 128, IDLE, "");
    const char *xml_path = vb_testenv_write_file (env, "c1.xml", xml);

    /*  A define without a rootfs runs liblxc's busybox template: ~1 s here, several under
     *  ASan with other tests running, so the deadline of lt_call_ok rather than vbsh's 5 s. */
    VBSH_OK (env, &run, "--deadline", "15000", "define", xml_path);
    vb_testrun_clear (&run);
    s_expect_event (sub, "defined", "added");
    VBSH_OK (env, &run, "list", "--all");
    assert_non_null (strstr (run.out, "shut off"));
    vb_testrun_clear (&run);

    VBSH_OK (env, &run, "start", "c1");
    vb_testrun_clear (&run);
    s_expect_event (sub, "started", "booted");
    VBSH_OK (env, &run, "dominfo", "c1");
    assert_non_null (strstr (run.out, "State:          running"));
    vb_testrun_clear (&run);
    pid_t pid = 0;
    assert_int_equal (lt_state (client, "c1", &pid), VB_STATE_RUNNING);
    assert_true (lt_alive (pid));

    VBSH_OK (env, &run, "suspend", "c1");
    vb_testrun_clear (&run);
    s_expect_event (sub, "suspended", "paused");
    VBSH_OK (env, &run, "domstate", "c1");
    assert_int_equal (strncmp (run.out, "paused\n", strlen ("paused\n")), 0);
    vb_testrun_clear (&run);
    /*  Paused is the kernel's freezer, not only our word for it. */
    snprintf (path, sizeof path, "grep -q '^[0-9]*:freezer:' /proc/%d/cgroup && "
              "grep -qx FROZEN /sys/fs/cgroup/freezer$(sed -n 's/^[0-9]*:freezer://p' "
              "/proc/%d/cgroup)/freezer.state", (int) pid, (int) pid);
    lt_sh (path);

    VBSH_OK (env, &run, "resume", "c1");
    vb_testrun_clear (&run);
    s_expect_event (sub, "resumed", "unpaused");
    VBSH_OK (env, &run, "domstate", "c1");
    assert_int_equal (strncmp (run.out, "running\n", strlen ("running\n")), 0);
    vb_testrun_clear (&run);

    VBSH_OK (env, &run, "dumpxml", "c1");
    assert_non_null (strstr (run.out, "<domain type='lxc'>"));
    assert_non_null (strstr (run.out, "<initarg>" IDLE "</initarg>"));
    vb_testrun_clear (&run);

    VBSH_OK (env, &run, "destroy", "c1");
    vb_testrun_clear (&run);
    s_expect_event (sub, "stopped", "destroyed");
    assert_false (lt_alive (pid));
    VBSH_OK (env, &run, "domstate", "c1");
    assert_int_equal (strncmp (run.out, "shut off\n", strlen ("shut off\n")), 0);
    vb_testrun_clear (&run);

    VBSH_OK (env, &run, "undefine", "c1");
    vb_testrun_clear (&run);
    s_expect_event (sub, "undefined", "removed");
    s_expect_no_event (sub);
    VBSH_OK (env, &run, "list", "--all");
    assert_null (strstr (run.out, "c1"));
    vb_testrun_clear (&run);
    snprintf (path, sizeof path, "cd %s && test -z \"$(ls containers)\" && "
              "test -z \"$(ls | grep -E '[.](xml|status)$')\"", lt_state_dir (env));
    lt_sh (path);

    vb_subscriber_destroy (&sub);
    free (xml);
}

static void
test_lxc_restart_after_kill_keeps_the_container_and_takes_it_back (void **state)
{
    vb_testenv_t *env = *state;
    vb_error_t err = { 0 };

    assert_non_null (vb_testenv_start_broker (env));
    vb_testproc_t *w = vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL);
    assert_non_null (w);
    vb_client_t *client = vb_testenv_client (env);
    char *xml = lt_domain_xml ("c2", 128, IDLE, "");
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string (xml));
    json_object_put (lt_call_ok (client, "domain.define", NULL, args));
    json_object_put (lt_call_ok (client, "domain.start", "c2", NULL));
    pid_t pid = 0;
    assert_int_equal (lt_state (client, "c2", &pid), VB_STATE_RUNNING);

    assert_int_equal (vb_testproc_signal (w, SIGKILL), 0);
    assert_int_equal (vb_testproc_wait_exit (w, 5000, NULL), 0);
    assert_true (lt_alive (pid));

    assert_non_null (vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL));
    void *arg[2] = { client, "c2" };
    assert_true (vb_test_poll_until (s_running, arg, 50, vb_testenv_intervals_ms (env, 10),
                                     NULL));
    pid_t again = 0;
    assert_int_equal (lt_state (client, "c2", &again), VB_STATE_RUNNING);
    assert_int_equal (again, pid);
    assert_true (lt_alive (pid));

    vb_subscriber_t *sub = vb_subscriber_new (client, "h1/lxc/c2", 0, &err);
    assert_non_null (sub);
    json_object_put (lt_call_ok (client, "domain.suspend", "c2", NULL));
    s_expect_event (sub, "suspended", "paused");
    assert_int_equal (lt_state (client, "c2", NULL), VB_STATE_PAUSED);
    json_object_put (lt_call_ok (client, "domain.resume", "c2", NULL));
    s_expect_event (sub, "resumed", "unpaused");
    assert_int_equal (lt_state (client, "c2", NULL), VB_STATE_RUNNING);
    /*  Still watched: its init dying from outside is seen at once. */
    assert_int_equal (kill (pid, SIGKILL), 0);
    s_expect_event (sub, "stopped", "failed");
    assert_int_equal (lt_state (client, "c2", NULL), VB_STATE_SHUTOFF);
    vb_subscriber_destroy (&sub);
    free (xml);
}

static void
test_lxc_bad_xml_answers_invalid_xml_and_creates_nothing (void **state)
{
    vb_testenv_t *env = *state;
    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    const char *bad[][2] = {
        { "<domain type='lxc'><name>b1</name><memory>65536</memory><os><type>exe</type></os>"
          "</domain>", "init" },
        { "<domain type='lxc'><name>b2</name><memory>65536</memory><os><type>exe</type>"
          "<init>/bin/sh</init></os><devices><filesystem type='mount'><source dir='rootfs'/>"
          "<target dir='/'/></filesystem></devices></domain>", "not an absolute path" },
        { "<domain type='lxc'><name>b3</name><memory>0</memory><os><type>exe</type>"
          "<init>/bin/sh</init></os></domain>", "memory" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vb_error_t err = { 0 };
        json_object *args = json_object_new_object ();
        json_object_object_add (args, "xml", json_object_new_string (bad[i][0]));
        vb_reply_t *r = vb_testcall (client, "domain.define", "h1", NULL, args, 10000, NULL,
                                     &err);
        assert_non_null (r);
        if (!vb_testcall_is_error (r, VB_ERR_INVALID_XML) || !strstr (r->message, bad[i][1]))
            fail_msg ("case %zu: %s", i, r->ok? "ok": r->message);
        vb_reply_destroy (&r);
    }
    char cmd[1024];
    snprintf (cmd, sizeof cmd, "cd %s && test -z \"$(ls containers)\" && "
              "test -z \"$(ls | grep -E '[.](xml|status)$')\"", lt_state_dir (env));
    lt_sh (cmd);
}

int
main (void)
{
    if (geteuid () != 0) {
        fprintf (stderr, "test_lxc_lifecycle needs root (containers)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_lxc_lifecycle_define_start_suspend_resume_destroy_undefine, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_lxc_restart_after_kill_keeps_the_container_and_takes_it_back, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (test_lxc_bad_xml_answers_invalid_xml_and_creates_nothing,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
