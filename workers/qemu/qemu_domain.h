/*  qemu_domain — what the QEMU driver keeps on disk about a domain, in the state directory.
 *
 *  Layout (DESIGN §1), one directory per host and driver, shared by every virtbus-qemu of the
 *  host:
 *      <dir>/<uuid>.xml        the persistent definition (libvirt domain XML)
 *      <dir>/<uuid>.status     a running domain: pid, its start time, QMP socket, state and the
 *                              live definition (so a transient domain survives a worker restart)
 *      <dir>/<uuid>.lock       ownership: an exclusive flock held by the owning worker
 *      <dir>/run/<uuid>.qmp    QEMU's QMP socket
 *      <dir>/run/<uuid>.log    QEMU's stdout/stderr, appended across starts
 *      <dir>/run/<uuid>.pid    QEMU's -pidfile
 *      <dir>/define.lock       serialises defines among the workers of the directory (names
 *                              are unique per directory)
 *  Every file is written with vb_write_file_atomic, so a crash leaves the old or the new content.
 *  The status file is JSON:
 *      {"pid": 1234, "start_ticks": 987654, "monitor": "/.../run/<uuid>.qmp",
 *       "start_time_ns": <wall clock>, "state": 1, "reason": 1, "xml": "<domain ...>"}
 */
#ifndef QEMU_DOMAIN_H
#define QEMU_DOMAIN_H

#include <stdint.h>
#include <sys/types.h>

#include "vb_error.h"

/*  A running domain's record. Strings are owned (free with qemu_status_clear). */
typedef struct {
    pid_t pid;
    uint64_t start_ticks;    /* the process's start time in ticks since boot */
    char *monitor;           /* QMP socket path */
    uint64_t start_time_ns;  /* wall clock when the worker started it */
    int state;               /* vb_state_t when last written */
    int reason;
    char *xml;               /* the live definition */
} qemu_status_t;

/*  "<DIR>/<UUID><SUFFIX>" (SUFFIX ".xml", ".status", ".lock"). New string; NULL on allocation
 *  failure. */
char *qemu_domain_path (const char *dir, const char *uuid, const char *suffix);

/*  "<DIR>/run/<UUID><SUFFIX>" (".qmp", ".log", ".pid"). New string; NULL on allocation failure. */
char *qemu_domain_run_path (const char *dir, const char *uuid, const char *suffix);

/*  Write STATUS to PATH atomically. Returns 0 or -1 with ERR. */
int qemu_status_write (const char *path, const qemu_status_t *status, vb_error_t *err);

/*  Read PATH into *STATUS (zeroed first). Returns 0, or -1 with ERR: OPERATION_FAILED for a file
 *  that cannot be read or is not a valid status (naming the path and the field). */
int qemu_status_read (const char *path, qemu_status_t *status, vb_error_t *err);

/*  Free the strings of STATUS and zero it. */
void qemu_status_clear (qemu_status_t *status);

#endif
