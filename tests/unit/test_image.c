/*  Unit tests for vb_image: backing chains read from disk without QEMU.
 *
 *  Every image is made at test time by qemu-img in a fresh temporary directory, and the oracle for
 *  paths, formats, virtual sizes and allocation is `qemu-img info --output=json --backing-chain`
 *  parsed with json-c here, never vb_image itself. Corrupt headers are made by rewriting bytes of
 *  a real image at the offsets the qcow2 specification gives. The block-device case attaches a
 *  loop device (root) and always detaches it in the teardown, also when the test fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <setjmp.h>
#include <stddef.h>
#include <cmocka.h>

#include "vb_image.h"

typedef struct {
    char dir[256];
    char loopdev[64];  /* attached loop device, "" when none */
} fixture_t;

static int
run (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));

static int
run (const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    int rc = system (cmd);
    return WIFEXITED (rc) ? WEXITSTATUS (rc) : -1;
}

static char *
capture (const char *cmd)
{
    FILE *p = popen (cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc (cap);
    size_t n;
    while (buf && (n = fread (buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 2) {
            char *bigger = realloc (buf, cap * 2);
            if (!bigger) {
                free (buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    int rc = pclose (p);
    if (!buf || rc != 0) {
        free (buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static int
setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    if (!f)
        return -1;
    snprintf (f->dir, sizeof f->dir, "/tmp/vb-test-image-XXXXXX");
    if (!mkdtemp (f->dir)) {
        free (f);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown (void **state)
{
    fixture_t *f = *state;
    if (f->loopdev[0])
        run ("losetup -d %s", f->loopdev);
    run ("rm -rf '%s'", f->dir);
    free (f);
    return 0;
}

/*  Compare CHAIN with qemu-img's view of the chain starting at TOP. */
static void
assert_chain_matches_qemu_img (const vb_image_chain_t *chain, const char *top)
{
    char cmd[PATH_MAX + 128];
    snprintf (cmd, sizeof cmd, "qemu-img info -U --output=json --backing-chain '%s'", top);
    char *out = capture (cmd);
    assert_non_null (out);
    json_object *arr = json_tokener_parse (out);
    free (out);
    assert_non_null (arr);
    assert_true (json_object_is_type (arr, json_type_array));
    assert_int_equal (json_object_array_length (arr), chain->nlayers);
    for (size_t i = 0; i < chain->nlayers; i++) {
        json_object *info = json_object_array_get_idx (arr, i), *v;
        const vb_image_layer_t *l = &chain->layers[i];
        assert_true (json_object_object_get_ex (info, "filename", &v));
        assert_string_equal (l->path, json_object_get_string (v));
        assert_true (json_object_object_get_ex (info, "format", &v));
        assert_string_equal (vb_image_format_name (l->format), json_object_get_string (v));
        assert_true (json_object_object_get_ex (info, "virtual-size", &v));
        assert_int_equal (l->virtual_size, (uint64_t) json_object_get_int64 (v));
        if (!l->is_block) {
            /*  actual-size is st_blocks * 512 for a file (raw-posix's allocated size). */
            assert_true (json_object_object_get_ex (info, "actual-size", &v));
            assert_int_equal (l->allocation, (uint64_t) json_object_get_int64 (v));
        }
        if (json_object_object_get_ex (info, "full-backing-filename", &v)) {
            assert_true (i + 1 < chain->nlayers);
            assert_string_equal (chain->layers[i + 1].path, json_object_get_string (v));
            assert_true (json_object_object_get_ex (info, "backing-filename", &v));
            assert_string_equal (l->backing_name, json_object_get_string (v));
        } else {
            assert_int_equal (i + 1, chain->nlayers);
            assert_null (l->backing_name);
        }
        struct stat st;
        assert_int_equal (stat (l->path, &st), 0);
        assert_int_equal (l->is_block, S_ISBLK (st.st_mode));
        if (!l->is_block)
            assert_int_equal (l->physical, (uint64_t) st.st_size);
    }
    json_object_put (arr);
}

/*  Make a qcow2 chain of DEPTH backing layers below the top: l0.qcow2 (bottom, SIZE) ...
 *  l<DEPTH>.qcow2 (top). Returns the top path in TOP. */
static void
make_chain (const fixture_t *f, unsigned depth, const char *size, char *top, size_t toplen)
{
    assert_int_equal (run ("qemu-img create -q -f qcow2 '%s/l0.qcow2' %s", f->dir, size), 0);
    for (unsigned i = 1; i <= depth; i++)
        assert_int_equal (run ("qemu-img create -q -f qcow2 -b '%s/l%u.qcow2' -F qcow2 "
                               "'%s/l%u.qcow2'", f->dir, i - 1, f->dir, i), 0);
    snprintf (top, toplen, "%s/l%u.qcow2", f->dir, depth);
}

static void
check_depth (void **state, unsigned depth)
{
    fixture_t *f = *state;
    char top[PATH_MAX];
    vb_error_t err = { 0 };
    make_chain (f, depth, "3M", top, sizeof top);
    vb_image_chain_t *chain = vb_image_chain_new (top, VB_IMAGE_FORMAT_QCOW2, &err);
    assert_non_null (chain);
    assert_int_equal (chain->nlayers, depth + 1);
    for (size_t i = 0; i < chain->nlayers; i++) {
        assert_int_equal (chain->layers[i].format, VB_IMAGE_FORMAT_QCOW2);
        assert_int_equal (chain->layers[i].virtual_size, 3 * 1024 * 1024);
        if (i + 1 < chain->nlayers)
            assert_int_equal (chain->layers[i].backing_format, VB_IMAGE_FORMAT_QCOW2);
    }
    assert_chain_matches_qemu_img (chain, top);
    vb_image_chain_destroy (&chain);
    assert_null (chain);
}

static void test_image_chain_depth_zero_is_one_layer (void **s) { check_depth (s, 0); }
static void test_image_chain_depth_one_reads_backing (void **s) { check_depth (s, 1); }
static void test_image_chain_depth_two_matches_qemu_img (void **s) { check_depth (s, 2); }
static void test_image_chain_depth_three_matches_qemu_img (void **s) { check_depth (s, 3); }
static void test_image_chain_depth_four_matches_qemu_img (void **s) { check_depth (s, 4); }

static void
test_image_chain_raw_base_is_raw_with_file_size (void **state)
{
    fixture_t *f = *state;
    char top[PATH_MAX];
    vb_error_t err = { 0 };
    assert_int_equal (run ("qemu-img create -q -f raw '%s/base.raw' 5M", f->dir), 0);
    /*  Data in the raw base so its allocation is not zero. */
    assert_int_equal (run ("dd if=/dev/urandom of='%s/base.raw' bs=64k count=2 conv=notrunc "
                           "status=none", f->dir), 0);
    assert_int_equal (run ("qemu-img create -q -f qcow2 -b '%s/base.raw' -F raw '%s/top.qcow2' 8M",
                           f->dir, f->dir), 0);
    snprintf (top, sizeof top, "%s/top.qcow2", f->dir);
    vb_image_chain_t *chain = vb_image_chain_new (top, VB_IMAGE_FORMAT_AUTO, &err);
    assert_non_null (chain);
    assert_int_equal (chain->nlayers, 2);
    assert_int_equal (chain->layers[0].format, VB_IMAGE_FORMAT_QCOW2);
    assert_int_equal (chain->layers[0].virtual_size, 8 * 1024 * 1024);
    assert_int_equal (chain->layers[0].backing_format, VB_IMAGE_FORMAT_RAW);
    assert_int_equal (chain->layers[1].format, VB_IMAGE_FORMAT_RAW);
    assert_int_equal (chain->layers[1].virtual_size, 5 * 1024 * 1024);
    assert_int_equal (chain->layers[1].physical, 5 * 1024 * 1024);
    assert_true (chain->layers[1].allocation >= 128 * 1024);
    assert_chain_matches_qemu_img (chain, top);
    vb_image_chain_destroy (&chain);
}

static void
test_image_chain_relative_backing_resolves_against_layer_dir (void **state)
{
    fixture_t *f = *state;
    char top[PATH_MAX], cwd[PATH_MAX];
    vb_error_t err = { 0 };
    assert_int_equal (run ("mkdir -p '%s/base' '%s/vm' && qemu-img create -q -f qcow2 "
                           "'%s/base/b.qcow2' 2M", f->dir, f->dir, f->dir), 0);
    /*  qemu-img resolves a relative -b against the new image's directory, as the header will. */
    assert_int_equal (run ("qemu-img create -q -f qcow2 -b ../base/b.qcow2 -F qcow2 "
                           "'%s/vm/top.qcow2'", f->dir), 0);
    snprintf (top, sizeof top, "%s/vm/top.qcow2", f->dir);
    vb_image_chain_t *chain = vb_image_chain_new (top, VB_IMAGE_FORMAT_QCOW2, &err);
    assert_non_null (chain);
    assert_int_equal (chain->nlayers, 2);
    assert_string_equal (chain->layers[0].backing_name, "../base/b.qcow2");
    char want[PATH_MAX];
    snprintf (want, sizeof want, "%s/vm/../base/b.qcow2", f->dir);
    assert_string_equal (chain->layers[1].path, want);
    assert_chain_matches_qemu_img (chain, top);
    vb_image_chain_destroy (&chain);

    /*  Opened through a relative path, the backing path stays relative to the same directory. */
    assert_non_null (getcwd (cwd, sizeof cwd));
    assert_int_equal (chdir (f->dir), 0);
    chain = vb_image_chain_new ("vm/top.qcow2", VB_IMAGE_FORMAT_QCOW2, &err);
    int moved_back = chdir (cwd);
    assert_int_equal (moved_back, 0);
    assert_non_null (chain);
    assert_string_equal (chain->layers[1].path, "vm/../base/b.qcow2");
    vb_image_chain_destroy (&chain);
}

static void
test_image_chain_missing_backing_fails_naming_both_files (void **state)
{
    fixture_t *f = *state;
    char top[PATH_MAX], base[PATH_MAX];
    vb_error_t err = { 0 };
    make_chain (f, 2, "1M", top, sizeof top);
    snprintf (base, sizeof base, "%s/l0.qcow2", f->dir);
    assert_int_equal (unlink (base), 0);
    /*  The oracle agrees the chain is broken. */
    assert_int_not_equal (run ("qemu-img info -U --backing-chain '%s' >/dev/null 2>&1", top), 0);
    vb_image_chain_t *chain = vb_image_chain_new (top, VB_IMAGE_FORMAT_QCOW2, &err);
    assert_null (chain);
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (err.message, base));
    assert_non_null (strstr (err.message, "l1.qcow2"));
    assert_non_null (strstr (err.message, "No such file"));
}

static void
test_image_chain_missing_top_fails_naming_it (void **state)
{
    fixture_t *f = *state;
    char top[PATH_MAX];
    vb_error_t err = { 0 };
    snprintf (top, sizeof top, "%s/nope.qcow2", f->dir);
    assert_null (vb_image_chain_new (top, VB_IMAGE_FORMAT_AUTO, &err));
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (err.message, top));
}

static void
test_image_chain_truncated_qcow2_is_corrupt (void **state)
{
    fixture_t *f = *state;
    char top[PATH_MAX];
    vb_error_t err = { 0 };
    make_chain (f, 0, "1M", top, sizeof top);
    assert_int_equal (truncate (top, 40), 0);
    assert_int_not_equal (run ("qemu-img info -f qcow2 '%s' >/dev/null 2>&1", top), 0);
    assert_null (vb_image_chain_new (top, VB_IMAGE_FORMAT_AUTO, &err));
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (err.message, top));
    assert_non_null (strstr (err.message, "shorter"));
}

static void
test_image_chain_declared_qcow2_without_magic_fails (void **state)
{
    fixture_t *f = *state;
    char path[PATH_MAX];
    vb_error_t err = { 0 };
    assert_int_equal (run ("qemu-img create -q -f raw '%s/disk.raw' 1M", f->dir), 0);
    snprintf (path, sizeof path, "%s/disk.raw", f->dir);
    assert_int_not_equal (run ("qemu-img info -f qcow2 '%s' >/dev/null 2>&1", path), 0);
    assert_null (vb_image_chain_new (path, VB_IMAGE_FORMAT_QCOW2, &err));
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (err.message, "magic"));
    assert_non_null (strstr (err.message, path));
    /*  Probed, the same file is a plain raw image. */
    vb_image_chain_t *chain = vb_image_chain_new (path, VB_IMAGE_FORMAT_AUTO, &err);
    assert_non_null (chain);
    assert_int_equal (chain->layers[0].format, VB_IMAGE_FORMAT_RAW);
    assert_int_equal (chain->layers[0].virtual_size, 1024 * 1024);
    assert_chain_matches_qemu_img (chain, path);
    vb_image_chain_destroy (&chain);
}

static void
test_image_chain_declared_raw_is_not_probed (void **state)
{
    fixture_t *f = *state;
    char top[PATH_MAX];
    vb_error_t err = { 0 };
    make_chain (f, 1, "1M", top, sizeof top);
    vb_image_chain_t *chain = vb_image_chain_new (top, VB_IMAGE_FORMAT_RAW, &err);
    assert_non_null (chain);
    assert_int_equal (chain->nlayers, 1);
    assert_int_equal (chain->layers[0].format, VB_IMAGE_FORMAT_RAW);
    struct stat st;
    assert_int_equal (stat (top, &st), 0);
    assert_int_equal (chain->layers[0].virtual_size, (uint64_t) st.st_size);
    vb_image_chain_destroy (&chain);
}

/*  Overwrite LEN bytes at OFF of PATH. */
static void
poke (const char *path, off_t off, const void *data, size_t len)
{
    int fd = open (path, O_WRONLY);
    assert_true (fd >= 0);
    assert_int_equal (pwrite (fd, data, len, off), (ssize_t) len);
    close (fd);
}

static void
poke_be32 (const char *path, off_t off, uint32_t v)
{
    unsigned char b[4] = { v >> 24, v >> 16, v >> 8, v };
    poke (path, off, b, 4);
}

static void
poke_be64 (const char *path, off_t off, uint64_t v)
{
    poke_be32 (path, off, (uint32_t) (v >> 32));
    poke_be32 (path, off + 4, (uint32_t) v);
}

static uint64_t
peek_be64 (const char *path, off_t off)
{
    unsigned char b[8];
    int fd = open (path, O_RDONLY);
    assert_true (fd >= 0);
    assert_int_equal (pread (fd, b, 8, off), 8);
    close (fd);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    return v;
}

static void
test_image_chain_header_rewritten_to_itself_is_a_loop (void **state)
{
    fixture_t *f = *state;
    char x[PATH_MAX];
    vb_error_t err = { 0 };
    /*  x.qcow2 names y.qcow2 (which does not exist: -u); then the name in the header is rewritten
     *  in place to x.qcow2, a name of the same length, so the image backs itself. */
    assert_int_equal (run ("cd '%s' && qemu-img create -q -f qcow2 -u -b y.qcow2 -F qcow2 "
                           "x.qcow2 1M", f->dir), 0);
    snprintf (x, sizeof x, "%s/x.qcow2", f->dir);
    uint64_t off = peek_be64 (x, 8);
    assert_true (off > 0);
    poke (x, (off_t) off, "x", 1);
    assert_int_not_equal (run ("qemu-img info -U --backing-chain '%s' >/dev/null 2>&1", x), 0);
    assert_null (vb_image_chain_new (x, VB_IMAGE_FORMAT_QCOW2, &err));
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (err.message, "loops"));
}

static void
test_image_chain_rebased_into_a_cycle_is_a_loop (void **state)
{
    fixture_t *f = *state;
    char top[PATH_MAX];
    vb_error_t err = { 0 };
    make_chain (f, 2, "1M", top, sizeof top);
    /*  l0 (the bottom) now names the top: l2 -> l1 -> l0 -> l2. */
    assert_int_equal (run ("cd '%s' && qemu-img rebase -q -u -b l2.qcow2 -F qcow2 l0.qcow2",
                           f->dir), 0);
    assert_null (vb_image_chain_new (top, VB_IMAGE_FORMAT_QCOW2, &err));
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (err.message, "loops"));
    assert_non_null (strstr (err.message, "l0.qcow2"));
}

static void
test_image_chain_deeper_than_limit_fails (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    char top[PATH_MAX];
    /*  -u: qemu-img does not open the backing, so each create is cheap. */
    assert_int_equal (run ("cd '%s' && qemu-img create -q -f qcow2 c0.qcow2 1M && "
                           "for i in $(seq 1 %d); do qemu-img create -q -f qcow2 -u "
                           "-b c$((i-1)).qcow2 -F qcow2 c$i.qcow2 1M || exit 1; done",
                           f->dir, VB_IMAGE_CHAIN_MAX_DEPTH + 1), 0);
    snprintf (top, sizeof top, "%s/c%d.qcow2", f->dir, VB_IMAGE_CHAIN_MAX_DEPTH);
    vb_image_chain_t *chain = vb_image_chain_new (top, VB_IMAGE_FORMAT_QCOW2, &err);
    assert_non_null (chain);  /* exactly the limit: accepted */
    assert_int_equal (chain->nlayers, VB_IMAGE_CHAIN_MAX_DEPTH + 1);
    vb_image_chain_destroy (&chain);
    snprintf (top, sizeof top, "%s/c%d.qcow2", f->dir, VB_IMAGE_CHAIN_MAX_DEPTH + 1);
    assert_null (vb_image_chain_new (top, VB_IMAGE_FORMAT_QCOW2, &err));
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (err.message, "deeper"));
}

/*  A one-layer qcow2 image with a backing name, for header corruption tests. */
static void
make_backed (const fixture_t *f, char *top, size_t len)
{
    assert_int_equal (run ("cd '%s' && qemu-img create -q -f qcow2 base.qcow2 1M && "
                           "qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2",
                           f->dir), 0);
    snprintf (top, len, "%s/top.qcow2", f->dir);
}

static void
expect_corrupt (const char *top, const char *needle)
{
    vb_error_t err = { 0 };
    assert_null (vb_image_chain_new (top, VB_IMAGE_FORMAT_QCOW2, &err));
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (err.message, top));
    if (!strstr (err.message, needle))
        fail_msg ("error '%s' does not mention '%s'", err.message, needle);
    /*  QEMU refuses these headers too. */
    assert_int_not_equal (run ("qemu-img info -U -f qcow2 '%s' >/dev/null 2>&1", top), 0);
}

static void
test_image_chain_version_four_is_refused (void **state)
{
    char top[PATH_MAX];
    make_backed (*state, top, sizeof top);
    poke_be32 (top, 4, 4);
    expect_corrupt (top, "version 4");
}

static void
test_image_chain_backing_name_too_long_is_refused (void **state)
{
    char top[PATH_MAX];
    make_backed (*state, top, sizeof top);
    poke_be32 (top, 16, 1024);
    expect_corrupt (top, "too long");
}

static void
test_image_chain_backing_offset_outside_cluster_is_refused (void **state)
{
    char top[PATH_MAX];
    make_backed (*state, top, sizeof top);
    poke_be64 (top, 8, 1ull << 40);
    expect_corrupt (top, "outside the first cluster");
}

static void
test_image_chain_v3_header_length_too_short_is_refused (void **state)
{
    char top[PATH_MAX];
    make_backed (*state, top, sizeof top);
    poke_be32 (top, 100, 96);
    expect_corrupt (top, "header length");
}

static void
test_image_chain_extension_overrunning_area_is_refused (void **state)
{
    char top[PATH_MAX];
    make_backed (*state, top, sizeof top);
    /*  qemu-img 7.2 writes the backing-format extension first, right after the 112-byte header;
     *  give it a length that runs past the backing name. */
    uint64_t hlen = peek_be64 (top, 96) & 0xffffffffu;
    assert_int_equal (peek_be64 (top, (off_t) hlen) >> 32, 0xe2792acau);
    poke_be32 (top, (off_t) hlen + 4, 60000);
    expect_corrupt (top, "extension");
}

static void
test_image_chain_unknown_incompatible_feature_is_refused (void **state)
{
    char top[PATH_MAX];
    make_backed (*state, top, sizeof top);
    poke_be64 (top, 72, 1ull << 40);
    expect_corrupt (top, "incompatible");
}

/*  Attach FILE to a free loop device, recorded in F->loopdev (teardown detaches it). */
static void
loop_attach (fixture_t *f, const char *file)
{
    char cmd[PATH_MAX + 64];
    snprintf (cmd, sizeof cmd, "losetup -f --show '%s'", file);
    char *dev = capture (cmd);
    assert_non_null (dev);
    dev[strcspn (dev, "\n")] = '\0';
    snprintf (f->loopdev, sizeof f->loopdev, "%s", dev);
    free (dev);
}

static void
test_image_chain_block_device_backing_matches_qemu_img (void **state)
{
    fixture_t *f = *state;
    char img[PATH_MAX], top[PATH_MAX];
    vb_error_t err = { 0 };
    snprintf (img, sizeof img, "%s/dev.img", f->dir);
    assert_int_equal (run ("truncate -s 6M '%s'", img), 0);
    loop_attach (f, img);

    vb_image_chain_t *chain = vb_image_chain_new (f->loopdev, VB_IMAGE_FORMAT_RAW, &err);
    assert_non_null (chain);
    assert_int_equal (chain->nlayers, 1);
    assert_true (chain->layers[0].is_block);
    assert_int_equal (chain->layers[0].physical, 6 * 1024 * 1024);
    assert_int_equal (chain->layers[0].virtual_size, 6 * 1024 * 1024);
    assert_int_equal (chain->layers[0].allocation, 0);
    assert_chain_matches_qemu_img (chain, f->loopdev);
    vb_image_chain_destroy (&chain);

    /*  A qcow2 overlay on the device: the device is a raw backing layer. */
    assert_int_equal (run ("qemu-img create -q -f qcow2 -b %s -F raw '%s/top.qcow2'",
                           f->loopdev, f->dir), 0);
    snprintf (top, sizeof top, "%s/top.qcow2", f->dir);
    chain = vb_image_chain_new (top, VB_IMAGE_FORMAT_QCOW2, &err);
    assert_non_null (chain);
    assert_int_equal (chain->nlayers, 2);
    assert_false (chain->layers[0].is_block);
    assert_true (chain->layers[1].is_block);
    assert_string_equal (chain->layers[1].path, f->loopdev);
    assert_int_equal (chain->layers[1].physical, 6 * 1024 * 1024);
    assert_chain_matches_qemu_img (chain, top);
    vb_image_chain_destroy (&chain);
}

/*  vb_image_file_sizes: what a chain layer reports of its file, without reading a header; the
 *  allocation is what qemu-img calls actual-size. */
static void
test_image_file_sizes_match_chain_layers_and_qemu_img (void **state)
{
    fixture_t *f = *state;
    char sparse[PATH_MAX], top[PATH_MAX];
    vb_error_t err = { 0 };
    uint64_t physical = 1, allocation = 1;
    snprintf (sparse, sizeof sparse, "%s/sparse.raw", f->dir);
    assert_int_equal (run ("truncate -s 3M '%s'", sparse), 0);
    assert_int_equal (vb_image_file_sizes (sparse, &physical, &allocation, &err), 0);
    assert_int_equal (physical, 3 * 1024 * 1024);
    assert_int_equal (allocation, 0);

    make_chain (f, 0, "64M", top, sizeof top);
    assert_int_equal (run ("qemu-io -f qcow2 -c 'write -q -P 1 1M 256k' '%s'", top), 0);
    vb_image_chain_t *chain = vb_image_chain_new (top, VB_IMAGE_FORMAT_QCOW2, &err);
    assert_non_null (chain);
    assert_int_equal (vb_image_file_sizes (top, &physical, &allocation, &err), 0);
    assert_int_equal (physical, chain->layers[0].physical);
    assert_int_equal (allocation, chain->layers[0].allocation);
    assert_true (allocation >= 256 * 1024);
    assert_chain_matches_qemu_img (chain, top);
    vb_image_chain_destroy (&chain);

    /*  A block device: its size, nothing allocated. */
    loop_attach (f, sparse);
    assert_int_equal (vb_image_file_sizes (f->loopdev, &physical, &allocation, &err), 0);
    assert_int_equal (physical, 3 * 1024 * 1024);
    assert_int_equal (allocation, 0);

    /*  Errors name the file; nothing else is a layer. */
    char missing[PATH_MAX];
    snprintf (missing, sizeof missing, "%s/missing.qcow2", f->dir);
    assert_int_equal (vb_image_file_sizes (missing, &physical, &allocation, &err), -1);
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (err.message, missing));
    vb_error_clear (&err);
    assert_int_equal (vb_image_file_sizes (f->dir, &physical, &allocation, &err), -1);
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (err.message, "neither a regular file nor a block device"));
    vb_error_clear (&err);
    assert_int_equal (vb_image_file_sizes (NULL, &physical, &allocation, &err), -1);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
}

static void
test_image_resolve_backing_follows_qemu_rules (void **state)
{
    (void) state;
    vb_error_t err = { 0 };
    char *p;
    p = vb_image_resolve_backing ("/a/b/top.qcow2", "base.qcow2", &err);
    assert_string_equal (p, "/a/b/base.qcow2");
    free (p);
    p = vb_image_resolve_backing ("/a/b/top.qcow2", "/c/base.qcow2", &err);
    assert_string_equal (p, "/c/base.qcow2");
    free (p);
    p = vb_image_resolve_backing ("top.qcow2", "base.qcow2", &err);
    assert_string_equal (p, "base.qcow2");
    free (p);
    p = vb_image_resolve_backing ("/a/top.qcow2", "file:/x/base.qcow2", &err);
    assert_string_equal (p, "/x/base.qcow2");
    free (p);
    /*  A ':' after a '/' is part of a file name, not a protocol. */
    p = vb_image_resolve_backing ("/a/top.qcow2", "d/x:y.qcow2", &err);
    assert_string_equal (p, "/a/d/x:y.qcow2");
    free (p);
    assert_null (vb_image_resolve_backing ("/a/top.qcow2", "nbd://h:10809/e", &err));
    assert_int_equal (err.code, VB_ERR_UNSUPPORTED);
    assert_null (vb_image_resolve_backing ("/a/top.qcow2", "json:{\"driver\":\"nbd\"}", &err));
    assert_int_equal (err.code, VB_ERR_UNSUPPORTED);
}

static void
test_image_chain_bad_arguments_answer_invalid_arg (void **state)
{
    (void) state;
    vb_error_t err = { 0 };
    assert_null (vb_image_chain_new (NULL, VB_IMAGE_FORMAT_AUTO, &err));
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    vb_error_clear (&err);
    assert_null (vb_image_chain_new ("", VB_IMAGE_FORMAT_AUTO, &err));
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    vb_error_clear (&err);
    assert_null (vb_image_chain_new ("/dev/null", VB_IMAGE_FORMAT_LAST, &err));
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    vb_error_clear (&err);
    assert_null (vb_image_chain_new ("/dev/null", VB_IMAGE_FORMAT_RAW, &err));
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);  /* a character device */
    vb_image_chain_t *none = NULL;
    vb_image_chain_destroy (&none);
    vb_image_chain_destroy (NULL);
}

#define T(name) cmocka_unit_test_setup_teardown (name, setup, teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        T (test_image_chain_depth_zero_is_one_layer),
        T (test_image_chain_depth_one_reads_backing),
        T (test_image_chain_depth_two_matches_qemu_img),
        T (test_image_chain_depth_three_matches_qemu_img),
        T (test_image_chain_depth_four_matches_qemu_img),
        T (test_image_chain_raw_base_is_raw_with_file_size),
        T (test_image_chain_relative_backing_resolves_against_layer_dir),
        T (test_image_chain_missing_backing_fails_naming_both_files),
        T (test_image_chain_missing_top_fails_naming_it),
        T (test_image_chain_truncated_qcow2_is_corrupt),
        T (test_image_chain_declared_qcow2_without_magic_fails),
        T (test_image_chain_declared_raw_is_not_probed),
        T (test_image_chain_header_rewritten_to_itself_is_a_loop),
        T (test_image_chain_rebased_into_a_cycle_is_a_loop),
        T (test_image_chain_deeper_than_limit_fails),
        T (test_image_chain_version_four_is_refused),
        T (test_image_chain_backing_name_too_long_is_refused),
        T (test_image_chain_backing_offset_outside_cluster_is_refused),
        T (test_image_chain_v3_header_length_too_short_is_refused),
        T (test_image_chain_extension_overrunning_area_is_refused),
        T (test_image_chain_unknown_incompatible_feature_is_refused),
        T (test_image_chain_block_device_backing_matches_qemu_img),
        T (test_image_file_sizes_match_chain_layers_and_qemu_img),
        T (test_image_resolve_backing_follows_qemu_rules),
        T (test_image_chain_bad_arguments_answer_invalid_arg),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
