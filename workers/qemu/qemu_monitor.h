/*  qemu_monitor — a QMP client that lives on the worker's zloop.
 *
 *  One monitor speaks to one QEMU process over its QMP unix socket (json-c on the wire). It
 *  never blocks: the socket is non-blocking and registered as a poller on the caller's zloop, so
 *  one worker can hold many monitors on one loop and a QEMU that stops answering only delays the
 *  commands sent to it.
 *
 *  Life of a monitor: qemu_monitor_new() connects, then the loop reads QEMU's greeting, sends
 *  qmp_capabilities and calls `ready` once QEMU accepted it. Commands may be issued at once (they
 *  are queued behind the capabilities negotiation) and any number may be in flight. Commands go
 *  out as short as QMP allows (no "id", no line end: QEMU 7.2 reads its monitor a byte at a time,
 *  so every byte costs it CPU) and replies are matched by order, which QMP guarantees while
 *  out-of-band execution is not negotiated (it never is here). Events that QEMU interleaves with
 *  replies go to `event`. Every command has its own deadline; when it passes, the command's
 *  callback gets TIMEOUT and the monitor stays usable: the command keeps its place in line and
 *  its reply, when it comes, is discarded.
 *  When the socket closes, fails, or QEMU sends something that is not QMP (a line that is not one
 *  JSON object, a line longer than the limit), the monitor closes: every pending command's
 *  callback gets an error, then `closed` is called once. A closed monitor only awaits
 *  qemu_monitor_destroy().
 *
 *  Callbacks run from the loop, never from inside the call that issued a command. Any callback may
 *  issue commands or destroy the monitor (the memory is released when the callback returns).
 *
 *  Every reply callback is called exactly once per accepted command: with the reply, an error
 *  from QEMU, TIMEOUT, the close of the monitor, or its destruction.
 */
#ifndef QEMU_MONITOR_H
#define QEMU_MONITOR_H

#include <czmq.h>
#include <json-c/json.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"

typedef struct _qemu_monitor_t qemu_monitor_t;

/*  The default limit on one QMP line. QEMU's largest replies (query-qmp-schema, query-blockstats
 *  on long backing chains) are a few MiB at most; anything beyond this is not QMP. */
#define QEMU_MONITOR_MAX_LINE_DEFAULT (16u * 1024 * 1024)

/*  Default time allowed between connecting and QEMU accepting qmp_capabilities. */
#define QEMU_MONITOR_HANDSHAKE_TIMEOUT_MS_DEFAULT 10000

/*  Upper bound on commands in flight on one monitor (timed-out ones whose reply QEMU still owes
 *  included); beyond it qemu_monitor_command answers BUSY. */
#define QEMU_MONITOR_MAX_PENDING 4096

/*  The answer to one command. On success RESULT is the reply's "return" value (borrowed: valid
 *  during the call; take a reference with json_object_get to keep it; never NULL) and ERR is NULL.
 *  On failure RESULT is NULL and ERR says why:
 *    UNSUPPORTED        QEMU does not know the command (QMP class CommandNotFound)
 *    OPERATION_FAILED   QEMU answered an error (its class and description are in the sentence),
 *                       or the monitor closed because QEMU sent something that is not QMP
 *    TIMEOUT            the command's deadline passed first; the outcome in QEMU is unknown
 *    HYPERVISOR_UNAVAILABLE  the connection to QEMU was lost, or the monitor was destroyed
 *  QMP_CLASS is QEMU's error class ("GenericError", "DeviceNotFound"...) when QEMU answered an
 *  error, else NULL. */
typedef void (qemu_monitor_reply_fn) (qemu_monitor_t *mon, json_object *result,
                                      const char *qmp_class, const vb_error_t *err,
                                      void *cb_data);

/*  The answer to a raw command (qemu_monitor_command_raw). On success ERR is NULL and TEXT is
 *  the reply as QEMU wrote it — the line `{"return": VALUE}` — or, should QEMU ever put another
 *  member first, VALUE alone, serialised again: LEN bytes, not NUL-terminated, valid during the
 *  call and not checked to be JSON (the caller reads it with its own strict parser). On failure
 *  TEXT is NULL and QMP_CLASS / ERR are as for qemu_monitor_reply_fn. */
typedef void (qemu_monitor_raw_fn) (qemu_monitor_t *mon, const char *text, size_t len,
                                    const char *qmp_class, const vb_error_t *err,
                                    void *cb_data);

/*  Monitor-wide callbacks; any of them may be NULL. USER_DATA is the pointer given to
 *  qemu_monitor_new. */
typedef struct {
    /*  QEMU accepted qmp_capabilities: the monitor is ready. Called at most once. */
    void (*ready) (qemu_monitor_t *mon, void *user_data);
    /*  An asynchronous event. NAME is its name ("SHUTDOWN"), DATA its "data" member or NULL
     *  (borrowed), TIMESTAMP_US the event's wall-clock time in microseconds since the epoch as
     *  QEMU stamped it, or -1 when it carried none. */
    void (*event) (qemu_monitor_t *mon, const char *name, json_object *data,
                   int64_t timestamp_us, void *user_data);
    /*  The monitor closed by itself (end of file, socket error, not-QMP data, handshake timeout).
     *  REASON: HYPERVISOR_UNAVAILABLE (connection lost), OPERATION_FAILED (QEMU sent something
     *  that is not QMP or refused qmp_capabilities) or TIMEOUT (no greeting in time). Called at
     *  most once, after every pending command has been failed; not called by destroy. */
    void (*closed) (qemu_monitor_t *mon, const vb_error_t *reason, void *user_data);
} qemu_monitor_callbacks_t;

/*  --- Life cycle ------------------------------------------------------------------------- */

/*  Connect to the QMP socket at PATH and register with LOOP (borrowed; must outlive the monitor).
 *  CALLBACKS is copied. The socket is non-blocking and O_CLOEXEC. Returns the monitor, or NULL with
 *  ERR: HYPERVISOR_UNAVAILABLE when nothing listens at PATH, INVALID_ARG for a path too long for a
 *  unix socket, INTERNAL when the loop refuses the poller. */
qemu_monitor_t *qemu_monitor_new (zloop_t *loop, const char *path,
                                  const qemu_monitor_callbacks_t *callbacks, void *user_data,
                                  vb_error_t *err);

/*  Same on an already connected stream socket FD, which the monitor takes over (made
 *  non-blocking and close-on-exec; closed by the monitor, also on failure). NAME names the peer in
 *  error sentences (usually the socket path). */
qemu_monitor_t *qemu_monitor_new_fd (zloop_t *loop, int fd, const char *name,
                                     const qemu_monitor_callbacks_t *callbacks, void *user_data,
                                     vb_error_t *err);

/*  Unregister from the loop, close the socket, call every pending command's callback with
 *  HYPERVISOR_UNAVAILABLE ("... was closed before answering ...") so their CB_DATA can be
 *  released, free the monitor and set *SELF_P to NULL. `closed` is not called. Safe on NULL and
 *  from inside any callback of this monitor. */
void qemu_monitor_destroy (qemu_monitor_t **self_p);

/*  --- Commands --------------------------------------------------------------------------- */

/*  Send COMMAND (a QMP command name) with ARGUMENTS (*ARGS_P, a json object or NULL; taken:
 *  *ARGS_P is set to NULL, also on failure). REPLY_FN (required) is called once with the outcome,
 *  at the latest DEADLINE_MS milliseconds from now (then with TIMEOUT). Returns 0, or -1 with
 *  ERR and REPLY_FN never called: INVALID_ARG (bad name, arguments not an object, deadline not
 *  positive), HYPERVISOR_UNAVAILABLE (the monitor is closed), BUSY (too many in flight). */
int qemu_monitor_command (qemu_monitor_t *self, const char *command, json_object **args_p,
                          int deadline_ms, qemu_monitor_reply_fn *reply_fn, void *cb_data,
                          vb_error_t *err);

/*  COMMAND without arguments, whose reply is handed over as text rather than parsed with json-c:
 *  for large replies read by a parser that keeps only a few fields (qemu_blockstats). Otherwise
 *  as qemu_monitor_command. */
int qemu_monitor_command_raw (qemu_monitor_t *self, const char *command, int deadline_ms,
                              qemu_monitor_raw_fn *reply_fn, void *cb_data, vb_error_t *err);

/*  --- Settings and state ----------------------------------------------------------------- */

/*  Change the longest line accepted from QEMU (default QEMU_MONITOR_MAX_LINE_DEFAULT, at least
 *  4096 bytes). */
void qemu_monitor_set_max_line (qemu_monitor_t *self, size_t max_line);

/*  Change the time allowed for the greeting and qmp_capabilities, counted from qemu_monitor_new
 *  (default QEMU_MONITOR_HANDSHAKE_TIMEOUT_MS_DEFAULT). Has no effect once the monitor is ready. */
void qemu_monitor_set_handshake_timeout (qemu_monitor_t *self, int timeout_ms);

/*  True once QEMU accepted qmp_capabilities and until the monitor closes. */
bool qemu_monitor_is_ready (const qemu_monitor_t *self);

/*  True once the monitor has closed (by itself; see `closed`). */
bool qemu_monitor_is_closed (const qemu_monitor_t *self);

/*  Number of commands whose callback awaits their reply (timed-out ones are not counted). */
size_t qemu_monitor_pending (const qemu_monitor_t *self);

/*  The peer name (socket path) given at creation. Never NULL. */
const char *qemu_monitor_name (const qemu_monitor_t *self);

/*  QEMU's version from the greeting. Returns 0 and fills the non-NULL outputs, or -1 before the
 *  greeting arrived. */
int qemu_monitor_qemu_version (const qemu_monitor_t *self, int *major, int *minor, int *micro);

#endif
