/*  vb_testproc — child processes for integration tests: daemons and one-shot commands.
 *
 *  A daemon (virtbusd, a worker) is started with vb_testproc_start(): fork/exec in its own
 *  process group, stdin from /dev/null, stdout through a pipe the test reads (for the one
 *  machine-readable `ready k=v ...` line), stderr appended to `<log_dir>/<name>.log` so a failing
 *  test leaves each process's log in its temp dir. The child also gets PR_SET_PDEATHSIG=SIGKILL,
 *  so a test killed by ctest's timeout or by a crash takes its daemons with it.
 *
 *  Every started process is recorded in a process-wide registry and killed (SIGKILL to its
 *  process group, then reaped) by vb_testproc_destroy(), by vb_testproc_kill_all() (call it from
 *  a cmocka teardown) and by an atexit handler installed on the first start — a failing assertion
 *  therefore never leaves a process behind. Teardown goes by the recorded pid only.
 *
 *      char *argv[] = {VB_BIN_DIR "/virtbusd", "--clients", "tcp://127.0.0.1:*", NULL};
 *      vb_testproc_t *b = vb_testproc_start ("broker", dir, argv);
 *      if (vb_testproc_wait_ready (b, 5000) == 0)
 *          ep = vb_testproc_ready_value (b, "clients");
 *      vb_testproc_signal (b, SIGKILL); vb_testproc_wait_exit (b, 2000, NULL);
 *      vb_testproc_destroy (&b);
 *
 *  One-shot commands (vbsh) run through vb_testrun(): stdout and stderr captured in memory, the
 *  exit status, bounded by a timeout after which the command is killed.
 *
 *  These helpers are for single-threaded test programs; the registry is the only mutable
 *  process-wide state, kept because an atexit handler cannot be handed a context.
 */
#ifndef VB_TESTPROC_H
#define VB_TESTPROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct _vb_testproc_t vb_testproc_t;

/* --- Daemons ----------------------------------------------------------------------------- */

/*  Start ARGV (argv[0] is a path, executed as is) as NAME (used for the log file name and in
 *  messages). LOG_DIR must exist. Returns the process (caller owns), or NULL when the fork, pipe
 *  or log file fails (a message is printed on stderr). An exec failure shows later as an exit
 *  with status 127 and a line in the log. */
vb_testproc_t *vb_testproc_start (const char *name, const char *log_dir, char *const argv[]);

/*  Kill the process group with SIGKILL if the process still runs, reap it, close the pipe,
 *  drop it from the registry and free it. Nulls *SELF_P; safe on NULL. */
void vb_testproc_destroy (vb_testproc_t **self_p);

/*  Read stdout until a line starting with "ready " arrives, at most TIMEOUT_MS. Its
 *  space-separated key=value words are then available through vb_testproc_ready_value().
 *  Returns 0, or -1 when the process exited, closed stdout or the time ran out (a message
 *  naming the process and its log file is printed on stderr). */
int vb_testproc_wait_ready (vb_testproc_t *self, int timeout_ms);

/*  The value of KEY in the ready line (borrowed, valid until destroy), or NULL. */
const char *vb_testproc_ready_value (const vb_testproc_t *self, const char *key);

/*  The whole ready line without its newline (borrowed), or NULL before it arrived. */
const char *vb_testproc_ready_line (const vb_testproc_t *self);

pid_t vb_testproc_pid (const vb_testproc_t *self);
const char *vb_testproc_name (const vb_testproc_t *self);

/*  Path of the process's stderr log (borrowed). */
const char *vb_testproc_log_path (const vb_testproc_t *self);

/*  Send SIG to the process (not the group, so SIGSTOP/SIGCONT act on the daemon itself).
 *  Returns 0, or -1 when it has already been reaped or kill() fails. */
int vb_testproc_signal (vb_testproc_t *self, int sig);

/*  Wait up to TIMEOUT_MS for the process to exit; reaps it. Returns 0 and the wait status
 *  through *STATUS_OUT (may be NULL), or -1 when it still runs after TIMEOUT_MS. */
int vb_testproc_wait_exit (vb_testproc_t *self, int timeout_ms, int *status_out);

/*  Stop the process the way an operator would: SIGTERM (after SIGCONT if the test stopped it),
 *  then wait up to TIMEOUT_MS; SIGKILL to the process group if it did not exit by then. Returns
 *  0 when it exited with status 0, or had already ended from a signal the test sent through
 *  vb_testproc_signal(); -1 otherwise: it had to be killed, it exited non-zero (under
 *  sanitizers an error or leak report exits non-zero), or it had died by itself earlier. A
 *  message naming the process and its log is printed on stderr for -1. */
int vb_testproc_stop (vb_testproc_t *self, int timeout_ms);

/*  Is the process still running (not exited, not reaped)? Reaps it if it has exited. */
bool vb_testproc_alive (vb_testproc_t *self);

/*  Kill and reap every process still in the registry (SIGKILL to each recorded process group).
 *  The vb_testproc_t objects stay valid (their processes count as exited) until destroyed. */
void vb_testproc_kill_all (void);

/* --- One-shot commands ------------------------------------------------------------------- */

/*  The outcome of one command. */
typedef struct {
    int exit_code;       /* the exit status, or -1 when killed by a signal or timed out */
    int term_signal;     /* the signal that ended it, 0 if none */
    bool timed_out;      /* it ran past the timeout and was killed */
    char *out;           /* everything it wrote on stdout, NUL-terminated, never NULL after run */
    char *err;           /* everything it wrote on stderr, NUL-terminated, never NULL after run */
    int64_t elapsed_ms;  /* wall time from start to exit */
} vb_testrun_t;

/*  Run ARGV (argv[0] a path) with stdin from /dev/null, capture stdout/stderr, wait for it
 *  at most TIMEOUT_MS (then SIGKILL, timed_out = true). Fills *RUN (free with
 *  vb_testrun_clear). Returns 0 when the command ran and exited on its own, -1 otherwise
 *  (could not start, or timed out; RUN is still filled). */
int vb_testrun (vb_testrun_t *run, int timeout_ms, char *const argv[]);

/*  Free the buffers of RUN and zero it. */
void vb_testrun_clear (vb_testrun_t *run);

#endif
