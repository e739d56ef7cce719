/*  Unit tests for vb_util (common/vb_util.c): clocks, atomic files, mkdir -p, name and UUID
 *  checks, UUID generation and FNV-1a. Each test works in its own mkdtemp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vb_util.h"

static int
setup_dir (void **state)
{
    char *dir = strdup ("/tmp/vb-test-util-XXXXXX");
    if (!mkdtemp (dir))
        return -1;
    *state = dir;
    return 0;
}

static int
teardown_dir (void **state)
{
    char cmd[256];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", (char *) *state);
    int rc = system (cmd);
    free (*state);
    return rc == 0 ? 0 : -1;
}

static size_t
count_entries (const char *dir)
{
    size_t n = 0;
    DIR *d = opendir (dir);
    assert_non_null (d);
    struct dirent *e;
    while ((e = readdir (d)))
        if (strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0)
            n++;
    closedir (d);
    return n;
}

static void
test_util_clocks_move_forward (void **state)
{
    (void) state;
    int64_t a = vb_now_ns ();
    int64_t ms = vb_now_ms ();
    int64_t b = vb_now_ns ();
    assert_true (b >= a);
    assert_true (ms >= a / 1000000 && ms <= b / 1000000);
    /*  Wall clock after 2024-01-01 in ns. */
    assert_true (vb_wall_ns () > 1704067200ULL * 1000000000ULL);
}

static void
test_util_atomic_write_replaces_content_and_leaves_no_temp (void **state)
{
    const char *dir = *state;
    char path[256];
    snprintf (path, sizeof path, "%s/dom.xml", dir);
    vb_error_t err = { 0 };
    assert_int_equal (vb_write_file_atomic (path, "first version", 13, &err), 0);
    assert_int_equal (vb_write_file_atomic (path, "second", 6, &err), 0);
    size_t len = 0;
    char *text = vb_read_file (path, 1024, &len, &err);
    assert_non_null (text);
    assert_int_equal (len, 6);
    assert_string_equal (text, "second");
    free (text);
    assert_int_equal (count_entries (dir), 1);

    /*  An empty file is fine too. */
    assert_int_equal (vb_write_file_atomic (path, NULL, 0, &err), 0);
    text = vb_read_file (path, 1024, &len, &err);
    assert_non_null (text);
    assert_int_equal (len, 0);
    assert_string_equal (text, "");
    free (text);
}

static void
test_util_atomic_write_into_missing_dir_fails_naming_path (void **state)
{
    const char *dir = *state;
    char path[256];
    snprintf (path, sizeof path, "%s/nope/dom.xml", dir);
    vb_error_t err = { 0 };
    assert_int_equal (vb_write_file_atomic (path, "x", 1, &err), -1);
    assert_int_equal (err.code, VB_ERR_INTERNAL);
    assert_non_null (strstr (err.message, "nope/dom.xml"));
    assert_int_equal (count_entries (dir), 0);
}

static void
test_util_read_file_limits_and_missing_files (void **state)
{
    const char *dir = *state;
    char path[256];
    snprintf (path, sizeof path, "%s/big", dir);
    char data[10000];
    memset (data, 'z', sizeof data);
    vb_error_t err = { 0 };
    assert_int_equal (vb_write_file_atomic (path, data, sizeof data, &err), 0);

    size_t len = 0;
    char *text = vb_read_file (path, sizeof data, &len, &err);
    assert_non_null (text);
    assert_int_equal (len, sizeof data);
    free (text);
    assert_null (vb_read_file (path, sizeof data - 1, &len, &err));
    assert_non_null (strstr (err.message, "larger than 9999 bytes"));

    snprintf (path, sizeof path, "%s/missing", dir);
    assert_null (vb_read_file (path, 100, NULL, &err));
    assert_int_equal (errno, ENOENT);
    assert_non_null (strstr (err.message, "missing"));

    /*  A /proc file reports st_size 0 yet has content. */
    text = vb_read_file ("/proc/self/stat", 65536, &len, &err);
    assert_non_null (text);
    assert_true (len > 0);
    free (text);
}

static void
test_util_mkdir_p_creates_nested_and_accepts_existing (void **state)
{
    const char *dir = *state;
    char path[256];
    snprintf (path, sizeof path, "%s/a/b/c", dir);
    vb_error_t err = { 0 };
    assert_int_equal (vb_mkdir_p (path, 0700, &err), 0);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_true (S_ISDIR (st.st_mode));
    assert_int_equal (vb_mkdir_p (path, 0700, &err), 0);

    /*  A file in the way is an error naming it. */
    char file[300];
    snprintf (file, sizeof file, "%s/a/file", dir);
    assert_int_equal (vb_write_file_atomic (file, "x", 1, &err), 0);
    snprintf (path, sizeof path, "%s/a/file/sub", dir);
    assert_int_equal (vb_mkdir_p (path, 0700, &err), -1);
    assert_non_null (strstr (err.message, "a/file"));
    assert_int_equal (vb_mkdir_p ("", 0700, &err), -1);
}

static void
test_util_name_validation (void **state)
{
    (void) state;
    const char *good[] = { "web", "h1", "a.b-c_d+e", "0", "A",
                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
    const char *bad[] = { "", ".hidden", "-x", "a/b", "..", "a b", "é", "a\n",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!vb_name_is_valid (good[i]))
            fail_msg ("'%s' should be valid", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (vb_name_is_valid (bad[i]))
            fail_msg ("'%s' should be invalid", bad[i]);
    assert_false (vb_name_is_valid (NULL));
}

static void
test_util_uuid_validation (void **state)
{
    (void) state;
    assert_true (vb_uuid_is_valid ("6f1c2a10-3b4e-4c5d-8e9f-0a1b2c3d4e5f"));
    assert_true (vb_uuid_is_valid ("6F1C2A10-3B4E-4C5D-8E9F-0A1B2C3D4E5F"));
    assert_false (vb_uuid_is_valid ("6f1c2a10-3b4e-4c5d-8e9f-0a1b2c3d4e5"));
    assert_false (vb_uuid_is_valid ("6f1c2a10-3b4e-4c5d-8e9f-0a1b2c3d4e5f0"));
    assert_false (vb_uuid_is_valid ("6f1c2a103b4e-4c5d-8e9f-0a1b2c3d4e5f0"));
    assert_false (vb_uuid_is_valid ("6f1c2a10-3b4e-4c5d-8e9g-0a1b2c3d4e5f"));
    assert_false (vb_uuid_is_valid (""));
    assert_false (vb_uuid_is_valid (NULL));
}

static void
test_util_uuid_generate_is_valid_v4_and_distinct (void **state)
{
    (void) state;
    char a[37], b[37];
    vb_uuid_generate (a);
    vb_uuid_generate (b);
    assert_true (vb_uuid_is_valid (a));
    assert_true (vb_uuid_is_valid (b));
    assert_string_not_equal (a, b);
    assert_int_equal (a[14], '4');
    assert_non_null (strchr ("89ab", a[19]));
    for (int i = 0; i < 36; i++)
        assert_false (a[i] >= 'A' && a[i] <= 'F');
}

static void
test_util_hash64_matches_fnv1a_vectors (void **state)
{
    (void) state;
    /*  Reference values of 64-bit FNV-1a (Fowler/Noll/Vo test vectors). */
    assert_true (vb_hash64 ("", 0) == 0xcbf29ce484222325ULL);
    assert_true (vb_hash64 ("a", 1) == 0xaf63dc4c8601ec8cULL);
    assert_true (vb_hash64 ("foobar", 6) == 0x85944171f73967e8ULL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_util_clocks_move_forward),
        cmocka_unit_test_setup_teardown (test_util_atomic_write_replaces_content_and_leaves_no_temp,
                                         setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown (test_util_atomic_write_into_missing_dir_fails_naming_path,
                                         setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown (test_util_read_file_limits_and_missing_files, setup_dir,
                                         teardown_dir),
        cmocka_unit_test_setup_teardown (test_util_mkdir_p_creates_nested_and_accepts_existing,
                                         setup_dir, teardown_dir),
        cmocka_unit_test (test_util_name_validation),
        cmocka_unit_test (test_util_uuid_validation),
        cmocka_unit_test (test_util_uuid_generate_is_valid_v4_and_distinct),
        cmocka_unit_test (test_util_hash64_matches_fnv1a_vectors),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
