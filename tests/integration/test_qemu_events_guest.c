/*  Events check with real QEMU (issue 5, DESIGN §5): what the guest and the outside world do.
 *
 *    the self-powering-off guest          -> shutdown/guest then stopped/shutdown
 *    `vbsh shutdown` of the power-button guest -> shutdown/guest then stopped/shutdown
 *    kill -9 of the QEMU                  -> stopped/failed
 *    `vbsh reboot`                        -> one event of kind "reboot"
 *  each exactly, in order, after defined/added and started/booted, and nothing else.
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

#include "test_events_support.h"
#include "test_qemu_events_support.h"
#include "test_qemu_support.h"
#include "vb_domstate.h"
#include "vb_util.h"

/*  define + start NAME booting guest KIND; the first two events are checked. */
static void
s_define_start (qev_t *q, vb_subscriber_t *sub, const char *name, const char *kind)
{
    qev_define (q, name, kind, NULL);
    qev_start (q, name, false);
    qev_want_t want[] = {
        { name, "lifecycle", "defined", "added" },
        { name, "lifecycle", "started", "booted" },
    };
    qev_expect (sub, want, 2, vb_testenv_intervals_ms (q->env, 25), false, NULL);
}

static void
test_qemu_events_guest_poweroff_is_shutdown_guest_then_stopped_shutdown (void **state)
{
    qev_t *q = *state;
    vb_subscriber_t *sub = qev_subscribe (q, 0);
    s_define_start (q, sub, "off", "poweroff");
    static const qev_want_t want[] = {
        { "off", "lifecycle", "shutdown", "guest" },
        { "off", "lifecycle", "stopped", "shutdown" },
    };
    qev_expect (sub, want, 2, QEV_GUEST_BOUND_MS, false, NULL);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));
    assert_int_equal (qt_state (q->client, "off", NULL, NULL, 0), VB_STATE_SHUTOFF);
}

static void
test_qemu_events_vbsh_shutdown_is_shutdown_guest_then_stopped_shutdown (void **state)
{
    qev_t *q = *state;
    vb_subscriber_t *sub = qev_subscribe (q, 0);
    s_define_start (q, sub, "btn", "power_button");
    /*  The guest listens for the button only after SeaBIOS booted it: press each second until
     *  the guest answers. Presses after it is off fail; only the first must succeed. */
    vb_event_t *first[1] = { 0 };
    int64_t until = vb_now_ms () + QEV_GUEST_BOUND_MS;
    for (int press = 0; !first[0] && vb_now_ms () < until; press++) {
        vb_testrun_t run;
        vb_testenv_vbsh (q->env, &run, "shutdown", "btn", NULL);
        if (press == 0 && run.exit_code != 0)
            fail_msg ("vbsh shutdown btn: exit %d: %s%s", run.exit_code, run.out, run.err);
        vb_testrun_clear (&run);
        tev_collect (sub, first, 1, 1000);
    }
    if (!first[0])
        fail_msg ("no event within %d ms of pressing the power button", QEV_GUEST_BOUND_MS);
    assert_string_equal (first[0]->domain, "btn");
    assert_string_equal (first[0]->kind, "lifecycle");
    assert_string_equal (first[0]->event, "shutdown");
    assert_string_equal (first[0]->detail, "guest");
    uint64_t seq = first[0]->seq;
    tev_free (first, 1);
    vb_event_t *got[1] = { 0 };
    static const qev_want_t want[] = { { "btn", "lifecycle", "stopped", "shutdown" } };
    qev_expect (sub, want, 1, QEV_GUEST_BOUND_MS, false, got);
    assert_int_equal (got[0]->seq, seq + 1);
    tev_free (got, 1);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));
    assert_int_equal (qt_state (q->client, "btn", NULL, NULL, 0), VB_STATE_SHUTOFF);
}

static void
test_qemu_events_kill9_of_qemu_is_stopped_failed (void **state)
{
    qev_t *q = *state;
    vb_subscriber_t *sub = qev_subscribe (q, 0);
    s_define_start (q, sub, "victim", "idle");
    qev_kill_qemu (qev_pid (q, "victim"));
    static const qev_want_t want[] = { { "victim", "lifecycle", "stopped", "failed" } };
    qev_expect (sub, want, 1, vb_testenv_intervals_ms (q->env, 25), false, NULL);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));
    assert_true (qt_wait_state (q->client, "victim", VB_STATE_SHUTOFF, 0,
                                vb_testenv_intervals_ms (q->env, 5)));
}

static void
test_qemu_events_vbsh_reboot_is_one_reboot_event (void **state)
{
    qev_t *q = *state;
    vb_subscriber_t *sub = qev_subscribe (q, 0);
    s_define_start (q, sub, "rb", "idle");
    pid_t pid = qev_pid (q, "rb");
    vb_testrun_t run;
    vb_testenv_vbsh (q->env, &run, "reboot", "rb", NULL);
    if (run.exit_code != 0)
        fail_msg ("vbsh reboot rb: exit %d: %s%s", run.exit_code, run.out, run.err);
    vb_testrun_clear (&run);
    static const qev_want_t want[] = { { "rb", "reboot", "reboot", "" } };
    qev_expect (sub, want, 1, vb_testenv_intervals_ms (q->env, 25), false, NULL);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));
    /*  The same QEMU runs on: a reboot is no stop and start. */
    assert_int_equal (qt_state (q->client, "rb", NULL, NULL, 0), VB_STATE_RUNNING);
    assert_int_equal (qev_pid (q, "rb"), pid);
    qt_ok (q->client, "domain.destroy", "rb");
    static const qev_want_t stop[] = { { "rb", "lifecycle", "stopped", "destroyed" } };
    qev_expect (sub, stop, 1, vb_testenv_intervals_ms (q->env, 25), false, NULL);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));
}

static void
test_qemu_events_guest_suspend_to_ram_is_pmsuspended_memory (void **state)
{
    qev_t *q = *state;
    vb_subscriber_t *sub = qev_subscribe (q, 0);
    s_define_start (q, sub, "s3", "suspend");
    static const qev_want_t want[] = { { "s3", "lifecycle", "pmsuspended", "memory" } };
    qev_expect (sub, want, 1, QEV_GUEST_BOUND_MS, false, NULL);
    assert_int_equal (qt_state (q->client, "s3", NULL, NULL, 0), VB_STATE_PMSUSPENDED);
    qt_ok (q->client, "domain.destroy", "s3");
    static const qev_want_t stop[] = { { "s3", "lifecycle", "stopped", "destroyed" } };
    qev_expect (sub, stop, 1, vb_testenv_intervals_ms (q->env, 25), false, NULL);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));
}

static int
s_setup (void **state)
{
    *state = qev_new ("qemu_events_guest");
    return *state? 0: -1;
}

static int
s_teardown (void **state)
{
    qev_t *q = *state;
    return qev_destroy (&q);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_qemu_events_guest_poweroff_is_shutdown_guest_then_stopped_shutdown, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_qemu_events_vbsh_shutdown_is_shutdown_guest_then_stopped_shutdown, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (test_qemu_events_kill9_of_qemu_is_stopped_failed,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_qemu_events_vbsh_reboot_is_one_reboot_event,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_qemu_events_guest_suspend_to_ram_is_pmsuspended_memory, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
