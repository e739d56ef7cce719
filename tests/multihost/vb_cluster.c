/*  vb_cluster — a multi-host virtbus test bed (see vb_cluster.h). */
#include "vb_cluster.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "vb_testenv.h"

#ifndef VB_BIN_DIR
#error "VB_BIN_DIR must name the directory holding virtbusd, the workers and vbsh"
#endif

#define S_MAX_PROCS 32
#define S_MAX_CLIENTS 16
#define S_MAX_ARGS 64

struct _vb_cluster_t {
    char *dir;
    int heartbeat_ms;
    vb_netns_t *net;
    vb_testproc_t *procs[S_MAX_PROCS];   /* everything started, in start order */
    size_t nprocs;
    char *clients_ep;
    char *workers_ep;
    char *events_ep;
    char *client_host;                   /* the namespace this program entered, or NULL */
    vb_client_t *clients[S_MAX_CLIENTS];
    size_t nclients;
    char path[PATH_MAX];                 /* vb_cluster_state_dir / run_dir / s_bin answers */
    bool keep;                           /* a process did not stop cleanly: keep the logs */
};

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
s_env_heartbeat (void)
{
    const char *text = getenv ("VB_TEST_HEARTBEAT_MS");
    char *end = NULL;
    long value = text && *text ? strtol (text, &end, 10) : 0;
    return (end && *end == '\0' && value > 0 && value <= 600000) ? (int) value
                                                                  : VB_TEST_HEARTBEAT_MS;
}

static int
s_mkdir (const char *path)
{
    if (mkdir (path, 0755) != 0 && errno != EEXIST) {
        fprintf (stderr, "vb_cluster: cannot create %s: %s\n", path, strerror (errno));
        return -1;
    }
    return 0;
}

static const char *
s_bin (vb_cluster_t *self, const char *program)
{
    const char *dir = getenv ("VB_BIN_DIR");
    if (!dir || !*dir)
        dir = VB_BIN_DIR;
    snprintf (self->path, sizeof self->path, "%s/%s", dir, program);
    return self->path;
}

static int
s_set (char **slot, const char *value)
{
    char *copy = strdup (value);
    if (!copy)
        return -1;
    free (*slot);
    *slot = copy;
    return 0;
}

vb_cluster_t *
vb_cluster_new (const char *name, int heartbeat_ms)
{
    vb_cluster_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->heartbeat_ms = heartbeat_ms > 0 ? heartbeat_ms : s_env_heartbeat ();
    self->dir = vb_test_tmpdir_new (name);
    char hosts[PATH_MAX];
    if (self->dir)
        snprintf (hosts, sizeof hosts, "%s/hosts", self->dir);
    if (!self->dir || s_mkdir (hosts) != 0 || !(self->net = vb_netns_new ())) {
        vb_cluster_destroy (&self);
        return NULL;
    }
    return self;
}

int
vb_cluster_stop (vb_cluster_t *self)
{
    int rc = 0;
    for (size_t i = 0; i < self->nclients; i++)
        vb_client_destroy (&self->clients[i]);
    self->nclients = 0;
    /* Workers before the broker (started later, stopped first), as an operator would. */
    int64_t end = s_now_ms () + (vb_test_sanitized () ? 30000 : 10000);
    for (size_t i = self->nprocs; i-- > 0;) {
        int64_t left = end - s_now_ms ();
        if (vb_testproc_stop (self->procs[i], left > 100 ? (int) left : 100) < 0)
            rc = -1;
    }
    if (rc < 0) {
        self->keep = true;
        fprintf (stderr, "vb_cluster: keeping %s for its logs\n", self->dir);
    }
    return rc;
}

void
vb_cluster_destroy (vb_cluster_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vb_cluster_t *self = *self_p;
    for (size_t i = 0; i < self->nclients; i++)
        vb_client_destroy (&self->clients[i]);
    /* Processes before namespaces: a process inside keeps its namespace and veth alive. */
    for (size_t i = 0; i < self->nprocs; i++)
        vb_testproc_destroy (&self->procs[i]);
    vb_netns_destroy (&self->net);
    if (self->dir) {
        if (getenv ("VB_TEST_KEEP") || self->keep)
            fprintf (stderr, "vb_cluster: kept %s\n", self->dir);
        else
            vb_test_tmpdir_remove (self->dir);
    }
    free (self->dir);
    free (self->clients_ep);
    free (self->workers_ep);
    free (self->events_ep);
    free (self->client_host);
    free (self);
    *self_p = NULL;
}

const char *
vb_cluster_dir (const vb_cluster_t *self)
{
    return self->dir;
}

int
vb_cluster_heartbeat_ms (const vb_cluster_t *self)
{
    return self->heartbeat_ms;
}

int
vb_cluster_intervals_ms (const vb_cluster_t *self, double n)
{
    return (int) (n * self->heartbeat_ms) + vb_test_margin_ms ();
}

vb_netns_t *
vb_cluster_net (vb_cluster_t *self)
{
    return self->net;
}

/* --- Hosts ------------------------------------------------------------------------------- */

static const char *
s_host_path (vb_cluster_t *self, const char *host, const char *leaf)
{
    snprintf (self->path, sizeof self->path, "%s/hosts/%s%s%s", self->dir, host,
              leaf ? "/" : "", leaf ? leaf : "");
    return self->path;
}

const char *
vb_cluster_add_host (vb_cluster_t *self, const char *host)
{
    const char *addr = vb_netns_add_host (self->net, host);
    if (!addr)
        return NULL;
    if (s_mkdir (s_host_path (self, host, NULL)) != 0
        || s_mkdir (s_host_path (self, host, "state")) != 0
        || s_mkdir (s_host_path (self, host, "run")) != 0)
        return NULL;
    return addr;
}

const char *
vb_cluster_host_addr (const vb_cluster_t *self, const char *host)
{
    return vb_netns_addr (self->net, host);
}

const char *
vb_cluster_state_dir (vb_cluster_t *self, const char *host)
{
    return s_host_path (self, host, "state");
}

const char *
vb_cluster_run_dir (vb_cluster_t *self, const char *host)
{
    return s_host_path (self, host, "run");
}

int
vb_cluster_cut (vb_cluster_t *self, const char *host)
{
    return vb_netns_cut (self->net, host);
}

int
vb_cluster_restore (vb_cluster_t *self, const char *host)
{
    return vb_netns_restore (self->net, host);
}

/* --- Processes --------------------------------------------------------------------------- */

/*  Start ARGV on HOST as NAME, record it, wait for its ready line. */
static vb_testproc_t *
s_start (vb_cluster_t *self, const char *host, const char *name, char *const argv[])
{
    if (self->nprocs == S_MAX_PROCS) {
        fprintf (stderr, "vb_cluster: more than %d processes in one test\n", S_MAX_PROCS);
        return NULL;
    }
    char **full = vb_netns_exec_argv (self->net, host, argv);
    if (!full)
        return NULL;
    vb_testproc_t *proc = vb_testproc_start (name, self->dir, full);
    free (full);
    if (!proc)
        return NULL;
    self->procs[self->nprocs++] = proc;
    if (vb_testproc_wait_ready (proc, vb_test_start_timeout_ms ()) < 0)
        return NULL;
    return proc;
}

/*  Does endpoint EP ("tcp://ADDR:PORT") name exactly ADDR? */
static bool
s_names_addr (const char *ep, const char *addr)
{
    size_t len = strlen (addr);
    return ep && strncmp (ep, "tcp://", 6) == 0 && strncmp (ep + 6, addr, len) == 0
           && ep[6 + len] == ':';
}

vb_testproc_t *
vb_cluster_start_broker (vb_cluster_t *self, const char *host)
{
    const char *addr = vb_netns_addr (self->net, host);
    if (!addr) {
        fprintf (stderr, "vb_cluster: no host '%s' for the broker\n", host);
        return NULL;
    }
    char hb[16], state[PATH_MAX], bin[PATH_MAX], name[64], advertise[16];
    snprintf (hb, sizeof hb, "%d", self->heartbeat_ms);
    snprintf (state, sizeof state, "%s/broker", self->dir);
    snprintf (bin, sizeof bin, "%s", s_bin (self, "virtbusd"));
    snprintf (name, sizeof name, "virtbusd-%s-%zu", host, self->nprocs);
    snprintf (advertise, sizeof advertise, "%s", addr);
    char *argv[] = {bin, "--clients", "tcp://0.0.0.0:*", "--workers", "tcp://0.0.0.0:*",
                    "--events", "tcp://0.0.0.0:*", "--advertise", advertise,
                    "--state-dir", state, "--heartbeat-ms", hb, "--log-level", "info",
                    /*  No keys in this bed (test_security_keys covers them): accept the
                     *  non-loopback bind explicitly, as virtbusd requires. */
                    "--insecure", NULL};
    vb_testproc_t *proc = s_start (self, host, name, argv);
    if (!proc)
        return NULL;
    const char *c = vb_testproc_ready_value (proc, "clients");
    const char *w = vb_testproc_ready_value (proc, "workers");
    const char *e = vb_testproc_ready_value (proc, "events");
    if (!s_names_addr (c, addr) || !s_names_addr (w, addr) || !s_names_addr (e, addr)) {
        fprintf (stderr, "vb_cluster: virtbusd bound to 0.0.0.0 with --advertise %s should "
                 "advertise that address, but its ready line is '%s'\n", addr,
                 vb_testproc_ready_line (proc));
        return NULL;
    }
    if (s_set (&self->clients_ep, c) < 0 || s_set (&self->workers_ep, w) < 0
        || s_set (&self->events_ep, e) < 0)
        return NULL;
    return proc;
}

const char *
vb_cluster_clients_ep (const vb_cluster_t *self)
{
    return self->clients_ep;
}

const char *
vb_cluster_workers_ep (const vb_cluster_t *self)
{
    return self->workers_ep;
}

const char *
vb_cluster_events_ep (const vb_cluster_t *self)
{
    return self->events_ep;
}

vb_testproc_t *
vb_cluster_start_worker (vb_cluster_t *self, const char *program, const char *host,
                         const char *id, const char *const extra[])
{
    if (!self->workers_ep) {
        fprintf (stderr, "vb_cluster: start the broker before worker %s on %s\n", program,
                 host);
        return NULL;
    }
    char hb[16], state[PATH_MAX], bin[PATH_MAX], name[128];
    snprintf (hb, sizeof hb, "%d", self->heartbeat_ms);
    snprintf (state, sizeof state, "%s", vb_cluster_state_dir (self, host));
    snprintf (bin, sizeof bin, "%s", s_bin (self, program));
    snprintf (name, sizeof name, "%s-%s-%s", program, host, id ? id : "default");
    char *argv[S_MAX_ARGS];
    size_t argc = 0;
    char *fixed[] = {bin, "--broker", self->workers_ep, "--host", (char *) host,
                     "--state-dir", state, "--heartbeat-ms", hb, "--log-level", "info", NULL};
    for (size_t i = 0; fixed[i]; i++)
        argv[argc++] = fixed[i];
    if (id) {
        argv[argc++] = "--id";
        argv[argc++] = (char *) id;
    }
    for (size_t i = 0; extra && extra[i] && argc < S_MAX_ARGS - 1; i++)
        argv[argc++] = (char *) extra[i];
    argv[argc] = NULL;
    return s_start (self, host, name, argv);
}

int
vb_cluster_vbsh (vb_cluster_t *self, const char *host, vb_testrun_t *run, const char *arg, ...)
{
    char bin[PATH_MAX];
    snprintf (bin, sizeof bin, "%s", s_bin (self, "vbsh"));
    char *argv[S_MAX_ARGS];
    size_t argc = 0;
    argv[argc++] = bin;
    argv[argc++] = "-c";
    argv[argc++] = self->clients_ep ? self->clients_ep : "tcp://127.0.0.1:1";
    va_list ap;
    va_start (ap, arg);
    for (const char *a = arg; a && argc < S_MAX_ARGS - 1; a = va_arg (ap, const char *))
        argv[argc++] = (char *) a;
    va_end (ap);
    argv[argc] = NULL;
    char **full = vb_netns_exec_argv (self->net, host, argv);
    if (!full) {
        memset (run, 0, sizeof *run);
        run->exit_code = -1;
        run->out = strdup ("");
        run->err = strdup ("vb_cluster: no such host\n");
        return -1;
    }
    int rc = vb_testrun (run, vb_test_sanitized () ? 60000 : 15000, full);
    free (full);
    return rc;
}

vb_client_t *
vb_cluster_client (vb_cluster_t *self, const char *host)
{
    if (!self->clients_ep || self->nclients == S_MAX_CLIENTS)
        return NULL;
    if (self->client_host && strcmp (self->client_host, host) != 0) {
        fprintf (stderr, "vb_cluster: this program already lives on host %s, not %s\n",
                 self->client_host, host);
        return NULL;
    }
    if (!self->client_host) {
        if (vb_netns_enter (self->net, host) != 0 || s_set (&self->client_host, host) < 0)
            return NULL;
    }
    vb_error_t err = {0};
    vb_client_t *client = vb_client_new (self->clients_ep, &err);
    if (!client) {
        fprintf (stderr, "vb_cluster: cannot make a client for %s: %s\n", self->clients_ep,
                 err.message);
        return NULL;
    }
    self->clients[self->nclients++] = client;
    return client;
}
