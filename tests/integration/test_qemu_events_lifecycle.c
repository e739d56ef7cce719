/*  Events check with real QEMU (issue 5, DESIGN §5): the lifecycle sequences of the QEMU worker.
 *
 *  A subscriber connected and synced before anything happens receives exactly the events of
 *  DESIGN §5, in order, with consecutive seqs and wseqs, and nothing else:
 *    define, start, suspend, resume, destroy, undefine -> defined/added, started/booted,
 *      suspended/paused, resumed/unpaused, stopped/destroyed, undefined/removed;
 *    start --paused -> started/booted then suspended/paused.
 */
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
test_qemu_events_lifecycle_sequence_is_exact_and_in_order (void **state)
{
    qev_t *q = *state;
    vb_subscriber_t *sub = qev_subscribe (q, 0);
    char uuid[37];
    qev_define (q, "web", "idle", uuid);
    qev_start (q, "web", false);
    qt_ok (q->client, "domain.suspend", "web");
    qt_ok (q->client, "domain.resume", "web");
    qt_ok (q->client, "domain.destroy", "web");
    qt_ok (q->client, "domain.undefine", "web");

    static const qev_want_t want[] = {
        { "web", "lifecycle", "defined", "added" },
        { "web", "lifecycle", "started", "booted" },
        { "web", "lifecycle", "suspended", "paused" },
        { "web", "lifecycle", "resumed", "unpaused" },
        { "web", "lifecycle", "stopped", "destroyed" },
        { "web", "lifecycle", "undefined", "removed" },
    };
    vb_event_t *got[6] = { 0 };
    qev_expect (sub, want, 6, vb_testenv_intervals_ms (q->env, 25), false, got);
    for (size_t i = 0; i < 6; i++) {
        assert_string_equal (got[i]->uuid, uuid);
        assert_string_equal (got[i]->host, "h1");
        assert_string_equal (got[i]->driver, "qemu");
        assert_string_equal (got[i]->worker, "w1");
        assert_true (got[i]->time_ns > 0);
        if (i > 0) {
            assert_int_equal (got[i]->wseq, got[i - 1]->wseq + 1);
            assert_true (got[i]->time_ns >= got[i - 1]->time_ns);
        }
    }
    tev_free (got, 6);
    /*  Exactly: no duplicate or stray event follows. */
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));
}

static void
test_qemu_events_start_paused_is_started_then_suspended (void **state)
{
    qev_t *q = *state;
    vb_subscriber_t *sub = qev_subscribe (q, 0);
    qev_define (q, "held", "idle", NULL);
    qev_start (q, "held", true);
    assert_int_equal (qt_state (q->client, "held", NULL, NULL, 0), VB_STATE_PAUSED);
    static const qev_want_t want[] = {
        { "held", "lifecycle", "defined", "added" },
        { "held", "lifecycle", "started", "booted" },
        { "held", "lifecycle", "suspended", "paused" },
    };
    qev_expect (sub, want, 3, vb_testenv_intervals_ms (q->env, 25), false, NULL);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));

    /*  And the paused QEMU really runs when resumed. */
    qt_ok (q->client, "domain.resume", "held");
    qt_ok (q->client, "domain.destroy", "held");
    static const qev_want_t rest[] = {
        { "held", "lifecycle", "resumed", "unpaused" },
        { "held", "lifecycle", "stopped", "destroyed" },
    };
    qev_expect (sub, rest, 2, vb_testenv_intervals_ms (q->env, 25), false, NULL);
    assert_true (tev_quiet (sub, vb_testenv_intervals_ms (q->env, 5)));
}

static int
s_setup (void **state)
{
    *state = qev_new ("qemu_events_lifecycle");
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
        cmocka_unit_test_setup_teardown (test_qemu_events_lifecycle_sequence_is_exact_and_in_order,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_qemu_events_start_paused_is_started_then_suspended,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
