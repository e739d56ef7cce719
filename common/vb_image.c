/*  vb_image — a disk image's backing chain read from disk, without QEMU (see vb_image.h). */
#include "vb_image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*  qcow2 on-disk layout (docs/interop/qcow2.txt in QEMU). All fields big-endian. */
#define QCOW2_MAGIC 0x514649fbu           /* "QFI\xfb" */
#define QCOW2_V2_HEADER_LEN 72
#define QCOW2_V3_HEADER_MIN 104
#define QCOW2_MIN_CLUSTER_BITS 9
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_EXT_END 0x00000000u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_BACKING_FORMAT_MAX 15       /* QEMU: len >= sizeof(char[16]) is an error */
#define QCOW2_EXT_MAX 256                 /* far more than QEMU ever writes */
/*  Incompatible feature bits QEMU 7.2 knows: dirty, corrupt, external data file, compression
 *  type, extended L2. Any other bit means QEMU itself would refuse to open the image. */
#define QCOW2_INCOMPAT_KNOWN 0x1full

static const char *const format_names[VB_IMAGE_FORMAT_LAST] = {
    [VB_IMAGE_FORMAT_AUTO] = "auto",
    [VB_IMAGE_FORMAT_RAW] = "raw",
    [VB_IMAGE_FORMAT_QCOW2] = "qcow2",
};

const char *
vb_image_format_name (vb_image_format_t format)
{
    if ((unsigned) format >= VB_IMAGE_FORMAT_LAST)
        return "unknown";
    return format_names[format];
}

int
vb_image_format_from_name (const char *name, vb_image_format_t *out)
{
    if (!name)
        return -1;
    if (strcmp (name, "raw") == 0)
        *out = VB_IMAGE_FORMAT_RAW;
    else if (strcmp (name, "qcow2") == 0)
        *out = VB_IMAGE_FORMAT_QCOW2;
    else
        return -1;
    return 0;
}

static uint32_t
be32 (const unsigned char *p)
{
    return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint64_t
be64 (const unsigned char *p)
{
    return (uint64_t) be32 (p) << 32 | be32 (p + 4);
}

/*  QEMU's path_has_protocol(): a ':' before the first '/'. */
static bool
has_protocol (const char *name)
{
    return name[strcspn (name, ":/")] == ':';
}

char *
vb_image_resolve_backing (const char *layer_path, const char *name, vb_error_t *err)
{
    char *result = NULL;
    if (!layer_path || !name || !*name) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "a backing file name and the path of the image "
                      "naming it are both required");
        return NULL;
    }
    if (has_protocol (name)) {
        if (strncmp (name, "file:", 5) != 0 || name[5] == '\0') {
            vb_error_set (err, VB_ERR_UNSUPPORTED, "image '%s' has backing '%s', which is not a "
                          "local file virtbus can read", layer_path, name);
            return NULL;
        }
        /*  QEMU hands "file:NAME" to the file protocol as NAME, without combining paths. */
        result = strdup (name + 5);
    } else if (name[0] == '/') {
        result = strdup (name);
    } else {
        const char *slash = strrchr (layer_path, '/');
        size_t dirlen = slash ? (size_t) (slash - layer_path) + 1 : 0;
        size_t namelen = strlen (name);
        result = malloc (dirlen + namelen + 1);
        if (result) {
            memcpy (result, layer_path, dirlen);
            memcpy (result + dirlen, name, namelen + 1);
        }
    }
    if (!result)
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory resolving backing '%s' of '%s'",
                      name, layer_path);
    return result;
}

/*  Read exactly LEN bytes at OFF. Returns 0, or -1 (errno set; EIO-like 0 for a short file). */
static int
read_at (int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread (fd, (char *) buf + done, len - done, (off_t) (off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = 0;
            return -1;
        }
        done += (size_t) n;
    }
    return 0;
}

static int
corrupt (vb_error_t *err, const char *path, const char *reason)
{
    return vb_error_set (err, VB_ERR_OPERATION_FAILED, "image '%s' is not a valid qcow2 image: %s",
                         path, reason);
}

/*  Walk the header extensions in [START, END) of HDR for the backing format. */
static int
qcow2_read_extensions (const unsigned char *hdr, uint64_t start, uint64_t end, const char *path,
                       vb_image_layer_t *layer, vb_error_t *err)
{
    uint64_t off = start;
    for (unsigned count = 0; ; count++) {
        if (count >= QCOW2_EXT_MAX)
            return corrupt (err, path, "too many header extensions");
        if (off + 8 > end)
            return 0;  /* no room for another extension: the area simply ends (as in QEMU) */
        uint32_t type = be32 (hdr + off);
        uint32_t len = be32 (hdr + off + 4);
        off += 8;
        if (type == QCOW2_EXT_END)
            return 0;
        if (len > end - off)
            return corrupt (err, path, "a header extension runs past the end of its area");
        if (type == QCOW2_EXT_BACKING_FORMAT) {
            char name[QCOW2_BACKING_FORMAT_MAX + 1];
            if (len > QCOW2_BACKING_FORMAT_MAX)
                return corrupt (err, path, "the backing format name is too long");
            memcpy (name, hdr + off, len);
            name[len] = '\0';
            if (strlen (name) != len)
                return corrupt (err, path, "the backing format name contains a NUL byte");
            if (vb_image_format_from_name (name, &layer->backing_format) < 0)
                return vb_error_set (err, VB_ERR_UNSUPPORTED, "image '%s' declares backing "
                                     "format '%s'; virtbus reads only raw and qcow2", path, name);
        }
        off += ((uint64_t) len + 7) & ~7ull;
    }
}

/*  Parse the qcow2 header of FD (SIZE bytes) into LAYER: virtual size, backing name, format. */
static int
qcow2_read_header (int fd, uint64_t size, const char *path, vb_image_layer_t *layer,
                   vb_error_t *err)
{
    unsigned char fixed[QCOW2_V3_HEADER_MIN];
    unsigned char *hdr = NULL;
    int rc = -1;

    if (size < QCOW2_V2_HEADER_LEN)
        return corrupt (err, path, "the file is shorter than a qcow2 header");
    if (read_at (fd, fixed, QCOW2_V2_HEADER_LEN, 0) < 0)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot read the header of image "
                             "'%s': %s", path, errno ? strerror (errno) : "short read");
    if (be32 (fixed) != QCOW2_MAGIC)
        return corrupt (err, path, "the qcow2 magic is missing");
    uint32_t version = be32 (fixed + 4);
    uint64_t backing_off = be64 (fixed + 8);
    uint32_t backing_len = be32 (fixed + 16);
    uint32_t cluster_bits = be32 (fixed + 20);
    uint64_t vsize = be64 (fixed + 24);
    uint64_t header_len = QCOW2_V2_HEADER_LEN;

    if (version != 2 && version != 3)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "image '%s' is qcow2 version %u; "
                             "only versions 2 and 3 exist", path, version);
    if (cluster_bits < QCOW2_MIN_CLUSTER_BITS || cluster_bits > QCOW2_MAX_CLUSTER_BITS)
        return corrupt (err, path, "the cluster size is out of range");
    uint64_t cluster = 1ull << cluster_bits;
    if (vsize > (uint64_t) INT64_MAX)
        return corrupt (err, path, "the virtual size is out of range");
    if (version == 3) {
        if (size < QCOW2_V3_HEADER_MIN || read_at (fd, fixed, QCOW2_V3_HEADER_MIN, 0) < 0)
            return corrupt (err, path, "the file is shorter than a qcow2 version 3 header");
        uint64_t incompat = be64 (fixed + 72);
        header_len = be32 (fixed + 100);
        if (header_len < QCOW2_V3_HEADER_MIN)
            return corrupt (err, path, "the header length is too short");
        if (header_len > cluster)
            return corrupt (err, path, "the header length exceeds the cluster size");
        if (incompat & ~QCOW2_INCOMPAT_KNOWN)
            return vb_error_set (err, VB_ERR_OPERATION_FAILED, "image '%s' uses unknown "
                                 "incompatible qcow2 features (0x%llx)", path,
                                 (unsigned long long) (incompat & ~QCOW2_INCOMPAT_KNOWN));
    }
    if (backing_off > cluster)
        return corrupt (err, path, "the backing file name lies outside the first cluster");
    if (backing_off) {
        if (backing_len > VB_IMAGE_BACKING_NAME_MAX || backing_len > cluster - backing_off)
            return corrupt (err, path, "the backing file name is too long");
        if (backing_off < header_len)
            return corrupt (err, path, "the backing file name overlaps the header");
        if (backing_off + backing_len > size)
            return corrupt (err, path, "the backing file name lies beyond the end of the file");
    }

    /*  Extensions run from the header's end to the backing name (or the end of the first
     *  cluster); read that area and the backing name in one go, clipped to the file. */
    uint64_t ext_end = backing_off ? backing_off : cluster;
    uint64_t area = backing_off ? backing_off + backing_len : cluster;
    if (area > size)
        area = size;
    if (ext_end > area)
        ext_end = area;
    if (header_len > area)
        return corrupt (err, path, "the header runs beyond the end of the file");
    hdr = malloc (area + 1);
    if (!hdr) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading image '%s'", path);
        goto cleanup;
    }
    if (read_at (fd, hdr, area, 0) < 0) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot read the header of image '%s': %s",
                      path, errno ? strerror (errno) : "short read");
        goto cleanup;
    }
    layer->backing_format = VB_IMAGE_FORMAT_AUTO;
    if (qcow2_read_extensions (hdr, header_len, ext_end, path, layer, err) < 0)
        goto cleanup;
    if (backing_off && backing_len > 0) {
        if (memchr (hdr + backing_off, '\0', backing_len)) {
            corrupt (err, path, "the backing file name contains a NUL byte");
            goto cleanup;
        }
        layer->backing_name = strndup ((const char *) hdr + backing_off, backing_len);
        if (!layer->backing_name) {
            vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading image '%s'", path);
            goto cleanup;
        }
    }
    layer->virtual_size = vsize;
    rc = 0;
cleanup:
    free (hdr);
    return rc;
}

/*  What DESIGN §4 reads of a layer's file, from its open FD and its fstat ST: a regular file's
 *  st_size and st_blocks x 512, a block device's lseek(SEEK_END) and 0. */
static int
s_sizes (int fd, const struct stat *st, const char *path, uint64_t *physical,
         uint64_t *allocation, bool *is_block, vb_error_t *err)
{
    if (S_ISBLK (st->st_mode)) {
        off_t end = lseek (fd, 0, SEEK_END);
        if (end < 0)
            return vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot measure block device "
                                 "'%s': %s", path, strerror (errno));
        *is_block = true;
        *physical = (uint64_t) end;
        *allocation = 0;
        return 0;
    }
    if (S_ISREG (st->st_mode)) {
        *is_block = false;
        *physical = (uint64_t) st->st_size;
        *allocation = (uint64_t) st->st_blocks * 512;
        return 0;
    }
    return vb_error_set (err, VB_ERR_OPERATION_FAILED, "image '%s' is neither a regular file "
                         "nor a block device", path);
}

int
vb_image_file_sizes (const char *path, uint64_t *physical, uint64_t *allocation,
                     vb_error_t *err)
{
    if (!path || !physical || !allocation)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "vb_image_file_sizes needs a path and "
                             "two outputs");
    /*  A regular file needs no open: stat is one system call per layer per stats request. */
    struct stat st;
    if (stat (path, &st) < 0)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot stat image '%s': %s", path,
                             strerror (errno));
    bool is_block = false;
    if (!S_ISBLK (st.st_mode))
        return s_sizes (-1, &st, path, physical, allocation, &is_block, err);
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot open image '%s': %s", path,
                             strerror (errno));
    int rc = s_sizes (fd, &st, path, physical, allocation, &is_block, err);
    close (fd);
    return rc;
}

/*  Open PATH and fill LAYER (path owned by LAYER from now on, even on failure). PARENT is the
 *  image that names PATH as its backing file (NULL for the top), named in the error when PATH
 *  cannot be opened because that is the header the user has to fix. ST receives the fstat
 *  result for loop detection. */
static int
layer_read (char *path, const char *parent, vb_image_format_t declared, vb_image_layer_t *layer,
            struct stat *st, vb_error_t *err)
{
    int rc = -1;
    memset (layer, 0, sizeof *layer);
    layer->path = path;
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && parent)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot open '%s', the backing file "
                             "of image '%s': %s", path, parent, strerror (errno));
    if (fd < 0)
        return vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot open image '%s': %s", path,
                             strerror (errno));
    if (fstat (fd, st) < 0) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot stat image '%s': %s", path,
                      strerror (errno));
        goto cleanup;
    }
    if (s_sizes (fd, st, path, &layer->physical, &layer->allocation, &layer->is_block, err) != 0)
        goto cleanup;

    vb_image_format_t format = declared;
    if (format == VB_IMAGE_FORMAT_AUTO) {
        unsigned char magic[4];
        format = layer->physical >= 4 && read_at (fd, magic, 4, 0) == 0
                 && be32 (magic) == QCOW2_MAGIC ? VB_IMAGE_FORMAT_QCOW2 : VB_IMAGE_FORMAT_RAW;
    }
    layer->format = format;
    if (format == VB_IMAGE_FORMAT_QCOW2) {
        if (qcow2_read_header (fd, layer->physical, path, layer, err) < 0)
            goto cleanup;
    } else {
        layer->virtual_size = layer->physical;
    }
    rc = 0;
cleanup:
    close (fd);
    return rc;
}

static void
layer_clear (vb_image_layer_t *layer)
{
    free (layer->path);
    free (layer->backing_name);
    memset (layer, 0, sizeof *layer);
}

vb_image_chain_t *
vb_image_chain_new (const char *path, vb_image_format_t declared, vb_error_t *err)
{
    vb_image_chain_t *chain = NULL;
    vb_image_layer_t *layers = NULL;
    struct stat seen[VB_IMAGE_CHAIN_MAX_DEPTH + 1];
    size_t n = 0;
    char *next = NULL;

    if (!path || !*path) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "an image path is required");
        return NULL;
    }
    if ((unsigned) declared >= VB_IMAGE_FORMAT_LAST) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "image '%s': format %d is not a known format",
                      path, (int) declared);
        return NULL;
    }
    layers = calloc (VB_IMAGE_CHAIN_MAX_DEPTH + 1, sizeof *layers);
    next = strdup (path);
    if (!layers || !next) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading the chain of image '%s'",
                      path);
        goto cleanup;
    }
    for (;;) {
        if (n > VB_IMAGE_CHAIN_MAX_DEPTH) {
            vb_error_set (err, VB_ERR_OPERATION_FAILED, "the backing chain of image '%s' is "
                          "deeper than %d layers at '%s'", path, VB_IMAGE_CHAIN_MAX_DEPTH, next);
            goto cleanup;
        }
        vb_image_layer_t *layer = &layers[n];
        char *layer_path = next;
        next = NULL;
        int rc = layer_read (layer_path, n > 0 ? layers[n - 1].path : NULL, declared, layer,
                             &seen[n], err);
        n++;  /* the layer owns layer_path even on failure */
        if (rc < 0)
            goto cleanup;
        for (size_t i = 0; i + 1 < n; i++) {
            if (seen[i].st_dev == seen[n - 1].st_dev && seen[i].st_ino == seen[n - 1].st_ino) {
                vb_error_set (err, VB_ERR_OPERATION_FAILED, "the backing chain of image '%s' "
                              "loops: '%s' is backed by '%s', which is already in the chain",
                              path, layers[n - 2].path, layer->path);
                goto cleanup;
            }
        }
        if (!layer->backing_name)
            break;
        next = vb_image_resolve_backing (layer->path, layer->backing_name, err);
        if (!next)
            goto cleanup;
        declared = layer->backing_format;
    }
    chain = calloc (1, sizeof *chain);
    vb_image_layer_t *shrunk = realloc (layers, n * sizeof *layers);
    if (shrunk)
        layers = shrunk;
    if (!chain || !shrunk) {
        free (chain);
        chain = NULL;
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading the chain of image '%s'",
                      path);
        goto cleanup;
    }
    chain->layers = layers;
    chain->nlayers = n;
    layers = NULL;
cleanup:
    free (next);
    if (layers) {
        for (size_t i = 0; i < n; i++)
            layer_clear (&layers[i]);
        free (layers);
    }
    return chain;
}

void
vb_image_chain_destroy (vb_image_chain_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vb_image_chain_t *self = *self_p;
    for (size_t i = 0; i < self->nlayers; i++)
        layer_clear (&self->layers[i]);
    free (self->layers);
    free (self);
    *self_p = NULL;
}
