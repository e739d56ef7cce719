/*  vb_util — clocks, atomic files, names (see vb_util.h). */
#include "vb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int64_t
vb_clock_ns (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t
vb_now_ms (void)
{
    return vb_clock_ns (CLOCK_MONOTONIC) / 1000000LL;
}

int64_t
vb_now_ns (void)
{
    return vb_clock_ns (CLOCK_MONOTONIC);
}

uint64_t
vb_wall_ns (void)
{
    return (uint64_t) vb_clock_ns (CLOCK_REALTIME);
}

/*  Write all LEN bytes, retrying on EINTR and short writes. 0 or -1 (errno set). */
static int
vb_write_all (int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write (fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t) w;
    }
    return 0;
}

int
vb_write_file_atomic (const char *path, const void *data, size_t len, vb_error_t *err)
{
    int rc = -1;
    int fd = -1;
    int dirfd = -1;
    char *tmp = NULL;
    char *dir = NULL;

    if (!path || !*path || (len > 0 && !data)) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot write a file without a path or data");
        goto cleanup;
    }
    if (asprintf (&tmp, "%s.tmp.XXXXXX", path) < 0) {
        tmp = NULL;
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory writing '%s'", path);
        goto cleanup;
    }
    const char *slash = strrchr (path, '/');
    if (!slash)
        dir = strdup (".");
    else if (slash == path)
        dir = strdup ("/");
    else
        dir = strndup (path, (size_t) (slash - path));
    if (!dir) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory writing '%s'", path);
        goto cleanup;
    }

    /*  mkostemp creates the file 0600: state files are nobody else's business. */
    fd = mkostemp (tmp, O_CLOEXEC);
    if (fd < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot create temporary file for '%s': %s", path,
                      strerror (errno));
        goto cleanup;
    }
    if (vb_write_all (fd, data, len) < 0 || fsync (fd) < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot write '%s': %s", tmp, strerror (errno));
        goto cleanup;
    }
    if (close (fd) < 0) {
        fd = -1;
        vb_error_set (err, VB_ERR_INTERNAL, "cannot write '%s': %s", tmp, strerror (errno));
        goto cleanup;
    }
    fd = -1;
    if (rename (tmp, path) < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot rename '%s' to '%s': %s", tmp, path,
                      strerror (errno));
        goto cleanup;
    }
    free (tmp);
    tmp = NULL; /* renamed: nothing left to remove */

    /*  The rename is durable only once the directory entry is on disk. */
    dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0 || fsync (dirfd) < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot sync directory '%s': %s", dir,
                      strerror (errno));
        goto cleanup;
    }
    rc = 0;

cleanup:
    if (fd >= 0)
        close (fd);
    if (dirfd >= 0)
        close (dirfd);
    if (tmp) {
        int saved = errno;
        unlink (tmp);
        errno = saved;
        free (tmp);
    }
    free (dir);
    return rc;
}

char *
vb_read_file (const char *path, size_t max, size_t *len_out, vb_error_t *err)
{
    char *buf = NULL;
    char *result = NULL;
    size_t len = 0;
    size_t cap = 0;
    int fd = -1;

    if (!path) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot read a file without a path");
        goto cleanup;
    }
    if (max >= SIZE_MAX - 1)
        max = SIZE_MAX - 2; /* room for the probe byte and the NUL */
    fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot open '%s': %s", path, strerror (errno));
        goto cleanup;
    }
    /*  Read until EOF rather than trusting st_size: /proc and sysfs files report 0 or 4096. */
    for (;;) {
        if (len == cap) {
            size_t want = cap ? cap * 2 : 4096;
            if (want > max + 1)
                want = max + 1;
            if (want <= len) {
                vb_error_set (err, VB_ERR_INTERNAL, "file '%s' is larger than %zu bytes", path,
                              max);
                goto cleanup;
            }
            char *grown = realloc (buf, want + 1);
            if (!grown) {
                vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading '%s'", path);
                goto cleanup;
            }
            buf = grown;
            cap = want;
        }
        ssize_t r = read (fd, buf + len, cap - len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            vb_error_set (err, VB_ERR_INTERNAL, "cannot read '%s': %s", path, strerror (errno));
            goto cleanup;
        }
        if (r == 0)
            break;
        len += (size_t) r;
        if (len > max) {
            vb_error_set (err, VB_ERR_INTERNAL, "file '%s' is larger than %zu bytes", path, max);
            goto cleanup;
        }
    }
    if (!buf) {
        buf = malloc (1);
        if (!buf) {
            vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading '%s'", path);
            goto cleanup;
        }
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    result = buf;
    buf = NULL;

cleanup:
    if (fd >= 0) {
        int saved = errno;
        close (fd);
        errno = saved; /* callers may test errno == ENOENT */
    }
    free (buf);
    return result;
}

int
vb_mkdir_p (const char *path, unsigned mode, vb_error_t *err)
{
    int rc = -1;
    char *copy = NULL;

    if (!path || !*path) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot create a directory with an empty path");
        goto cleanup;
    }
    copy = strdup (path);
    if (!copy) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory creating '%s'", path);
        goto cleanup;
    }
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir (copy, (mode_t) mode) < 0 && errno != EEXIST) {
            vb_error_set (err, VB_ERR_INTERNAL, "cannot create directory '%s': %s", copy,
                          strerror (errno));
            goto cleanup;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    struct stat st;
    if (stat (path, &st) < 0 || !S_ISDIR (st.st_mode)) {
        vb_error_set (err, VB_ERR_INTERNAL, "'%s' exists and is not a directory", path);
        goto cleanup;
    }
    rc = 0;

cleanup:
    free (copy);
    return rc;
}

bool
vb_name_is_valid (const char *name)
{
    if (!name || !*name || name[0] == '.' || name[0] == '-')
        return false;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '_' || c == '.' || c == '-' || c == '+';
        if (!ok || n >= 64)
            return false;
    }
    return true;
}

bool
vb_uuid_is_valid (const char *text)
{
    if (!text)
        return false;
    for (int i = 0; i < 36; i++) {
        char c = text[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-')
                return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')
                     || (c >= 'A' && c <= 'F'))) {
            return false; /* also catches a NUL before 36 characters */
        }
    }
    return text[36] == '\0';
}

void
vb_uuid_generate (char out[37])
{
    unsigned char b[16];
    size_t got = 0;
    int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
    while (fd >= 0 && got < sizeof b) {
        ssize_t r = read (fd, b + got, sizeof b - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t) r;
    }
    if (fd >= 0)
        close (fd);
    if (got < sizeof b) {
        /*  No /dev/urandom (a bare chroot): still unique enough from time, pid and address. */
        uint64_t seed[3] = { vb_wall_ns (), (uint64_t) vb_now_ns () ^ (uint64_t) getpid (),
                             (uint64_t) (uintptr_t) out };
        uint64_t h1 = vb_hash64 (seed, sizeof seed);
        seed[0] ^= h1;
        uint64_t h2 = vb_hash64 (seed, sizeof seed);
        memcpy (b, &h1, 8);
        memcpy (b + 8, &h2, 8);
    }
    b[6] = (unsigned char) ((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char) ((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf (out, 37,
              "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
              b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
              b[13], b[14], b[15]);
}

uint64_t
vb_hash64 (const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}
