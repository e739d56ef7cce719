/*  vb_netns — network namespaces as hosts (see vb_netns.h). */
#include "vb_netns.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vb_testproc.h"

#define S_IP "/bin/ip"
#define S_PREFIX "vbmh"
#define S_NETNS_DIR "/run/netns"
#define S_MAX_HOSTS 16
#define S_MAX_LIVE 64
#define S_NAME_MAX 64
#define S_IP_TIMEOUT_MS 10000

typedef struct {
    char host[33];
    char ns[S_NAME_MAX];
    char addr[16];
    char port[16];       /* the switch-side end of its veth */
} s_host_t;

struct _vb_netns_t {
    char prefix[32];         /* "vbmh<pid>x<serial>": every namespace name starts with it */
    char switch_ns[S_NAME_MAX];
    s_host_t hosts[S_MAX_HOSTS];
    size_t nhosts;
};

/*  Namespaces this process made and has not deleted yet, for the atexit handler (which takes no
 *  context), and the serial that keeps the networks of one process apart. */
static char s_live[S_MAX_LIVE][S_NAME_MAX];
static size_t s_nlive;
static bool s_atexit_installed;
static unsigned s_serial;

/*  Run `ip ARGS...` (NULL-terminated, at most 15). Returns 0 when it exited 0; otherwise prints
 *  the command and its stderr and returns -1. With OUT, hands over its stdout (caller frees). */
static int
s_ip (char **out, const char *arg, ...)
{
    char *argv[16];
    size_t argc = 0;
    argv[argc++] = S_IP;
    va_list ap;
    va_start (ap, arg);
    for (const char *a = arg; a && argc < 15; a = va_arg (ap, const char *))
        argv[argc++] = (char *) a;
    va_end (ap);
    argv[argc] = NULL;

    vb_testrun_t run;
    int rc = vb_testrun (&run, S_IP_TIMEOUT_MS, argv);
    if (rc != 0 || run.exit_code != 0) {
        fprintf (stderr, "vb_netns: command failed (exit %d%s):", run.exit_code,
                 run.timed_out ? ", timed out" : "");
        for (size_t i = 0; i < argc; i++)
            fprintf (stderr, " %s", argv[i]);
        fprintf (stderr, "\n%s", run.err);
        rc = -1;
    }
    if (out && rc == 0) {
        *out = run.out;
        run.out = NULL;
    }
    vb_testrun_clear (&run);
    return rc;
}

bool
vb_netns_exists (const char *name)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%s", S_NETNS_DIR, name);
    struct stat st;
    return stat (path, &st) == 0;
}

static void
s_live_add (const char *ns)
{
    if (s_nlive < S_MAX_LIVE)
        snprintf (s_live[s_nlive++], S_NAME_MAX, "%s", ns);
}

static void
s_live_remove (const char *ns)
{
    for (size_t i = 0; i < s_nlive; i++) {
        if (strcmp (s_live[i], ns) == 0) {
            memmove (s_live[i], s_live[--s_nlive], S_NAME_MAX);
            return;
        }
    }
}

/*  Delete namespace NS if it exists. Returns 0 when it is gone. */
static int
s_delete (const char *ns)
{
    int rc = 0;
    if (vb_netns_exists (ns))
        rc = s_ip (NULL, "netns", "delete", ns, NULL);
    if (rc == 0)
        s_live_remove (ns);
    return rc;
}

/*  Hosts before the switch (reverse creation order), so no host end outlives its bridge. */
static void
s_atexit (void)
{
    while (s_nlive > 0) {
        char ns[S_NAME_MAX];
        snprintf (ns, sizeof ns, "%s", s_live[s_nlive - 1]);
        if (s_delete (ns) != 0)
            s_live_remove (ns);   /* reported; do not loop on it */
    }
}

/*  Delete namespaces named for a process that no longer exists: left by a test that was killed
 *  before its atexit handler could run. Namespaces of live processes (parallel runs) are
 *  theirs. */
static void
s_sweep_stale (void)
{
    DIR *dir = opendir (S_NETNS_DIR);
    if (!dir)
        return;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        int pid = 0;
        unsigned serial = 0;
        if (sscanf (entry->d_name, S_PREFIX "%dx%u-", &pid, &serial) != 2 || pid <= 0)
            continue;
        if (kill ((pid_t) pid, 0) == 0 || errno != ESRCH)
            continue;
        fprintf (stderr, "vb_netns: deleting %s, left by process %d that is gone\n",
                 entry->d_name, pid);
        s_ip (NULL, "netns", "delete", entry->d_name, NULL);
    }
    closedir (dir);
}

/*  Create namespace NS with loopback up, recorded for teardown. */
static int
s_create (const char *ns)
{
    if (s_ip (NULL, "netns", "add", ns, NULL) != 0)
        return -1;
    s_live_add (ns);
    return s_ip (NULL, "-n", ns, "link", "set", "lo", "up", NULL);
}

bool
vb_netns_supported (char *why, size_t size)
{
    if (geteuid () != 0) {
        snprintf (why, size, "multi-host tests need root to make network namespaces "
                  "(running as uid %d)", (int) geteuid ());
        return false;
    }
    if (access (S_IP, X_OK) != 0) {
        snprintf (why, size, "multi-host tests need %s (iproute2) to make network namespaces",
                  S_IP);
        return false;
    }
    return true;
}

vb_netns_t *
vb_netns_new (void)
{
    vb_netns_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    if (!s_atexit_installed) {
        s_sweep_stale ();
        atexit (s_atexit);
        s_atexit_installed = true;
    }
    snprintf (self->prefix, sizeof self->prefix, S_PREFIX "%dx%u", (int) getpid (), s_serial++);
    snprintf (self->switch_ns, sizeof self->switch_ns, "%s-switch", self->prefix);
    if (s_create (self->switch_ns) != 0
        || s_ip (NULL, "-n", self->switch_ns, "link", "add", "br0", "type", "bridge", NULL) != 0
        || s_ip (NULL, "-n", self->switch_ns, "link", "set", "br0", "up", NULL) != 0) {
        vb_netns_destroy (&self);
        return NULL;
    }
    return self;
}

int
vb_netns_destroy (vb_netns_t **self_p)
{
    if (!self_p || !*self_p)
        return 0;
    vb_netns_t *self = *self_p;
    int rc = 0;
    for (size_t i = self->nhosts; i-- > 0;)
        if (s_delete (self->hosts[i].ns) != 0)
            rc = -1;
    if (self->switch_ns[0] && s_delete (self->switch_ns) != 0)
        rc = -1;
    free (self);
    *self_p = NULL;
    return rc;
}

static const s_host_t *
s_find (const vb_netns_t *self, const char *host)
{
    for (size_t i = 0; host && i < self->nhosts; i++)
        if (strcmp (self->hosts[i].host, host) == 0)
            return &self->hosts[i];
    return NULL;
}

const char *
vb_netns_add_host (vb_netns_t *self, const char *host)
{
    if (!host || !*host || strlen (host) > 32 || strchr (host, '/') || s_find (self, host)) {
        fprintf (stderr, "vb_netns: host name '%s' is empty, too long, has a '/' or is "
                 "taken\n", host ? host : "(null)");
        return NULL;
    }
    if (self->nhosts == S_MAX_HOSTS) {
        fprintf (stderr, "vb_netns: more than %d hosts in one network\n", S_MAX_HOSTS);
        return NULL;
    }
    s_host_t *h = &self->hosts[self->nhosts];
    memset (h, 0, sizeof *h);
    snprintf (h->host, sizeof h->host, "%s", host);
    snprintf (h->ns, sizeof h->ns, "%s-%s", self->prefix, host);
    snprintf (h->addr, sizeof h->addr, "10.77.0.%zu", self->nhosts + 2);
    snprintf (h->port, sizeof h->port, "p%zu", self->nhosts);
    char cidr[24];
    snprintf (cidr, sizeof cidr, "%s/24", h->addr);

    if (s_create (h->ns) != 0)
        goto fail;
    /* The host end is made inside the host's namespace at once, so no interface ever appears
     * in another namespace under a name that could collide. */
    if (s_ip (NULL, "-n", self->switch_ns, "link", "add", h->port, "type", "veth", "peer",
              "name", "eth0", "netns", h->ns, NULL) != 0
        || s_ip (NULL, "-n", self->switch_ns, "link", "set", h->port, "master", "br0", NULL) != 0
        || s_ip (NULL, "-n", self->switch_ns, "link", "set", h->port, "up", NULL) != 0
        || s_ip (NULL, "-n", h->ns, "addr", "add", cidr, "dev", "eth0", NULL) != 0
        || s_ip (NULL, "-n", h->ns, "link", "set", "eth0", "up", NULL) != 0)
        goto fail;
    self->nhosts++;
    return h->addr;

fail:
    s_delete (h->ns);
    return NULL;
}

const char *
vb_netns_name (const vb_netns_t *self, const char *host)
{
    const s_host_t *h = s_find (self, host);
    return h ? h->ns : NULL;
}

const char *
vb_netns_addr (const vb_netns_t *self, const char *host)
{
    const s_host_t *h = s_find (self, host);
    return h ? h->addr : NULL;
}

char **
vb_netns_exec_argv (const vb_netns_t *self, const char *host, char *const argv[])
{
    const s_host_t *h = s_find (self, host);
    if (!h) {
        fprintf (stderr, "vb_netns: no host '%s' in this network\n", host ? host : "(null)");
        return NULL;
    }
    size_t argc = 0;
    while (argv[argc])
        argc++;
    char **out = calloc (argc + 5, sizeof *out);
    if (!out)
        return NULL;
    out[0] = S_IP;
    out[1] = "netns";
    out[2] = "exec";
    out[3] = (char *) h->ns;
    for (size_t i = 0; i < argc; i++)
        out[4 + i] = argv[i];
    return out;
}

int
vb_netns_enter (const vb_netns_t *self, const char *host)
{
    const s_host_t *h = s_find (self, host);
    if (!h) {
        fprintf (stderr, "vb_netns: no host '%s' to enter\n", host ? host : "(null)");
        return -1;
    }
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%s", S_NETNS_DIR, h->ns);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || setns (fd, CLONE_NEWNET) != 0) {
        fprintf (stderr, "vb_netns: cannot enter %s: %s\n", path, strerror (errno));
        if (fd >= 0)
            close (fd);
        return -1;
    }
    close (fd);
    return 0;
}

static int
s_set_link (vb_netns_t *self, const char *host, const char *state)
{
    const s_host_t *h = s_find (self, host);
    if (!h) {
        fprintf (stderr, "vb_netns: no host '%s' whose link to set %s\n",
                 host ? host : "(null)", state);
        return -1;
    }
    return s_ip (NULL, "-n", h->ns, "link", "set", "dev", "eth0", state, NULL);
}

int
vb_netns_cut (vb_netns_t *self, const char *host)
{
    return s_set_link (self, host, "down");
}

int
vb_netns_restore (vb_netns_t *self, const char *host)
{
    return s_set_link (self, host, "up");
}

bool
vb_netns_link_up (const vb_netns_t *self, const char *host)
{
    const s_host_t *h = s_find (self, host);
    char *out = NULL;
    if (!h || s_ip (&out, "-n", h->ns, "-o", "link", "show", "dev", "eth0", NULL) != 0)
        return false;
    /* "2: eth0@if5: <BROADCAST,MULTICAST,UP,LOWER_UP> ..." — UP among the flags. */
    bool up = false;
    char *open = strchr (out, '<'), *end = open ? strchr (open, '>') : NULL;
    if (end) {
        *end = '\0';
        char *save = NULL;
        for (char *flag = strtok_r (open + 1, ",", &save); flag;
             flag = strtok_r (NULL, ",", &save))
            if (strcmp (flag, "UP") == 0)
                up = true;
    }
    free (out);
    return up;
}
