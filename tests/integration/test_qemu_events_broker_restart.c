/*  Events check with real QEMU (issue 5, DESIGN §5): kill -9 of virtbusd with a QEMU event
 *  happening while it is down.
 *
 *  Two idle guests "dead" and "live" run; a subscriber S1 has seen their four events. The broker
 *  is killed with SIGKILL; while it is down the QEMU of "dead" is killed (the worker, still
 *  running, journals stopped/failed and cannot deliver it). The broker is restarted with the
 *  same --state-dir and endpoints; the worker re-registers and resends, and "live" is suspended
 *  after the restart. S1, connected throughout, gets stopped/failed then suspended/paused once
 *  each, in order, with seqs continuing those before the kill (what it missed while its SUB
 *  reconnected comes through the client library's gap filling). A new subscriber S2 with since =
 *  the seq of "dead"'s started event gets everything after it exactly once: part of it from the
 *  journal the first broker wrote.
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

typedef struct {
    const char *path;
    const char *needle;
} s_file_cond_t;

static bool
s_file_has (void *arg)
{
    s_file_cond_t *c = arg;
    return tev_file_contains (c->path, c->needle);
}

static void
test_qemu_events_broker_kill9_delivers_events_made_while_down_once (void **state)
{
    qev_t *q = *state;
    int bound = vb_testenv_intervals_ms (q->env, 25);
    vb_subscriber_t *s1 = qev_subscribe (q, 0);
    qev_define (q, "dead", "idle", NULL);
    qev_start (q, "dead", false);
    qev_define (q, "live", "idle", NULL);
    qev_start (q, "live", false);
    static const qev_want_t before[] = {
        { "dead", "lifecycle", "defined", "added" },
        { "dead", "lifecycle", "started", "booted" },
        { "live", "lifecycle", "defined", "added" },
        { "live", "lifecycle", "started", "booted" },
    };
    vb_event_t *got[4] = { 0 };
    qev_expect (s1, before, 4, bound, false, got);
    uint64_t since = got[1]->seq;
    uint64_t last = got[3]->seq;
    tev_free (got, 4);
    pid_t dead_pid = qev_pid (q, "dead");

    char eps[3][256];
    snprintf (eps[0], sizeof eps[0], "%s", vb_testenv_clients_ep (q->env));
    snprintf (eps[1], sizeof eps[1], "%s", vb_testenv_workers_ep (q->env));
    snprintf (eps[2], sizeof eps[2], "%s", vb_testenv_events_ep (q->env));
    vb_testproc_t *broker = vb_testenv_broker (q->env);
    assert_int_equal (vb_testproc_signal (broker, SIGKILL), 0);
    assert_int_equal (vb_testproc_wait_exit (broker, 5000, NULL), 0);
    vb_testenv_kill_broker (q->env);

    /*  The change while the broker is down: the worker journals it (so it did happen now). */
    qev_kill_qemu (dead_pid);
    char journal[4096];
    snprintf (journal, sizeof journal, "%s/h1/qemu/events-w1.journal", q->root);
    s_file_cond_t failed = { journal, "\"detail\":\"failed\"" };
    if (!vb_test_poll_until (s_file_has, &failed, 20, bound, NULL))
        fail_msg ("the worker did not journal stopped/failed of 'dead' within %d ms (%s)",
                  bound, journal);

    for (int i = 0; i < 3; i++)
        if (!vb_test_wait_port_free (eps[i], bound))
            fail_msg ("%s is still taken after the broker was killed", eps[i]);
    if (!vb_testenv_start_broker_on (q->env, eps[0], eps[1], eps[2]))
        fail_msg ("virtbusd did not restart on %s %s %s", eps[0], eps[1], eps[2]);
    qev_wait_listed (q);
    if (!qt_wait_state (q->client, "dead", VB_STATE_SHUTOFF, 0, bound))
        fail_msg ("the restarted broker does not report 'dead' shut off within %d ms", bound);
    qt_ok (q->client, "domain.suspend", "live");

    static const qev_want_t after[] = {
        { "dead", "lifecycle", "stopped", "failed" },
        { "live", "lifecycle", "suspended", "paused" },
    };
    qev_expect (s1, after, 2, bound, false, got);
    assert_int_equal (got[0]->seq, last + 1);
    print_message ("S1: %" PRIu64 " event(s) replayed across the broker restart\n",
                   vb_subscriber_replayed (s1));
    tev_free (got, 2);
    assert_true (tev_quiet (s1, vb_testenv_intervals_ms (q->env, 5)));

    /*  since: from the seq of "dead"'s started event, across both brokers. */
    vb_subscriber_t *s2 = qev_subscribe (q, since);
    static const qev_want_t replay[] = {
        { "live", "lifecycle", "defined", "added" },
        { "live", "lifecycle", "started", "booted" },
        { "dead", "lifecycle", "stopped", "failed" },
        { "live", "lifecycle", "suspended", "paused" },
    };
    vb_event_t *r[4] = { 0 };
    qev_expect (s2, replay, 4, bound, false, r);
    assert_int_equal (r[0]->seq, since + 1);
    tev_free (r, 4);
    assert_true (tev_quiet (s2, vb_testenv_intervals_ms (q->env, 5)));

    /*  Both see what follows, once. */
    qt_ok (q->client, "domain.destroy", "live");
    static const qev_want_t end[] = { { "live", "lifecycle", "stopped", "destroyed" } };
    qev_expect (s1, end, 1, bound, false, NULL);
    qev_expect (s2, end, 1, bound, false, NULL);
    assert_true (tev_quiet (s1, vb_testenv_intervals_ms (q->env, 3)));
    assert_true (tev_quiet (s2, vb_testenv_intervals_ms (q->env, 3)));
}

static int
s_setup (void **state)
{
    *state = qev_new ("qemu_events_brst");
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
            test_qemu_events_broker_kill9_delivers_events_made_while_down_once, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
