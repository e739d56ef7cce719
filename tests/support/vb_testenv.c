/*  vb_testenv — one integration test's world (see vb_testenv.h). */
#include "vb_testenv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef VB_BIN_DIR
#error "VB_BIN_DIR must name the directory holding virtbusd, the workers and vbsh"
#endif

#define MAX_PROCS 32
#define MAX_CLIENTS 32
#define MAX_FILES 32
#define MAX_ARGS 64

struct _vb_testenv_t {
    char *dir;
    int heartbeat_ms;
    char bin[PATH_MAX];
    vb_testproc_t *procs[MAX_PROCS];   /* everything started, for teardown */
    size_t nprocs;
    vb_testproc_t *broker;             /* the current broker, also in procs */
    char *clients_ep;
    char *workers_ep;
    char *events_ep;
    vb_client_t *clients[MAX_CLIENTS];
    size_t nclients;
    char *files[MAX_FILES];
    size_t nfiles;
    bool keep;                         /* keep the temp dir: a process did not stop cleanly */
};

/* --- Time -------------------------------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define S_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define S_SANITIZED 1
#endif
#endif
#ifndef S_SANITIZED
#define S_SANITIZED 0
#endif


/*  The daemons' --log-level: $VB_TEST_LOG_LEVEL, else info. */
static char *
s_log_level (void)
{
    static char info[] = "info";
    char *level = getenv ("VB_TEST_LOG_LEVEL");
    return level && *level ? level : info;
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_sleep_ms (int ms)
{
    struct timespec ts = {ms / 1000, (long) (ms % 1000) * 1000 * 1000};
    while (nanosleep (&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int
s_env_int (const char *name, int deflt)
{
    const char *text = getenv (name);
    if (!text || !*text)
        return deflt;
    char *end;
    long value = strtol (text, &end, 10);
    return (*end || value <= 0 || value > 600000) ? deflt : (int) value;
}

bool
vb_test_sanitized (void)
{
    return S_SANITIZED;
}

int
vb_test_margin_ms (void)
{
    return s_env_int ("VB_TEST_MARGIN_MS", S_SANITIZED ? 1500 : 300);
}

int
vb_test_start_timeout_ms (void)
{
    return S_SANITIZED ? 20000 : 5000;
}

bool
vb_test_poll_until (vb_test_cond_fn cond, void *arg, int interval_ms, int bound_ms,
                    int64_t *elapsed_ms)
{
    int64_t start = s_now_ms ();
    int64_t end = start + bound_ms;
    bool met = false;
    while (true) {
        met = cond (arg);
        int64_t now = s_now_ms ();
        if (met || now >= end) {
            if (elapsed_ms)
                *elapsed_ms = now - start;
            break;
        }
        int64_t left = end - now;
        s_sleep_ms (left < interval_ms ? (int) left : interval_ms);
    }
    return met;
}

static bool
s_port_free (void *arg)
{
    const struct sockaddr_in *addr = arg;
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bool free_now = bind (fd, (const struct sockaddr *) addr, sizeof *addr) == 0;
    close (fd);
    return free_now;
}

bool
vb_test_wait_port_free (const char *endpoint, int bound_ms)
{
    char host[64];
    int port = 0;
    if (sscanf (endpoint, "tcp://%63[^:]:%d", host, &port) != 2 || port <= 0 || port > 65535)
        return false;
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) port)};
    if (inet_pton (AF_INET, host, &addr.sin_addr) != 1)
        return false;
    return vb_test_poll_until (s_port_free, &addr, 5, bound_ms, NULL);
}

char *
vb_test_tmpdir_new (const char *name)
{
    const char *base = getenv ("TMPDIR");
    char *path = NULL;
    if (!base || !*base)
        base = "/tmp";
    if (asprintf (&path, "%s/vbtest-%s-XXXXXX", base, name) < 0)
        return NULL;
    if (!mkdtemp (path)) {
        fprintf (stderr, "vb_testenv: cannot create %s: %s\n", path, strerror (errno));
        free (path);
        return NULL;
    }
    return path;
}

static int
s_remove_entry (const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void) st;
    (void) type;
    (void) ftw;
    if (remove (path) < 0 && errno != ENOENT)
        fprintf (stderr, "vb_testenv: cannot remove %s: %s\n", path, strerror (errno));
    return 0;
}

int
vb_test_tmpdir_remove (const char *path)
{
    if (!path || !*path || strcmp (path, "/") == 0)
        return -1;
    return nftw (path, s_remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 ? 0 : -1;
}

/* --- The environment --------------------------------------------------------------------- */

vb_testenv_t *
vb_testenv_new (const char *name, int heartbeat_ms)
{
    vb_testenv_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->heartbeat_ms = heartbeat_ms > 0
                         ? heartbeat_ms : s_env_int ("VB_TEST_HEARTBEAT_MS", VB_TEST_HEARTBEAT_MS);
    self->dir = vb_test_tmpdir_new (name);
    if (!self->dir) {
        free (self);
        return NULL;
    }
    return self;
}

void
vb_testenv_destroy (vb_testenv_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vb_testenv_t *self = *self_p;
    for (size_t i = 0; i < self->nclients; i++)
        vb_client_destroy (&self->clients[i]);
    for (size_t i = 0; i < self->nprocs; i++)
        vb_testproc_destroy (&self->procs[i]);
    if (getenv ("VB_TEST_KEEP") || self->keep)
        fprintf (stderr, "vb_testenv: kept %s\n", self->dir);
    else
        vb_test_tmpdir_remove (self->dir);
    for (size_t i = 0; i < self->nfiles; i++)
        free (self->files[i]);
    free (self->dir);
    free (self->clients_ep);
    free (self->workers_ep);
    free (self->events_ep);
    free (self);
    *self_p = NULL;
}

int
vb_testenv_stop (vb_testenv_t *self)
{
    int rc = 0;
    /* Clients first, so no process is left answering a request at exit. */
    for (size_t i = 0; i < self->nclients; i++)
        vb_client_destroy (&self->clients[i]);
    self->nclients = 0;
    /* Workers before the broker (started later, stopped first), as an operator would. */
    int64_t end = s_now_ms () + (S_SANITIZED ? 30000 : 10000);
    for (size_t i = self->nprocs; i-- > 0;) {
        int64_t left = end - s_now_ms ();
        if (vb_testproc_stop (self->procs[i], left > 100 ? (int) left : 100) < 0)
            rc = -1;
    }
    if (rc < 0) {
        self->keep = true;
        fprintf (stderr, "vb_testenv: keeping %s for its logs\n", self->dir);
    }
    return rc;
}

const char *
vb_testenv_dir (const vb_testenv_t *self)
{
    return self->dir;
}

int
vb_testenv_heartbeat_ms (const vb_testenv_t *self)
{
    return self->heartbeat_ms;
}

int
vb_testenv_intervals_ms (const vb_testenv_t *self, double n)
{
    return (int) (n * self->heartbeat_ms) + vb_test_margin_ms ();
}

const char *
vb_testenv_bin (vb_testenv_t *self, const char *program)
{
    const char *dir = getenv ("VB_BIN_DIR");
    if (!dir || !*dir)
        dir = VB_BIN_DIR;
    snprintf (self->bin, sizeof self->bin, "%s/%s", dir, program);
    return self->bin;
}

/*  Start ARGV as NAME, record it, wait for the ready line. */
static vb_testproc_t *
s_start (vb_testenv_t *self, const char *name, char *const argv[])
{
    if (self->nprocs == MAX_PROCS) {
        fprintf (stderr, "vb_testenv: more than %d processes in one test\n", MAX_PROCS);
        return NULL;
    }
    vb_testproc_t *proc = vb_testproc_start (name, self->dir, argv);
    if (!proc)
        return NULL;
    self->procs[self->nprocs++] = proc;
    if (vb_testproc_wait_ready (proc, vb_test_start_timeout_ms ()) < 0)
        return NULL;
    return proc;
}

static int
s_set (char **slot, const char *value)
{
    char *copy = value ? strdup (value) : NULL;
    if (value && !copy)
        return -1;
    free (*slot);
    *slot = copy;
    return 0;
}

vb_testproc_t *
vb_testenv_start_broker_on (vb_testenv_t *self, const char *clients, const char *workers,
                            const char *events)
{
    const char *any = "tcp://127.0.0.1:*";
    char hb[16], state[PATH_MAX], bin[PATH_MAX], name[32];
    snprintf (hb, sizeof hb, "%d", self->heartbeat_ms);
    snprintf (state, sizeof state, "%s/broker", self->dir);
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (self, "virtbusd"));
    snprintf (name, sizeof name, "broker-%zu", self->nprocs);
    char *argv[] = {bin, "--clients", (char *) (clients ? clients : any),
                    "--workers", (char *) (workers ? workers : any),
                    "--events", (char *) (events ? events : any),
                    "--state-dir", state, "--heartbeat-ms", hb, "--log-level", s_log_level (), NULL};
    vb_testproc_t *proc = s_start (self, name, argv);
    if (!proc)
        return NULL;
    const char *c = vb_testproc_ready_value (proc, "clients");
    const char *w = vb_testproc_ready_value (proc, "workers");
    const char *e = vb_testproc_ready_value (proc, "events");
    if (!c || !w || !e) {
        fprintf (stderr, "vb_testenv: broker ready line lacks an endpoint: '%s'\n",
                 vb_testproc_ready_line (proc));
        return NULL;
    }
    if (s_set (&self->clients_ep, c) < 0 || s_set (&self->workers_ep, w) < 0
        || s_set (&self->events_ep, e) < 0)
        return NULL;
    self->broker = proc;
    return proc;
}

vb_testproc_t *
vb_testenv_start_broker (vb_testenv_t *self)
{
    return vb_testenv_start_broker_on (self, NULL, NULL, NULL);
}

vb_testproc_t *
vb_testenv_broker (vb_testenv_t *self)
{
    return self->broker;
}

void
vb_testenv_kill_broker (vb_testenv_t *self)
{
    if (!self->broker)
        return;
    for (size_t i = 0; i < self->nprocs; i++) {
        if (self->procs[i] == self->broker) {
            vb_testproc_destroy (&self->procs[i]);
            self->procs[i] = self->procs[--self->nprocs];
            break;
        }
    }
    self->broker = NULL;
}

const char *
vb_testenv_clients_ep (const vb_testenv_t *self)
{
    return self->clients_ep;
}

const char *
vb_testenv_workers_ep (const vb_testenv_t *self)
{
    return self->workers_ep;
}

const char *
vb_testenv_events_ep (const vb_testenv_t *self)
{
    return self->events_ep;
}

vb_testproc_t *
vb_testenv_start_worker (vb_testenv_t *self, const char *program, const char *host,
                         const char *id)
{
    if (!self->workers_ep) {
        fprintf (stderr, "vb_testenv: start the broker before worker %s\n", host);
        return NULL;
    }
    char hb[16], state[PATH_MAX], bin[PATH_MAX], name[128];
    snprintf (hb, sizeof hb, "%d", self->heartbeat_ms);
    snprintf (state, sizeof state, "%s/state-%s-%s", self->dir, host, id ? id : "default");
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (self, program));
    snprintf (name, sizeof name, "%s-%s-%s", program, host, id ? id : "default");
    char *argv[] = {bin, "--broker", self->workers_ep, "--host", (char *) host,
                    "--state-dir", state, "--heartbeat-ms", hb, "--log-level", s_log_level (),
                    id ? "--id" : NULL, (char *) id, NULL};
    return s_start (self, name, argv);
}

vb_client_t *
vb_testenv_client (vb_testenv_t *self)
{
    if (!self->clients_ep || self->nclients == MAX_CLIENTS)
        return NULL;
    vb_error_t err = {0};
    vb_client_t *client = vb_client_new (self->clients_ep, &err);
    if (!client) {
        fprintf (stderr, "vb_testenv: cannot make a client for %s: %s\n", self->clients_ep,
                 err.message);
        return NULL;
    }
    self->clients[self->nclients++] = client;
    return client;
}

int
vb_testenv_vbsh (vb_testenv_t *self, vb_testrun_t *run, const char *arg, ...)
{
    char bin[PATH_MAX];
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (self, "vbsh"));
    char *argv[MAX_ARGS];
    size_t argc = 0;
    argv[argc++] = bin;
    argv[argc++] = "-c";
    argv[argc++] = self->clients_ep ? self->clients_ep : "tcp://127.0.0.1:1";
    va_list ap;
    va_start (ap, arg);
    for (const char *a = arg; a && argc < MAX_ARGS - 1; a = va_arg (ap, const char *))
        argv[argc++] = (char *) a;
    va_end (ap);
    argv[argc] = NULL;
    return vb_testrun (run, S_SANITIZED ? 60000 : 15000, argv);
}

const char *
vb_testenv_write_file (vb_testenv_t *self, const char *name, const char *text)
{
    if (self->nfiles == MAX_FILES)
        return NULL;
    char *path = NULL;
    if (asprintf (&path, "%s/%s", self->dir, name) < 0)
        return NULL;
    FILE *f = fopen (path, "we");
    if (!f) {
        free (path);
        return NULL;
    }
    bool ok = fputs (text, f) >= 0;
    ok = (fclose (f) == 0) && ok;
    if (!ok) {
        free (path);
        return NULL;
    }
    self->files[self->nfiles++] = path;
    return path;
}
