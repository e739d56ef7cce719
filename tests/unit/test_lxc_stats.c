/*  Unit tests of lxc_stats: the cgroup v1/v2 and /proc/net/dev parsers, on files captured from a
 *  real container (tests/data/cgroup/v1, v2/cpu.stat) and, for the other v2 files, written from
 *  the kernel's documented format (see tests/data/cgroup/README.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lxc_stats.h"
#include "vb_util.h"

#define DATA VB_TEST_DATA_DIR "/cgroup/"

static char *
s_fixture (const char *name)
{
    vb_error_t err = { 0 };
    char *text = vb_read_file (name, 1 << 20, NULL, &err);
    if (!text)
        fail_msg ("cannot read fixture %s: %s", name, err.message);
    return text;
}

static void
test_lxc_stats_cpuacct_v1_converts_ticks_to_ns (void **state)
{
    (void) state;
    char *usage = s_fixture (DATA "v1/cpuacct.usage"), *stat = s_fixture (DATA "v1/cpuacct.stat");
    lxc_cpu_stats_t cpu;
    vb_error_t err = { 0 };
    assert_int_equal (lxc_stats_parse_cpuacct (usage, stat, 100, &cpu, &err), 0);
    assert_int_equal (cpu.time_ns, 436132656ULL);
    assert_int_equal (cpu.user_ns, 41ULL * 10000000ULL);
    assert_int_equal (cpu.system_ns, 1ULL * 10000000ULL);
    /*  The same ticks at another USER_HZ. */
    assert_int_equal (lxc_stats_parse_cpuacct (usage, stat, 250, &cpu, &err), 0);
    assert_int_equal (cpu.user_ns, 41ULL * 4000000ULL);
    assert_int_not_equal (lxc_stats_parse_cpuacct (usage, stat, 0, &cpu, &err), 0);
    free (usage);
    free (stat);
}

static void
test_lxc_stats_cpu_stat_v2_converts_usec_to_ns (void **state)
{
    (void) state;
    char *text = s_fixture (DATA "v2/cpu.stat");
    lxc_cpu_stats_t cpu;
    vb_error_t err = { 0 };
    assert_int_equal (lxc_stats_parse_cpu_stat (text, &cpu, &err), 0);
    assert_int_equal (cpu.time_ns, 436355ULL * 1000);
    assert_int_equal (cpu.user_ns, 428042ULL * 1000);
    assert_int_equal (cpu.system_ns, 8313ULL * 1000);
    free (text);
}

static void
test_lxc_stats_memory_files_give_bytes_and_max_is_unlimited (void **state)
{
    (void) state;
    const char *files[] = { DATA "v1/memory.usage_in_bytes", DATA "v1/memory.limit_in_bytes",
                            DATA "v2/memory.current", DATA "v2/memory.max" };
    const uint64_t want[] = { 901120, 134217728, 1744896, UINT64_MAX };
    vb_error_t err = { 0 };
    for (size_t i = 0; i < 4; i++) {
        char *text = s_fixture (files[i]);
        uint64_t v = 0;
        assert_int_equal (lxc_stats_parse_u64 (text, true, &v, &err), 0);
        assert_true (v == want[i]);
        free (text);
    }
    uint64_t v;
    assert_int_not_equal (lxc_stats_parse_u64 ("max\n", false, &v, &err), 0);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
}

static void
test_lxc_stats_blkio_v1_reads_the_device_lines (void **state)
{
    (void) state;
    char *bytes = s_fixture (DATA "v1/blkio.throttle.io_service_bytes");
    char *ios = s_fixture (DATA "v1/blkio.throttle.io_serviced");
    lxc_io_stats_t io;
    vb_error_t err = { 0 };
    assert_int_equal (lxc_stats_parse_blkio (bytes, ios, 7, 0, &io, &err), 0);
    assert_int_equal (io.wr_bytes, 8388608);
    assert_int_equal (io.rd_bytes, 409600);
    assert_int_equal (io.wr_reqs, 16);
    assert_int_equal (io.rd_reqs, 100);
    /*  Another device (no lines): zeros; 7:00 is not 7:0 and 17:0 is not 7:0. */
    assert_int_equal (lxc_stats_parse_blkio (bytes, ios, 17, 0, &io, &err), 0);
    assert_int_equal (io.wr_bytes + io.rd_bytes + io.wr_reqs + io.rd_reqs, 0);
    assert_int_equal (lxc_stats_parse_blkio ("7:0 Write x\n", "", 7, 0, &io, &err), -1);
    free (bytes);
    free (ios);
}

static void
test_lxc_stats_io_stat_v2_reads_the_device_line (void **state)
{
    (void) state;
    char *text = s_fixture (DATA "v2/io.stat");
    lxc_io_stats_t io;
    vb_error_t err = { 0 };
    assert_int_equal (lxc_stats_parse_io_stat (text, 8, 0, &io, &err), 0);
    assert_int_equal (io.rd_bytes, 90430464);
    assert_int_equal (io.wr_bytes, 299008000);
    assert_int_equal (io.rd_reqs, 8950);
    assert_int_equal (io.wr_reqs, 1252);
    assert_int_equal (lxc_stats_parse_io_stat (text, 8, 16, &io, &err), 0);
    assert_int_equal (io.wr_bytes, 314773504);
    assert_int_equal (io.wr_reqs, 353);
    assert_int_equal (lxc_stats_parse_io_stat (text, 8, 1, &io, &err), 0);
    assert_int_equal (io.wr_bytes, 0);
    assert_int_equal (lxc_stats_parse_io_stat ("8:0 rbytes\n", 8, 0, &io, &err), -1);
    assert_int_equal (lxc_stats_parse_io_stat ("8:0 rbytes=x\n", 8, 0, &io, &err), -1);
    free (text);
}

static void
test_lxc_stats_proc_cgroup_finds_each_controller (void **state)
{
    (void) state;
    char *text = s_fixture (DATA "v1/proc-pid-cgroup");
    vb_error_t err = { 0 };
    const char *ctrls[] = { "cpuacct", "memory", "blkio", "freezer", "" };
    for (size_t i = 0; i < 5; i++) {
        char *path = lxc_stats_parse_proc_cgroup (text, ctrls[i], &err);
        assert_non_null (path);
        assert_string_equal (path, "/lxc.payload.t1");
        free (path);
    }
    assert_null (lxc_stats_parse_proc_cgroup (text, "rdma", &err));
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    /*  Joined controllers ("cpu,cpuacct") are found by each name. */
    char *path = lxc_stats_parse_proc_cgroup ("3:cpu,cpuacct:/lxc.payload.x\n", "cpuacct", &err);
    assert_string_equal (path, "/lxc.payload.x");
    free (path);
    free (text);
}

static void
test_lxc_stats_net_dev_reads_an_interface_and_names_a_missing_one (void **state)
{
    (void) state;
    char *text = s_fixture (DATA "proc-net-dev");
    lxc_net_stats_t ns;
    vb_error_t err = { 0 };
    assert_int_equal (lxc_stats_parse_net_dev (text, "lo", &ns, &err), 0);
    assert_int_equal (ns.rx_bytes, 188652217);
    assert_int_equal (ns.rx_pkts, 392088);
    assert_int_equal (ns.tx_bytes, 188652217);
    assert_int_equal (lxc_stats_parse_net_dev (text, "vethX", &ns, &err), -1);
    assert_non_null (strstr (err.message, "vethX"));
    free (text);
}

static void
test_lxc_stats_cgroup_of_this_process_is_found_and_readable (void **state)
{
    (void) state;
    lxc_cgroup_t cg;
    vb_error_t err = { 0 };
    assert_int_equal (lxc_cgroup_find ("/sys/fs/cgroup", getpid (), &cg, &err), 0);
    assert_non_null (cg.cpu_dir);
    lxc_cpu_stats_t cpu;
    if (lxc_cgroup_read_cpu (&cg, &cpu, &err) != 0)
        fail_msg ("%s", err.message);
    lxc_cgroup_clear (&cg);
    assert_null (cg.cpu_dir);
    assert_int_equal (lxc_cgroup_find ("/sys/fs/cgroup", 0x7ffffff0, &cg, &err), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_lxc_stats_cpuacct_v1_converts_ticks_to_ns),
        cmocka_unit_test (test_lxc_stats_cpu_stat_v2_converts_usec_to_ns),
        cmocka_unit_test (test_lxc_stats_memory_files_give_bytes_and_max_is_unlimited),
        cmocka_unit_test (test_lxc_stats_blkio_v1_reads_the_device_lines),
        cmocka_unit_test (test_lxc_stats_io_stat_v2_reads_the_device_line),
        cmocka_unit_test (test_lxc_stats_proc_cgroup_finds_each_controller),
        cmocka_unit_test (test_lxc_stats_net_dev_reads_an_interface_and_names_a_missing_one),
        cmocka_unit_test (test_lxc_stats_cgroup_of_this_process_is_found_and_readable),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
