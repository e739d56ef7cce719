/*  vb_netns — network namespaces as hosts, for multi-host tests (root only).
 *
 *  A test network is one "switch" namespace holding a Linux bridge, and one namespace per host
 *  joined to it by a veth pair: `eth0` inside the host, `p<N>` on the bridge. Every host is
 *  10.77.0.<N+1>/24 on that one segment (each network has its own switch, so two networks, in
 *  one process or in parallel runs, never share a segment or collide). Namespace names are
 *  "vbmh<pid>x<serial>-<host>", unique per process and per network; nothing is added to the
 *  root namespace.
 *
 *      vb_netns_t *net = vb_netns_new ();
 *      vb_netns_add_host (net, "A");                 // namespace + link + 10.77.0.2
 *      char **argv = vb_netns_exec_argv (net, "A", worker_argv);   // ip netns exec ... worker
 *      vb_netns_cut (net, "A");  ...  vb_netns_restore (net, "A");
 *      vb_netns_destroy (&net);                      // deletes every namespace it made
 *
 *  A cut sets the host's `eth0` down: its address stays, its connected route goes, so the
 *  host's own sends fail at once (no route) and the bridge drops what is sent to it; TCP
 *  connections are not reset, as with a pulled cable. A restore sets it up again.
 *
 *  Teardown: vb_netns_destroy(), and an atexit handler (installed with the first network) that
 *  deletes every namespace this process made and still holds — so a failed assertion never
 *  leaves one behind. vb_netns_new() also deletes namespaces left by a process that no longer
 *  exists (a test killed by a ctest timeout has no atexit), recognised by the pid in the name.
 *  Kill the processes in a namespace before deleting it: a process keeps its namespace (and its
 *  veth) alive after the name is gone. vb_testproc's atexit handler runs before this one, as it
 *  is installed later (handlers run in reverse order).
 *
 *  Processes run in a host with `ip netns exec NS ...`, which execs the program in place, so
 *  the pid vb_testproc records is the program's own. Single-threaded test programs only: the
 *  list of live namespaces is process-wide, kept because an atexit handler takes no context.
 */
#ifndef VB_NETNS_H
#define VB_NETNS_H

#include <stdbool.h>
#include <stddef.h>

typedef struct _vb_netns_t vb_netns_t;

/*  Can this process make namespaces (root, `ip` present)? When not, WHY (SIZE bytes) says why in
 *  one sentence, for a skip message. */
bool vb_netns_supported (char *why, size_t size);

/*  A new network: the switch namespace with its bridge up. NULL on failure (the `ip` command's
 *  output is printed on stderr, and whatever was made is deleted). */
vb_netns_t *vb_netns_new (void);

/*  Delete every namespace of the network (their veths go with them), switch last. Nulls *SELF_P;
 *  safe on NULL. Returns 0, or -1 when a namespace could not be deleted (named on stderr). */
int vb_netns_destroy (vb_netns_t **self_p);

/*  Add host HOST (a virtbus host name, at most 32 characters): its namespace with loopback up,
 *  and its link to the switch with the next address. Returns the address ("10.77.0.2",
 *  borrowed, valid until destroy) or NULL (message on stderr). */
const char *vb_netns_add_host (vb_netns_t *self, const char *host);

/*  The namespace name of HOST, or NULL for an unknown host. Borrowed. */
const char *vb_netns_name (const vb_netns_t *self, const char *host);

/*  The address of HOST, or NULL for an unknown host. Borrowed. */
const char *vb_netns_addr (const vb_netns_t *self, const char *host);

/*  A new NULL-terminated argv that runs ARGV (argv[0] a path) inside HOST's namespace:
 *  {"/bin/ip", "netns", "exec", NS, argv...}. Strings are borrowed from the network and ARGV;
 *  free only the array. NULL for an unknown host or out of memory. */
char **vb_netns_exec_argv (const vb_netns_t *self, const char *host, char *const argv[]);

/*  Move the calling thread into HOST's namespace (setns), so that the sockets it and the
 *  threads it starts later make (a ZeroMQ context's I/O threads) live there. Call it before the
 *  program makes its first ZeroMQ socket; once per program. Returns 0 or -1 (message on
 *  stderr). */
int vb_netns_enter (const vb_netns_t *self, const char *host);

/*  Cut (eth0 down) or restore (eth0 up) HOST's link. Returns 0 or -1 (message on stderr). */
int vb_netns_cut (vb_netns_t *self, const char *host);
int vb_netns_restore (vb_netns_t *self, const char *host);

/*  Is HOST's link up (as the kernel reports its eth0 flags)? */
bool vb_netns_link_up (const vb_netns_t *self, const char *host);

/*  Does a namespace named NAME exist (/run/netns/NAME)? */
bool vb_netns_exists (const char *name);

#endif
