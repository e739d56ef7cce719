/*  vb_domstate — libvirt's state/reason and lifecycle vocabulary (see vb_domstate.h).
 *
 *  The strings are copied from libvirt 9.0 tools/virsh-domain-monitor.c (states, reasons) and
 *  tools/virsh-domain-event.c (lifecycle events and details), plus PAUSED reason 14 "api error"
 *  of libvirt 9.2. Wire names of lifecycle events and details are libvirt's enum names in lower
 *  case with '-' for '_' (VIR_DOMAIN_EVENT_SUSPENDED_API_ERROR -> "api-error").
 */
#include "vb_domstate.h"

#include <stddef.h>
#include <string.h>

#define VB_COUNT(a) (sizeof (a) / sizeof ((a)[0]))

static const char *const vb_state_names[] = {
    "no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed", "pmsuspended",
};
_Static_assert (VB_COUNT (vb_state_names) == VB_STATE_LAST, "one name per vb_state_t");

static const char *const vb_reason_nostate[] = { "unknown" };
static const char *const vb_reason_running[] = {
    "unknown", "booted", "migrated", "restored", "from snapshot", "unpaused",
    "migration canceled", "save canceled", "event wakeup", "crashed", "post-copy",
    "post-copy failed",
};
static const char *const vb_reason_blocked[] = { "unknown" };
static const char *const vb_reason_paused[] = {
    "unknown", "user", "migrating", "saving", "dumping", "I/O error", "watchdog",
    "from snapshot", "shutting down", "creating snapshot", "crashed", "starting up",
    "post-copy", "post-copy failed", "api error",
};
static const char *const vb_reason_shutdown[] = { "unknown", "user" };
static const char *const vb_reason_shutoff[] = {
    "unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
    "from snapshot", "daemon",
};
static const char *const vb_reason_crashed[] = { "unknown", "panicked" };
static const char *const vb_reason_pmsuspended[] = { "unknown" };

/*  The header's named reasons must index the right strings. */
_Static_assert (VB_RUNNING_WAKEUP < VB_COUNT (vb_reason_running), "running reasons");
_Static_assert (VB_PAUSED_STARTING_UP < VB_COUNT (vb_reason_paused), "paused reasons");
_Static_assert (VB_SHUTOFF_DAEMON < VB_COUNT (vb_reason_shutoff), "shutoff reasons");

typedef struct {
    const char *const *names;
    size_t count;
} vb_name_table_t;

#define VB_TABLE(a) { a, VB_COUNT (a) }

static const vb_name_table_t vb_reason_tables[] = {
    VB_TABLE (vb_reason_nostate), VB_TABLE (vb_reason_running), VB_TABLE (vb_reason_blocked),
    VB_TABLE (vb_reason_paused),  VB_TABLE (vb_reason_shutdown), VB_TABLE (vb_reason_shutoff),
    VB_TABLE (vb_reason_crashed), VB_TABLE (vb_reason_pmsuspended),
};
_Static_assert (VB_COUNT (vb_reason_tables) == VB_STATE_LAST, "one reason table per state");

const char *
vb_state_name (int state)
{
    if (state < 0 || state >= VB_STATE_LAST)
        return "unknown";
    return vb_state_names[state];
}

int
vb_state_from_name (const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < VB_STATE_LAST; i++)
        if (strcmp (name, vb_state_names[i]) == 0)
            return i;
    return -1;
}

const char *
vb_state_reason_name (int state, int reason)
{
    if (state < 0 || state >= VB_STATE_LAST || reason < 0
        || (size_t) reason >= vb_reason_tables[state].count)
        return "unknown";
    return vb_reason_tables[state].names[reason];
}

/*  Lifecycle: per event, its wire name, virsh text, and details as (wire, virsh) pairs in
 *  libvirt's detail numbering. */
typedef struct {
    const char *wire;
    const char *virsh;
} vb_word_t;

static const vb_word_t vb_detail_defined[] = {
    { "added", "Added" }, { "updated", "Updated" }, { "renamed", "Renamed" },
    { "from-snapshot", "Snapshot" },
};
static const vb_word_t vb_detail_undefined[] = {
    { "removed", "Removed" }, { "renamed", "Renamed" },
};
static const vb_word_t vb_detail_started[] = {
    { "booted", "Booted" }, { "migrated", "Migrated" }, { "restored", "Restored" },
    { "from-snapshot", "Snapshot" }, { "wakeup", "Event wakeup" },
};
static const vb_word_t vb_detail_suspended[] = {
    { "paused", "Paused" },       { "migrated", "Migrated" },   { "ioerror", "I/O Error" },
    { "watchdog", "Watchdog" },   { "restored", "Restored" },   { "from-snapshot", "Snapshot" },
    { "api-error", "API error" }, { "postcopy", "Post-copy" },
    { "postcopy-failed", "Post-copy Error" },
};
static const vb_word_t vb_detail_resumed[] = {
    { "unpaused", "Unpaused" }, { "migrated", "Migrated" }, { "from-snapshot", "Snapshot" },
    { "postcopy", "Post-copy" }, { "postcopy-failed", "Post-copy Error" },
};
static const vb_word_t vb_detail_stopped[] = {
    { "shutdown", "Shutdown" }, { "destroyed", "Destroyed" }, { "crashed", "Crashed" },
    { "migrated", "Migrated" }, { "saved", "Saved" },         { "failed", "Failed" },
    { "from-snapshot", "Snapshot" },
};
static const vb_word_t vb_detail_shutdown[] = {
    { "finished", "Finished" },
    { "guest", "Finished after guest request" },
    { "host", "Finished after host request" },
};
static const vb_word_t vb_detail_pmsuspended[] = {
    { "memory", "Memory" }, { "disk", "Disk" },
};
static const vb_word_t vb_detail_crashed[] = {
    { "panicked", "Panicked" }, { "crashloaded", "Crashloaded" },
};

typedef struct {
    vb_word_t name;
    const vb_word_t *details;
    size_t count;
} vb_lifecycle_entry_t;

#define VB_EVENT(wire, virsh, details) { { wire, virsh }, details, VB_COUNT (details) }

static const vb_lifecycle_entry_t vb_lifecycle[] = {
    [VB_EVENT_DEFINED] = VB_EVENT ("defined", "Defined", vb_detail_defined),
    [VB_EVENT_UNDEFINED] = VB_EVENT ("undefined", "Undefined", vb_detail_undefined),
    [VB_EVENT_STARTED] = VB_EVENT ("started", "Started", vb_detail_started),
    [VB_EVENT_SUSPENDED] = VB_EVENT ("suspended", "Suspended", vb_detail_suspended),
    [VB_EVENT_RESUMED] = VB_EVENT ("resumed", "Resumed", vb_detail_resumed),
    [VB_EVENT_STOPPED] = VB_EVENT ("stopped", "Stopped", vb_detail_stopped),
    [VB_EVENT_SHUTDOWN] = VB_EVENT ("shutdown", "Shutdown", vb_detail_shutdown),
    [VB_EVENT_PMSUSPENDED] = VB_EVENT ("pmsuspended", "PMSuspended", vb_detail_pmsuspended),
    [VB_EVENT_CRASHED] = VB_EVENT ("crashed", "Crashed", vb_detail_crashed),
};
_Static_assert (VB_COUNT (vb_lifecycle) == VB_EVENT_LAST, "one entry per lifecycle event");

const char *
vb_lifecycle_name (vb_lifecycle_t event)
{
    if ((int) event < 0 || event >= VB_EVENT_LAST)
        return NULL;
    return vb_lifecycle[event].name.wire;
}

int
vb_lifecycle_from_name (const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < VB_EVENT_LAST; i++)
        if (strcmp (name, vb_lifecycle[i].name.wire) == 0)
            return i;
    return -1;
}

const char *
vb_lifecycle_virsh_event (const char *event)
{
    int i = vb_lifecycle_from_name (event);
    return i < 0 ? "unknown" : vb_lifecycle[i].name.virsh;
}

const char *
vb_lifecycle_virsh_detail (const char *event, const char *detail)
{
    int i = vb_lifecycle_from_name (event);
    if (i < 0 || !detail)
        return "unknown";
    for (size_t d = 0; d < vb_lifecycle[i].count; d++)
        if (strcmp (detail, vb_lifecycle[i].details[d].wire) == 0)
            return vb_lifecycle[i].details[d].virsh;
    return "unknown";
}
