/*  qemu_process — the QEMU process as the kernel sees it: spawn, identify, watch, signal.
 *
 *  A domain's QEMU must outlive the worker that started it (DESIGN §1): it is spawned in its own
 *  session (setsid), so neither the worker's process group nor its terminal take it down, with
 *  stdin from /dev/null and stdout/stderr appended to the domain's log file. Every fd the worker
 *  holds is close-on-exec and the spawn closes every fd above 2 in the child as well, so QEMU
 *  never inherits a lock file or a broker socket.
 *
 *  A pid alone does not identify a process across a worker restart (pids are reused), so a
 *  process is named by its pid plus its start time in clock ticks since boot (field 22 of
 *  /proc/PID/stat), which the status file records. Exit is watched through a pidfd, which works
 *  for processes that are not the worker's children (adopted after a restart or from a dead
 *  sibling): it becomes readable when the process exits.
 */
#ifndef QEMU_PROCESS_H
#define QEMU_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vb_error.h"

/*  --- Spawn ------------------------------------------------------------------------------ */

/*  Start ARGV (argv[0] = the emulator path, executed as is) in a new session, stdin /dev/null,
 *  stdout and stderr appended to LOG_PATH (created 0600). Returns the pid, or -1 with ERR:
 *  OPERATION_FAILED when the log cannot be opened or the spawn fails (naming the path). An exec
 *  failure after the fork shows as the process exiting with status 127. */
pid_t qemu_process_spawn (char *const argv[], const char *log_path, vb_error_t *err);

/*  Reap PID if it is a child of this process that has exited (no-op otherwise). */
void qemu_process_reap (pid_t pid);

/*  --- Identity and accounting -------------------------------------------------------------- */

/*  The start time of PID in clock ticks since boot (/proc/PID/stat field 22). Returns 0 and sets
 *  *OUT, or -1 when the process does not exist or has exited (a zombie counts as exited). */
int qemu_process_start_ticks (pid_t pid, uint64_t *out);

/*  Is PID alive and the same process that started at START_TICKS? */
bool qemu_process_is (pid_t pid, uint64_t start_ticks);

/*  CPU time (user + system, all threads) of PID in nanoseconds, or 0 when unreadable. */
uint64_t qemu_process_cpu_time_ns (pid_t pid);

/*  --- Watching and signalling ------------------------------------------------------------ */

/*  A pidfd for PID (close-on-exec, non-blocking). Returns the fd, or -1 with ERR
 *  (OPERATION_FAILED). */
int qemu_process_pidfd (pid_t pid, vb_error_t *err);

/*  Has the process behind PIDFD exited? (A zero-timeout poll.) */
bool qemu_process_pidfd_exited (int pidfd);

/*  Send SIG through PIDFD (never hits a reused pid). Returns 0, or -1 when the process is gone. */
int qemu_process_pidfd_signal (int pidfd, int sig);

/*  --- Host checks and logs --------------------------------------------------------------- */

/*  Can this process open /dev/kvm read-write? Returns 0, or -1 with ERR OPERATION_FAILED
 *  "KVM is not available: /dev/kvm: <reason>". */
int qemu_process_check_kvm (vb_error_t *err);

/*  The last MAX bytes of the file at PATH starting at a line boundary, trailing newlines removed,
 *  newlines inside replaced by " | " so the text fits in one error sentence. Returns a new string
 *  ("" when the file is empty or unreadable); NULL only on allocation failure. */
char *qemu_process_log_tail (const char *path, size_t max);

#endif
