/*  qemu_process — spawn, identify, watch and signal QEMU processes (see qemu_process.h).
 */
#include "qemu_process.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

pid_t
qemu_process_spawn (char *const argv[], const char *log_path, vb_error_t *err)
{
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attr;
    pid_t pid = -1;
    int rc;
    int log_fd = open (log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
    if (log_fd < 0) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot open the QEMU log file %s: %s",
                      log_path, strerror (errno));
        return -1;
    }
    posix_spawn_file_actions_init (&actions);
    posix_spawnattr_init (&attr);
    /*  A new session: QEMU leaves the worker's process group and outlives it. The default
     *  signal mask and dispositions: the worker's blocked signals must not reach QEMU. */
    sigset_t empty, all;
    sigemptyset (&empty);
    sigfillset (&all);
    posix_spawnattr_setsigmask (&attr, &empty);
    posix_spawnattr_setsigdefault (&attr, &all);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK
                                     | POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_addopen (&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2 (&actions, log_fd, 1);
    posix_spawn_file_actions_adddup2 (&actions, log_fd, 2);
    /*  Everything is O_CLOEXEC already; this is the belt to those braces (a library fd opened
     *  without the flag must not carry a lock or a socket into QEMU). */
    posix_spawn_file_actions_addclosefrom_np (&actions, 3);

    rc = posix_spawn (&pid, argv[0], &actions, &attr, argv, environ);
    if (rc != 0) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot start QEMU %s: %s", argv[0],
                      strerror (rc));
        pid = -1;
    }
    posix_spawn_file_actions_destroy (&actions);
    posix_spawnattr_destroy (&attr);
    close (log_fd);
    return pid;
}

void
qemu_process_reap (pid_t pid)
{
    if (pid > 0)
        while (waitpid (pid, NULL, WNOHANG) < 0 && errno == EINTR)
            ;
}

/*  Read /proc/PID/stat and return a pointer just past the ')' closing the command name
 *  (the name may itself hold parentheses), in BUF. */
static const char *
s_stat_fields (pid_t pid, char *buf, size_t size)
{
    char path[64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) pid);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    ssize_t n = read (fd, buf, size - 1);
    close (fd);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    char *close_paren = strrchr (buf, ')');
    return close_paren? close_paren + 1: NULL;
}

/*  Field NUMBER (1-based as in proc(5); >= 3) of a stat line whose fields start at REST
 *  (field 3). Returns 0 and *OUT, or -1. */
static int
s_stat_field (const char *rest, int number, char *out, size_t size)
{
    const char *p = rest;
    for (int field = 3; ; field++) {
        while (*p == ' ')
            p++;
        if (!*p)
            return -1;
        size_t len = strcspn (p, " \n");
        if (field == number) {
            if (len >= size)
                return -1;
            memcpy (out, p, len);
            out[len] = '\0';
            return 0;
        }
        p += len;
    }
}

int
qemu_process_start_ticks (pid_t pid, uint64_t *out)
{
    char buf[1024], state[8], ticks[32];
    if (pid <= 0)
        return -1;
    const char *rest = s_stat_fields (pid, buf, sizeof buf);
    if (!rest || s_stat_field (rest, 3, state, sizeof state) != 0
        || s_stat_field (rest, 22, ticks, sizeof ticks) != 0)
        return -1;
    if (state[0] == 'Z' || state[0] == 'X')
        return -1;
    *out = strtoull (ticks, NULL, 10);
    return 0;
}

bool
qemu_process_is (pid_t pid, uint64_t start_ticks)
{
    uint64_t now = 0;
    return qemu_process_start_ticks (pid, &now) == 0 && now == start_ticks;
}

uint64_t
qemu_process_cpu_time_ns (pid_t pid)
{
    char buf[1024], utime[32], stime[32];
    const char *rest = s_stat_fields (pid, buf, sizeof buf);
    if (!rest || s_stat_field (rest, 14, utime, sizeof utime) != 0
        || s_stat_field (rest, 15, stime, sizeof stime) != 0)
        return 0;
    long hz = sysconf (_SC_CLK_TCK);
    if (hz <= 0)
        hz = 100;
    uint64_t ticks = strtoull (utime, NULL, 10) + strtoull (stime, NULL, 10);
    return ticks * (1000000000ull / (uint64_t) hz);
}

int
qemu_process_pidfd (pid_t pid, vb_error_t *err)
{
    int fd = pidfd_open (pid, PIDFD_NONBLOCK);
    if (fd < 0)
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot watch QEMU process %d: %s",
                      (int) pid, strerror (errno));
    return fd;
}

bool
qemu_process_pidfd_exited (int pidfd)
{
    struct pollfd p = { .fd = pidfd, .events = POLLIN };
    return poll (&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

int
qemu_process_pidfd_signal (int pidfd, int sig)
{
    return pidfd_send_signal (pidfd, sig, NULL, 0) == 0? 0: -1;
}

int
qemu_process_check_kvm (vb_error_t *err)
{
    int fd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "KVM is not available: /dev/kvm: %s",
                             strerror (errno));
    close (fd);
    return 0;
}

char *
qemu_process_log_tail (const char *path, size_t max)
{
    char *buf = calloc (1, max + 1);
    char *out = NULL;
    if (!buf)
        return NULL;
    size_t len = 0;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        if (fstat (fd, &st) == 0) {
            off_t from = st.st_size > (off_t) max? st.st_size - (off_t) max: 0;
            ssize_t n = pread (fd, buf, max, from);
            len = n > 0? (size_t) n: 0;
            buf[len] = '\0';
            if (from > 0) {
                /*  Start at a line boundary so the sentence does not begin mid-word. */
                char *nl = strchr (buf, '\n');
                if (nl) {
                    len -= (size_t) (nl + 1 - buf);
                    memmove (buf, nl + 1, len + 1);
                }
            }
        }
        close (fd);
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        buf[--len] = '\0';
    /*  Each newline becomes " | ": at most 3 bytes per byte. */
    out = calloc (1, len * 3 + 1);
    if (out) {
        char *q = out;
        for (size_t i = 0; i < len; i++) {
            if (buf[i] == '\n') {
                memcpy (q, " | ", 3);
                q += 3;
            }
            else if (buf[i] != '\r')
                *q++ = buf[i];
        }
        *q = '\0';
    }
    free (buf);
    return out;
}
