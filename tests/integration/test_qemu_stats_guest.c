/*  domstats check: real guest I/O (issue 4 "Checks", real guest I/O).
 *
 *  The disk I/O guest (tests/guest) boots from a raw vda and does READS single-sector reads and
 *  WRITES single-sector writes on a raw vdb through BIOS int 13h, then idles. `vbsh domstats
 *  --block` must then show on vdb exactly rd.reqs=READS, rd.bytes=512 READS, wr.reqs=WRITES,
 *  wr.bytes=512 WRITES and allocation (DESIGN §4: the storage node's wr_highest_offset) = the
 *  end of the last sector written; capacity = the file's size, physical = QEMU's actual-size
 *  (allocated bytes) or the file size. vda shows SeaBIOS's own boot-sector read and nothing
 *  else: rd.reqs=1, rd.bytes=512, no writes. Domain type kvm when /dev/kvm opens, else qemu.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_qemu_stats_support.h"
#include "test_qemu_support.h"
#include "vb_guest.h"
#include "vb_testenv.h"
#include "vb_util.h"

#define READS 3
#define WRITES 5
#define BOOT_BOUND_MS 60000   /* SeaBIOS takes ~4.5 s under KVM; TCG is slower */

typedef struct {
    vb_testenv_t *env;
    uint64_t wr_reqs;
} poll_t;

static bool
s_writes_done (void *arg)
{
    poll_t *p = arg;
    vb_testrun_t run;
    qs_stats_t stats;
    qs_domstats (p->env, &run, &stats, 0, "--block", "io", NULL);
    const qs_dom_t *dom = qs_dom (&stats, "io");
    p->wr_reqs = dom && qs_get (dom, "block.1.wr.reqs") ? qs_u64 (dom, "block.1.wr.reqs") : 0;
    qs_stats_clear (&stats);
    vb_testrun_clear (&run);
    return p->wr_reqs >= WRITES;
}

static void
test_qemu_stats_guest_io_counts_exact_on_vdb_and_firmware_read_on_vda (void **state)
{
    vb_testenv_t *env = *state;
    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-qemu", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);

    char boot[512], data[512];
    snprintf (boot, sizeof boot, "%s/boot.raw", vb_testenv_dir (env));
    snprintf (data, sizeof data, "%s/data.raw", vb_testenv_dir (env));
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_error_t err = {0};
    assert_int_equal (vb_guest_disk_io (sector, READS, WRITES, false, &err), 0);
    assert_int_equal (vb_guest_write_image (boot, sector, 1 << 20, &err), 0);
    assert_int_equal (vb_guest_write_image (data, NULL, 1 << 20, &err), 0);
    char *d1 = qt_disk_xml (boot, "raw", "vda"), *d2 = qt_disk_xml (data, "raw", "vdb");
    char *disks = NULL;
    assert_true (asprintf (&disks, "%s%s", d1, d2) > 0);
    char *xml = qt_domain_xml ("io", disks, NULL);
    qt_define (client, xml);
    qt_ok (client, "domain.start", "io");

    poll_t p = {env, 0};
    if (!vb_test_poll_until (s_writes_done, &p, 200, BOOT_BOUND_MS, NULL))
        fail_msg ("the guest did not write %d sectors on vdb within %d ms (saw %llu)", WRITES,
                  BOOT_BOUND_MS, (unsigned long long) p.wr_reqs);

    vb_testrun_t run;
    qs_stats_t stats;
    qs_domstats (env, &run, &stats, 0, "--block", "io", NULL);
    const qs_dom_t *dom = qs_dom (&stats, "io");
    assert_non_null (dom);
    assert_int_equal (stats.ndoms, 1);
    assert_string_equal (run.err, "");
    assert_int_equal (qs_u64 (dom, "block.count"), 2);
    assert_string_equal (qs_get (dom, "block.1.name"), "vdb");
    assert_string_equal (qs_get (dom, "block.1.path"), data);
    assert_int_equal (qs_u64 (dom, "block.1.rd.reqs"), READS);
    assert_int_equal (qs_u64 (dom, "block.1.rd.bytes"), READS * 512);
    assert_int_equal (qs_u64 (dom, "block.1.wr.reqs"), WRITES);
    assert_int_equal (qs_u64 (dom, "block.1.wr.bytes"), WRITES * 512);
    assert_int_equal (qs_u64 (dom, "block.1.allocation"),
                      (VB_GUEST_IO_WRITE_LBA + WRITES) * 512);
    assert_int_equal (qs_u64 (dom, "block.1.capacity"), 1 << 20);
    struct stat st;
    assert_int_equal (stat (data, &st), 0);
    uint64_t physical = qs_u64 (dom, "block.1.physical");
    if (physical != (uint64_t) st.st_blocks * 512 && physical != (uint64_t) st.st_size)
        fail_msg ("vdb physical=%llu: neither allocated bytes %llu nor size %llu",
                  (unsigned long long) physical, (unsigned long long) st.st_blocks * 512,
                  (unsigned long long) st.st_size);
    assert_null (qs_get (dom, "block.1.backingIndex"));

    /*  vda: SeaBIOS read the boot sector once; the guest never touched vda. */
    assert_string_equal (qs_get (dom, "block.0.name"), "vda");
    assert_int_equal (qs_u64 (dom, "block.0.rd.reqs"), 1);
    assert_int_equal (qs_u64 (dom, "block.0.rd.bytes"), 512);
    assert_int_equal (qs_u64 (dom, "block.0.wr.reqs"), 0);
    assert_int_equal (qs_u64 (dom, "block.0.wr.bytes"), 0);
    assert_int_equal (qs_u64 (dom, "block.0.allocation"), 0);
    qs_stats_clear (&stats);
    vb_testrun_clear (&run);

    qt_ok (client, "domain.destroy", "io");
    free (d1);
    free (d2);
    free (disks);
    free (xml);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("qemu_stats_guest", 0);
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    qt_kill_qemus (vb_testenv_dir (env));
    vb_testenv_destroy (&env);
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_qemu_stats_guest_io_counts_exact_on_vdb_and_firmware_read_on_vda, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
