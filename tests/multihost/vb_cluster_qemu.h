/*  vb_cluster_qemu — real QEMU domains on a vb_cluster test bed (multi-host QEMU checks).
 *
 *  The QEMU counterpart of vb_testcall_define() for the bed: each domain gets a UUID chosen
 *  here, an idle boot-sector image of its own at <dir>/hosts/<host>/images/<uuid>.raw (the
 *  namespaces share the filesystem, so the path is keyed by host and UUID), and a definition
 *  of type kvm (when /dev/kvm opens read-write) or qemu (TCG), sent with target.host so the
 *  broker places it on that host.
 *
 *  Teardown: a QEMU runs in a session of its own, outside the worker's process group, so
 *  killing the workers does not end it, and while it lives it keeps its host's network
 *  namespace (and veth) alive after the name is deleted. vb_cluster_qemu_kill_all() kills
 *  every QEMU recorded in a status file under the cluster's dir, by pid (checked against its
 *  start time, so a reused pid is never hit), and waits until they are gone; call it before
 *  vb_cluster_stop() / vb_cluster_destroy().
 */
#ifndef VB_CLUSTER_QEMU_H
#define VB_CLUSTER_QEMU_H

#include <stdbool.h>
#include <sys/types.h>

#include "vb_client.h"
#include "vb_cluster.h"

/*  Write the image and define domain NAME on HOST through CLIENT (deadline 10 s). Copies the
 *  UUID into UUID_OUT and returns 0; -1 with the reason on stderr. */
int vb_cluster_qemu_define (vb_cluster_t *cluster, vb_client_t *client, const char *host,
                            const char *name, char uuid_out[37]);

/*  domain.info of DOMAIN (a name, host/name or UUID), deadline DEADLINE_MS: fills *STATE
 *  (vb_state_t), *PID (the QEMU pid, 0 when not running) and WORKER (SIZE bytes, the answering
 *  worker), each optional. Returns 0, or -1 when no ok reply came. */
int vb_cluster_qemu_info (vb_client_t *client, const char *domain, unsigned deadline_ms,
                          int *state, pid_t *pid, char *worker, size_t size);

/*  Is QEMU PID alive (in /proc, not a zombie)? */
bool vb_cluster_qemu_alive (pid_t pid);

/*  SIGKILL every live QEMU recorded in a status file under the cluster's dir, then wait up to
 *  BOUND_MS until all are gone. Returns how many are still alive (0 = all gone; each one left is
 *  named on stderr). */
int vb_cluster_qemu_kill_all (vb_cluster_t *cluster, int bound_ms);

#endif
