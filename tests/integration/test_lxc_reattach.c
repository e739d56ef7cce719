/*  LXC worker: a container that died while no worker owned it (issue 6, Deliver 4 and 5).
 *
 *  A running busybox container; kill -9 the worker; kill -9 the container's init and wait until
 *  liblxc's monitor has finished it; start the worker again. A subscriber that was listening
 *  throughout sees stopped/failed for it exactly once (also across another restart of the
 *  worker), the domain is shut off with reason failed, and it can be started again.
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

static int
s_setup (void **state)
{
    vb_testenv_t *env = vb_testenv_new ("lxc_reattach", 0);
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
s_gone (void *arg)
{
    return !lt_alive (*(pid_t *) arg);
}

typedef struct {
    char cmd[2048];
} s_cmd_t;

static bool
s_cmd_ok (void *arg)
{
    return system (((s_cmd_t *) arg)->cmd) == 0;
}

typedef struct {
    vb_client_t *client;
    const char *name;
    int state;
} s_state_t;

static bool
s_state_is (void *arg)
{
    s_state_t *s = arg;
    return lt_state (s->client, s->name, NULL) == s->state;
}

/*  Every event for the domain within MS: how many were stopped/failed; fails on any other. */
static int
s_count_failed (vb_subscriber_t *sub, int ms)
{
    int n = 0;
    for (;;) {
        vb_error_t err = { 0 };
        vb_event_t *ev = vb_subscriber_recv (sub, ms, &err);
        if (!ev)
            return n;
        if (strcmp (ev->event, "stopped") != 0 || strcmp (ev->detail, "failed") != 0)
            fail_msg ("unexpected event %s %s/%s", ev->kind, ev->event, ev->detail);
        n++;
        vb_event_destroy (&ev);
    }
}

static void
test_lxc_reattach_container_died_unowned_is_reported_failed_once (void **state)
{
    vb_testenv_t *env = *state;
    vb_error_t err = { 0 };

    assert_non_null (vb_testenv_start_broker (env));
    vb_testproc_t *w = vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL);
    assert_non_null (w);
    vb_client_t *client = vb_testenv_client (env);
    char *xml = lt_domain_xml ("d1", 128, "while :; do sleep 1; done", "");
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string (xml));
    json_object *defined = lt_call_ok (client, "domain.define", NULL, args);
    char uuid[37];
    snprintf (uuid, sizeof uuid, "%s", vb_json_str (defined, "uuid", ""));
    json_object_put (defined);
    json_object_put (lt_call_ok (client, "domain.start", "d1", NULL));
    pid_t pid = 0;
    assert_int_equal (lt_state (client, "d1", &pid), VB_STATE_RUNNING);
    vb_subscriber_t *sub = vb_subscriber_new (client, "h1/lxc/d1", 0, &err);
    assert_non_null (sub);

    assert_int_equal (vb_testproc_signal (w, SIGKILL), 0);
    assert_int_equal (vb_testproc_wait_exit (w, 5000, NULL), 0);
    assert_true (lt_alive (pid));
    assert_int_equal (kill (pid, SIGKILL), 0);
    assert_true (vb_test_poll_until (s_gone, &pid, 50, 10000, NULL));
    /*  liblxc's monitor tidies up after its init; then the container is STOPPED. */
    s_cmd_t stopped;
    snprintf (stopped.cmd, sizeof stopped.cmd,
              "lxc-info -P %s/containers -n %s -s 2>/dev/null | grep -q STOPPED",
              lt_state_dir (env), uuid);
    assert_true (vb_test_poll_until (s_cmd_ok, &stopped, 100, 15000, NULL));
    /*  Nobody watched it: no event yet. */
    assert_int_equal (s_count_failed (sub, 300), 0);

    w = vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL);
    assert_non_null (w);
    s_state_t off = { client, "d1", VB_STATE_SHUTOFF };
    assert_true (vb_test_poll_until (s_state_is, &off, 50, vb_testenv_intervals_ms (env, 10),
                                     NULL));
    json_object *info = lt_call_ok (client, "domain.info", "d1", NULL);
    assert_int_equal (vb_json_int (info, "reason", -1), VB_SHUTOFF_FAILED);
    assert_int_equal (vb_json_int (info, "id", 0), -1);
    json_object_put (info);
    assert_int_equal (s_count_failed (sub, 2000), 1);

    /*  Another restart has nothing new to say. */
    assert_int_equal (vb_testproc_signal (w, SIGKILL), 0);
    assert_int_equal (vb_testproc_wait_exit (w, 5000, NULL), 0);
    w = vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL);
    assert_non_null (w);
    assert_true (vb_test_poll_until (s_state_is, &off, 50, vb_testenv_intervals_ms (env, 10),
                                     NULL));
    assert_int_equal (s_count_failed (sub, 2000), 0);

    /*  And it runs again. */
    json_object_put (lt_call_ok (client, "domain.start", "d1", NULL));
    pid_t again = 0;
    assert_int_equal (lt_state (client, "d1", &again), VB_STATE_RUNNING);
    assert_true (again != pid && lt_alive (again));
    json_object_put (lt_call_ok (client, "domain.destroy", "d1", NULL));
    vb_subscriber_destroy (&sub);
    free (xml);
}

int
main (void)
{
    if (geteuid () != 0) {
        fprintf (stderr, "test_lxc_reattach needs root (containers)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_lxc_reattach_container_died_unowned_is_reported_failed_once, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
