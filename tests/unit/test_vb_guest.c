/*  Unit tests for vb_guest: the emitted boot sectors equal the images NASM assembled from the
 *  documented sources in tests/data/guest (see its README). What the guests do in a real QEMU is
 *  tested in tests/integration/test_guests.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vb_guest.h"
#include "vb_util.h"

static void
assert_matches_reference (const uint8_t sector[VB_GUEST_SECTOR_SIZE], const char *name)
{
    char path[512];
    snprintf (path, sizeof path, "%s/guest/%s", VB_TEST_DATA_DIR, name);
    vb_error_t err = { 0 };
    size_t len = 0;
    char *ref = vb_read_file (path, 4096, &len, &err);
    if (!ref)
        fail_msg ("%s", err.message);
    assert_int_equal (len, VB_GUEST_SECTOR_SIZE);
    for (size_t i = 0; i < VB_GUEST_SECTOR_SIZE; i++)
        if (sector[i] != (uint8_t) ref[i])
            fail_msg ("%s: byte 0x%03zx is %02X, NASM made %02X", name, i, sector[i],
                      (uint8_t) ref[i]);
    free (ref);
    assert_int_equal (sector[510], 0x55);
    assert_int_equal (sector[511], 0xAA);
}

static void
test_vb_guest_idle_matches_nasm (void **state)
{
    (void) state;
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_guest_idle (sector);
    assert_matches_reference (sector, "idle.bin");
}

static void
test_vb_guest_poweroff_matches_nasm_and_design_bytes (void **state)
{
    (void) state;
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_guest_poweroff (sector);
    assert_matches_reference (sector, "poweroff.bin");
    static const uint8_t design[] = { 0xBA, 0x04, 0x06, 0xB8, 0x00, 0x20, 0xEF, 0xFA, 0xF4,
                                      0xEB, 0xFD };
    assert_memory_equal (sector, design, sizeof design);
}

static void
test_vb_guest_power_button_matches_nasm (void **state)
{
    (void) state;
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_guest_power_button (sector);
    assert_matches_reference (sector, "power_button.bin");
}

static void
test_vb_guest_disk_io_patches_counts_and_poweroff (void **state)
{
    (void) state;
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_error_t err = { 0 };
    assert_int_equal (vb_guest_disk_io (sector, 3, 5, true, &err), 0);
    assert_matches_reference (sector, "disk_io-r3-w5-off.bin");
    assert_int_equal (vb_guest_disk_io (sector, 0x1234, 0, false, &err), 0);
    assert_matches_reference (sector, "disk_io-r4660-w0-idle.bin");
}

static void
test_vb_guest_disk_io_refuses_counts_out_of_range (void **state)
{
    (void) state;
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_error_t err = { 0 };
    assert_int_equal (vb_guest_disk_io (sector, VB_GUEST_IO_MAX + 1, 0, false, &err), -1);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    assert_int_equal (vb_guest_disk_io (sector, 0, VB_GUEST_IO_MAX + 1, false, &err), -1);
}

static void
test_vb_guest_write_image_puts_sector_first_and_pads (void **state)
{
    (void) state;
    char dir[] = "/tmp/vb-guest-test-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path[64];
    snprintf (path, sizeof path, "%s/boot.img", dir);
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_guest_idle (sector);
    vb_error_t err = { 0 };
    assert_int_equal (vb_guest_write_image (path, sector, 1 << 20, &err), 0);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_size, 1 << 20);
    size_t len = 0;
    char *back = vb_read_file (path, 1 << 21, &len, &err);
    assert_non_null (back);
    assert_memory_equal (back, sector, VB_GUEST_SECTOR_SIZE);
    assert_int_equal (back[VB_GUEST_SECTOR_SIZE], 0);
    free (back);
    assert_int_equal (vb_guest_write_image (path, NULL, 100, &err), -1);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    unlink (path);
    char bad[80];
    snprintf (bad, sizeof bad, "%s/missing/boot.img", dir);
    assert_int_equal (vb_guest_write_image (bad, sector, 4096, &err), -1);
    assert_int_equal (err.code, VB_ERR_INTERNAL);
    assert_non_null (strstr (err.message, bad));
    rmdir (dir);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_vb_guest_idle_matches_nasm),
        cmocka_unit_test (test_vb_guest_poweroff_matches_nasm_and_design_bytes),
        cmocka_unit_test (test_vb_guest_power_button_matches_nasm),
        cmocka_unit_test (test_vb_guest_disk_io_patches_counts_and_poweroff),
        cmocka_unit_test (test_vb_guest_disk_io_refuses_counts_out_of_range),
        cmocka_unit_test (test_vb_guest_write_image_puts_sector_first_and_pads),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
