/*  xen_config: libvirt Xen XML -> libxl_domain_config, held against `xl create -n` output.
 *
 *  Each tests/data/xen/config/NAME.xml has an equivalent NAME.cfg; NAME.golden.json is what
 *  `xl create -n NAME.cfg` printed inside a real Xen 4.17 dom0 (tests/xen-live/run.sh --capture).
 *  The config built from the XML, rendered by libxl's own JSON generator, must equal it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "vb_domxml.h"
#include "vb_util.h"
#include "xen_config.h"

#define DATA VB_TEST_DATA_DIR "/xen/config/"

/*  Hosts: one that runs HVM guests with either paging, and the dom0 of tests/xen-live (Xen
 *  under QEMU TCG: hvm through emulated AMD-V, but no NPT and Debian's Xen without shadow
 *  paging; its `xl info` is tests/data/xen/sysfs/xl-info.txt). */
static const xen_config_host_t s_hvm_host = { .hvm = true, .hap = true, .shadow = true };
static const xen_config_host_t s_tcg_host = { .hvm = true, .hap = false, .shadow = false };

static char *
s_read (const char *path)
{
    vb_error_t err = { 0 };
    size_t len = 0;
    char *text = vb_read_file (path, 1 << 20, &len, &err);
    if (!text)
        fail_msg ("cannot read %s: %s", path, err.message);
    return text;
}

static vb_domain_def_t *
s_parse (const char *xml)
{
    vb_error_t err = { 0 };
    vb_domain_def_t *def = vb_domxml_parse (xml, strlen (xml), &err);
    if (!def)
        fail_msg ("XML does not parse: %s", err.message);
    return def;
}

typedef struct {
    int calls;
    char target[16];
} loop_fake_t;

/*  Stands in for the loop-device attach the driver does at start: the golden's xl.cfg names
 *  /dev/loop0, the device dom0-init's losetup gave the same file. */
static int
s_loop0 (void *arg, const vb_disk_def_t *disk, char **path_out, vb_error_t *err)
{
    (void) err;
    loop_fake_t *fake = (loop_fake_t *) arg;
    fake->calls++;
    snprintf (fake->target, sizeof fake->target, "%s", disk->target_dev);
    *path_out = strdup ("/dev/loop0");
    return 0;
}

/*  Build the config of XML and compare its JSON with GOLDEN (a file in DATA). */
static void
s_check_golden (const char *xml, const char *golden, xen_config_disk_path_fn *fn, void *arg)
{
    vb_domain_def_t *def = s_parse (xml);
    libxl_domain_config cfg;
    libxl_domain_config_init (&cfg);
    vb_error_t err = { 0 };
    if (xen_config_from_def (def, &s_hvm_host, &cfg, fn, arg, &err) != 0)
        fail_msg ("xen_config_from_def failed: %s", err.message);
    char *ours = xen_config_to_json (&cfg);
    assert_non_null (ours);

    char path[1024];
    snprintf (path, sizeof path, DATA "%s", golden);
    char *theirs = s_read (path);
    json_object *a = json_tokener_parse (ours);
    json_object *b = json_tokener_parse (theirs);
    assert_non_null (a);
    assert_non_null (b);
    if (!json_object_equal (a, b))
        fail_msg ("config differs from %s\n--- ours:\n%s\n--- xl create -n:\n%s", golden, ours,
                  theirs);
    json_object_put (a);
    json_object_put (b);
    free (ours);
    free (theirs);
    libxl_domain_config_dispose (&cfg);
    vb_domain_def_free (&def);
}

static void
s_check_file (const char *name)
{
    char path[1024], golden[256];
    snprintf (path, sizeof path, DATA "%s.xml", name);
    snprintf (golden, sizeof golden, "%s.golden.json", name);
    char *xml = s_read (path);
    s_check_golden (xml, golden, NULL, NULL);
    free (xml);
}

static void
test_xen_config_minimal_pv_matches_xl (void **state)
{
    (void) state;
    s_check_file ("pv-minimal");
}

static void
test_xen_config_phy_block_disk_initrd_cmdline_on_crash_match_xl (void **state)
{
    (void) state;
    s_check_file ("pv-phy-disk");
}

static void
test_xen_config_two_disks_readonly_maxmem_vcpus_actions_match_xl (void **state)
{
    (void) state;
    s_check_file ("pv-multi");
}

static void
test_xen_config_qcow2_and_raw_files_on_qdisk_match_xl (void **state)
{
    (void) state;
    s_check_file ("pv-qdisk");
}

static void
test_xen_config_raw_file_on_phy_goes_through_loop_device (void **state)
{
    (void) state;
    /*  The same domain as pv-phy-disk, but its disk is the image file itself. */
    char *xml = s_read (DATA "pv-phy-disk.xml");
    const char *from = "<disk type='block' device='disk'>";
    const char *src = "<source dev='/dev/loop0'/>";
    char *p = strstr (xml, from), *q = strstr (xml, src);
    assert_non_null (p);
    assert_non_null (q);
    char edited[8192];
    snprintf (edited, sizeof edited, "%.*s<disk type='file' device='disk'>%.*s"
              "<source file='/var/lib/xen/guest-disk.img'/>%s",
              (int) (p - xml), xml, (int) (q - (p + strlen (from))), p + strlen (from),
              q + strlen (src));
    loop_fake_t fake = { 0 };
    s_check_golden (edited, "pv-phy-disk.golden.json", s_loop0, &fake);
    assert_int_equal (fake.calls, 1);
    assert_string_equal (fake.target, "xvda");
    free (xml);
}

/*  DEF built from a one-off XML must be refused with CODE and a message containing WORD, on a
 *  host that can run HVM guests (HOST_HVM) or not. */
static void
s_refused_on (const xen_config_host_t *host, const char *devices, const char *os, const char *extra,
              vb_error_code_t code, const char *word)
{
    char xml[4096];
    snprintf (xml, sizeof xml,
              "<domain type='xen'><name>r</name><memory unit='MiB'>64</memory>"
              "<os>%s</os>%s<devices>%s</devices></domain>",
              os? os: "<type>linux</type><kernel>/boot/vmlinuz</kernel>", extra? extra: "",
              devices? devices: "");
    vb_domain_def_t *def = s_parse (xml);
    libxl_domain_config cfg;
    libxl_domain_config_init (&cfg);
    vb_error_t err = { 0 };
    assert_int_equal (xen_config_from_def (def, host, &cfg, NULL, NULL, &err), -1);
    assert_int_equal (err.code, code);
    if (!strstr (err.message, word))
        fail_msg ("message '%s' does not name '%s'", err.message, word);
    vb_error_t err2 = { 0 };
    int checked = xen_config_check (def, host, &err2);
    /*  The raw-file case passes the check and fails only without a loop mapper. */
    if (checked == -1)
        assert_int_equal (err2.code, code);
    libxl_domain_config_dispose (&cfg);
    vb_domain_def_free (&def);
}

static void
s_refused (const char *devices, const char *os, const char *extra, vb_error_code_t code,
           const char *word)
{
    s_refused_on (&s_hvm_host, devices, os, extra, code, word);
}

static void
test_xen_config_unsupported_parts_answer_unsupported_naming_the_element (void **state)
{
    (void) state;
    s_refused ("<interface type='user'/>", NULL, NULL, VB_ERR_UNSUPPORTED, "<interface>");
    s_refused (NULL, "<type>linux</type><kernel>/k</kernel><boot dev='hd'/>", NULL,
               VB_ERR_UNSUPPORTED, "<boot>");
    s_refused (NULL, NULL, "<features><pae/></features>", VB_ERR_UNSUPPORTED, "<features>");
    s_refused ("<disk type='file'><driver name='phy' type='qcow2'/><source file='/a.qcow2'/>"
               "<target dev='xvda'/></disk>", NULL, NULL, VB_ERR_UNSUPPORTED, "qcow2");
    s_refused ("<disk type='file' device='cdrom'><source file='/a.iso'/>"
               "<target dev='xvdc'/></disk>", NULL, NULL, VB_ERR_UNSUPPORTED, "cdrom");
    s_refused ("<disk type='file'><driver name='tap'/><source file='/a.img'/>"
               "<target dev='xvda'/></disk>", NULL, NULL, VB_ERR_UNSUPPORTED, "tap");
    s_refused ("<disk type='file'><source file='/a.img'/><target dev='xvda'/></disk>", NULL,
               NULL, VB_ERR_UNSUPPORTED, "loop device");
    s_refused (NULL, "<type>linux</type>", NULL, VB_ERR_INVALID_XML, "<kernel>");
    s_refused ("<disk type='block'><source dev='/dev/loop0'/><target dev='hda'/></disk>", NULL,
               NULL, VB_ERR_UNSUPPORTED, "PV disks are xvdX");
}

static void
test_xen_config_hvm_needs_a_host_that_can_run_it (void **state)
{
    (void) state;
    static const char os[] = "<type>hvm</type><boot dev='hd'/>";
    static const xen_config_host_t no_hvm = { .hvm = false, .hap = false, .shadow = true };
    static const xen_config_host_t hap_only = { .hvm = true, .hap = true, .shadow = false };
    static const xen_config_host_t shadow_only = { .hvm = true, .hap = false, .shadow = true };
    s_refused_on (&no_hvm, NULL, os, NULL, VB_ERR_UNSUPPORTED, "no hvm capability");
    /*  The live dom0 (Xen under TCG) reports hvm, yet libxl finds no paging mode for a guest:
     *  refused at define, naming both. */
    s_refused_on (&s_tcg_host, NULL, os, NULL, VB_ERR_UNSUPPORTED,
                  "neither hardware-assisted paging");
    s_refused_on (&shadow_only, NULL, os, "<features><hap/></features>", VB_ERR_UNSUPPORTED,
                  "no hardware-assisted paging");
    s_refused_on (&hap_only, NULL, os, "<features><hap state='off'/></features>",
                  VB_ERR_UNSUPPORTED, "shadow paging");
    char *xml = s_read (DATA "hvm-minimal.xml");
    vb_domain_def_t *def = s_parse (xml);
    vb_error_t err = { 0 };
    assert_int_equal (xen_config_check (def, &s_tcg_host, &err), -1);
    assert_int_equal (err.code, VB_ERR_UNSUPPORTED);
    assert_int_equal (xen_config_check (def, &hap_only, &err), 0);
    assert_int_equal (xen_config_check (def, &shadow_only, &err), 0);
    vb_domain_def_free (&def);
    free (xml);
    /*  A PV guest does not care. */
    xml = s_read (DATA "pv-minimal.xml");
    def = s_parse (xml);
    assert_int_equal (xen_config_check (def, &no_hvm, &err), 0);
    vb_domain_def_free (&def);
    free (xml);
}

static void
test_xen_config_hvm_unsupported_parts_are_named (void **state)
{
    (void) state;
    static const char hvm[] = "<type>hvm</type>";
    s_refused (NULL, "<type>hvm</type><loader type='pflash'>/usr/share/OVMF/OVMF_CODE.fd"
               "</loader>", NULL, VB_ERR_UNSUPPORTED, "OVMF_CODE.fd");
    s_refused (NULL, "<type>hvm</type><bootmenu enable='yes'/>", NULL, VB_ERR_UNSUPPORTED,
               "<os><bootmenu>");
    s_refused (NULL, "<type>hvm</type><boot dev='usb'/>", NULL, VB_ERR_INVALID_XML,
               "<boot dev='usb'>");
    s_refused (NULL, hvm, "<features><acpi/><hyperv/></features>", VB_ERR_UNSUPPORTED,
               "<features><hyperv>");
    s_refused (NULL, hvm, "<features><hap state='maybe'/></features>", VB_ERR_INVALID_XML,
               "<hap state=>");
    s_refused (NULL, hvm, "<clock offset='utc'/>", VB_ERR_UNSUPPORTED, "<clock>");
    s_refused ("<graphics type='vnc'/>", hvm, NULL, VB_ERR_UNSUPPORTED, "<graphics>");
    s_refused ("<disk type='block'><source dev='/dev/loop0'/><target dev='sda'/></disk>", hvm,
               NULL, VB_ERR_UNSUPPORTED, "HVM disks are xvdX or hdX");
}

static void
test_xen_config_minimal_hvm_matches_xl (void **state)
{
    (void) state;
    s_check_file ("hvm-minimal");
}

static void
test_xen_config_hvm_boot_order_features_direct_kernel_serial_disks_match_xl (void **state)
{
    (void) state;
    s_check_file ("hvm-features");
}

static void
test_xen_config_non_xen_domain_type_is_invalid_xml (void **state)
{
    (void) state;
    vb_domain_def_t *def = s_parse ("<domain type='kvm'><name>k</name><memory>65536</memory>"
                                    "<os><type>hvm</type></os></domain>");
    vb_error_t err = { 0 };
    assert_int_equal (xen_config_check (def, &s_hvm_host, &err), -1);
    assert_int_equal (err.code, VB_ERR_INVALID_XML);
    assert_non_null (strstr (err.message, "type='xen'"));
    vb_domain_def_free (&def);
}

static void
test_xen_config_devno_matches_blkback_sysfs_names (void **state)
{
    (void) state;
    /*  vbd-1-51712 is the directory the live capture found for the guest's xvda. */
    assert_int_equal (xen_config_disk_devno ("xvda"), 51712);
    assert_int_equal (xen_config_disk_devno ("xvdb"), 51728);
    assert_int_equal (xen_config_disk_devno ("xvda1"), 51713);
    assert_int_equal (xen_config_disk_devno ("xvdp"), (202 << 8) | (15 << 4));
    assert_int_equal (xen_config_disk_devno ("xvdq"), (1 << 28) | (16 << 8));
    assert_int_equal (xen_config_disk_devno ("xvdaa"), (1 << 28) | (26 << 8));
    assert_int_equal (xen_config_disk_devno ("hda"), 3 << 8);
    assert_int_equal (xen_config_disk_devno ("hdc"), 22 << 8);
    assert_int_equal (xen_config_disk_devno ("sdb"), (8 << 8) | 16);
    assert_int_equal (xen_config_disk_devno ("vda"), -1);
    assert_int_equal (xen_config_disk_devno ("xvd"), -1);
    assert_int_equal (xen_config_disk_devno ("xvda0"), -1);
    assert_int_equal (xen_config_disk_devno ("xvdaX"), -1);
    assert_int_equal (xen_config_disk_devno (NULL), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_xen_config_minimal_pv_matches_xl),
        cmocka_unit_test (test_xen_config_phy_block_disk_initrd_cmdline_on_crash_match_xl),
        cmocka_unit_test (test_xen_config_two_disks_readonly_maxmem_vcpus_actions_match_xl),
        cmocka_unit_test (test_xen_config_qcow2_and_raw_files_on_qdisk_match_xl),
        cmocka_unit_test (test_xen_config_raw_file_on_phy_goes_through_loop_device),
        cmocka_unit_test (test_xen_config_unsupported_parts_answer_unsupported_naming_the_element),
        cmocka_unit_test (test_xen_config_hvm_needs_a_host_that_can_run_it),
        cmocka_unit_test (test_xen_config_hvm_unsupported_parts_are_named),
        cmocka_unit_test (test_xen_config_minimal_hvm_matches_xl),
        cmocka_unit_test (test_xen_config_hvm_boot_order_features_direct_kernel_serial_disks_match_xl),
        cmocka_unit_test (test_xen_config_non_xen_domain_type_is_invalid_xml),
        cmocka_unit_test (test_xen_config_devno_matches_blkback_sysfs_names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
