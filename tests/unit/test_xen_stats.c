/*  xen_stats: domstats groups of Xen domains, the block group against blkback counters captured
 *  in a live dom0 (tests/data/xen/sysfs, see its README): the guest read 2 MiB (plus the
 *  partition probe) and wrote exactly 1 MiB with one fsync.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "vb_domstate.h"
#include "vb_domxml.h"
#include "vb_util.h"
#include "xen_stats.h"

#define SYSFS VB_TEST_DATA_DIR "/xen/sysfs"

static vb_domain_def_t *
s_def (void)
{
    vb_error_t err = { 0 };
    size_t len = 0;
    char *xml = vb_read_file (VB_TEST_DATA_DIR "/xen/config/pv-phy-disk.xml", 1 << 20, &len,
                              &err);
    assert_non_null (xml);
    vb_domain_def_t *def = vb_domxml_parse (xml, len, &err);
    free (xml);
    assert_non_null (def);
    return def;
}

static const vb_param_t *
s_get (const vb_params_t *p, const char *key)
{
    const vb_param_t *v = vb_params_find (p, key);
    if (!v)
        fail_msg ("no parameter %s", key);
    return v;
}

/*  The sector size xenstore held for the captured vbd (its "sector-size" file). */
static unsigned
s_captured_sector (void *arg, int domid, long devno)
{
    (void) arg;
    char path[512];
    snprintf (path, sizeof path, SYSFS "/vbd-%d-%ld/sector-size", domid, devno);
    vb_error_t err = { 0 };
    size_t len = 0;
    char *text = vb_read_file (path, 64, &len, &err);
    if (!text)
        return 0;
    unsigned v = (unsigned) strtoul (text, NULL, 10);
    free (text);
    return v;
}

static unsigned
s_sector_4k (void *arg, int domid, long devno)
{
    (void) arg;
    (void) domid;
    (void) devno;
    return 4096;
}

static void
test_xen_stats_read_vbd_reads_captured_counters (void **state)
{
    (void) state;
    xen_vbd_stats_t st;
    vb_error_t err = { 0 };
    assert_int_equal (xen_stats_read_vbd (SYSFS "/vbd-1-51712/statistics", &st, &err), 0);
    assert_int_equal (st.rd_req, 23);
    assert_int_equal (st.rd_sect, 4600);
    assert_int_equal (st.wr_req, 8);
    assert_int_equal (st.wr_sect, 2048);
    assert_int_equal (st.f_req, 1);
    assert_int_equal (st.ds_req, 0);
    assert_int_equal (st.oo_req, 0);
}

static void
test_xen_stats_block_of_running_domain_from_captured_sysfs (void **state)
{
    (void) state;
    vb_domain_def_t *def = s_def ();
    xen_stats_input_t in = {
        .def = def, .state = VB_STATE_RUNNING, .reason = VB_RUNNING_BOOTED, .domid = 1,
        .sysfs_root = SYSFS, .sector_size_fn = s_captured_sector,
    };
    vb_error_t err = { 0 };
    vb_params_t *p = xen_stats_params (&in, XEN_STATS_BLOCK, &err);
    assert_non_null (p);
    assert_int_equal (s_get (p, "block.count")->v.u, 1);
    assert_string_equal (s_get (p, "block.0.name")->v.s, "xvda");
    assert_string_equal (s_get (p, "block.0.path")->v.s, "/dev/loop0");
    assert_int_equal (s_get (p, "block.0.rd.reqs")->v.u, 23);
    assert_int_equal (s_get (p, "block.0.rd.bytes")->v.u, 4600 * 512);
    assert_int_equal (s_get (p, "block.0.wr.reqs")->v.u, 8);
    assert_int_equal (s_get (p, "block.0.wr.bytes")->v.u, 1048576);
    assert_int_equal (s_get (p, "block.0.fl.reqs")->v.u, 1);
    assert_int_equal (s_get (p, "block.0.errors")->v.u, 0);
    assert_int_equal (s_get (p, "block.0.wr.bytes")->type, VB_PARAM_ULLONG);
    vb_params_destroy (&p);

    /*  The counters are in the backend's sectors. */
    in.sector_size_fn = s_sector_4k;
    p = xen_stats_params (&in, XEN_STATS_BLOCK, &err);
    assert_int_equal (s_get (p, "block.0.wr.bytes")->v.u, 2048ull * 4096);
    vb_params_destroy (&p);

    /*  Without a sector size (no xenstore), blkback's 512. */
    in.sector_size_fn = NULL;
    p = xen_stats_params (&in, XEN_STATS_BLOCK, &err);
    assert_int_equal (s_get (p, "block.0.wr.bytes")->v.u, 1048576);
    vb_params_destroy (&p);
    vb_domain_def_free (&def);
}

static void
test_xen_stats_block_without_vbd_directory_has_name_and_path_only (void **state)
{
    (void) state;
    vb_domain_def_t *def = s_def ();
    xen_stats_input_t in = { .def = def, .state = VB_STATE_RUNNING, .domid = 7,
                             .sysfs_root = SYSFS };
    vb_error_t err = { 0 };
    vb_params_t *p = xen_stats_params (&in, XEN_STATS_BLOCK, &err);
    assert_non_null (vb_params_find (p, "block.0.name"));
    assert_null (vb_params_find (p, "block.0.wr.bytes"));
    vb_params_destroy (&p);
    vb_domain_def_free (&def);
}

static void
s_write (const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

static void
test_xen_stats_read_vbd_refuses_malformed_and_missing_counters (void **state)
{
    (void) state;
    char dir[] = "/tmp/vbtest-xenvbd-XXXXXX";
    assert_non_null (mkdtemp (dir));
    const char *names[] = { "rd_req", "wr_req", "rd_sect", "wr_sect", "f_req", "ds_req",
                            "oo_req" };
    for (size_t i = 0; i < 7; i++)
        s_write (dir, names[i], "5\n");
    xen_vbd_stats_t st;
    vb_error_t err = { 0 };
    assert_int_equal (xen_stats_read_vbd (dir, &st, &err), 0);
    assert_int_equal (st.oo_req, 5);

    const char *bad[] = { "abc\n", "-1\n", "", "12 34\n", "99999999999999999999999\n" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        s_write (dir, "wr_sect", bad[i]);
        vb_error_t e = { 0 };
        assert_int_equal (xen_stats_read_vbd (dir, &st, &e), -1);
        assert_int_equal (e.code, VB_ERR_OPERATION_FAILED);
        assert_non_null (strstr (e.message, "wr_sect"));
    }
    s_write (dir, "wr_sect", "1\n");
    char path[512];
    snprintf (path, sizeof path, "%s/oo_req", dir);
    unlink (path);
    vb_error_t e = { 0 };
    assert_int_equal (xen_stats_read_vbd (dir, &st, &e), -1);
    assert_non_null (strstr (e.message, "oo_req"));
    for (size_t i = 0; i < 6; i++) {
        snprintf (path, sizeof path, "%s/%s", dir, names[i]);
        unlink (path);
    }
    rmdir (dir);
}

static void
test_xen_stats_state_cpu_balloon_vcpu_of_running_domain (void **state)
{
    (void) state;
    vb_domain_def_t *def = s_def ();
    xen_vcpu_t vcpus[2] = {
        { .id = 0, .online = true, .running = true, .time_ns = 1100000000ull },
        { .id = 1, .online = true, .blocked = true, .time_ns = 250000000ull },
    };
    xen_stats_input_t in = {
        .def = def, .state = VB_STATE_PAUSED, .reason = VB_PAUSED_USER, .domid = 1,
        .cpu_time_ns = 13300000000ull, .current_memkb = 131072, .max_memkb = 132096,
        .vcpus = vcpus, .nvcpus = 2,
    };
    vb_error_t err = { 0 };
    vb_params_t *p = xen_stats_params (&in, XEN_STATS_ALL & ~XEN_STATS_BLOCK, &err);
    assert_non_null (p);
    assert_int_equal (s_get (p, "state.state")->v.i, VB_STATE_PAUSED);
    assert_int_equal (s_get (p, "state.reason")->v.i, VB_PAUSED_USER);
    assert_int_equal (s_get (p, "cpu.time")->v.u, 13300000000ull);
    assert_int_equal (s_get (p, "balloon.current")->v.u, 131072);
    assert_int_equal (s_get (p, "balloon.maximum")->v.u, 132096);
    assert_int_equal (s_get (p, "vcpu.current")->v.u, 2);
    assert_int_equal (s_get (p, "vcpu.maximum")->v.u, 1);
    assert_int_equal (s_get (p, "vcpu.0.state")->v.i, 1);
    assert_int_equal (s_get (p, "vcpu.1.state")->v.i, 2);
    assert_int_equal (s_get (p, "vcpu.1.time")->v.u, 250000000ull);
    /*  libvirt's order: state, cpu, balloon, vcpu. */
    assert_string_equal (vb_params_at (p, 0)->key, "state.state");
    assert_string_equal (vb_params_at (p, 2)->key, "cpu.time");
    assert_string_equal (vb_params_at (p, 3)->key, "balloon.current");
    vb_params_destroy (&p);
    vb_domain_def_free (&def);
}

static void
test_xen_stats_shut_off_domain_has_no_cpu_and_definition_memory (void **state)
{
    (void) state;
    vb_domain_def_t *def = s_def ();
    xen_stats_input_t in = { .def = def, .state = VB_STATE_SHUTOFF, .domid = -1,
                             .sysfs_root = SYSFS };
    vb_error_t err = { 0 };
    json_object *rec = xen_stats_record (&in, XEN_STATS_ALL, 42, &err);
    assert_non_null (rec);
    json_object *params = json_object_object_get (rec, "params");
    assert_non_null (params);
    char *text = strdup (json_object_to_json_string_ext (params, JSON_C_TO_STRING_PLAIN));
    assert_null (strstr (text, "cpu.time"));
    assert_null (strstr (text, "wr.bytes"));
    assert_non_null (strstr (text, "[\"balloon.current\",\"ullong\",131072]"));
    assert_non_null (strstr (text, "[\"vcpu.current\",\"uint\",1]"));
    assert_string_equal (json_object_get_string (json_object_object_get (rec, "name")), "tiny");
    free (text);
    json_object_put (rec);
    vb_domain_def_free (&def);
}

static void
test_xen_stats_groups_map_names_and_count_unknown (void **state)
{
    (void) state;
    unsigned mask = 0, unsupported = 0;
    vb_error_t err = { 0 };
    json_object *names = json_tokener_parse ("[\"block\",\"cpu-total\",\"perf\"]");
    assert_int_equal (xen_stats_groups (names, &mask, &unsupported, &err), 0);
    assert_int_equal (mask, XEN_STATS_BLOCK | XEN_STATS_CPU_TOTAL);
    assert_int_equal (unsupported, 1);
    json_object_put (names);
    assert_int_equal (xen_stats_groups (NULL, &mask, NULL, &err), 0);
    assert_int_equal (mask, XEN_STATS_ALL);
    names = json_tokener_parse ("[1]");
    assert_int_equal (xen_stats_groups (names, &mask, NULL, &err), -1);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    json_object_put (names);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_xen_stats_read_vbd_reads_captured_counters),
        cmocka_unit_test (test_xen_stats_block_of_running_domain_from_captured_sysfs),
        cmocka_unit_test (test_xen_stats_block_without_vbd_directory_has_name_and_path_only),
        cmocka_unit_test (test_xen_stats_read_vbd_refuses_malformed_and_missing_counters),
        cmocka_unit_test (test_xen_stats_state_cpu_balloon_vcpu_of_running_domain),
        cmocka_unit_test (test_xen_stats_shut_off_domain_has_no_cpu_and_definition_memory),
        cmocka_unit_test (test_xen_stats_groups_map_names_and_count_unknown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
