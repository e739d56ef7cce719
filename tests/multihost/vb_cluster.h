/*  vb_cluster — a multi-host virtbus test bed: a broker and workers on separate hosts, each a
 *  network namespace (vb_netns), talking TCP across a bridge.
 *
 *  The multi-host counterpart of vb_testenv: one temp dir, a heartbeat chosen for tests, every
 *  process started as a real program (through `ip netns exec`, by vb_testproc, so it is killed
 *  by pid and its stderr lands in <dir>/<name>.log), every wait bounded by a multiple of the
 *  heartbeat plus vb_test_margin_ms().
 *
 *      vb_cluster_t *c = vb_cluster_new ("multihost_cut", 0);
 *      vb_cluster_add_host (c, "hub"); vb_cluster_add_host (c, "A"); ...
 *      vb_cluster_start_broker (c, "hub");         // binds 0.0.0.0, advertises hub's address
 *      vb_cluster_start_worker (c, "virtbus-test", "A", NULL, NULL);
 *      vb_cluster_vbsh (c, "client", &run, "list", "--all", NULL);
 *      vb_cluster_cut (c, "B"); ... vb_cluster_restore (c, "B");
 *      rc = vb_cluster_stop (c);                    // SIGTERM everything, sanitizers report
 *      vb_cluster_destroy (&c);                     // kill by pid, delete namespaces, temp dir
 *
 *  Layout on disk (namespaces share the filesystem, so everything is keyed by host):
 *  <dir>/broker/ is the broker's state dir; <dir>/hosts/<host>/state is a host's worker state
 *  root (a worker keeps <root>/<host>/<driver> below it), <dir>/hosts/<host>/run its run
 *  directory for whatever a driver wants there (sockets, pid files), handed to a worker only
 *  through the extra arguments of vb_cluster_start_worker().
 *
 *  The broker binds tcp://0.0.0.0:* on its host and is started with --advertise <its address>
 *  and --insecure (this bed runs without keys);
 *  the endpoints from its ready line must carry that address (checked), and workers and
 *  clients on other hosts use exactly those endpoints.
 */
#ifndef VB_CLUSTER_H
#define VB_CLUSTER_H

#include <stdbool.h>

#include "vb_client.h"
#include "vb_netns.h"
#include "vb_testproc.h"

typedef struct _vb_cluster_t vb_cluster_t;

/*  A new cluster named NAME (in its temp dir's name) with heartbeat HEARTBEAT_MS (0 =
 *  $VB_TEST_HEARTBEAT_MS, else VB_TEST_HEARTBEAT_MS) and an empty network. NULL on failure (a
 *  message on stderr). Call vb_netns_supported() first. */
vb_cluster_t *vb_cluster_new (const char *name, int heartbeat_ms);

/*  SIGTERM every process still running, workers first (bounded by 10 s, 30 s under
 *  sanitizers, in total), so each exits cleanly and sanitizers report. Returns 0 when every one
 *  exited with status 0 (or from a signal the test sent), -1 otherwise (each named on stderr; the
 *  temp dir is then kept). Call from the teardown before vb_cluster_destroy(). */
int vb_cluster_stop (vb_cluster_t *self);

/*  Destroy its clients, kill every process it started (by pid), delete every namespace, remove
 *  the temp dir (unless $VB_TEST_KEEP or a failed stop). Nulls *SELF_P; safe on NULL. */
void vb_cluster_destroy (vb_cluster_t **self_p);

const char *vb_cluster_dir (const vb_cluster_t *self);
int vb_cluster_heartbeat_ms (const vb_cluster_t *self);

/*  N heartbeat intervals plus the margin: the bound for "within N intervals". */
int vb_cluster_intervals_ms (const vb_cluster_t *self, double n);

/*  The network (borrowed), for vb_netns calls the cluster does not wrap. */
vb_netns_t *vb_cluster_net (vb_cluster_t *self);

/* --- Hosts ------------------------------------------------------------------------------- */

/*  Add host HOST: its namespace and link, <dir>/hosts/<HOST>/{state,run}. Returns its address
 *  (borrowed) or NULL. */
const char *vb_cluster_add_host (vb_cluster_t *self, const char *host);

const char *vb_cluster_host_addr (const vb_cluster_t *self, const char *host);

/*  <dir>/hosts/<HOST>/state and <dir>/hosts/<HOST>/run (static buffer of the cluster, valid
 *  until the next call of either). */
const char *vb_cluster_state_dir (vb_cluster_t *self, const char *host);
const char *vb_cluster_run_dir (vb_cluster_t *self, const char *host);

/*  Cut / restore HOST's link (vb_netns_cut / vb_netns_restore). 0 or -1. */
int vb_cluster_cut (vb_cluster_t *self, const char *host);
int vb_cluster_restore (vb_cluster_t *self, const char *host);

/* --- Processes --------------------------------------------------------------------------- */

/*  Start virtbusd on HOST: every endpoint tcp://0.0.0.0:*, --advertise <HOST's address>, state
 *  dir <dir>/broker, the cluster's heartbeat; wait for its ready line and check that each
 *  endpoint in it names HOST's address. Returns the process (owned by the cluster) or NULL
 *  (the reason on stderr). */
vb_testproc_t *vb_cluster_start_broker (vb_cluster_t *self, const char *host);

/*  Endpoints from the broker's ready line (borrowed; NULL before the broker started). */
const char *vb_cluster_clients_ep (const vb_cluster_t *self);
const char *vb_cluster_workers_ep (const vb_cluster_t *self);
const char *vb_cluster_events_ep (const vb_cluster_t *self);

/*  Start worker PROGRAM ("virtbus-test", "virtbus-qemu") on HOST: --broker <workers ep>
 *  --host HOST --state-dir <HOST's state dir> --heartbeat-ms, --id ID when ID is not NULL, then
 *  the NULL-terminated EXTRA arguments (may be NULL; e.g. a QEMU worker's run directory). Waits
 *  for its ready line. Returns the process (owned by the cluster) or NULL. */
vb_testproc_t *vb_cluster_start_worker (vb_cluster_t *self, const char *program,
                                        const char *host, const char *id,
                                        const char *const extra[]);

/*  Run `vbsh -c <clients ep> ARG...` (NULL-terminated) on HOST, bounded by 15 s (60 s under
 *  sanitizers), capturing its output into *RUN (free with vb_testrun_clear). Returns
 *  vb_testrun()'s value. */
int vb_cluster_vbsh (vb_cluster_t *self, const char *host, vb_testrun_t *run, const char *arg,
                     ...) __attribute__ ((sentinel));

/*  Move this test program into HOST's namespace (vb_netns_enter) and return a client of the
 *  broker made there, owned by the cluster. Later calls (same HOST) return new clients. Call it
 *  before any other ZeroMQ socket of the program exists, and with one HOST per program. NULL on
 *  failure. */
vb_client_t *vb_cluster_client (vb_cluster_t *self, const char *host);

#endif
