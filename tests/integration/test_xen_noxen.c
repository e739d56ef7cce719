/*  virtbus-xen on a host without Xen: one line on stderr, a non-zero exit, no ready line and no
 *  registration with the broker (issue 7, "no Xen").
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vb_testenv.h"

typedef struct {
    vb_testenv_t *env;
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    f->env = vb_testenv_new ("xen_noxen", 0);
    if (!f->env || !vb_testenv_start_broker (f->env))
        return -1;
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    int rc = vb_testenv_stop (f->env);
    vb_testenv_destroy (&f->env);
    free (f);
    unsetenv ("VIRTBUS_XEN_CAPABILITIES");
    return rc;
}

/*  Run virtbus-xen for host xenhost against the environment's broker. */
static void
s_run_xen (fixture_t *f, vb_testrun_t *run)
{
    char state_dir[1024];
    snprintf (state_dir, sizeof state_dir, "%s/state-xen", vb_testenv_dir (f->env));
    char bin[1024];
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (f->env, "virtbus-xen"));
    char *argv[] = { bin, "--broker", (char *) vb_testenv_workers_ep (f->env),
                     "--host", "xenhost", "--state-dir", state_dir, NULL };
    assert_int_equal (vb_testrun (run, 10000 + vb_test_margin_ms () * 4, argv), 0);
}

static bool
s_hosts_lists_xenhost (void *arg)
{
    fixture_t *f = (fixture_t *) arg;
    vb_testrun_t run;
    vb_testenv_vbsh (f->env, &run, "hosts", NULL);
    bool found = run.exit_code == 0 && strstr (run.out, "xenhost") != NULL;
    vb_testrun_clear (&run);
    return found;
}

/*  The worker exited with CODE and exactly LINE on stderr, nothing on stdout, and the broker
 *  never listed its host, also after three heartbeat intervals. */
static void
s_assert_refused (fixture_t *f, const vb_testrun_t *run, const char *line)
{
    assert_false (run->timed_out);
    assert_int_equal (run->exit_code, 1);
    assert_string_equal (run->err, line);
    assert_null (strstr (run->out, "ready"));
    /*  The condition must stay false for the whole bound. */
    assert_false (vb_test_poll_until (s_hosts_lists_xenhost, f, 100,
                                      vb_testenv_intervals_ms (f->env, 3), NULL));
    /*  The broker itself is fine and lists nothing. */
    vb_testrun_t hosts;
    vb_testenv_vbsh (f->env, &hosts, "hosts", NULL);
    assert_int_equal (hosts.exit_code, 0);
    vb_testrun_clear (&hosts);
}

static void
test_xen_noxen_exits_with_one_line_and_never_registers (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    if (access ("/proc/xen/capabilities", F_OK) == 0)
        skip ();   /* a Xen host: the default path exists */
    unsetenv ("VIRTBUS_XEN_CAPABILITIES");
    vb_testrun_t run;
    s_run_xen (f, &run);
    s_assert_refused (f, &run,
                      "virtbus-xen: no Xen hypervisor: /proc/xen/capabilities not found\n");
    vb_testrun_clear (&run);
}

static void
test_xen_noxen_domu_without_control_d_is_refused (void **state)
{
    fixture_t *f = (fixture_t *) *state;
    /*  A Xen guest (domU) has the file but without control_d: libxl cannot work there. */
    const char *caps = vb_testenv_write_file (f->env, "capabilities", "");
    assert_non_null (caps);
    setenv ("VIRTBUS_XEN_CAPABILITIES", caps, 1);
    vb_testrun_t run;
    s_run_xen (f, &run);
    char line[2048];
    snprintf (line, sizeof line, "virtbus-xen: no Xen hypervisor: %s lacks control_d (this "
              "is not a Xen dom0)\n", caps);
    s_assert_refused (f, &run, line);
    vb_testrun_clear (&run);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_xen_noxen_exits_with_one_line_and_never_registers,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_xen_noxen_domu_without_control_d_is_refused,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
