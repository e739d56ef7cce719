/*  Unit tests for vb_domstate (common/vb_domstate.c): libvirt's state, reason and lifecycle
 *  strings. Expected strings are copied from libvirt 9.0 tools/virsh-domain-monitor.c and
 *  tools/virsh-domain-event.c (and ../shared/reference/libvirt-spec.md §4.1, §5), not from the
 *  code under test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "vb_domstate.h"

static void
test_domstate_every_state_has_virshs_string_and_parses_back (void **state)
{
    (void) state;
    const char *names[] = { "no state", "running", "idle", "paused", "in shutdown", "shut off",
                            "crashed", "pmsuspended" };
    for (int s = 0; s < VB_STATE_LAST; s++) {
        assert_string_equal (vb_state_name (s), names[s]);
        assert_int_equal (vb_state_from_name (names[s]), s);
    }
    assert_string_equal (vb_state_name (8), "unknown");
    assert_string_equal (vb_state_name (-1), "unknown");
    assert_int_equal (vb_state_from_name ("shutoff"), -1);
    assert_int_equal (vb_state_from_name (NULL), -1);
}

static void
test_domstate_reasons_sample_every_state (void **state)
{
    (void) state;
    struct { int state, reason; const char *name; } cases[] = {
        { VB_STATE_NOSTATE, 0, "unknown" },
        { VB_STATE_RUNNING, VB_RUNNING_BOOTED, "booted" },
        { VB_STATE_RUNNING, 4, "from snapshot" },
        { VB_STATE_RUNNING, VB_RUNNING_UNPAUSED, "unpaused" },
        { VB_STATE_RUNNING, 6, "migration canceled" },
        { VB_STATE_RUNNING, VB_RUNNING_WAKEUP, "event wakeup" },
        { VB_STATE_RUNNING, 11, "post-copy failed" },
        { VB_STATE_BLOCKED, 0, "unknown" },
        { VB_STATE_PAUSED, VB_PAUSED_USER, "user" },
        { VB_STATE_PAUSED, 2, "migrating" },
        { VB_STATE_PAUSED, VB_PAUSED_IOERROR, "I/O error" },
        { VB_STATE_PAUSED, VB_PAUSED_SHUTTING_DOWN, "shutting down" },
        { VB_STATE_PAUSED, 9, "creating snapshot" },
        { VB_STATE_PAUSED, VB_PAUSED_CRASHED, "crashed" },
        { VB_STATE_PAUSED, VB_PAUSED_STARTING_UP, "starting up" },
        { VB_STATE_PAUSED, 14, "api error" },
        { VB_STATE_SHUTDOWN, VB_SHUTDOWN_USER, "user" },
        { VB_STATE_SHUTOFF, VB_SHUTOFF_SHUTDOWN, "shutdown" },
        { VB_STATE_SHUTOFF, VB_SHUTOFF_DESTROYED, "destroyed" },
        { VB_STATE_SHUTOFF, VB_SHUTOFF_CRASHED, "crashed" },
        { VB_STATE_SHUTOFF, 5, "saved" },
        { VB_STATE_SHUTOFF, VB_SHUTOFF_FAILED, "failed" },
        { VB_STATE_SHUTOFF, VB_SHUTOFF_DAEMON, "daemon" },
        { VB_STATE_CRASHED, VB_CRASHED_PANICKED, "panicked" },
        { VB_STATE_PMSUSPENDED, 0, "unknown" },
        /* out of range */
        { VB_STATE_RUNNING, 12, "unknown" },
        { VB_STATE_SHUTOFF, 9, "unknown" },
        { VB_STATE_PMSUSPENDED, 1, "unknown" },
        { 8, 0, "unknown" },
        { VB_STATE_RUNNING, -1, "unknown" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal (vb_state_reason_name (cases[i].state, cases[i].reason),
                             cases[i].name);
}

static void
test_domstate_lifecycle_events_have_wire_and_virsh_names (void **state)
{
    (void) state;
    const char *wire[] = { "defined", "undefined", "started", "suspended", "resumed", "stopped",
                           "shutdown", "pmsuspended", "crashed" };
    const char *virsh[] = { "Defined", "Undefined", "Started", "Suspended", "Resumed", "Stopped",
                            "Shutdown", "PMSuspended", "Crashed" };
    for (int e = 0; e < VB_EVENT_LAST; e++) {
        assert_string_equal (vb_lifecycle_name ((vb_lifecycle_t) e), wire[e]);
        assert_int_equal (vb_lifecycle_from_name (wire[e]), e);
        assert_string_equal (vb_lifecycle_virsh_event (wire[e]), virsh[e]);
    }
    assert_null (vb_lifecycle_name (VB_EVENT_LAST));
    assert_int_equal (vb_lifecycle_from_name ("Started"), -1);
    assert_string_equal (vb_lifecycle_virsh_event ("exploded"), "unknown");
}

static void
test_domstate_lifecycle_details_sample_every_event (void **state)
{
    (void) state;
    const char *cases[][3] = {
        { "defined", "added", "Added" },
        { "defined", "updated", "Updated" },
        { "defined", "from-snapshot", "Snapshot" },
        { "undefined", "removed", "Removed" },
        { "undefined", "renamed", "Renamed" },
        { "started", "booted", "Booted" },
        { "started", "restored", "Restored" },
        { "started", "wakeup", "Event wakeup" },
        { "suspended", "paused", "Paused" },
        { "suspended", "ioerror", "I/O Error" },
        { "suspended", "api-error", "API error" },
        { "suspended", "postcopy-failed", "Post-copy Error" },
        { "resumed", "unpaused", "Unpaused" },
        { "resumed", "postcopy", "Post-copy" },
        { "stopped", "shutdown", "Shutdown" },
        { "stopped", "destroyed", "Destroyed" },
        { "stopped", "crashed", "Crashed" },
        { "stopped", "failed", "Failed" },
        { "stopped", "from-snapshot", "Snapshot" },
        { "shutdown", "finished", "Finished" },
        { "shutdown", "guest", "Finished after guest request" },
        { "shutdown", "host", "Finished after host request" },
        { "pmsuspended", "memory", "Memory" },
        { "pmsuspended", "disk", "Disk" },
        { "crashed", "panicked", "Panicked" },
        { "crashed", "crashloaded", "Crashloaded" },
        /* unknown pairs */
        { "started", "destroyed", "unknown" },
        { "stopped", "Destroyed", "unknown" },
        { "exploded", "booted", "unknown" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert_string_equal (vb_lifecycle_virsh_detail (cases[i][0], cases[i][1]), cases[i][2]);
    assert_string_equal (vb_lifecycle_virsh_detail ("started", NULL), "unknown");
    assert_string_equal (vb_lifecycle_virsh_detail (NULL, "booted"), "unknown");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_domstate_every_state_has_virshs_string_and_parses_back),
        cmocka_unit_test (test_domstate_reasons_sample_every_state),
        cmocka_unit_test (test_domstate_lifecycle_events_have_wire_and_virsh_names),
        cmocka_unit_test (test_domstate_lifecycle_details_sample_every_event),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
