/*  Events check (issue 5): a worker killed with SIGKILL while its events are not acknowledged,
 *  then restarted, loses none and publishes none twice.
 *
 *  The test driver keeps its domains in memory, so what survives the kill is the worker's event
 *  journal. The broker is stopped (SIGSTOP) while the worker emits 20,000 events: the first are
 *  published and acknowledged, some reach the broker whose acks never come back, the rest wait
 *  in the journal. The worker is killed once the journal holds the last one, the broker resumed,
 *  the worker restarted with the same id and state dir: it resends every unacknowledged event,
 *  the broker drops those it had already published, and the subscriber (connected and synced
 *  before) sees test events 1..20000 exactly once, in order; the restarted worker's next event
 *  continues the wseq sequence. */
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

#define N_EVENTS 20000

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
test_events_worker_kill_resends_unacked_events_exactly_once (void **state)
{
    vb_testenv_t *env = *state;
    vb_testproc_t *broker = vb_testenv_start_broker (env);
    assert_non_null (broker);
    vb_testproc_t *worker = vb_testenv_start_worker (env, "virtbus-test", "h1", "w1");
    assert_non_null (worker);
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);
    const char *hosts[] = { "h1" };
    vb_testcall_hosts_t h1 = { .client = client, .hosts = hosts, .count = 1, .workers = 1 };
    assert_true (vb_test_poll_until (vb_testcall_hosts_listed, &h1, 20,
                                     vb_testenv_intervals_ms (env, 5), NULL));
    vb_error_t err = { 0 };
    vb_subscriber_t *sub = vb_subscriber_new (client, "h1", 0, &err);
    if (!sub)
        fail_msg ("subscriber: %s", err.message);
    assert_int_equal (vb_testcall_define (client, "h1", "web", NULL), 0);
    vb_event_t *defined[1] = { 0 };
    assert_int_equal (tev_collect (sub, defined, 1, vb_testenv_intervals_ms (env, 10)), 1);
    assert_string_equal (defined[0]->event, "defined");
    uint64_t wseq0 = defined[0]->wseq;
    tev_free (defined, 1);

    /*  Stop the broker as soon as the first test event is out: the rest are made while nobody
     *  acknowledges them. */
    assert_true (tev_emit_async (client, "web", N_EVENTS) != 0);
    vb_event_t **got = calloc (N_EVENTS + 1, sizeof *got);
    assert_non_null (got);
    size_t n = tev_collect (sub, got, 1, vb_testenv_intervals_ms (env, 10));
    assert_int_equal (n, 1);
    assert_int_equal (vb_testproc_signal (broker, SIGSTOP), 0);

    char path[4096];
    snprintf (path, sizeof path, "%s/state-h1-w1/h1/test/events-w1.journal",
              vb_testenv_dir (env));
    char needle[64];
    snprintf (needle, sizeof needle, "\"detail\":\"%d\"", N_EVENTS);
    s_file_cond_t last = { path, needle };
    if (!vb_test_poll_until (s_file_has, &last, 10, 10000 + vb_test_margin_ms () * 10, NULL))
        fail_msg ("the worker's journal %s never held event %d", path, N_EVENTS);
    assert_int_equal (vb_testproc_signal (worker, SIGKILL), 0);
    assert_int_equal (vb_testproc_wait_exit (worker, 5000, NULL), 0);
    assert_int_equal (vb_testproc_signal (broker, SIGCONT), 0);

    worker = vb_testenv_start_worker (env, "virtbus-test", "h1", "w1");
    assert_non_null (worker);
    n += tev_collect (sub, got + n, N_EVENTS - n, 20000 + vb_test_margin_ms () * 10);
    if (n != N_EVENTS)
        fail_msg ("%zu of the %d events arrived after the worker restart", n, N_EVENTS);
    char why[256];
    const char *fault = tev_check_run (got, n, 1, why, sizeof why);
    if (fault)
        fail_msg ("%s", fault);
    for (size_t i = 0; i < n; i++)
        assert_int_equal (got[i]->wseq, wseq0 + 1 + i);
    print_message ("%d events: %" PRIu64 " of them replayed by the subscriber\n", N_EVENTS,
                   vb_subscriber_replayed (sub));
    /*  The journal path was taken: the restarted worker had unacknowledged events to resend. */
    assert_true (tev_file_contains (vb_testproc_log_path (worker), "unacknowledged events from "
                                    "the journal will be resent"));

    /*  wseq continues in the restarted worker. */
    assert_int_equal (vb_testcall_define (client, "h1", "db", NULL), 0);
    vb_event_t *next[1] = { 0 };
    assert_int_equal (tev_collect (sub, next, 1, vb_testenv_intervals_ms (env, 10)), 1);
    assert_string_equal (next[0]->event, "defined");
    assert_string_equal (next[0]->domain, "db");
    assert_int_equal (next[0]->wseq, wseq0 + N_EVENTS + 1);
    assert_int_equal (next[0]->seq, got[n - 1]->seq + 1);
    tev_free (next, 1);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (env, 3)));
    tev_free (got, n);
    free (got);
    vb_subscriber_destroy (&sub);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("events_worker_kill", 0);
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
            test_events_worker_kill_resends_unacked_events_exactly_once, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
