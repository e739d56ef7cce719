/*  vb_recfile — checksummed record files (see vb_recfile.h). */
#include "vb_recfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vb_util.h"

#define S_HEADER_LEN 8

static uint32_t
s_checksum (const void *data, size_t len)
{
    uint64_t h = vb_hash64 (data, len);
    return (uint32_t) (h ^ (h >> 32));
}

static void
s_put_u32 (unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char) v;
    p[1] = (unsigned char) (v >> 8);
    p[2] = (unsigned char) (v >> 16);
    p[3] = (unsigned char) (v >> 24);
}

static uint32_t
s_get_u32 (const unsigned char *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
           | (uint32_t) p[3] << 24;
}

int
vb_recbuf_add (vb_recbuf_t *buf, const void *data, size_t len)
{
    if (buf->len + len > buf->cap) {
        size_t cap = buf->cap? buf->cap: 4096;
        while (cap < buf->len + len)
            cap *= 2;
        char *grown = realloc (buf->data, cap);
        if (!grown)
            return -1;
        buf->data = grown;
        buf->cap = cap;
    }
    if (len)
        memcpy (buf->data + buf->len, data, len);
    buf->len += len;
    return 0;
}

int
vb_recbuf_add_record (vb_recbuf_t *buf, const void *payload, size_t len)
{
    if (len > VB_RECFILE_RECORD_MAX)
        return -1;
    unsigned char header[S_HEADER_LEN];
    s_put_u32 (header, (uint32_t) len);
    s_put_u32 (header + 4, s_checksum (payload, len));
    size_t before = buf->len;
    if (vb_recbuf_add (buf, header, sizeof header) != 0)
        return -1;
    if (vb_recbuf_add (buf, payload, len) != 0) {
        buf->len = before;
        return -1;
    }
    return 0;
}

void
vb_recbuf_reset (vb_recbuf_t *buf)
{
    buf->len = 0;
}

void
vb_recbuf_clear (vb_recbuf_t *buf)
{
    free (buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

int
vb_recfile_write (int fd, const char *path, const vb_recbuf_t *buf, vb_error_t *err)
{
    size_t done = 0;
    while (done < buf->len) {
        ssize_t n = write (fd, buf->data + done, buf->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            vb_error_set (err, VB_ERR_INTERNAL, "cannot append to journal %s: %s", path,
                          n < 0? strerror (errno): "nothing written");
            return -1;
        }
        done += (size_t) n;
    }
    return 0;
}

int
vb_recfile_sync (int fd, const char *path, vb_error_t *err)
{
    if (fdatasync (fd) != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot sync journal %s: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

/*  Length of the valid prefix of DATA (LEN bytes, magic already checked), feeding each record
 *  to FN. */
static size_t
s_scan (const char *data, size_t len, vb_recfile_record_fn fn, void *arg)
{
    size_t pos = VB_RECFILE_MAGIC_LEN;
    while (len - pos >= S_HEADER_LEN) {
        const unsigned char *h = (const unsigned char *) data + pos;
        uint32_t rlen = s_get_u32 (h);
        if (rlen > VB_RECFILE_RECORD_MAX || rlen > len - pos - S_HEADER_LEN)
            break;
        const char *payload = data + pos + S_HEADER_LEN;
        if (s_checksum (payload, rlen) != s_get_u32 (h + 4))
            break;
        if (fn && fn (payload, rlen, arg) != 0)
            break;
        pos += S_HEADER_LEN + rlen;
    }
    return pos;
}

int
vb_recfile_open (const char *path, const char *magic, vb_recfile_record_fn fn, void *arg,
                 size_t *dropped_out, vb_error_t *err)
{
    int fd = -1;
    char *data = NULL;
    if (dropped_out)
        *dropped_out = 0;
    fd = open (path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot open journal %s: %s", path,
                      strerror (errno));
        goto fail;
    }
    struct stat st;
    if (fstat (fd, &st) != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot stat journal %s: %s", path,
                      strerror (errno));
        goto fail;
    }
    size_t len = (size_t) st.st_size;
    if (len < VB_RECFILE_MAGIC_LEN) {
        /*  New, or killed while writing the magic: nothing in it can be a record yet. */
        vb_recbuf_t head = { 0 };
        if (ftruncate (fd, 0) != 0 || vb_recbuf_add (&head, magic, VB_RECFILE_MAGIC_LEN) != 0
            || vb_recfile_write (fd, path, &head, err) != 0
            || vb_recfile_sync (fd, path, err) != 0) {
            vb_recbuf_clear (&head);
            if (err && err->code == VB_OK)
                vb_error_set (err, VB_ERR_INTERNAL, "cannot initialise journal %s: %s", path,
                              strerror (errno));
            goto fail;
        }
        vb_recbuf_clear (&head);
        if (dropped_out)
            *dropped_out = len;
        return fd;
    }
    data = malloc (len);
    if (!data) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading journal %s (%zu bytes)",
                      path, len);
        goto fail;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread (fd, data + got, len - got, (off_t) got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            vb_error_set (err, VB_ERR_INTERNAL, "cannot read journal %s: %s", path,
                          n < 0? strerror (errno): "file shrank while reading");
            goto fail;
        }
        got += (size_t) n;
    }
    if (memcmp (data, magic, VB_RECFILE_MAGIC_LEN) != 0) {
        vb_error_set (err, VB_ERR_INVALID_ARG,
                      "%s is not a journal of this kind (its header is not '%.7s')", path,
                      magic);
        goto fail;
    }
    size_t good = s_scan (data, len, fn, arg);
    if (good < len) {
        if (ftruncate (fd, (off_t) good) != 0 || fdatasync (fd) != 0) {
            vb_error_set (err, VB_ERR_INTERNAL, "cannot cut the bad tail of journal %s: %s",
                          path, strerror (errno));
            goto fail;
        }
        if (dropped_out)
            *dropped_out = len - good;
    }
    free (data);
    return fd;

fail:
    free (data);
    if (fd >= 0)
        close (fd);
    return -1;
}

int
vb_recfile_rewrite (const char *path, const char *magic, const vb_recbuf_t *body,
                    vb_error_t *err)
{
    vb_recbuf_t all = { 0 };
    int fd = -1;
    if (vb_recbuf_add (&all, magic, VB_RECFILE_MAGIC_LEN) != 0
        || vb_recbuf_add (&all, body->data, body->len) != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory compacting journal %s", path);
        goto done;
    }
    if (vb_write_file_atomic (path, all.data, all.len, err) != 0)
        goto done;
    fd = open (path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0)
        vb_error_set (err, VB_ERR_INTERNAL, "cannot reopen journal %s: %s", path,
                      strerror (errno));
done:
    vb_recbuf_clear (&all);
    return fd;
}
