/*  Unit tests of vb_domxml: libvirt domain XML <-> vb_domain_def_t.
 *
 *  Fixtures in tests/data/domxml (see its README): libvirt 9.0's own test XMLs, round-tripped
 *  and, for three of them, formatted against hand-reviewed expected text. Every error path is a
 *  row of the invalid-XML table below.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "vb_domxml.h"
#include "vb_util.h"

#define DATA_DIR VB_TEST_DATA_DIR "/domxml/"

static const char *const fixtures[] = {
    "qemu-q35-virt-manager-basic.xml", "qemu-disk-virtio-queues.xml", "qemu-backing-chain.xml",
    "lxc-hostdev.xml", "lxc-ethernet.xml", "xen-paravirt-type.xml",
};

static char *
read_fixture (const char *name, size_t *len)
{
    char path[512];
    snprintf (path, sizeof path, DATA_DIR "%s", name);
    vb_error_t err = { 0 };
    char *text = vb_read_file (path, 4 << 20, len, &err);
    if (!text)
        fail_msg ("cannot read fixture %s: %s", path, err.message);
    return text;
}

static vb_domain_def_t *
parse_ok (const char *xml)
{
    vb_error_t err = { 0 };
    vb_domain_def_t *def = vb_domxml_parse (xml, strlen (xml), &err);
    if (!def)
        fail_msg ("parse failed: %s: %s\n%s", vb_error_code_name (err.code), err.message, xml);
    return def;
}

static vb_domain_def_t *
parse_fixture (const char *name)
{
    size_t len;
    char *xml = read_fixture (name, &len);
    vb_error_t err = { 0 };
    vb_domain_def_t *def = vb_domxml_parse (xml, len, &err);
    if (!def)
        fail_msg ("fixture %s does not parse: %s", name, err.message);
    free (xml);
    return def;
}

/* ---------------------------------------------------------------------------------------------
 *  Equality of two definitions, field by field; reports the first difference.
 */
static bool
str_eq (const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp (a, b) == 0;
}

#define EQ_STR(what, a, b)                                                                    \
    do {                                                                                      \
        if (!str_eq ((a), (b))) {                                                             \
            print_error ("%s differs: '%s' vs '%s'\n", what, (a) ? (a) : "(null)",            \
                         (b) ? (b) : "(null)");                                               \
            return false;                                                                     \
        }                                                                                     \
    } while (0)
#define EQ_NUM(what, a, b)                                                                    \
    do {                                                                                      \
        if ((unsigned long long) (a) != (unsigned long long) (b)) {                           \
            print_error ("%s differs: %llu vs %llu\n", what, (unsigned long long) (a),        \
                         (unsigned long long) (b));                                           \
            return false;                                                                     \
        }                                                                                     \
    } while (0)

static bool
backing_equal (const vb_backing_store_t *a, const vb_backing_store_t *b)
{
    for (; a || b; a = a->backing, b = b->backing) {
        if (!a || !b) {
            print_error ("backing chains differ in length\n");
            return false;
        }
        EQ_NUM ("backing index", a->index, b->index);
        EQ_NUM ("backing type", a->type, b->type);
        EQ_NUM ("backing format", a->format, b->format);
        EQ_STR ("backing path", a->path, b->path);
    }
    return true;
}

static bool
defs_equal (const vb_domain_def_t *a, const vb_domain_def_t *b)
{
    EQ_STR ("type", a->type, b->type);
    EQ_STR ("name", a->name, b->name);
    EQ_STR ("uuid", a->uuid, b->uuid);
    EQ_STR ("title", a->title, b->title);
    EQ_STR ("description", a->description, b->description);
    EQ_NUM ("memory", a->memory_kib, b->memory_kib);
    EQ_NUM ("currentMemory", a->current_memory_kib, b->current_memory_kib);
    EQ_NUM ("vcpus", a->vcpus, b->vcpus);
    EQ_STR ("os type", a->os_type, b->os_type);
    EQ_STR ("os arch", a->os_arch, b->os_arch);
    EQ_STR ("os machine", a->os_machine, b->os_machine);
    EQ_STR ("kernel", a->os_kernel, b->os_kernel);
    EQ_STR ("initrd", a->os_initrd, b->os_initrd);
    EQ_STR ("cmdline", a->os_cmdline, b->os_cmdline);
    EQ_STR ("init", a->os_init, b->os_init);
    if (!a->os_initargs || !b->os_initargs) {
        EQ_NUM ("initargs presence", a->os_initargs != NULL, b->os_initargs != NULL);
    } else {
        size_t i = 0;
        for (; a->os_initargs[i] && b->os_initargs[i]; i++)
            EQ_STR ("initarg", a->os_initargs[i], b->os_initargs[i]);
        EQ_NUM ("initarg count", a->os_initargs[i] != NULL, b->os_initargs[i] != NULL);
    }
    EQ_STR ("os extra", a->os_extra_xml, b->os_extra_xml);
    EQ_NUM ("on_poweroff", a->on_poweroff, b->on_poweroff);
    EQ_NUM ("on_reboot", a->on_reboot, b->on_reboot);
    EQ_NUM ("on_crash", a->on_crash, b->on_crash);
    EQ_STR ("emulator", a->emulator, b->emulator);
    EQ_NUM ("ndisks", a->ndisks, b->ndisks);
    for (size_t i = 0; i < a->ndisks; i++) {
        const vb_disk_def_t *x = &a->disks[i], *y = &b->disks[i];
        EQ_NUM ("disk type", x->type, y->type);
        EQ_NUM ("disk device", x->device, y->device);
        EQ_STR ("disk driver", x->driver_name, y->driver_name);
        EQ_NUM ("disk format", x->format, y->format);
        EQ_STR ("disk source", x->source, y->source);
        EQ_STR ("disk target", x->target_dev, y->target_dev);
        EQ_NUM ("disk bus", x->bus, y->bus);
        EQ_NUM ("disk readonly", x->readonly, y->readonly);
        EQ_STR ("disk serial", x->serial, y->serial);
        EQ_STR ("disk extra", x->extra_xml, y->extra_xml);
        if (!backing_equal (x->backing, y->backing))
            return false;
    }
    EQ_NUM ("nnets", a->nnets, b->nnets);
    for (size_t i = 0; i < a->nnets; i++) {
        const vb_net_def_t *x = &a->nets[i], *y = &b->nets[i];
        EQ_NUM ("net type", x->type, y->type);
        EQ_STR ("net mac", x->mac, y->mac);
        EQ_STR ("net model", x->model, y->model);
        EQ_STR ("net target", x->target_dev, y->target_dev);
        EQ_STR ("net extra", x->extra_xml, y->extra_xml);
    }
    EQ_NUM ("nchrs", a->nchrs, b->nchrs);
    for (size_t i = 0; i < a->nchrs; i++) {
        const vb_chr_def_t *x = &a->chrs[i], *y = &b->chrs[i];
        EQ_NUM ("chr kind", x->kind, y->kind);
        EQ_STR ("chr target type", x->target_type, y->target_type);
        EQ_NUM ("chr port", x->port, y->port);
        EQ_STR ("chr extra", x->extra_xml, y->extra_xml);
    }
    EQ_NUM ("nfss", a->nfss, b->nfss);
    for (size_t i = 0; i < a->nfss; i++) {
        const vb_fs_def_t *x = &a->fss[i], *y = &b->fss[i];
        EQ_STR ("fs type", x->type, y->type);
        EQ_STR ("fs source", x->source, y->source);
        EQ_STR ("fs target", x->target, y->target);
        EQ_NUM ("fs readonly", x->readonly, y->readonly);
        EQ_STR ("fs extra", x->extra_xml, y->extra_xml);
    }
    EQ_NUM ("nhostdevs", a->nhostdevs, b->nhostdevs);
    for (size_t i = 0; i < a->nhostdevs; i++) {
        EQ_STR ("hostdev block", a->hostdevs[i].block, b->hostdevs[i].block);
        EQ_STR ("hostdev extra", a->hostdevs[i].extra_xml, b->hostdevs[i].extra_xml);
    }
    EQ_STR ("domain extra", a->extra_xml, b->extra_xml);
    EQ_STR ("devices extra", a->extra_devices_xml, b->extra_devices_xml);
    return true;
}

/*  parse -> format -> parse; asserts equality and that formatting again is stable. */
static void
assert_round_trip (const vb_domain_def_t *def)
{
    char *xml = vb_domxml_format (def);
    assert_non_null (xml);
    vb_domain_def_t *again = parse_ok (xml);
    if (!defs_equal (def, again))
        fail_msg ("round trip changed the definition; formatted XML:\n%s", xml);
    char *xml2 = vb_domxml_format (again);
    assert_string_equal (xml, xml2);
    free (xml2);
    free (xml);
    vb_domain_def_free (&again);
}

/* ---------------------------------------------------------------------------------------------
 *  Fixtures.
 */
static void
test_domxml_every_fixture_round_trips_to_an_equal_definition (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        vb_domain_def_t *def = parse_fixture (fixtures[i]);
        assert_round_trip (def);
        vb_domain_def_t *copy = vb_domain_def_copy (def);
        assert_non_null (copy);
        assert_true (defs_equal (def, copy));
        vb_domain_def_free (&def);
        assert_null (def);
        assert_round_trip (copy);
        vb_domain_def_free (&copy);
    }
}

static void
check_expected_format (const char *fixture, const char *expected)
{
    vb_domain_def_t *def = parse_fixture (fixture);
    char *xml = vb_domxml_format (def);
    size_t len;
    char *want = read_fixture (expected, &len);
    assert_string_equal (xml, want);
    free (want);
    free (xml);
    vb_domain_def_free (&def);
}

static void
test_domxml_format_q35_matches_expected_text (void **state)
{
    (void) state;
    check_expected_format ("qemu-q35-virt-manager-basic.xml",
                           "qemu-q35-virt-manager-basic.expected.xml");
}

static void
test_domxml_format_lxc_matches_expected_text (void **state)
{
    (void) state;
    check_expected_format ("lxc-ethernet.xml", "lxc-ethernet.expected.xml");
}

static void
test_domxml_format_backing_chain_matches_expected_text (void **state)
{
    (void) state;
    check_expected_format ("qemu-backing-chain.xml", "qemu-backing-chain.expected.xml");
}

static void
test_domxml_q35_fixture_fields_are_read (void **state)
{
    (void) state;
    vb_domain_def_t *def = parse_fixture ("qemu-q35-virt-manager-basic.xml");
    assert_string_equal (def->type, "kvm");
    assert_string_equal (def->name, "virt-manager-basic");
    assert_string_equal (def->uuid, "1b826c23-8767-47ad-a6b5-c83a88277f71");
    assert_int_equal (def->memory_kib, 4194304);
    assert_int_equal (def->current_memory_kib, 4194304);
    assert_int_equal (def->vcpus, 2);
    assert_string_equal (def->os_type, "hvm");
    assert_string_equal (def->os_arch, "x86_64");
    assert_string_equal (def->os_machine, "q35");
    assert_string_equal (def->os_extra_xml, "    <boot dev='hd'/>\n");
    assert_int_equal (def->on_poweroff, VB_LIFECYCLE_DESTROY);
    assert_int_equal (def->on_reboot, VB_LIFECYCLE_RESTART);
    assert_int_equal (def->on_crash, VB_LIFECYCLE_RESTART);
    assert_string_equal (def->emulator, "/usr/bin/qemu-system-x86_64");
    assert_int_equal (def->ndisks, 1);
    assert_int_equal (def->disks[0].type, VB_DISK_TYPE_FILE);
    assert_int_equal (def->disks[0].device, VB_DISK_DEVICE_DISK);
    assert_string_equal (def->disks[0].driver_name, "qemu");
    assert_int_equal (def->disks[0].format, VB_DISK_FORMAT_QCOW2);
    assert_string_equal (def->disks[0].source, "/var/lib/libvirt/images/basic.qcow2");
    assert_string_equal (def->disks[0].target_dev, "vda");
    assert_int_equal (def->disks[0].bus, VB_DISK_BUS_VIRTIO);
    assert_false (def->disks[0].readonly);
    assert_null (def->disks[0].backing);
    assert_int_equal (def->nnets, 1);
    assert_int_equal (def->nets[0].type, VB_NET_TYPE_USER);
    assert_string_equal (def->nets[0].mac, "52:54:00:9a:e6:c6");
    assert_string_equal (def->nets[0].model, "virtio");
    assert_int_equal (def->nchrs, 2);
    assert_int_equal (def->chrs[0].kind, VB_CHR_SERIAL);
    assert_null (def->chrs[0].target_type);
    assert_int_equal (def->chrs[0].port, 0);
    assert_int_equal (def->chrs[1].kind, VB_CHR_CONSOLE);
    assert_string_equal (def->chrs[1].target_type, "serial");
    /*  Unknown devices are all kept, in document order. */
    assert_non_null (strstr (def->extra_devices_xml, "<controller type='usb' model='nec-xhci'/>"));
    assert_non_null (strstr (def->extra_devices_xml, "<redirdev bus='usb' type='spicevmc'>"));
    assert_non_null (strstr (def->extra_xml, "<features>\n    <acpi/>"));
    assert_non_null (strstr (def->extra_xml, "<pm>"));
    vb_domain_def_free (&def);
}

static void
test_domxml_lxc_and_xen_fixture_fields_are_read (void **state)
{
    (void) state;
    vb_domain_def_t *def = parse_fixture ("lxc-ethernet.xml");
    assert_string_equal (def->os_type, "exe");
    assert_string_equal (def->os_init, "/sbin/init");
    assert_int_equal (def->nfss, 1);
    assert_string_equal (def->fss[0].type, "mount");
    assert_string_equal (def->fss[0].source, "/mach/8675309");
    assert_string_equal (def->fss[0].target, "/");
    assert_int_equal (def->nnets, 1);
    assert_int_equal (def->nets[0].type, VB_NET_TYPE_ETHERNET);
    assert_string_equal (def->nets[0].target_dev, "veth0");
    assert_string_equal (def->nets[0].mac, "00:16:3e:0f:ef:8a");
    assert_non_null (strstr (def->nets[0].extra_xml, "<guest dev='eth2'/>"));
    assert_int_equal (def->chrs[0].kind, VB_CHR_CONSOLE);
    assert_string_equal (def->chrs[0].target_type, "lxc");
    vb_domain_def_free (&def);

    /*  The storage hostdev is modelled; the misc and net ones stay verbatim. */
    def = parse_fixture ("lxc-hostdev.xml");
    assert_int_equal (def->nhostdevs, 1);
    assert_string_equal (def->hostdevs[0].block, "/dev/sdf1");
    assert_null (def->hostdevs[0].extra_xml);
    assert_null (strstr (def->extra_devices_xml, "type='storage'"));
    assert_non_null (strstr (def->extra_devices_xml, "<hostdev mode='capabilities' type='misc'>"));
    assert_non_null (strstr (def->extra_devices_xml, "<hostdev mode='capabilities' type='net'>"));
    char *xml = vb_domxml_format (def);
    assert_non_null (strstr (xml, "    <hostdev mode='capabilities' type='storage'>\n"
                                  "      <source>\n"
                                  "        <block>/dev/sdf1</block>\n"
                                  "      </source>\n"
                                  "    </hostdev>\n"));
    free (xml);
    vb_domain_def_free (&def);

    def = parse_fixture ("xen-paravirt-type.xml");
    assert_string_equal (def->type, "xen");
    assert_string_equal (def->os_type, "linux");
    assert_string_equal (def->os_machine, "xenpv");
    assert_string_equal (def->os_kernel, "/tmp/vmlinuz");
    assert_string_equal (def->os_initrd, "/tmp/initrd");
    assert_string_equal (def->os_cmdline, "root=/dev/xvda1 console=hvc0");
    assert_int_equal (def->memory_kib, 592896);
    assert_int_equal (def->current_memory_kib, 403456);
    vb_domain_def_free (&def);
}

static void
test_domxml_backing_chain_is_read_and_renumbered_by_depth (void **state)
{
    (void) state;
    vb_domain_def_t *def = parse_fixture ("qemu-backing-chain.xml");
    assert_int_equal (def->ndisks, 1);
    const vb_backing_store_t *bs = def->disks[0].backing;
    assert_non_null (bs);
    assert_int_equal (bs->index, 1);
    assert_int_equal (bs->type, VB_DISK_TYPE_FILE);
    assert_int_equal (bs->format, VB_DISK_FORMAT_QCOW2);
    assert_string_equal (bs->path, "/var/lib/libvirt/images/snapshot.qcow");
    bs = bs->backing;
    assert_non_null (bs);
    assert_int_equal (bs->index, 2);
    assert_int_equal (bs->type, VB_DISK_TYPE_BLOCK);
    assert_int_equal (bs->format, VB_DISK_FORMAT_RAW);
    assert_string_equal (bs->path, "/dev/mapper/base");
    assert_null (bs->backing);
    vb_domain_def_free (&def);
}

/* ---------------------------------------------------------------------------------------------
 *  Building blocks for inline documents.
 */
#define HEAD(type) "<domain type='" type "'><name>t</name><memory>1024</memory>"
#define OS_HVM "<os><type>hvm</type></os>"

static vb_domain_def_t *
parse_devices (const char *devices)
{
    char xml[4096];
    snprintf (xml, sizeof xml, HEAD ("kvm") OS_HVM "<devices>%s</devices></domain>", devices);
    return parse_ok (xml);
}

/*  The exact live form of a 3-layer chain (DESIGN §4): the worker fills disk->backing from QEMU
 *  and formats. */
static void
test_domxml_format_three_layer_chain_as_libvirt_live_xml (void **state)
{
    (void) state;
    vb_domain_def_t *def = parse_devices (
        "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
        "<source file='/img/top.qcow2'/><target dev='vda'/></disk>");
    vb_backing_store_t *mid = calloc (1, sizeof *mid), *base = calloc (1, sizeof *base);
    assert_non_null (mid);
    assert_non_null (base);
    *mid = (vb_backing_store_t) { .index = 1, .type = VB_DISK_TYPE_FILE,
                                  .format = VB_DISK_FORMAT_QCOW2, .path = strdup ("/img/mid.qcow2"),
                                  .backing = base };
    *base = (vb_backing_store_t) { .index = 2, .type = VB_DISK_TYPE_FILE,
                                   .format = VB_DISK_FORMAT_RAW, .path = strdup ("/img/base.raw") };
    def->disks[0].backing = mid;
    char *xml = vb_domxml_format (def);
    const char *want =
        "    <disk type='file' device='disk'>\n"
        "      <driver name='qemu' type='qcow2'/>\n"
        "      <source file='/img/top.qcow2'/>\n"
        "      <backingStore type='file' index='1'>\n"
        "        <format type='qcow2'/>\n"
        "        <source file='/img/mid.qcow2'/>\n"
        "        <backingStore type='file' index='2'>\n"
        "          <format type='raw'/>\n"
        "          <source file='/img/base.raw'/>\n"
        "          <backingStore/>\n"
        "        </backingStore>\n"
        "      </backingStore>\n"
        "      <target dev='vda' bus='virtio'/>\n"
        "    </disk>\n";
    if (!strstr (xml, want))
        fail_msg ("chain not formatted as expected:\n%s", xml);
    assert_round_trip (def);
    vb_domain_def_free (&def);
    free (xml);
}

static void
test_domxml_defaults_follow_libvirt (void **state)
{
    (void) state;
    vb_domain_def_t *def = parse_devices (
        "<disk device='cdrom'><target dev='sdb'/></disk>"
        "<disk type='block'><source dev='/dev/sdz'/><target dev='vdb'/></disk>");
    assert_int_equal (def->vcpus, 1);
    assert_int_equal (def->memory_kib, 1024);
    assert_int_equal (def->current_memory_kib, 1024);
    assert_int_equal (def->on_poweroff, VB_LIFECYCLE_DESTROY);
    assert_int_equal (def->on_reboot, VB_LIFECYCLE_RESTART);
    assert_int_equal (def->on_crash, VB_LIFECYCLE_DESTROY);
    assert_true (vb_uuid_is_valid (def->uuid));
    assert_null (def->emulator);
    assert_int_equal (def->ndisks, 2);
    assert_int_equal (def->disks[0].type, VB_DISK_TYPE_FILE);
    assert_int_equal (def->disks[0].device, VB_DISK_DEVICE_CDROM);
    assert_null (def->disks[0].source);
    assert_true (def->disks[0].readonly);
    assert_int_equal (def->disks[0].bus, VB_DISK_BUS_SCSI);
    assert_int_equal (def->disks[0].format, VB_DISK_FORMAT_RAW);
    assert_null (def->disks[0].driver_name);
    assert_int_equal (def->disks[1].type, VB_DISK_TYPE_BLOCK);
    assert_string_equal (def->disks[1].source, "/dev/sdz");
    assert_int_equal (def->disks[1].bus, VB_DISK_BUS_VIRTIO);
    assert_false (def->disks[1].readonly);
    assert_round_trip (def);
    vb_domain_def_free (&def);
}

static void
test_domxml_missing_uuid_is_generated_and_given_uuid_normalised (void **state)
{
    (void) state;
    vb_domain_def_t *a = parse_ok (HEAD ("qemu") OS_HVM "</domain>");
    vb_domain_def_t *b = parse_ok (HEAD ("qemu") OS_HVM "</domain>");
    assert_true (vb_uuid_is_valid (a->uuid));
    assert_true (vb_uuid_is_valid (b->uuid));
    assert_string_not_equal (a->uuid, b->uuid);
    vb_domain_def_free (&a);
    vb_domain_def_free (&b);
    a = parse_ok (HEAD ("qemu") "<uuid> 1B826C2387-6747ADA6B5C83A88277F71 </uuid>" OS_HVM
                  "</domain>");
    assert_string_equal (a->uuid, "1b826c23-8767-47ad-a6b5-c83a88277f71");
    vb_domain_def_free (&a);
}

static void
test_domxml_memory_units_follow_libvirt (void **state)
{
    (void) state;
    static const struct {
        const char *unit, *value;
        uint64_t kib;
    } rows[] = {
        { NULL, "2048", 2048 },        { "b", "2048", 2 },          { "bytes", "1025", 2 },
        { "KB", "1000", 977 },         { "k", "3", 3 },             { "KiB", "3", 3 },
        { "MB", "1", 977 },            { "M", "1", 1024 },          { "MiB", "2", 2048 },
        { "GB", "1", 976563 },         { "G", "1", 1048576 },       { "GiB", "4", 4194304 },
        { "TB", "1", 976562500 },      { "T", "1", 1073741824 },    { "TiB", "1", 1073741824 },
        { "gib", "1", 1048576 },       { "kb", "2", 2 },            { "BYTES", "1", 1 },
        { "PiB", "1", 1099511627776ull }, { "KiB", " 42\n", 42 },
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char xml[512], unit[64] = "";
        if (rows[i].unit)
            snprintf (unit, sizeof unit, " unit='%s'", rows[i].unit);
        snprintf (xml, sizeof xml,
                  "<domain type='kvm'><name>m</name><memory%s>%s</memory>"
                  "<currentMemory%s>%s</currentMemory>" OS_HVM "</domain>",
                  unit, rows[i].value, unit, rows[i].value);
        vb_domain_def_t *def = parse_ok (xml);
        if (def->memory_kib != rows[i].kib || def->current_memory_kib != rows[i].kib)
            fail_msg ("%s %s: got %llu KiB, want %llu", rows[i].value,
                      rows[i].unit ? rows[i].unit : "(none)",
                      (unsigned long long) def->memory_kib, (unsigned long long) rows[i].kib);
        vb_domain_def_free (&def);
    }
}

/* ---------------------------------------------------------------------------------------------
 *  Invalid documents: each answers INVALID_XML naming the element and the reason.
 */
#define DEV(x) HEAD ("kvm") OS_HVM "<devices>" x "</devices></domain>"
#define DISK(x) DEV ("<disk type='file' device='disk'>" x "</disk>")
#define LXC(x) "<domain type='lxc'><name>c</name><memory>1024</memory>" \
               "<os><type>exe</type><init>/sbin/init</init></os><devices>" x "</devices></domain>"

static const struct {
    const char *xml, *element, *reason;
} invalid[] = {
    { "<domain type='kvm'><name>x</name>", NULL, "not well-formed" },
    { "<domain type='kvm'><name>x</nam></domain>", NULL, "not well-formed" },
    { "<domain type='kvm'><name>&undeclared;</name></domain>", NULL, "not well-formed" },
    { "<vm type='kvm'/>", "<vm>", "not <domain>" },
    { "<domain><name>x</name></domain>", "<domain>", "not a domain type" },
    { "<domain type='vmware'><name>x</name></domain>", "<domain>", "'vmware'" },
    { "<domain type='kvm'><memory>1024</memory>" OS_HVM "</domain>", "<domain>", "no <name>" },
    { "<domain type='kvm'><name>a/b</name><memory>1</memory>" OS_HVM "</domain>", "<name>",
      "'a/b' is not a valid domain name" },
    { "<domain type='kvm'><name>.hidden</name><memory>1</memory>" OS_HVM "</domain>", "<name>",
      "not a valid domain name" },
    { HEAD ("kvm") "<name>y</name>" OS_HVM "</domain>", "<name>", "more than once" },
    { HEAD ("kvm") "<uuid>1234</uuid>" OS_HVM "</domain>", "<uuid>", "not a valid UUID" },
    { HEAD ("kvm") "<uuid>1b826c23-8767-47ad-a6b5-c83a88277f7g</uuid>" OS_HVM "</domain>",
      "<uuid>", "not a valid UUID" },
    { HEAD ("kvm") "<uuid>00000000-0000-0000-0000-000000000000</uuid>" OS_HVM "</domain>",
      "<uuid>", "not a valid UUID" },
    { HEAD ("kvm") "<title>two\nlines</title>" OS_HVM "</domain>", "<title>", "single line" },
    { "<domain type='kvm'><name>t</name>" OS_HVM "</domain>", "<domain>", "no <memory>" },
    { "<domain type='kvm'><name>t</name><memory>0</memory>" OS_HVM "</domain>", "<memory>",
      "greater than 0" },
    { "<domain type='kvm'><name>t</name><memory unit='b'>0</memory>" OS_HVM "</domain>",
      "<memory>", "greater than 0" },
    { "<domain type='kvm'><name>t</name><memory unit='XB'>1</memory>" OS_HVM "</domain>",
      "<memory>", "unit 'XB' is not a size unit" },
    { "<domain type='kvm'><name>t</name><memory unit='KiBs'>1</memory>" OS_HVM "</domain>",
      "<memory>", "not a size unit" },
    { "<domain type='kvm'><name>t</name><memory>-5</memory>" OS_HVM "</domain>", "<memory>",
      "not a non-negative integer" },
    { "<domain type='kvm'><name>t</name><memory>1e6</memory>" OS_HVM "</domain>", "<memory>",
      "not a non-negative integer" },
    { "<domain type='kvm'><name>t</name><memory unit='EiB'>8</memory>" OS_HVM "</domain>",
      "<memory>", "too large" },
    { "<domain type='kvm'><name>t</name><memory>99999999999999999999999</memory>" OS_HVM
      "</domain>", "<memory>", "not a non-negative integer" },
    { HEAD ("kvm") "<currentMemory>2048</currentMemory>" OS_HVM "</domain>", "<currentMemory>",
      "more than <memory>" },
    { HEAD ("kvm") "<currentMemory>0</currentMemory>" OS_HVM "</domain>", "<currentMemory>",
      "greater than 0" },
    { HEAD ("kvm") "<vcpu>0</vcpu>" OS_HVM "</domain>", "<vcpu>", "vCPU count" },
    { HEAD ("kvm") "<vcpu>two</vcpu>" OS_HVM "</domain>", "<vcpu>", "'two' is not a vCPU count" },
    { HEAD ("kvm") "<vcpu>99999</vcpu>" OS_HVM "</domain>", "<vcpu>", "vCPU count" },
    { HEAD ("kvm") "</domain>", "<domain>", "no <os>" },
    { HEAD ("kvm") "<os><boot dev='hd'/></os></domain>", "<os>", "no <type>" },
    { HEAD ("kvm") "<os><type>exe</type></os></domain>", "<os>",
      "os type 'exe' does not fit a type='kvm' domain" },
    { HEAD ("lxc") OS_HVM "</domain>", "<os>", "does not fit a type='lxc' domain" },
    { HEAD ("kvm") "<os><type machine='pc,accel=tcg'>hvm</type></os></domain>", "<type>",
      "not a machine type name" },
    { HEAD ("kvm") "<os><type arch='x86 64'>hvm</type></os></domain>", "<type>",
      "not an architecture name" },
    { HEAD ("xen") "<os><type>linux</type><kernel>vmlinuz</kernel></os></domain>", "<kernel>",
      "not an absolute path" },
    { HEAD ("lxc") "<os><type>exe</type><init>sbin/init</init></os></domain>", "<init>",
      "not an absolute path" },
    { HEAD ("kvm") OS_HVM "<on_poweroff>explode</on_poweroff></domain>", "<on_poweroff>",
      "'explode' is not an action" },
    { HEAD ("kvm") OS_HVM "<on_reboot>coredump-destroy</on_reboot></domain>", "<on_reboot>",
      "not an action" },
    { HEAD ("kvm") OS_HVM "<devices/><devices/></domain>", "<devices>", "more than once" },
    { DEV ("<emulator>qemu-system-x86_64</emulator>"), "<emulator>", "not an absolute path" },
    { DISK ("<source file='/a.img'/>"), "<disk>", "no <target dev=...>" },
    { DISK ("<source file='/a.img'/><target bus='virtio'/>"), "<target>", "no dev=" },
    { DEV ("<disk><source file='/a'/><target dev='vda'/></disk>"
           "<disk><source file='/b'/><target dev='vda'/></disk>"), "<disk>",
      "target dev 'vda' is used by another disk" },
    { DISK ("<target dev='vda'/>"), "<disk>", "has no <source file=...>" },
    { DEV ("<disk type='block'><source/><target dev='vda'/></disk>"), "<disk>",
      "has no <source dev=...>" },
    { DISK ("<source dev='/dev/sda'/><target dev='vda'/>"), "<source>",
      "a type='file' disk takes file=, not dev=" },
    { DISK ("<source file='a.img'/><target dev='vda'/>"), "<source>", "not an absolute path" },
    { DISK ("<source file='/a'/><target dev='vda' bus='sata'/>"), "<target>",
      "dev 'vda' does not match bus 'sata'" },
    { DISK ("<source file='/a'/><target dev='sda' bus='virtio'/>"), "<target>",
      "does not match bus 'virtio'" },
    { DISK ("<source file='/a'/><target dev='xvda' bus='scsi'/>"), "<target>",
      "does not match bus 'scsi'" },
    { DISK ("<source file='/a'/><target dev='sda' bus='ide'/>"), "<target>",
      "sd* disks are on sata or scsi" },
    { DISK ("<source file='/a'/><target dev='hda' bus='sata'/>"), "<target>",
      "hd* disks are on ide" },
    { DISK ("<source file='/a'/><target dev='sda' bus='usb'/>"), "<target>",
      "bus 'usb' is not supported" },
    { DISK ("<source file='/a'/><target dev='hd1'/>"), "<target>", "not a disk name" },
    { DISK ("<source file='/a'/><target dev='vd1'/>"), "<target>", "not a disk name" },
    { DISK ("<source file='/a'/><target dev='nvme0n1'/>"), "<target>", "not a disk name" },
    { DISK ("<driver name='qemu' type='vmdk'/><source file='/a'/><target dev='vda'/>"),
      "<driver>", "disk format 'vmdk' is not supported" },
    { DISK ("<driver name='qemu,x' type='raw'/><source file='/a'/><target dev='vda'/>"),
      "<driver>", "not a driver name" },
    { DISK ("<driver type='raw'/><driver type='raw'/><source file='/a'/><target dev='vda'/>"),
      "<driver>", "more than once" },
    { DEV ("<disk type='network'><target dev='vda'/></disk>"), "<disk>",
      "type 'network' is not supported" },
    { DEV ("<disk device='floppy'><target dev='vda'/></disk>"), "<disk>",
      "device 'floppy' is not supported" },
    { DISK ("<source file='/a'/><target dev='vda'/><serial>a,b=c</serial>"), "<serial>",
      "outside [A-Za-z0-9_ .+-]" },
    { DISK ("<source file='/a'/><backingStore type='file'><format type='qcow2'/></backingStore>"
            "<target dev='vda'/>"), "<backingStore>", "backing layer 1 has no <source file=...>" },
    { DISK ("<source file='/a'/><backingStore type='file'><format type='vmdk'/>"
            "<source file='/b'/></backingStore><target dev='vda'/>"), "<format>",
      "disk format 'vmdk' is not supported" },
    { DISK ("<source file='/a'/><backingStore type='nbd'/><target dev='vda'/>"),
      "<backingStore>", "type 'nbd' is not supported" },
    { DEV ("<interface type='network'><source network='default'/></interface>"), "<interface>",
      "type 'network' is not supported" },
    { DEV ("<interface type='user'><mac address='52:54:00:12:34'/></interface>"), "<mac>",
      "not a MAC address" },
    { DEV ("<interface type='user'><mac address='52:54:00:12:34:567'/></interface>"), "<mac>",
      "not a MAC address" },
    { DEV ("<interface type='user'><mac address='01:00:5e:00:00:01'/></interface>"), "<mac>",
      "multicast" },
    { DEV ("<interface type='user'><model type='virtio,x=y'/></interface>"), "<model>",
      "not a NIC model name" },
    { DEV ("<interface type='ethernet'><target dev='averyveryverylongname'/></interface>"),
      "<target>", "not a host interface name" },
    { DEV ("<serial type='file'><source path='/tmp/x'/></serial>"), "<serial>",
      "type 'file' is not supported" },
    { DEV ("<console type='pty'><target type='serial' port='x'/></console>"), "<target>",
      "port 'x' is not a number" },
    { DEV ("<console type='pty'><target type='serial' port='70000'/></console>"), "<target>",
      "port '70000'" },
    { LXC ("<hostdev mode='capabilities' type='storage'><source/></hostdev>"), "<hostdev>",
      "no <source><block>" },
    { LXC ("<hostdev mode='capabilities' type='storage'><source><block>sdf1</block></source>"
           "</hostdev>"), "<block>", "'sdf1' is not an absolute path" },
    { LXC ("<hostdev mode='capabilities' type='storage'><source><char>/dev/tty0</char>"
           "</source></hostdev>"), "<char>", "holds only <block>" },
    { LXC ("<hostdev mode='capabilities' type='storage'><source><block>/dev/a</block>"
           "</source></hostdev><hostdev mode='capabilities' type='storage'><source>"
           "<block>/dev/a</block></source></hostdev>"), "<hostdev>", "used by another hostdev" },
    { LXC ("<filesystem type='bind'><target dir='/'/></filesystem>"), "<filesystem>",
      "type 'bind' is not supported" },
    { LXC ("<filesystem type='mount'><source dir='/srv'/></filesystem>"), "<filesystem>",
      "no <target dir=...>" },
    { LXC ("<filesystem type='mount'><source dir='srv'/><target dir='/'/></filesystem>"),
      "<source>", "not an absolute path" },
    { LXC ("<filesystem type='mount'><source dir='/srv'/><target dir='mnt'/></filesystem>"),
      "<target>", "not an absolute path" },
    { LXC ("<filesystem><source dir='/a'/><target dir='/'/></filesystem>"
           "<filesystem><source dir='/b'/><target dir='/'/></filesystem>"), "<filesystem>",
      "target dir '/' is used by another filesystem" },
};

static void
test_domxml_each_invalid_document_answers_invalid_xml_naming_the_element (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
        vb_error_t err = { 0 };
        vb_domain_def_t *def = vb_domxml_parse (invalid[i].xml, strlen (invalid[i].xml), &err);
        if (def)
            fail_msg ("row %zu parsed but should not: %s", i, invalid[i].xml);
        if (err.code != VB_ERR_INVALID_XML)
            fail_msg ("row %zu: code %s, want INVALID_XML (%s)", i, vb_error_code_name (err.code),
                      err.message);
        if (invalid[i].element && !strstr (err.message, invalid[i].element))
            fail_msg ("row %zu: message does not name %s: %s", i, invalid[i].element,
                      err.message);
        if (!strstr (err.message, invalid[i].reason))
            fail_msg ("row %zu: message lacks '%s': %s", i, invalid[i].reason, err.message);
    }
}

static void
test_domxml_empty_and_oversized_documents_answer_invalid_xml (void **state)
{
    (void) state;
    vb_error_t err = { 0 };
    assert_null (vb_domxml_parse ("", 0, &err));
    assert_int_equal (err.code, VB_ERR_INVALID_XML);
    assert_non_null (strstr (err.message, "empty"));
    assert_null (vb_domxml_parse (NULL, 10, &err));
    assert_int_equal (err.code, VB_ERR_INVALID_XML);

    /*  A valid document padded with a comment past the limit. */
    size_t len = VB_DOMXML_MAX_BYTES + 100;
    char *big = malloc (len + 1);
    assert_non_null (big);
    const char *head = HEAD ("kvm") OS_HVM "<!--";
    const char *tail = "--></domain>";
    memset (big, 'x', len);
    memcpy (big, head, strlen (head));
    memcpy (big + len - strlen (tail), tail, strlen (tail));
    big[len] = '\0';
    vb_error_clear (&err);
    assert_null (vb_domxml_parse (big, len, &err));
    assert_int_equal (err.code, VB_ERR_INVALID_XML);
    assert_non_null (strstr (err.message, "limit"));
    vb_error_clear (&err);
    assert_null (vb_domxml_peek_type (big, len, &err));
    assert_int_equal (err.code, VB_ERR_INVALID_XML);
    free (big);
}

/*  LEN bytes are read, not up to a NUL: what follows must not matter. */
static void
test_domxml_parse_reads_exactly_len_bytes (void **state)
{
    (void) state;
    const char *doc = HEAD ("kvm") OS_HVM "</domain>";
    char buf[512];
    snprintf (buf, sizeof buf, "%sGARBAGE<<<", doc);
    vb_error_t err = { 0 };
    vb_domain_def_t *def = vb_domxml_parse (buf, strlen (doc), &err);
    assert_non_null (def);
    vb_domain_def_free (&def);
    assert_null (vb_domxml_parse (buf, strlen (buf), &err));
    assert_int_equal (err.code, VB_ERR_INVALID_XML);
}

static void
test_domxml_input_is_utf8_whatever_it_declares (void **state)
{
    (void) state;
    const char *utf8 = "<?xml version='1.0' encoding='ISO-8859-1'?>"
                       HEAD ("kvm") "<description>caf\xc3\xa9 \xe2\x82\xac</description>" OS_HVM
                       "</domain>";
    vb_domain_def_t *def = parse_ok (utf8);
    assert_string_equal (def->description, "caf\xc3\xa9 \xe2\x82\xac");
    assert_round_trip (def);
    vb_domain_def_free (&def);
    const char *latin1 = "<?xml version='1.0' encoding='ISO-8859-1'?>"
                         HEAD ("kvm") "<description>caf\xe9</description>" OS_HVM "</domain>";
    vb_error_t err = { 0 };
    assert_null (vb_domxml_parse (latin1, strlen (latin1), &err));
    assert_int_equal (err.code, VB_ERR_INVALID_XML);
    assert_non_null (strstr (err.message, "not well-formed"));
}

/* ---------------------------------------------------------------------------------------------
 *  Hostile documents.
 */
static void
test_domxml_billion_laughs_is_refused_quickly (void **state)
{
    (void) state;
    const char *xml =
        "<?xml version='1.0'?>\n"
        "<!DOCTYPE domain [\n"
        " <!ENTITY a0 'lol'>\n"
        " <!ENTITY a1 '&a0;&a0;&a0;&a0;&a0;&a0;&a0;&a0;&a0;&a0;'>\n"
        " <!ENTITY a2 '&a1;&a1;&a1;&a1;&a1;&a1;&a1;&a1;&a1;&a1;'>\n"
        " <!ENTITY a3 '&a2;&a2;&a2;&a2;&a2;&a2;&a2;&a2;&a2;&a2;'>\n"
        " <!ENTITY a4 '&a3;&a3;&a3;&a3;&a3;&a3;&a3;&a3;&a3;&a3;'>\n"
        " <!ENTITY a5 '&a4;&a4;&a4;&a4;&a4;&a4;&a4;&a4;&a4;&a4;'>\n"
        " <!ENTITY a6 '&a5;&a5;&a5;&a5;&a5;&a5;&a5;&a5;&a5;&a5;'>\n"
        " <!ENTITY a7 '&a6;&a6;&a6;&a6;&a6;&a6;&a6;&a6;&a6;&a6;'>\n"
        " <!ENTITY a8 '&a7;&a7;&a7;&a7;&a7;&a7;&a7;&a7;&a7;&a7;'>\n"
        " <!ENTITY a9 '&a8;&a8;&a8;&a8;&a8;&a8;&a8;&a8;&a8;&a8;'>\n"
        "]>\n"
        "<domain type='kvm'><name>x</name><description>&a9;</description>"
        "<memory>1024</memory>" OS_HVM "</domain>";
    int64_t t0 = vb_now_ms ();
    vb_error_t err = { 0 };
    assert_null (vb_domxml_parse (xml, strlen (xml), &err));
    assert_int_equal (err.code, VB_ERR_INVALID_XML);
    assert_non_null (strstr (err.message, "DOCTYPE"));
    assert_true (vb_now_ms () - t0 < 1000);
    vb_error_clear (&err);
    assert_null (vb_domxml_peek_type (xml, strlen (xml), &err));
    assert_int_equal (err.code, VB_ERR_INVALID_XML);
}

static void
test_domxml_external_entity_is_refused_and_not_read (void **state)
{
    (void) state;
    const char *xml =
        "<?xml version='1.0'?>\n"
        "<!DOCTYPE domain [ <!ENTITY xxe SYSTEM 'file:///etc/passwd'> ]>\n"
        "<domain type='kvm'><name>x</name><description>&xxe;</description>"
        "<memory>1024</memory>" OS_HVM "</domain>";
    vb_error_t err = { 0 };
    assert_null (vb_domxml_parse (xml, strlen (xml), &err));
    assert_int_equal (err.code, VB_ERR_INVALID_XML);
    assert_null (strstr (err.message, "root:"));
    /*  An external DTD is not loaded either. */
    const char *ext = "<!DOCTYPE domain SYSTEM 'http://127.0.0.1:1/x.dtd'>"
                      "<domain type='kvm'><name>x</name><memory>1</memory>" OS_HVM "</domain>";
    vb_error_clear (&err);
    assert_null (vb_domxml_parse (ext, strlen (ext), &err));
    assert_int_equal (err.code, VB_ERR_INVALID_XML);
    assert_non_null (strstr (err.message, "DOCTYPE"));
}

static void
test_domxml_backing_chain_deeper_than_64_layers_answers_invalid_xml (void **state)
{
    (void) state;
    for (int layers = 64; layers <= 65; layers++) {
        char *xml = NULL;
        size_t len = 0;
        FILE *f = open_memstream (&xml, &len);
        assert_non_null (f);
        fputs (HEAD ("kvm") OS_HVM "<devices><disk><source file='/top'/>", f);
        for (int i = 1; i <= layers; i++)
            fprintf (f, "<backingStore type='file'><format type='qcow2'/><source file='/l%d'/>", i);
        fputs ("<backingStore/>", f);
        for (int i = 1; i <= layers; i++)
            fputs ("</backingStore>", f);
        fputs ("<target dev='vda'/></disk></devices></domain>", f);
        fclose (f);
        vb_error_t err = { 0 };
        vb_domain_def_t *def = vb_domxml_parse (xml, len, &err);
        if (layers == 64) {
            assert_non_null (def);
            const vb_backing_store_t *bs = def->disks[0].backing;
            unsigned n = 0;
            for (; bs; bs = bs->backing)
                assert_int_equal (bs->index, ++n);
            assert_int_equal (n, 64);
            assert_round_trip (def);
            vb_domain_def_free (&def);
        } else {
            assert_null (def);
            assert_int_equal (err.code, VB_ERR_INVALID_XML);
            assert_non_null (strstr (err.message, "<backingStore>"));
            assert_non_null (strstr (err.message, "deeper than 64 layers"));
        }
        free (xml);
    }
}

/* ---------------------------------------------------------------------------------------------
 *  Unknown elements.
 */
static void
test_domxml_unknown_elements_survive_a_round_trip_in_place (void **state)
{
    (void) state;
    const char *xml =
        "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
        "  <name>u</name>\n"
        "  <metadata><app:info xmlns:app='http://example.org/app'>keep &amp; this</app:info>"
        "</metadata>\n"
        "  <memory unit='MiB'>64</memory>\n"
        "  <os>\n    <type>hvm</type>\n    <boot dev='hd'/>\n    <bios useserial='yes'/>\n  </os>\n"
        "  <features><acpi/><apic/></features>\n"
        "<clock offset='utc'>\n<timer name='rtc'/>\n            </clock>\n"
        "  <devices>\n"
        "    <disk type='file'><source file='/a.qcow2'/><target dev='vda'/>"
        "<address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>"
        "<boot order='1'/></disk>\n"
        "    <interface type='user'><mac address='52:54:00:00:00:01'/>"
        "<rom bar='off'/></interface>\n"
        "    <console type='pty'><target type='serial' port='0'/><alias name='console0'/>"
        "</console>\n"
        "    <serial type='pty'><log file='/var/log/s.log'/></serial>\n"
        "    <memballoon model='virtio'><stats period='10'/></memballoon>\n"
        "    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>\n"
        "  </devices>\n"
        "  <qemu:commandline><qemu:arg value='-no-hpet'/></qemu:commandline>\n"
        "  <description>mixed\n  <b>content</b> stays</description>\n"
        "</domain>\n";
    vb_domain_def_t *def = parse_ok (xml);
    char *out = vb_domxml_format (def);
    static const char *const kept[] = {
        "  <metadata>\n    <app:info xmlns:app='http://example.org/app'>keep &amp; this</app:info>"
        "\n  </metadata>\n",
        "    <boot dev='hd'/>\n    <bios useserial='yes'/>\n  </os>\n",
        "  <features>\n    <acpi/>\n    <apic/>\n  </features>\n",
        /*  Formatting whitespace of kept elements is redone for their place in the output. */
        "  <clock offset='utc'>\n    <timer name='rtc'/>\n  </clock>\n",
        "      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>\n"
        "      <boot order='1'/>\n    </disk>\n",
        "      <rom bar='off'/>\n    </interface>\n",
        "    <serial type='pty'>\n      <log file='/var/log/s.log'/>\n    </serial>\n",
        "      <target type='serial' port='0'/>\n      <alias name='console0'/>\n    </console>\n",
        "    <memballoon model='virtio'>\n      <stats period='10'/>\n    </memballoon>\n"
        "    <rng model='virtio'>\n      <backend model='random'>/dev/urandom</backend>\n"
        "    </rng>\n  </devices>\n",
        "  <qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n"
        "    <qemu:arg value='-no-hpet'/>\n  </qemu:commandline>\n",
        "  <description>mixed\n  content stays</description>\n",
    };
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++)
        if (!strstr (out, kept[i]))
            fail_msg ("kept element %zu missing:\n%s\n--- in ---\n%s", i, kept[i], out);
    assert_round_trip (def);
    /*  And a second generation is still the same. */
    vb_domain_def_t *again = parse_ok (out);
    assert_true (defs_equal (def, again));
    assert_round_trip (again);
    vb_domain_def_free (&again);
    vb_domain_def_free (&def);
    free (out);
}

static void
test_domxml_text_with_markup_characters_round_trips_exactly (void **state)
{
    (void) state;
    vb_domain_def_t *def = parse_ok (
        HEAD ("kvm") "<title>a &lt;b&gt; &amp; 'c' \"d\"</title>"
        "<description>\n  line one\n\tline &#13;two &amp; more\n</description>" OS_HVM
        "<devices><disk><source file='/x/it&apos;s &amp; &quot;q&quot;.img'/>"
        "<target dev='vda'/><serial>S N-1.0+x</serial></disk></devices></domain>");
    assert_string_equal (def->title, "a <b> & 'c' \"d\"");
    assert_string_equal (def->description, "\n  line one\n\tline \rtwo & more\n");
    assert_string_equal (def->disks[0].source, "/x/it's & \"q\".img");
    assert_string_equal (def->disks[0].serial, "S N-1.0+x");
    assert_round_trip (def);
    vb_domain_def_free (&def);
}

static void
test_domxml_consoles_follow_serials_and_mac_is_normalised (void **state)
{
    (void) state;
    vb_domain_def_t *def = parse_devices (
        "<console type='pty'><target type='virtio' port='1'/></console>"
        "<serial type='pty'><target type='isa-serial' port='0'/></serial>"
        "<console type='pty'/>"
        "<interface type='user'><mac address='52:54:0:AB:cd:1'/><target dev='tap-x.0'/>"
        "</interface>");
    assert_int_equal (def->nchrs, 3);
    assert_int_equal (def->chrs[0].kind, VB_CHR_SERIAL);
    assert_int_equal (def->chrs[1].kind, VB_CHR_CONSOLE);
    assert_string_equal (def->chrs[1].target_type, "virtio");
    assert_int_equal (def->chrs[1].port, 1);
    assert_int_equal (def->chrs[2].kind, VB_CHR_CONSOLE);
    assert_int_equal (def->chrs[2].port, -1);
    assert_null (def->chrs[2].target_type);
    assert_string_equal (def->nets[0].mac, "52:54:00:ab:cd:01");
    assert_string_equal (def->nets[0].target_dev, "tap-x.0");
    assert_null (def->nets[0].model);
    assert_round_trip (def);
    vb_domain_def_free (&def);
}

static void
test_domxml_lifecycle_actions_and_os_parts_round_trip (void **state)
{
    (void) state;
    vb_domain_def_t *def = parse_ok (
        "<domain type='xen'><name>pv</name><memory unit='GiB'>1</memory><vcpu>4</vcpu>"
        "<os><type>xen</type><kernel>/boot/vmlinuz</kernel><initrd>/boot/initrd</initrd>"
        "<cmdline>console=hvc0 root=/dev/xvda</cmdline></os>"
        "<on_poweroff>preserve</on_poweroff><on_reboot>rename-restart</on_reboot>"
        "<on_crash>coredump-restart</on_crash>"
        "<devices><disk type='block'><driver name='phy'/><source dev='/dev/loop0'/>"
        "<target dev='xvda' bus='xen'/></disk></devices></domain>");
    assert_int_equal (def->on_poweroff, VB_LIFECYCLE_PRESERVE);
    assert_int_equal (def->on_reboot, VB_LIFECYCLE_RENAME_RESTART);
    assert_int_equal (def->on_crash, VB_LIFECYCLE_COREDUMP_RESTART);
    assert_int_equal (def->vcpus, 4);
    assert_int_equal (def->memory_kib, 1048576);
    assert_int_equal (def->disks[0].bus, VB_DISK_BUS_XEN);
    assert_string_equal (def->disks[0].driver_name, "phy");
    assert_round_trip (def);
    vb_domain_def_free (&def);

    /*  A Xen HVM guest's IDE disk: hd* is on bus ide, by default or said. */
    def = parse_ok ("<domain type='xen'><name>h</name><memory>262144</memory>"
                    "<os><type>hvm</type><boot dev='hd'/></os><devices>"
                    "<disk type='block'><source dev='/dev/loop0'/><target dev='hda'/></disk>"
                    "<disk type='block'><source dev='/dev/loop1'/><target dev='hdb' bus='ide'/>"
                    "</disk></devices></domain>");
    assert_int_equal (def->disks[0].bus, VB_DISK_BUS_IDE);
    assert_int_equal (def->disks[1].bus, VB_DISK_BUS_IDE);
    char *text = vb_domxml_format (def);
    assert_non_null (strstr (text, "<target dev='hda' bus='ide'/>"));
    free (text);
    assert_round_trip (def);
    vb_domain_def_free (&def);

    def = parse_ok ("<domain type='lxc'><name>c</name><memory>1024</memory><os><type>exe</type>"
                    "<init>/bin/sh</init><initarg>-c</initarg><initarg>echo hi; sleep 1</initarg>"
                    "</os><devices><filesystem type='mount'><source dir='/srv/rootfs'/>"
                    "<target dir='/'/><readonly/></filesystem></devices></domain>");
    assert_string_equal (def->os_initargs[0], "-c");
    assert_string_equal (def->os_initargs[1], "echo hi; sleep 1");
    assert_null (def->os_initargs[2]);
    assert_true (def->fss[0].readonly);
    assert_round_trip (def);
    vb_domain_def_free (&def);
}

/* ---------------------------------------------------------------------------------------------
 *  peek_type, driver_for_type, copy.
 */
static void
test_domxml_peek_type_reads_the_root_type_only (void **state)
{
    (void) state;
    vb_error_t err = { 0 };
    const char *xml = "<domain type='lxc'><anything-goes/></domain>";
    char *type = vb_domxml_peek_type (xml, strlen (xml), &err);
    assert_string_equal (type, "lxc");
    free (type);
    /*  An unknown type is returned so the broker can say which type has no driver. */
    xml = "<domain type='vmware'/>";
    type = vb_domxml_peek_type (xml, strlen (xml), &err);
    assert_string_equal (type, "vmware");
    assert_null (vb_domxml_driver_for_type (type));
    free (type);
    static const char *const bad[] = { "<domain/>", "<domain type=''/>", "<domain type='a b'/>",
                                       "<vm type='kvm'/>", "<domain type='kvm'>", "junk" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        vb_error_clear (&err);
        assert_null (vb_domxml_peek_type (bad[i], strlen (bad[i]), &err));
        assert_int_equal (err.code, VB_ERR_INVALID_XML);
    }
}

static void
test_domxml_driver_for_type_maps_each_domain_type (void **state)
{
    (void) state;
    assert_string_equal (vb_domxml_driver_for_type ("kvm"), "qemu");
    assert_string_equal (vb_domxml_driver_for_type ("qemu"), "qemu");
    assert_string_equal (vb_domxml_driver_for_type ("lxc"), "lxc");
    assert_string_equal (vb_domxml_driver_for_type ("xen"), "xen");
    assert_string_equal (vb_domxml_driver_for_type ("test"), "test");
    assert_null (vb_domxml_driver_for_type ("KVM"));
    assert_null (vb_domxml_driver_for_type (""));
    assert_null (vb_domxml_driver_for_type (NULL));
}

static void
test_domxml_copy_is_deep_and_independent (void **state)
{
    (void) state;
    vb_domain_def_t *def = parse_fixture ("qemu-backing-chain.xml");
    vb_domain_def_t *copy = vb_domain_def_copy (def);
    assert_non_null (copy);
    assert_true (defs_equal (def, copy));
    assert_ptr_not_equal (copy->name, def->name);
    assert_ptr_not_equal (copy->disks, def->disks);
    assert_ptr_not_equal (copy->disks[0].backing, def->disks[0].backing);
    assert_ptr_not_equal (copy->disks[0].backing->backing->path,
                          def->disks[0].backing->backing->path);
    copy->name[0] = 'X';
    assert_string_equal (def->name, "QEMUGuest1");
    vb_domain_def_free (&def);
    assert_round_trip (copy);
    vb_domain_def_free (&copy);
    assert_null (vb_domain_def_copy (NULL));
    vb_domain_def_free (&copy);
    vb_domain_def_free (NULL);
    vb_backing_store_free (NULL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_domxml_every_fixture_round_trips_to_an_equal_definition),
        cmocka_unit_test (test_domxml_format_q35_matches_expected_text),
        cmocka_unit_test (test_domxml_format_lxc_matches_expected_text),
        cmocka_unit_test (test_domxml_format_backing_chain_matches_expected_text),
        cmocka_unit_test (test_domxml_q35_fixture_fields_are_read),
        cmocka_unit_test (test_domxml_lxc_and_xen_fixture_fields_are_read),
        cmocka_unit_test (test_domxml_backing_chain_is_read_and_renumbered_by_depth),
        cmocka_unit_test (test_domxml_format_three_layer_chain_as_libvirt_live_xml),
        cmocka_unit_test (test_domxml_defaults_follow_libvirt),
        cmocka_unit_test (test_domxml_missing_uuid_is_generated_and_given_uuid_normalised),
        cmocka_unit_test (test_domxml_memory_units_follow_libvirt),
        cmocka_unit_test (test_domxml_each_invalid_document_answers_invalid_xml_naming_the_element),
        cmocka_unit_test (test_domxml_empty_and_oversized_documents_answer_invalid_xml),
        cmocka_unit_test (test_domxml_parse_reads_exactly_len_bytes),
        cmocka_unit_test (test_domxml_input_is_utf8_whatever_it_declares),
        cmocka_unit_test (test_domxml_billion_laughs_is_refused_quickly),
        cmocka_unit_test (test_domxml_external_entity_is_refused_and_not_read),
        cmocka_unit_test (test_domxml_backing_chain_deeper_than_64_layers_answers_invalid_xml),
        cmocka_unit_test (test_domxml_unknown_elements_survive_a_round_trip_in_place),
        cmocka_unit_test (test_domxml_text_with_markup_characters_round_trips_exactly),
        cmocka_unit_test (test_domxml_consoles_follow_serials_and_mac_is_normalised),
        cmocka_unit_test (test_domxml_lifecycle_actions_and_os_parts_round_trip),
        cmocka_unit_test (test_domxml_peek_type_reads_the_root_type_only),
        cmocka_unit_test (test_domxml_driver_for_type_maps_each_domain_type),
        cmocka_unit_test (test_domxml_copy_is_deep_and_independent),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
