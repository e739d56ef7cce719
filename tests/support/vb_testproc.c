/*  vb_testproc — child processes for integration tests (see vb_testproc.h). */
#include "vb_testproc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_MAX_WORDS 32
#define OUT_MAX (1u << 20)

struct _vb_testproc_t {
    char *name;
    char *log_path;
    pid_t pid;
    int out_fd;         /* read end of the stdout pipe, -1 once closed */
    bool reaped;
    int status;         /* wait status once reaped */
    int sent_signal;    /* the last terminating signal the test sent (SIGKILL, SIGTERM), or 0 */
    bool stopped;       /* the test sent SIGSTOP and no SIGCONT since */
    char *out;          /* stdout collected so far (bounded by OUT_MAX) */
    size_t out_len;
    char *ready_line;   /* copy of the ready line, NULL until it arrived */
    char *ready_words;  /* ready line split in place into key\0value\0 pairs */
    const char *keys[READY_MAX_WORDS];
    const char *values[READY_MAX_WORDS];
    size_t nwords;
};

/*  The registry of live processes, for teardown from atexit (which takes no context). */
static vb_testproc_t **s_registry;
static size_t s_registry_len;
static size_t s_registry_cap;
static bool s_atexit_installed;

static void s_kill (vb_testproc_t *self);

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_atexit (void)
{
    vb_testproc_kill_all ();
}

static int
s_registry_add (vb_testproc_t *proc)
{
    if (s_registry_len == s_registry_cap) {
        size_t cap = s_registry_cap ? s_registry_cap * 2 : 16;
        vb_testproc_t **grown = realloc (s_registry, cap * sizeof *grown);
        if (!grown)
            return -1;
        s_registry = grown;
        s_registry_cap = cap;
    }
    s_registry[s_registry_len++] = proc;
    if (!s_atexit_installed) {
        atexit (s_atexit);
        s_atexit_installed = true;
    }
    return 0;
}

static void
s_registry_remove (vb_testproc_t *proc)
{
    for (size_t i = 0; i < s_registry_len; i++) {
        if (s_registry[i] == proc) {
            s_registry[i] = s_registry[--s_registry_len];
            break;
        }
    }
    if (s_registry_len == 0) {
        free (s_registry);
        s_registry = NULL;
        s_registry_cap = 0;
    }
}

/*  In the child, between fork and exec: own process group, die with the parent, the standard
 *  fds as asked, default signal handling. Only async-signal-safe calls. */
static void
s_child_setup (pid_t parent, int in_fd, int out_fd, int err_fd)
{
    setpgid (0, 0);
    prctl (PR_SET_PDEATHSIG, SIGKILL);
    if (getppid () != parent)
        _exit (127);
    if (dup2 (in_fd, STDIN_FILENO) < 0 || dup2 (out_fd, STDOUT_FILENO) < 0
        || dup2 (err_fd, STDERR_FILENO) < 0)
        _exit (127);
    sigset_t none;
    sigemptyset (&none);
    sigprocmask (SIG_SETMASK, &none, NULL);
    signal (SIGPIPE, SIG_DFL);
}

static void
s_child_exec (char *const argv[])
{
    execv (argv[0], argv);
    static const char msg[] = "vb_testproc: exec failed: ";
    ssize_t rc = write (STDERR_FILENO, msg, sizeof msg - 1);
    rc = write (STDERR_FILENO, argv[0], strlen (argv[0]));
    rc = write (STDERR_FILENO, "\n", 1);
    (void) rc;
    _exit (127);
}

static void
s_log_header (int fd, const char *name, char *const argv[])
{
    dprintf (fd, "=== vb_testproc: starting %s:", name);
    for (size_t i = 0; argv[i]; i++)
        dprintf (fd, " %s", argv[i]);
    dprintf (fd, "\n");
}

vb_testproc_t *
vb_testproc_start (const char *name, const char *log_dir, char *const argv[])
{
    vb_testproc_t *self = NULL;
    int log_fd = -1, null_fd = -1, pipe_fds[2] = {-1, -1};

    self = calloc (1, sizeof *self);
    if (!self)
        goto fail;
    self->pid = -1;
    self->out_fd = -1;
    self->name = strdup (name);
    if (!self->name || asprintf (&self->log_path, "%s/%s.log", log_dir, name) < 0) {
        self->log_path = NULL;
        goto fail;
    }
    log_fd = open (self->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    if (log_fd < 0 || null_fd < 0 || pipe2 (pipe_fds, O_CLOEXEC) < 0) {
        fprintf (stderr, "vb_testproc: cannot set up %s (%s): %s\n", name, self->log_path,
                 strerror (errno));
        goto fail;
    }
    s_log_header (log_fd, name, argv);

    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        fprintf (stderr, "vb_testproc: cannot fork for %s: %s\n", name, strerror (errno));
        goto fail;
    }
    if (pid == 0) {
        s_child_setup (parent, null_fd, pipe_fds[1], log_fd);
        s_child_exec (argv);
    }
    /* Both sides set the group so a signal to it can never miss the child (no race). */
    setpgid (pid, pid);
    self->pid = pid;
    close (pipe_fds[1]);
    pipe_fds[1] = -1;
    self->out_fd = pipe_fds[0];
    fcntl (self->out_fd, F_SETFL, fcntl (self->out_fd, F_GETFL) | O_NONBLOCK);
    close (log_fd);
    close (null_fd);
    if (s_registry_add (self) < 0) {
        vb_testproc_destroy (&self);
        return NULL;
    }
    return self;

fail:
    if (log_fd >= 0)
        close (log_fd);
    if (null_fd >= 0)
        close (null_fd);
    if (pipe_fds[0] >= 0)
        close (pipe_fds[0]);
    if (pipe_fds[1] >= 0)
        close (pipe_fds[1]);
    if (self) {
        free (self->name);
        free (self->log_path);
        free (self);
    }
    return NULL;
}

/*  Reap if exited (non-blocking). */
static void
s_reap (vb_testproc_t *self, bool block)
{
    if (self->reaped || self->pid <= 0)
        return;
    int status;
    pid_t rc;
    do
        rc = waitpid (self->pid, &status, block ? 0 : WNOHANG);
    while (rc < 0 && errno == EINTR);
    if (rc == self->pid) {
        self->reaped = true;
        self->status = status;
    }
    else if (rc < 0 && errno == ECHILD) {
        self->reaped = true;   /* reaped elsewhere: nothing left to wait for */
        self->status = 0;
    }
}

/*  Read what stdout holds now. Returns 1 on EOF, 0 otherwise. */
static int
s_drain (vb_testproc_t *self)
{
    if (self->out_fd < 0)
        return 1;
    char buf[4096];
    while (true) {
        ssize_t n = read (self->out_fd, buf, sizeof buf);
        if (n > 0) {
            if (self->out_len + (size_t) n > OUT_MAX)
                continue;   /* keep draining so the child never blocks; drop the excess */
            char *grown = realloc (self->out, self->out_len + (size_t) n + 1);
            if (!grown)
                continue;
            self->out = grown;
            memcpy (self->out + self->out_len, buf, (size_t) n);
            self->out_len += (size_t) n;
            self->out[self->out_len] = '\0';
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        close (self->out_fd);
        self->out_fd = -1;
        return 1;
    }
}

/*  Look for a complete "ready ..." line in what stdout gave so far; parse it. */
static bool
s_find_ready (vb_testproc_t *self)
{
    if (self->ready_line)
        return true;
    if (!self->out)
        return false;
    const char *line = self->out;
    while (line && *line) {
        const char *eol = strchr (line, '\n');
        if (!eol)
            return false;   /* incomplete line: wait for more */
        if (strncmp (line, "ready ", 6) == 0) {
            self->ready_line = strndup (line, (size_t) (eol - line));
            self->ready_words = strndup (line + 6, (size_t) (eol - line - 6));
            if (!self->ready_line || !self->ready_words)
                return false;
            char *save = NULL;
            for (char *word = strtok_r (self->ready_words, " \t", &save);
                 word && self->nwords < READY_MAX_WORDS;
                 word = strtok_r (NULL, " \t", &save)) {
                char *eq = strchr (word, '=');
                if (!eq)
                    continue;
                *eq = '\0';
                self->keys[self->nwords] = word;
                self->values[self->nwords] = eq + 1;
                self->nwords++;
            }
            return true;
        }
        line = eol + 1;
    }
    return false;
}

int
vb_testproc_wait_ready (vb_testproc_t *self, int timeout_ms)
{
    int64_t end = s_now_ms () + timeout_ms;
    while (true) {
        int eof = s_drain (self);
        if (s_find_ready (self))
            return 0;
        if (eof) {
            s_reap (self, false);
            fprintf (stderr, "vb_testproc: %s (pid %d) closed stdout without a ready line%s; "
                     "see %s\n", self->name, (int) self->pid,
                     self->reaped ? " and exited" : "", self->log_path);
            return -1;
        }
        int64_t left = end - s_now_ms ();
        if (left <= 0)
            break;
        struct pollfd pfd = {.fd = self->out_fd, .events = POLLIN};
        poll (&pfd, 1, left > 50 ? 50 : (int) left);
    }
    fprintf (stderr, "vb_testproc: %s (pid %d) printed no ready line within %d ms; see %s\n",
             self->name, (int) self->pid, timeout_ms, self->log_path);
    return -1;
}

const char *
vb_testproc_ready_value (const vb_testproc_t *self, const char *key)
{
    for (size_t i = 0; i < self->nwords; i++)
        if (strcmp (self->keys[i], key) == 0)
            return self->values[i];
    return NULL;
}

const char *
vb_testproc_ready_line (const vb_testproc_t *self)
{
    return self->ready_line;
}

pid_t
vb_testproc_pid (const vb_testproc_t *self)
{
    return self->pid;
}

const char *
vb_testproc_name (const vb_testproc_t *self)
{
    return self->name;
}

const char *
vb_testproc_log_path (const vb_testproc_t *self)
{
    return self->log_path;
}

int
vb_testproc_signal (vb_testproc_t *self, int sig)
{
    s_drain (self);
    if (self->reaped || self->pid <= 0)
        return -1;
    if (sig == SIGSTOP || sig == SIGCONT)
        self->stopped = sig == SIGSTOP;
    else if (sig != 0)
        self->sent_signal = sig;
    return kill (self->pid, sig) == 0 ? 0 : -1;
}

int
vb_testproc_wait_exit (vb_testproc_t *self, int timeout_ms, int *status_out)
{
    int64_t end = s_now_ms () + timeout_ms;
    while (true) {
        s_drain (self);
        s_reap (self, false);
        if (self->reaped) {
            if (status_out)
                *status_out = self->status;
            return 0;
        }
        if (s_now_ms () >= end)
            return -1;
        struct timespec pause = {0, 5 * 1000 * 1000};
        nanosleep (&pause, NULL);
    }
}

int
vb_testproc_stop (vb_testproc_t *self, int timeout_ms)
{
    s_drain (self);
    s_reap (self, false);
    if (self->reaped) {
        /* Ended before teardown: fine if the test ended it, a crash otherwise. */
        if ((WIFEXITED (self->status) && WEXITSTATUS (self->status) == 0)
            || (WIFSIGNALED (self->status) && WTERMSIG (self->status) == self->sent_signal)
            || (WIFEXITED (self->status) && self->sent_signal != 0))
            return 0;
        fprintf (stderr, "vb_testproc: %s (pid %d) had ended by itself with %s %d; see %s\n",
                 self->name, (int) self->pid, WIFEXITED (self->status) ? "status" : "signal",
                 WIFEXITED (self->status) ? WEXITSTATUS (self->status)
                                          : WTERMSIG (self->status), self->log_path);
        return -1;
    }
    /* SIGCONT only to a process the test stopped: it discards pending stop signals, and one of
     * those may be a sanitizer's leak checker attaching to the exiting process with ptrace,
     * which would then wait for the stop forever. */
    if (self->stopped) {
        kill (self->pid, SIGCONT);
        self->stopped = false;
    }
    kill (self->pid, SIGTERM);
    int status = 0;
    if (vb_testproc_wait_exit (self, timeout_ms, &status) < 0) {
        fprintf (stderr, "vb_testproc: %s (pid %d) did not exit within %d ms of SIGTERM; "
                 "killed; see %s\n", self->name, (int) self->pid, timeout_ms, self->log_path);
        s_kill (self);
        return -1;
    }
    if (!WIFEXITED (status) || WEXITSTATUS (status) != 0) {
        fprintf (stderr, "vb_testproc: %s (pid %d) ended with %s %d at SIGTERM; see %s\n",
                 self->name, (int) self->pid, WIFEXITED (status) ? "status" : "signal",
                 WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status), self->log_path);
        return -1;
    }
    return 0;
}

bool
vb_testproc_alive (vb_testproc_t *self)
{
    s_drain (self);
    s_reap (self, false);
    return !self->reaped;
}

/*  SIGKILL the group and the process, then reap. A stopped process dies on SIGKILL too. */
static void
s_kill (vb_testproc_t *self)
{
    if (self->pid > 0) {
        kill (-self->pid, SIGKILL);
        if (!self->reaped) {
            kill (self->pid, SIGKILL);
            s_reap (self, true);
        }
    }
    s_drain (self);
}

void
vb_testproc_kill_all (void)
{
    for (size_t i = 0; i < s_registry_len; i++)
        s_kill (s_registry[i]);
}

void
vb_testproc_destroy (vb_testproc_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vb_testproc_t *self = *self_p;
    s_kill (self);
    if (self->out_fd >= 0)
        close (self->out_fd);
    s_registry_remove (self);
    free (self->name);
    free (self->log_path);
    free (self->out);
    free (self->ready_line);
    free (self->ready_words);
    free (self);
    *self_p = NULL;
}

/* --- One-shot commands ------------------------------------------------------------------- */

typedef struct {
    int fd;
    char *buf;
    size_t len;
} s_capture_t;

/*  Read what FD holds now into CAP. Returns 1 on EOF or error (fd closed), 0 otherwise. */
static int
s_capture_read (s_capture_t *cap)
{
    char chunk[4096];
    while (true) {
        ssize_t n = read (cap->fd, chunk, sizeof chunk);
        if (n > 0) {
            if (cap->len + (size_t) n <= OUT_MAX * 16) {
                char *grown = realloc (cap->buf, cap->len + (size_t) n + 1);
                if (grown) {
                    cap->buf = grown;
                    memcpy (cap->buf + cap->len, chunk, (size_t) n);
                    cap->len += (size_t) n;
                    cap->buf[cap->len] = '\0';
                }
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        close (cap->fd);
        cap->fd = -1;
        return 1;
    }
}

static char *
s_capture_take (s_capture_t *cap)
{
    char *buf = cap->buf ? cap->buf : strdup ("");
    cap->buf = NULL;
    return buf;
}

int
vb_testrun (vb_testrun_t *run, int timeout_ms, char *const argv[])
{
    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1}, null_fd = -1;
    s_capture_t out = {.fd = -1}, err = {.fd = -1};
    int rc = -1;

    memset (run, 0, sizeof *run);
    run->exit_code = -1;
    int64_t start = s_now_ms ();

    null_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null_fd < 0 || pipe2 (out_pipe, O_CLOEXEC) < 0 || pipe2 (err_pipe, O_CLOEXEC) < 0) {
        fprintf (stderr, "vb_testrun: cannot set up pipes for %s: %s\n", argv[0],
                 strerror (errno));
        goto cleanup;
    }
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid < 0) {
        fprintf (stderr, "vb_testrun: cannot fork for %s: %s\n", argv[0], strerror (errno));
        goto cleanup;
    }
    if (pid == 0) {
        s_child_setup (parent, null_fd, out_pipe[1], err_pipe[1]);
        s_child_exec (argv);
    }
    setpgid (pid, pid);
    close (out_pipe[1]);
    close (err_pipe[1]);
    out_pipe[1] = err_pipe[1] = -1;
    out.fd = out_pipe[0];
    err.fd = err_pipe[0];
    out_pipe[0] = err_pipe[0] = -1;
    fcntl (out.fd, F_SETFL, fcntl (out.fd, F_GETFL) | O_NONBLOCK);
    fcntl (err.fd, F_SETFL, fcntl (err.fd, F_GETFL) | O_NONBLOCK);

    int64_t end = start + timeout_ms;
    int status = 0;
    bool reaped = false;
    while (true) {
        if (out.fd >= 0)
            s_capture_read (&out);
        if (err.fd >= 0)
            s_capture_read (&err);
        if (!reaped) {
            pid_t w = waitpid (pid, &status, WNOHANG);
            if (w == pid)
                reaped = true;
        }
        /* Done when the child exited and both pipes reached EOF (a grandchild holding a pipe
         * open does not keep us here past the timeout). */
        if (reaped && out.fd < 0 && err.fd < 0)
            break;
        int64_t left = end - s_now_ms ();
        if (left <= 0) {
            run->timed_out = !reaped;
            kill (-pid, SIGKILL);
            if (!reaped) {
                kill (pid, SIGKILL);
                waitpid (pid, &status, 0);
                reaped = true;
            }
            if (out.fd >= 0)
                s_capture_read (&out);
            if (err.fd >= 0)
                s_capture_read (&err);
            break;
        }
        struct pollfd pfds[2];
        nfds_t n = 0;
        if (out.fd >= 0)
            pfds[n++] = (struct pollfd){.fd = out.fd, .events = POLLIN};
        if (err.fd >= 0)
            pfds[n++] = (struct pollfd){.fd = err.fd, .events = POLLIN};
        int wait_ms = left > 10 ? 10 : (int) left;
        if (n > 0)
            poll (pfds, n, wait_ms);
        else {
            struct timespec pause = {0, (long) wait_ms * 1000 * 1000};
            nanosleep (&pause, NULL);
        }
    }
    if (WIFEXITED (status) && !run->timed_out)
        run->exit_code = WEXITSTATUS (status);
    else if (WIFSIGNALED (status))
        run->term_signal = WTERMSIG (status);
    rc = run->timed_out ? -1 : 0;

cleanup:
    run->elapsed_ms = s_now_ms () - start;
    run->out = s_capture_take (&out);
    run->err = s_capture_take (&err);
    for (int i = 0; i < 2; i++) {
        if (out_pipe[i] >= 0)
            close (out_pipe[i]);
        if (err_pipe[i] >= 0)
            close (err_pipe[i]);
    }
    if (out.fd >= 0)
        close (out.fd);
    if (err.fd >= 0)
        close (err.fd);
    if (null_fd >= 0)
        close (null_fd);
    return rc;
}

void
vb_testrun_clear (vb_testrun_t *run)
{
    if (!run)
        return;
    free (run->out);
    free (run->err);
    memset (run, 0, sizeof *run);
}
