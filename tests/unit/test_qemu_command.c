/*  Unit tests for qemu_command: domain definition -> QEMU argv.
 *
 *  The golden tests work like libvirt's qemuxml2argvtest: tests/data/qemuxml2argv/NAME.xml is
 *  parsed by vb_domxml, built with the runtime paths /VBTMP/NAME.qmp and /VBTMP/NAME.pid, and
 *  compared argument by argument with NAME.args, written and reviewed by hand (see the README
 *  there). The other tests build definitions in C to reach each refusal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "qemu_command.h"
#include "vb_util.h"

#define GOLDEN_DIR VB_TEST_DATA_DIR "/qemuxml2argv"

static char *
slurp (const char *path, size_t *len)
{
    vb_error_t err = { 0 };
    char *text = vb_read_file (path, 1 << 20, len, &err);
    if (!text)
        fail_msg ("cannot read %s: %s", path, err.message);
    return text;
}

static void
check_golden (const char *name)
{
    char path[512];
    size_t len;
    vb_error_t err = { 0 };

    snprintf (path, sizeof path, "%s/%s.xml", GOLDEN_DIR, name);
    char *xml = slurp (path, &len);
    vb_domain_def_t *def = vb_domxml_parse (xml, len, &err);
    free (xml);
    if (!def)
        fail_msg ("%s.xml does not parse: %s", name, err.message);

    char qmp[256], pid[256];
    snprintf (qmp, sizeof qmp, "/VBTMP/%s.qmp", name);
    snprintf (pid, sizeof pid, "/VBTMP/%s.pid", name);
    qemu_command_paths_t paths = { .qmp_socket = qmp, .pidfile = pid };
    char **argv = qemu_command_build (def, &paths, &err);
    vb_domain_def_free (&def);
    if (!argv)
        fail_msg ("%s: build failed: %s", name, err.message);

    snprintf (path, sizeof path, "%s/%s.args", GOLDEN_DIR, name);
    char *want = slurp (path, &len);
    size_t i = 0;
    char *save = NULL;
    for (char *line = strtok_r (want, "\n", &save); line; line = strtok_r (NULL, "\n", &save), i++) {
        if (!argv[i])
            fail_msg ("%s: argv ends at %zu, golden continues with '%s'", name, i, line);
        if (strcmp (argv[i], line) != 0)
            fail_msg ("%s: argument %zu is '%s', golden says '%s'", name, i, argv[i], line);
    }
    if (argv[i])
        fail_msg ("%s: argv has extra argument %zu '%s'", name, i, argv[i]);
    free (want);
    qemu_command_free (&argv);
    assert_null (argv);
}

static void test_qemu_command_golden_minimal_kvm (void **s) { (void) s; check_golden ("minimal-kvm"); }
static void test_qemu_command_golden_minimal_tcg (void **s) { (void) s; check_golden ("minimal-tcg"); }
static void test_qemu_command_golden_disk_chain_qcow2_raw (void **s)
{ (void) s; check_golden ("disk-chain-qcow2-raw"); }
static void test_qemu_command_golden_disk_block (void **s) { (void) s; check_golden ("disk-block"); }
static void test_qemu_command_golden_disk_sata_scsi_cdrom (void **s)
{ (void) s; check_golden ("disk-sata-scsi-cdrom"); }
static void test_qemu_command_golden_disk_readonly (void **s) { (void) s; check_golden ("disk-readonly"); }
static void test_qemu_command_golden_disk_serial (void **s) { (void) s; check_golden ("disk-serial"); }
static void test_qemu_command_golden_net_user (void **s) { (void) s; check_golden ("net-user"); }
static void test_qemu_command_golden_serial_pty (void **s) { (void) s; check_golden ("serial-pty"); }
static void test_qemu_command_golden_serial_console_pty (void **s)
{ (void) s; check_golden ("serial-console-pty"); }
static void test_qemu_command_golden_console_pty (void **s) { (void) s; check_golden ("console-pty"); }
static void test_qemu_command_golden_on_reboot_destroy (void **s)
{ (void) s; check_golden ("on-reboot-destroy"); }
static void test_qemu_command_golden_path_comma (void **s) { (void) s; check_golden ("path-comma"); }

/*  A minimal valid definition built in C; tests change one thing each. */
static vb_domain_def_t
base_def (void)
{
    vb_domain_def_t def;
    memset (&def, 0, sizeof def);
    def.type = "kvm";
    def.name = "t";
    snprintf (def.uuid, sizeof def.uuid, "%s", "11111111-2222-4333-8444-555555555555");
    def.memory_kib = def.current_memory_kib = 65536;
    def.vcpus = 1;
    def.on_poweroff = VB_LIFECYCLE_DESTROY;
    def.on_reboot = VB_LIFECYCLE_RESTART;
    def.on_crash = VB_LIFECYCLE_DESTROY;
    return def;
}

static const qemu_command_paths_t plain_paths = { .qmp_socket = "/run/t.qmp" };

static void
expect_refusal (const vb_domain_def_t *def, const qemu_command_paths_t *paths,
                vb_error_code_t code, const char *needle)
{
    vb_error_t err = { 0 };
    char **argv = qemu_command_build (def, paths, &err);
    if (argv) {
        qemu_command_free (&argv);
        fail_msg ("expected %s about '%s', the build succeeded", vb_error_code_name (code), needle);
    }
    assert_int_equal (err.code, code);
    if (!strstr (err.message, needle))
        fail_msg ("error '%s' does not mention '%s'", err.message, needle);
}

static const char *
find_after (char **argv, const char *opt, int nth)
{
    for (size_t i = 0; argv[i]; i++)
        if (strcmp (argv[i], opt) == 0 && argv[i + 1] && nth-- == 0)
            return argv[i + 1];
    return NULL;
}

static void
test_qemu_command_qmp_path_commas_are_doubled (void **state)
{
    (void) state;
    vb_domain_def_t def = base_def ();
    vb_error_t err = { 0 };
    qemu_command_paths_t paths = { .qmp_socket = "/run/a,b/x,,y.sock", .pidfile = "/run/p,q" };
    char **argv = qemu_command_build (&def, &paths, &err);
    assert_non_null (argv);
    assert_string_equal (find_after (argv, "-chardev", 0),
                         "socket,id=charmonitor,path=/run/a,,b/x,,,,y.sock,server=on,wait=off");
    /*  -pidfile takes its argument verbatim, not as key=value options. */
    assert_string_equal (find_after (argv, "-pidfile", 0), "/run/p,q");
    qemu_command_free (&argv);
}

static void
test_qemu_command_missing_mac_is_stable_unicast_and_distinct (void **state)
{
    (void) state;
    vb_domain_def_t def = base_def ();
    vb_net_def_t nets[2] = { { .type = VB_NET_TYPE_USER }, { .type = VB_NET_TYPE_USER } };
    def.nets = nets;
    def.nnets = 2;
    vb_error_t err = { 0 };
    char **a = qemu_command_build (&def, &plain_paths, &err);
    char **b = qemu_command_build (&def, &plain_paths, &err);
    assert_non_null (a);
    assert_non_null (b);
    const char *d0 = find_after (a, "-device", 0), *d1 = find_after (a, "-device", 1);
    assert_non_null (strstr (d0, "virtio-net-pci,netdev=net0,id=net0,mac=52:54:00:"));
    assert_non_null (strstr (d1, "virtio-net-pci,netdev=net1,id=net1,mac=52:54:00:"));
    assert_int_equal (strlen (strstr (d0, "mac=")), 4 + 17);
    assert_string_not_equal (strstr (d0, "mac="), strstr (d1, "mac="));
    assert_string_equal (d0, find_after (b, "-device", 0));
    qemu_command_free (&a);
    qemu_command_free (&b);
}

static void
test_qemu_command_domain_type_other_than_kvm_or_qemu_is_invalid (void **state)
{
    (void) state;
    vb_domain_def_t def = base_def ();
    def.type = "xen";
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "type='xen'");
}

static void
test_qemu_command_without_qmp_socket_is_invalid (void **state)
{
    (void) state;
    vb_domain_def_t def = base_def ();
    qemu_command_paths_t none = { 0 };
    expect_refusal (&def, &none, VB_ERR_INVALID_ARG, "QMP socket");
    expect_refusal (NULL, &plain_paths, VB_ERR_INVALID_ARG, "definition");
}

static void
test_qemu_command_lifecycle_actions_qemu_cannot_do_are_unsupported (void **state)
{
    (void) state;
    vb_domain_def_t def = base_def ();
    def.on_poweroff = VB_LIFECYCLE_RESTART;
    expect_refusal (&def, &plain_paths, VB_ERR_UNSUPPORTED, "<on_poweroff>");
    def = base_def ();
    def.on_reboot = VB_LIFECYCLE_PRESERVE;
    expect_refusal (&def, &plain_paths, VB_ERR_UNSUPPORTED, "<on_reboot>");
}

static void
test_qemu_command_bad_disks_are_refused_naming_the_disk (void **state)
{
    (void) state;
    vb_domain_def_t def = base_def ();
    vb_disk_def_t disk = { .type = VB_DISK_TYPE_FILE, .device = VB_DISK_DEVICE_CDROM,
                           .source = "/i.iso", .target_dev = "vda", .bus = VB_DISK_BUS_VIRTIO };
    def.disks = &disk;
    def.ndisks = 1;
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "cdrom 'vda'");

    disk.device = VB_DISK_DEVICE_DISK;
    disk.source = NULL;
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "disk 'vda' has no <source>");

    disk.source = "/d.raw";
    disk.target_dev = "vd1";
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "'vd1'");
    disk.target_dev = "vda,id=x";
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "'vda,id=x'");

    disk.target_dev = "sdg";
    disk.bus = VB_DISK_BUS_SATA;
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "sda..sdf");
    disk.target_dev = "sda";
    def.os_machine = "pc";
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "q35");

    def.os_machine = NULL;
    disk.target_dev = "hda";
    disk.bus = VB_DISK_BUS_IDE;
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "disk 'hda' is on bus ide");
    disk.target_dev = "sda";
    disk.bus = VB_DISK_BUS_SATA;
    vb_disk_def_t two[2] = { disk, disk };
    def.disks = two;
    def.ndisks = 2;
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "used twice");
}

static void
test_qemu_command_bad_interfaces_are_refused (void **state)
{
    (void) state;
    vb_domain_def_t def = base_def ();
    vb_net_def_t net = { .type = VB_NET_TYPE_USER, .mac = "53:54:00:00:00:01" };
    def.nets = &net;
    def.nnets = 1;
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "53:54:00:00:00:01");
    net.mac = "52:54:00:00:00:01,x";
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "not a unicast MAC");
    net.mac = NULL;
    net.model = "ne2k_isa";
    expect_refusal (&def, &plain_paths, VB_ERR_UNSUPPORTED, "ne2k_isa");
    net.model = NULL;
    net.type = VB_NET_TYPE_ETHERNET;
    expect_refusal (&def, &plain_paths, VB_ERR_UNSUPPORTED, "'user'");
}

static void
test_qemu_command_machine_arch_and_os_type_are_checked (void **state)
{
    (void) state;
    vb_domain_def_t def = base_def ();
    def.os_machine = "q35,usb=on";
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "machine type");
    def = base_def ();
    def.os_arch = "aarch64";
    expect_refusal (&def, &plain_paths, VB_ERR_UNSUPPORTED, "aarch64");
    def = base_def ();
    def.os_type = "exe";
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "hvm");
    def = base_def ();
    def.emulator = "qemu-system-x86_64";
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "absolute");
    def = base_def ();
    vb_chr_def_t chr = { .kind = VB_CHR_SERIAL, .port = 4 };
    def.chrs = &chr;
    def.nchrs = 1;
    expect_refusal (&def, &plain_paths, VB_ERR_INVALID_ARG, "port 4");
}

static void
test_qemu_command_disk_index_follows_libvirt (void **state)
{
    (void) state;
    assert_int_equal (qemu_command_disk_index ("vda"), 0);
    assert_int_equal (qemu_command_disk_index ("sdf"), 5);
    assert_int_equal (qemu_command_disk_index ("vdz"), 25);
    assert_int_equal (qemu_command_disk_index ("vdaa"), 26);
    assert_int_equal (qemu_command_disk_index ("xvdb"), 1);
    assert_int_equal (qemu_command_disk_index ("hdc"), 2);
    assert_int_equal (qemu_command_disk_index ("vd"), -1);
    assert_int_equal (qemu_command_disk_index ("vda1"), -1);
    assert_int_equal (qemu_command_disk_index ("nvme0"), -1);
    assert_int_equal (qemu_command_disk_index (NULL), -1);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_qemu_command_golden_minimal_kvm),
        cmocka_unit_test (test_qemu_command_golden_minimal_tcg),
        cmocka_unit_test (test_qemu_command_golden_disk_chain_qcow2_raw),
        cmocka_unit_test (test_qemu_command_golden_disk_block),
        cmocka_unit_test (test_qemu_command_golden_disk_sata_scsi_cdrom),
        cmocka_unit_test (test_qemu_command_golden_disk_readonly),
        cmocka_unit_test (test_qemu_command_golden_disk_serial),
        cmocka_unit_test (test_qemu_command_golden_net_user),
        cmocka_unit_test (test_qemu_command_golden_serial_pty),
        cmocka_unit_test (test_qemu_command_golden_serial_console_pty),
        cmocka_unit_test (test_qemu_command_golden_console_pty),
        cmocka_unit_test (test_qemu_command_golden_on_reboot_destroy),
        cmocka_unit_test (test_qemu_command_golden_path_comma),
        cmocka_unit_test (test_qemu_command_qmp_path_commas_are_doubled),
        cmocka_unit_test (test_qemu_command_missing_mac_is_stable_unicast_and_distinct),
        cmocka_unit_test (test_qemu_command_domain_type_other_than_kvm_or_qemu_is_invalid),
        cmocka_unit_test (test_qemu_command_without_qmp_socket_is_invalid),
        cmocka_unit_test (test_qemu_command_lifecycle_actions_qemu_cannot_do_are_unsupported),
        cmocka_unit_test (test_qemu_command_bad_disks_are_refused_naming_the_disk),
        cmocka_unit_test (test_qemu_command_bad_interfaces_are_refused),
        cmocka_unit_test (test_qemu_command_machine_arch_and_os_type_are_checked),
        cmocka_unit_test (test_qemu_command_disk_index_follows_libvirt),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
