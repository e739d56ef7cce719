/*  Events check (issue 5): 10,000 test-driver events to 20 subscribers. Each subscriber (its own
 *  thread, client and SUB socket, connected and synced before the events start) must end with all
 *  10,000 exactly once, in order, after the client library's gap filling; how many each had to
 *  fetch through events.replay is reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_events_support.h"
#include "vb_testcall.h"
#include "vb_testenv.h"
#include "vb_util.h"

#define N_SUBS 20
#define N_EVENTS 10000

typedef struct {
    const char *clients_ep;
    int bound_ms;
    pthread_barrier_t *synced;
    /*  Results, read by the main thread after join. */
    size_t received;
    uint64_t replayed;
    int64_t elapsed_ms;
    char fault[256];
} s_sub_t;

static void *
s_subscriber (void *arg)
{
    s_sub_t *s = arg;
    vb_error_t err = { 0 };
    vb_client_t *client = vb_client_new (s->clients_ep, &err);
    vb_subscriber_t *sub = client? vb_subscriber_new (client, "h1", 0, &err): NULL;
    if (!sub)
        snprintf (s->fault, sizeof s->fault, "no subscriber: %.200s", err.message);
    pthread_barrier_wait (s->synced);
    vb_event_t **got = calloc (N_EVENTS, sizeof *got);
    if (sub && got) {
        int64_t start = vb_now_ms ();
        s->received = tev_collect (sub, got, N_EVENTS, s->bound_ms);
        s->elapsed_ms = vb_now_ms () - start;
        s->replayed = vb_subscriber_replayed (sub);
        char why[256];
        const char *fault = tev_check_run (got, s->received, 1, why, sizeof why);
        if (fault)
            snprintf (s->fault, sizeof s->fault, "%s", fault);
        else if (s->received == N_EVENTS && !tev_quiet (sub, 300))
            snprintf (s->fault, sizeof s->fault, "an event beyond the %d arrived", N_EVENTS);
        tev_free (got, s->received);
    }
    free (got);
    vb_subscriber_destroy (&sub);
    vb_client_destroy (&client);
    return NULL;
}

static void
test_events_fanout_twenty_subscribers_each_get_ten_thousand_once_in_order (void **state)
{
    vb_testenv_t *env = *state;
    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-test", "h1", "w1"));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);
    const char *hosts[] = { "h1" };
    vb_testcall_hosts_t h1 = { .client = client, .hosts = hosts, .count = 1, .workers = 1 };
    assert_true (vb_test_poll_until (vb_testcall_hosts_listed, &h1, 20,
                                     vb_testenv_intervals_ms (env, 5), NULL));
    assert_int_equal (vb_testcall_define (client, "h1", "web", NULL), 0);

    /*  The defined event is published before any subscriber syncs, so each one's first event is
     *  test event 1. */
    pthread_barrier_t synced;
    assert_int_equal (pthread_barrier_init (&synced, NULL, N_SUBS + 1), 0);
    s_sub_t subs[N_SUBS];
    pthread_t threads[N_SUBS];
    memset (subs, 0, sizeof subs);
    for (int i = 0; i < N_SUBS; i++) {
        subs[i].clients_ep = vb_testenv_clients_ep (env);
        subs[i].bound_ms = 25000 + 5 * vb_test_margin_ms ();
        subs[i].synced = &synced;
        assert_int_equal (pthread_create (&threads[i], NULL, s_subscriber, &subs[i]), 0);
    }
    pthread_barrier_wait (&synced);
    int64_t start = vb_now_ms ();
    int emitted = tev_emit (client, "web", N_EVENTS, 30000);
    int64_t emit_ms = vb_now_ms () - start;
    for (int i = 0; i < N_SUBS; i++)
        pthread_join (threads[i], NULL);
    pthread_barrier_destroy (&synced);
    assert_int_equal (emitted, 0);

    uint64_t replayed_total = 0;
    for (int i = 0; i < N_SUBS; i++) {
        print_message ("subscriber %2d: %zu events in %" PRId64 " ms, %" PRIu64 " replayed\n", i,
                       subs[i].received, subs[i].elapsed_ms, subs[i].replayed);
        replayed_total += subs[i].replayed;
    }
    print_message ("emitting %d events took %" PRId64 " ms; %" PRIu64 " replayed in total\n",
                   N_EVENTS, emit_ms, replayed_total);
    for (int i = 0; i < N_SUBS; i++) {
        if (subs[i].fault[0])
            fail_msg ("subscriber %d: %s", i, subs[i].fault);
        if (subs[i].received != N_EVENTS)
            fail_msg ("subscriber %d got %zu of %d events", i, subs[i].received, N_EVENTS);
    }
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("events_fanout", 0);
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
            test_events_fanout_twenty_subscribers_each_get_ten_thousand_once_in_order, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
