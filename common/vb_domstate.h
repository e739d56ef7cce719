/*  vb_domstate — libvirt's domain state and reason vocabulary, copied exactly.
 *
 *  Numbers and strings are libvirt's (virDomainState and the per-state reason enums, virsh's
 *  `domstate --reason` strings), because users and monitoring systems carry them over: they appear
 *  as state.state / state.reason in domstats, in dominfo and in list. Also the lifecycle event and
 *  detail vocabulary (virDomainEventType and details) with virsh event's capitalised strings.
 */
#ifndef VB_DOMSTATE_H
#define VB_DOMSTATE_H

typedef enum {
    VB_STATE_NOSTATE = 0,
    VB_STATE_RUNNING = 1,
    VB_STATE_BLOCKED = 2,
    VB_STATE_PAUSED = 3,
    VB_STATE_SHUTDOWN = 4,
    VB_STATE_SHUTOFF = 5,
    VB_STATE_CRASHED = 6,
    VB_STATE_PMSUSPENDED = 7,
    VB_STATE_LAST
} vb_state_t;

/* Reasons used by virtbus drivers (libvirt numbering within each state). */
enum { VB_REASON_UNKNOWN = 0 };
enum { VB_RUNNING_BOOTED = 1, VB_RUNNING_UNPAUSED = 5, VB_RUNNING_WAKEUP = 8 };
enum { VB_PAUSED_USER = 1, VB_PAUSED_IOERROR = 5, VB_PAUSED_SHUTTING_DOWN = 8,
       VB_PAUSED_CRASHED = 10, VB_PAUSED_STARTING_UP = 11 };
enum { VB_SHUTDOWN_USER = 1 };
enum { VB_SHUTOFF_SHUTDOWN = 1, VB_SHUTOFF_DESTROYED = 2, VB_SHUTOFF_CRASHED = 3,
       VB_SHUTOFF_FAILED = 6, VB_SHUTOFF_DAEMON = 8 };
enum { VB_CRASHED_PANICKED = 1 };

/*  virsh's state string: "running", "idle", "paused", "in shutdown", "shut off", "crashed",
 *  "pmsuspended", "no state"; "unknown" when out of range. */
const char *vb_state_name (int state);

/*  Parse a state string back (accepts virsh's strings). Returns the state or -1. */
int vb_state_from_name (const char *name);

/*  virsh's reason string for STATE/REASON ("booted", "user", "destroyed", ...); "unknown" when
 *  out of range. */
const char *vb_state_reason_name (int state, int reason);

/*  Lifecycle events (virDomainEventType) and their details, as on the wire (lower case:
 *  "started"/"booted") and as virsh event prints them ("Started"/"Booted"). */
typedef enum {
    VB_EVENT_DEFINED = 0,
    VB_EVENT_UNDEFINED,
    VB_EVENT_STARTED,
    VB_EVENT_SUSPENDED,
    VB_EVENT_RESUMED,
    VB_EVENT_STOPPED,
    VB_EVENT_SHUTDOWN,
    VB_EVENT_PMSUSPENDED,
    VB_EVENT_CRASHED,
    VB_EVENT_LAST
} vb_lifecycle_t;

/*  Wire name ("started") of a lifecycle event, NULL when out of range; and back (-1 unknown). */
const char *vb_lifecycle_name (vb_lifecycle_t event);
int vb_lifecycle_from_name (const char *name);

/*  virsh event's text for a lifecycle event and detail given by wire names, e.g. ("stopped",
 *  "destroyed") -> "Stopped" and "Destroyed", ("shutdown", "guest") -> "Shutdown" and
 *  "Finished after guest request". Unknown names give "unknown". */
const char *vb_lifecycle_virsh_event (const char *event);
const char *vb_lifecycle_virsh_detail (const char *event, const char *detail);

#endif
