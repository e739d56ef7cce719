/*  Events check (issue 5): a subscriber disconnects, 100 events happen, it reconnects with
 *  since = the last seq it saw and gets all 100, once each, in order, then nothing more. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "test_events_support.h"
#include "vb_testcall.h"
#include "vb_testenv.h"

static void
test_events_since_resubscriber_gets_the_missed_hundred_once_in_order (void **state)
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
    vb_error_t err = { 0 };
    vb_subscriber_t *sub = vb_subscriber_new (client, "h1", 0, &err);
    if (!sub)
        fail_msg ("subscriber: %s", err.message);
    assert_int_equal (vb_testcall_define (client, "h1", "web", NULL), 0);
    vb_event_t *first[1] = { 0 };
    assert_int_equal (tev_collect (sub, first, 1, vb_testenv_intervals_ms (env, 10)), 1);
    assert_string_equal (first[0]->event, "defined");
    uint64_t since = first[0]->seq;
    tev_free (first, 1);
    vb_subscriber_destroy (&sub);

    assert_int_equal (tev_emit (client, "web", 100, 10000), 0);

    sub = vb_subscriber_new (client, "h1", since, &err);
    if (!sub)
        fail_msg ("subscriber with since=%" PRIu64 ": %s", since, err.message);
    vb_event_t *got[100] = { 0 };
    size_t n = tev_collect (sub, got, 100, vb_testenv_intervals_ms (env, 10));
    if (n != 100)
        fail_msg ("%zu of the 100 missed events arrived after resubscribing", n);
    char why[256];
    const char *fault = tev_check_run (got, 100, 1, why, sizeof why);
    if (fault)
        fail_msg ("%s", fault);
    assert_int_equal (got[0]->seq, since + 1);
    assert_int_equal (vb_subscriber_replayed (sub), 100);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (env, 3)));
    tev_free (got, 100);
    vb_subscriber_destroy (&sub);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("events_since", 0);
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
            test_events_since_resubscriber_gets_the_missed_hundred_once_in_order, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
