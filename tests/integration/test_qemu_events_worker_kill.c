/*  Events check with real QEMU (issue 5, DESIGN §5): kill -9 of virtbus-qemu between two
 *  lifecycle changes, with changes happening while it is down.
 *
 *  Three idle guests run: "dead", "held" and "calm"; "held" is suspended through the API (the
 *  change before the kill). The worker is killed with SIGKILL; while it is down the QEMU of
 *  "dead" is killed with SIGKILL and "held" is resumed through its own QMP socket. The worker
 *  restarted on the same state dir compares each domain's saved state with the real one: the
 *  subscriber (connected throughout) sees stopped/failed for "dead" and resumed/unpaused for
 *  "held", once each, nothing for "calm", and the wseq continues where it was. A change after the
 *  restart (suspend of "held", destroy of "calm") arrives once too.
 */
#include <inttypes.h>
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

static void
test_qemu_events_worker_kill9_reports_changes_made_while_down_once (void **state)
{
    qev_t *q = *state;
    int bound = vb_testenv_intervals_ms (q->env, 25);
    vb_subscriber_t *sub = qev_subscribe (q, 0);
    const char *names[] = { "dead", "held", "calm" };
    char uuid[3][37];
    for (int i = 0; i < 3; i++) {
        qev_define (q, names[i], "idle", uuid[i]);
        qev_start (q, names[i], false);
    }
    qt_ok (q->client, "domain.suspend", "held");
    static const qev_want_t before[] = {
        { "dead", "lifecycle", "defined", "added" },
        { "dead", "lifecycle", "started", "booted" },
        { "held", "lifecycle", "defined", "added" },
        { "held", "lifecycle", "started", "booted" },
        { "calm", "lifecycle", "defined", "added" },
        { "calm", "lifecycle", "started", "booted" },
        { "held", "lifecycle", "suspended", "paused" },
    };
    vb_event_t *got[7] = { 0 };
    qev_expect (sub, before, 7, bound, false, got);
    uint64_t wseq = got[6]->wseq;
    tev_free (got, 7);
    pid_t dead_pid = qev_pid (q, "dead");
    pid_t held_pid = qev_pid (q, "held");
    pid_t calm_pid = qev_pid (q, "calm");

    qev_kill_worker (q);
    qev_kill_qemu (dead_pid);
    qev_qmp (q, uuid[1], "cont");

    qev_start_worker (q);
    static const qev_want_t down[] = {
        { "dead", "lifecycle", "stopped", "failed" },
        { "held", "lifecycle", "resumed", "unpaused" },
    };
    /*  The two reattachments are independent: either may come first. */
    qev_expect (sub, down, 2, bound, true, got);
    for (int i = 0; i < 2; i++)
        if (got[i]->wseq != wseq + 1 + (uint64_t) i)
            fail_msg ("event %d after the restart has wseq %" PRIu64 "; the worker's wseq "
                      "was %" PRIu64, i, got[i]->wseq, wseq);
    tev_free (got, 2);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));

    assert_int_equal (qt_state (q->client, "dead", NULL, NULL, 0), VB_STATE_SHUTOFF);
    pid_t pid = 0;
    assert_int_equal (qt_state (q->client, "held", &pid, NULL, 0), VB_STATE_RUNNING);
    assert_int_equal (pid, held_pid);
    assert_int_equal (qt_state (q->client, "calm", &pid, NULL, 0), VB_STATE_RUNNING);
    assert_int_equal (pid, calm_pid);

    /*  The reattached monitors work: changes after the restart arrive once. */
    qt_ok (q->client, "domain.suspend", "held");
    qt_ok (q->client, "domain.destroy", "calm");
    static const qev_want_t after[] = {
        { "held", "lifecycle", "suspended", "paused" },
        { "calm", "lifecycle", "stopped", "destroyed" },
    };
    qev_expect (sub, after, 2, bound, false, got);
    assert_int_equal (got[0]->wseq, wseq + 3);
    tev_free (got, 2);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));
}

static void
test_qemu_events_worker_kill9_then_qmp_stop_is_suspended_once (void **state)
{
    qev_t *q = *state;
    int bound = vb_testenv_intervals_ms (q->env, 25);
    vb_subscriber_t *sub = qev_subscribe (q, 0);
    char uuid[37];
    qev_define (q, "web", "idle", uuid);
    qev_start (q, "web", false);
    static const qev_want_t before[] = {
        { "web", "lifecycle", "defined", "added" },
        { "web", "lifecycle", "started", "booted" },
    };
    qev_expect (sub, before, 2, bound, false, NULL);

    qev_kill_worker (q);
    qev_qmp (q, uuid, "stop");
    qev_start_worker (q);
    static const qev_want_t down[] = { { "web", "lifecycle", "suspended", "paused" } };
    qev_expect (sub, down, 1, bound, false, NULL);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));
    assert_int_equal (qt_state (q->client, "web", NULL, NULL, 0), VB_STATE_PAUSED);

    /*  A second kill with nothing changed meanwhile: the restart reports nothing. */
    qev_kill_worker (q);
    qev_start_worker (q);
    assert_true (qt_wait_state (q->client, "web", VB_STATE_PAUSED, 0, bound));
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 10)));

    qt_ok (q->client, "domain.resume", "web");
    static const qev_want_t after[] = { { "web", "lifecycle", "resumed", "unpaused" } };
    qev_expect (sub, after, 1, bound, false, NULL);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));
}

static int
s_setup (void **state)
{
    *state = qev_new ("qemu_events_wkill");
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
            test_qemu_events_worker_kill9_reports_changes_made_while_down_once, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_qemu_events_worker_kill9_then_qmp_stop_is_suspended_once, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
