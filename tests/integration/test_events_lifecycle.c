/*  Events check (issue 5): define, start, suspend, resume, destroy, undefine on the test driver
 *  reach a subscriber connected and synced before, as exactly the six lifecycle events of DESIGN
 *  §5, in order, with consecutive seqs and wseqs, and nothing else. */
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
test_events_lifecycle_sequence_arrives_exactly_and_in_order (void **state)
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
    vb_subscriber_t *sub = vb_subscriber_new (client, "h1/test", 0, &err);
    if (!sub)
        fail_msg ("subscriber: %s", err.message);

    char uuid[37];
    assert_int_equal (vb_testcall_define (client, "h1", "web", uuid), 0);
    const char *ops[] = { "domain.start", "domain.suspend", "domain.resume", "domain.destroy",
                          "domain.undefine" };
    for (size_t i = 0; i < 5; i++) {
        char line[1024];
        vb_reply_t *r = vb_testcall (client, ops[i], NULL, "web", NULL, 0, NULL, &err);
        if (!r || !r->ok)
            fail_msg ("%s web: %s", ops[i], vb_testcall_describe (r, &err, line, sizeof line));
        vb_reply_destroy (&r);
    }

    static const char *want[][2] = {
        { "defined", "added" }, { "started", "booted" }, { "suspended", "paused" },
        { "resumed", "unpaused" }, { "stopped", "destroyed" }, { "undefined", "removed" },
    };
    vb_event_t *got[6] = { 0 };
    size_t n = tev_collect (sub, got, 6, vb_testenv_intervals_ms (env, 10));
    if (n != 6)
        fail_msg ("%zu of the 6 lifecycle events arrived", n);
    for (size_t i = 0; i < 6; i++) {
        vb_event_t *ev = got[i];
        if (strcmp (ev->kind, "lifecycle") != 0 || strcmp (ev->event, want[i][0]) != 0
            || strcmp (ev->detail, want[i][1]) != 0)
            fail_msg ("event %zu is %s %s/%s; expected lifecycle %s/%s", i, ev->kind, ev->event,
                      ev->detail, want[i][0], want[i][1]);
        assert_string_equal (ev->domain, "web");
        assert_string_equal (ev->uuid, uuid);
        assert_string_equal (ev->host, "h1");
        assert_string_equal (ev->driver, "test");
        assert_string_equal (ev->worker, "w1");
        assert_true (ev->time_ns > 0);
        if (i > 0) {
            assert_int_equal (ev->seq, got[i - 1]->seq + 1);
            assert_int_equal (ev->wseq, got[i - 1]->wseq + 1);
            assert_true (ev->time_ns >= got[i - 1]->time_ns);
        }
    }
    /*  Exactly: no duplicate or stray event follows. */
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (env, 3)));
    tev_free (got, 6);
    vb_subscriber_destroy (&sub);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("events_lifecycle", 0);
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
            test_events_lifecycle_sequence_arrives_exactly_and_in_order, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
