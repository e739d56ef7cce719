/*  Events check (issue 5): the broker killed with SIGKILL and restarted with the same --state-dir
 *  and endpoints loses no event, publishes none twice, continues seq, and serves events.replay
 *  for what it published before the kill.
 *
 *  Phase A: 30 test events reach a subscriber S1. Phase B: the worker emits 20,000 more; when S1
 *  has seen the first of them, the worker is stopped (SIGSTOP, so acknowledgements wait unread),
 *  the broker is killed, the worker resumed and the broker restarted: the worker re-registers and
 *  resends what was not acknowledged, the restarted broker drops what its journal says it had
 *  already published. S1, connected throughout, must see all 20,000 once, in order, with seqs
 *  continuing those of phase A. Phase C: a new subscriber with since = the seq of phase A's 10th
 *  event gets everything after it exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_events_support.h"
#include "vb_testcall.h"
#include "vb_testenv.h"

#define N_A 30
#define N_B 20000

static void
test_events_broker_restart_continues_seq_and_loses_nothing (void **state)
{
    vb_testenv_t *env = *state;
    const char *any = "tcp://127.0.0.1:0";
    vb_testproc_t *broker = vb_testenv_start_broker_on (env, any, any, any);
    assert_non_null (broker);
    vb_testproc_t *worker = vb_testenv_start_worker (env, "virtbus-test", "h1", "w1");
    assert_non_null (worker);
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);
    const char *hosts[] = { "h1" };
    vb_testcall_hosts_t h1 = { .client = client, .hosts = hosts, .count = 1, .workers = 1,
                               .deadline_ms = 1000 };
    assert_true (vb_test_poll_until (vb_testcall_hosts_listed, &h1, 20,
                                     vb_testenv_intervals_ms (env, 5), NULL));
    vb_error_t err = { 0 };
    vb_subscriber_t *s1 = vb_subscriber_new (client, "h1", 0, &err);
    if (!s1)
        fail_msg ("subscriber: %s", err.message);
    assert_int_equal (vb_testcall_define (client, "h1", "web", NULL), 0);
    vb_event_t *defined[1] = { 0 };
    assert_int_equal (tev_collect (s1, defined, 1, vb_testenv_intervals_ms (env, 10)), 1);
    tev_free (defined, 1);

    /*  Phase A. */
    assert_int_equal (tev_emit (client, "web", N_A, 10000), 0);
    vb_event_t *a[N_A] = { 0 };
    assert_int_equal (tev_collect (s1, a, N_A, vb_testenv_intervals_ms (env, 10)), N_A);
    char why[256];
    const char *fault = tev_check_run (a, N_A, 1, why, sizeof why);
    if (fault)
        fail_msg ("phase A: %s", fault);
    uint64_t since = a[9]->seq;
    uint64_t last_a = a[N_A - 1]->seq;
    tev_free (a, N_A);

    /*  Phase B. */
    char *eps[3] = { strdup (vb_testenv_clients_ep (env)), strdup (vb_testenv_workers_ep (env)),
                     strdup (vb_testenv_events_ep (env)) };
    assert_true (eps[0] && eps[1] && eps[2]);
    assert_true (tev_emit_async (client, "web", N_B) != 0);
    vb_event_t **b = calloc (N_B, sizeof *b);
    assert_non_null (b);
    size_t n = tev_collect (s1, b, 1, vb_testenv_intervals_ms (env, 10));
    assert_int_equal (n, 1);
    assert_int_equal (vb_testproc_signal (worker, SIGSTOP), 0);
    assert_int_equal (vb_testproc_signal (broker, SIGKILL), 0);
    assert_int_equal (vb_testproc_wait_exit (broker, 5000, NULL), 0);
    vb_testenv_kill_broker (env);
    assert_int_equal (vb_testproc_signal (worker, SIGCONT), 0);
    for (int i = 0; i < 3; i++)
        if (!vb_test_wait_port_free (eps[i], vb_testenv_intervals_ms (env, 10)))
            fail_msg ("%s is still taken after the broker was killed", eps[i]);
    broker = vb_testenv_start_broker_on (env, eps[0], eps[1], eps[2]);
    if (!broker)
        fail_msg ("virtbusd did not restart on %s %s %s", eps[0], eps[1], eps[2]);

    n += tev_collect (s1, b + n, N_B - n, 20000 + 10 * vb_test_margin_ms ());
    if (n != N_B)
        fail_msg ("S1 got %zu of the %d events emitted across the broker restart", n, N_B);
    fault = tev_check_run (b, n, 1, why, sizeof why);
    if (fault)
        fail_msg ("phase B, S1: %s", fault);
    assert_int_equal (b[0]->seq, last_a + 1);
    print_message ("S1: %d events across the broker restart, %" PRIu64 " replayed\n", N_B,
                   vb_subscriber_replayed (s1));
    assert_true (tev_quiet (s1, vb_testenv_intervals_ms (env, 3)));
    tev_free (b, n);

    /*  Phase C: since = phase A's 10th event, served partly from the journal of the first
     *  broker. */
    vb_subscriber_t *s2 = vb_subscriber_new (client, "h1", since, &err);
    if (!s2)
        fail_msg ("subscriber with since=%" PRIu64 ": %s", since, err.message);
    size_t want = (N_A - 10) + N_B;
    vb_event_t **c = calloc (want, sizeof *c);
    assert_non_null (c);
    n = tev_collect (s2, c, want, 20000 + 10 * vb_test_margin_ms ());
    if (n != want)
        fail_msg ("S2 (since %" PRIu64 ") got %zu of %zu events", since, n, want);
    assert_int_equal (c[0]->seq, since + 1);
    fault = tev_check_run (c, N_A - 10, 11, why, sizeof why);
    if (!fault)
        fault = tev_check_run (c + (N_A - 10), N_B, 1, why, sizeof why);
    if (fault)
        fail_msg ("S2: %s", fault);
    assert_int_equal (c[N_A - 10]->seq, c[N_A - 11]->seq + 1);
    assert_true (tev_quiet (s2, vb_testenv_intervals_ms (env, 3)));
    tev_free (c, n);
    free (c);
    free (b);
    for (int i = 0; i < 3; i++)
        free (eps[i]);
    vb_subscriber_destroy (&s2);
    vb_subscriber_destroy (&s1);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("events_broker_restart", 0);
    return *state? 0: -1;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    int rc = env? vb_testenv_stop (env): 0;
    vb_testenv_destroy (&env);
    vb_testproc_kill_all ();
    return rc;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_events_broker_restart_continues_seq_and_loses_nothing, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
