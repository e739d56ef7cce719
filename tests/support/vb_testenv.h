/*  vb_testenv — one integration test's world: a temp dir, a broker, workers, vbsh, and time.
 *
 *  Every integration test builds one environment: its own temp directory (state dirs and process
 *  logs live under it), virtbusd and workers started as real processes on ephemeral ports
 *  (tcp://127.0.0.1:*) whose endpoints come from their `ready` lines, a heartbeat interval chosen
 *  for tests (short, so "3 intervals" is a short wait), and every wait bounded by a multiple of
 *  that interval plus a margin that grows under sanitizers (ASan binaries start and run slower).
 *
 *      vb_testenv_t *env = vb_testenv_new ("spine_cli", 0);
 *      assert_non_null (vb_testenv_start_broker (env, NULL));
 *      assert_non_null (vb_testenv_start_worker (env, "virtbus-test", "h1", NULL));
 *      vb_testrun_t run;
 *      vb_testenv_vbsh (env, &run, "hosts", NULL);
 *      ...
 *      vb_testenv_destroy (&env);    // kills what it started (by pid), removes the temp dir
 *
 *  The temp dir is kept when $VB_TEST_KEEP is set (its path is printed), for reading the logs.
 *  Daemons log at info, or at $VB_TEST_LOG_LEVEL (e.g. debug) when it is set.
 *  Heartbeat for tests: 200 ms unless the test asks for another or $VB_TEST_HEARTBEAT_MS is set.
 *  Binaries come from VB_BIN_DIR (compile definition set by vb_add_integration_test) or
 *  $VB_BIN_DIR.
 */
#ifndef VB_TESTENV_H
#define VB_TESTENV_H

#include <stdbool.h>
#include <stdint.h>

#include "vb_client.h"
#include "vb_testproc.h"

#define VB_TEST_HEARTBEAT_MS 200

/* --- Time -------------------------------------------------------------------------------- */

/*  True when this program was built with AddressSanitizer (the whole build then is). */
bool vb_test_sanitized (void);

/*  The slack added to every timing bound: 300 ms, 1500 ms under sanitizers. Scheduling on a
 *  loaded 2-core machine, not the code under test, is what it absorbs. */
int vb_test_margin_ms (void);

/*  How long a process may take to print its ready line (5 s; 20 s under sanitizers). */
int vb_test_start_timeout_ms (void);

/*  A condition to poll: true when met. */
typedef bool (*vb_test_cond_fn) (void *arg);

/*  Call COND(ARG) every INTERVAL_MS until it returns true or BOUND_MS passed (it is always called
 *  at least once, and once more at the bound). Returns true when met; *ELAPSED_MS (may be NULL)
 *  gets the time from the call to the first true (or to the bound). */
bool vb_test_poll_until (vb_test_cond_fn cond, void *arg, int interval_ms, int bound_ms,
                         int64_t *elapsed_ms);

/*  Wait until the port of tcp://HOST:PORT ENDPOINT can be bound again (SO_REUSEADDR, as libzmq
 *  binds), at most BOUND_MS. Right after a process listening there was killed, its accepted
 *  connections linger in FIN_WAIT until their peers close, and a new bind fails meanwhile.
 *  Returns true once the port is free. */
bool vb_test_wait_port_free (const char *endpoint, int bound_ms);

/*  Create a directory "<$TMPDIR or /tmp>/vbtest-<NAME>-XXXXXX". Returns it (caller frees) or
 *  NULL. */
char *vb_test_tmpdir_new (const char *name);

/*  Remove PATH and everything below it (no symlink is followed). Returns 0 or -1. */
int vb_test_tmpdir_remove (const char *path);

/* --- The environment --------------------------------------------------------------------- */

typedef struct _vb_testenv_t vb_testenv_t;

/*  A new environment named NAME (used in the temp dir name) with heartbeat HEARTBEAT_MS
 *  (0 = $VB_TEST_HEARTBEAT_MS, else VB_TEST_HEARTBEAT_MS). NULL when the temp dir cannot be
 *  made. */
vb_testenv_t *vb_testenv_new (const char *name, int heartbeat_ms);

/*  Stop every process still running with SIGTERM (vb_testproc_stop, bounded by 10 s, 30 s under
 *  sanitizers, for all of them together), so that each exits cleanly and sanitizers report at
 *  exit. Returns 0 when all exited with status 0, -1 otherwise (each culprit is named on stderr
 *  with its log; the temp dir is then kept for reading). Call it from the test's teardown and
 *  return its value, before vb_testenv_destroy(). */
int vb_testenv_stop (vb_testenv_t *self);

/*  Kill every process it started (by recorded pid), destroy its clients, remove the temp dir
 *  (unless $VB_TEST_KEEP, or vb_testenv_stop() failed). Nulls *SELF_P; safe on NULL. */
void vb_testenv_destroy (vb_testenv_t **self_p);

const char *vb_testenv_dir (const vb_testenv_t *self);
int vb_testenv_heartbeat_ms (const vb_testenv_t *self);

/*  N heartbeat intervals plus the margin: the bound for "within N intervals". */
int vb_testenv_intervals_ms (const vb_testenv_t *self, double n);

/*  Path of a project binary ("virtbusd") in a static buffer of the environment (valid until the
 *  next call). */
const char *vb_testenv_bin (vb_testenv_t *self, const char *program);

/*  Start virtbusd with the environment's heartbeat and state dir <dir>/broker, on the given
 *  endpoints (NULL = tcp://127.0.0.1:*), wait for its ready line and remember its endpoints
 *  (replacing earlier ones). Returns the process (owned by the environment), or NULL. */
vb_testproc_t *vb_testenv_start_broker_on (vb_testenv_t *self, const char *clients,
                                           const char *workers, const char *events);
/*  Same with every endpoint ephemeral. */
vb_testproc_t *vb_testenv_start_broker (vb_testenv_t *self);

/*  The running broker (the last one started), or NULL. */
vb_testproc_t *vb_testenv_broker (vb_testenv_t *self);

/*  Forget the broker process: kill it with SIGKILL, reap it and destroy it; its endpoints are
 *  kept so a restart can reuse them. */
void vb_testenv_kill_broker (vb_testenv_t *self);

/*  Endpoints from the broker's ready line (borrowed; NULL before a broker started). */
const char *vb_testenv_clients_ep (const vb_testenv_t *self);
const char *vb_testenv_workers_ep (const vb_testenv_t *self);
const char *vb_testenv_events_ep (const vb_testenv_t *self);

/*  Start worker PROGRAM ("virtbus-test") for HOST with --id ID (NULL = the worker's default)
 *  and --state-dir <dir>/state-<HOST>-<ID or "default">, connected to the broker's worker
 *  endpoint, with the environment's heartbeat; wait for its ready line. Returns the process
 *  (owned by the environment), or NULL. */
vb_testproc_t *vb_testenv_start_worker (vb_testenv_t *self, const char *program,
                                        const char *host, const char *id);

/*  A client connected to the broker's clients endpoint, owned by the environment (destroyed
 *  with it). Each call makes a new one. NULL on failure. */
vb_client_t *vb_testenv_client (vb_testenv_t *self);

/*  Run `vbsh -c <clients ep> ARG...` (NULL-terminated list) bounded by 15 s (60 s under
 *  sanitizers), capturing its output into *RUN (free with vb_testrun_clear). Returns
 *  vb_testrun()'s value. */
int vb_testenv_vbsh (vb_testenv_t *self, vb_testrun_t *run, const char *arg, ...)
    __attribute__ ((sentinel));

/*  Write TEXT to <dir>/NAME. Returns the full path (borrowed from the environment, valid until
 *  destroy) or NULL. */
const char *vb_testenv_write_file (vb_testenv_t *self, const char *name, const char *text);

#endif
