/*  qemu_command — a domain definition turned into the argv of its QEMU process (see header). */
#include "qemu_command.h"

#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_util.h"

#define SATA_PORTS 6     /* q35's built-in ICH9 AHCI: ide.0 .. ide.5 */
#define ISA_SERIALS 4    /* COM1..COM4 */
#define TARGET_DEV_MAX 16

/*  A growing argv. On allocation failure it remembers the failure and ignores further pushes, so
 *  the builder checks once at the end. */
typedef struct {
    char **items;
    size_t len, cap;
    bool oom;
} argv_t;

static void
argv_take (argv_t *a, char *s)
{
    if (!s)
        a->oom = true;
    if (a->oom) {
        free (s);
        return;
    }
    if (a->len + 2 > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 32;
        char **items = realloc (a->items, cap * sizeof *items);
        if (!items) {
            a->oom = true;
            free (s);
            return;
        }
        a->items = items;
        a->cap = cap;
    }
    a->items[a->len++] = s;
    a->items[a->len] = NULL;
}

static void
argv_add (argv_t *a, const char *s)
{
    argv_take (a, strdup (s));
}

static void argv_addf (argv_t *a, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

static void
argv_addf (argv_t *a, const char *fmt, ...)
{
    char *s = NULL;
    va_list ap;
    va_start (ap, fmt);
    if (vasprintf (&s, fmt, ap) < 0)
        s = NULL;
    va_end (ap);
    argv_take (a, s);
}

static void
argv_clear (argv_t *a)
{
    for (size_t i = 0; i < a->len; i++)
        free (a->items[i]);
    free (a->items);
    memset (a, 0, sizeof *a);
}

/*  TEXT with every ',' doubled, for a value in QEMU's key=value option syntax. NULL on OOM. */
static char *
escape_opt (const char *text)
{
    size_t n = strlen (text), commas = 0;
    for (const char *p = text; *p; p++)
        commas += *p == ',';
    char *out = malloc (n + commas + 1), *q = out;
    if (!out)
        return NULL;
    for (const char *p = text; *p; p++) {
        *q++ = *p;
        if (*p == ',')
            *q++ = ',';
    }
    *q = '\0';
    return out;
}

int
qemu_command_disk_index (const char *target_dev)
{
    static const char *const prefixes[] = { "xvd", "vd", "sd", "hd" };
    const char *p = NULL;
    if (!target_dev)
        return -1;
    for (size_t i = 0; i < sizeof prefixes / sizeof *prefixes && !p; i++)
        if (strncmp (target_dev, prefixes[i], strlen (prefixes[i])) == 0)
            p = target_dev + strlen (prefixes[i]);
    if (!p || !*p)
        return -1;
    long idx = 0;
    for (size_t i = 0; *p; i++, p++) {
        if (*p < 'a' || *p > 'z' || i >= 4)  /* 4 letters: far beyond any real domain */
            return -1;
        idx = (idx + (i < 1 ? 0 : 1)) * 26 + (*p - 'a');
    }
    return (int) idx;
}

/*  Identifiers go into QEMU ids and node names unescaped, so they are checked instead. */
static bool
ident_is_valid (const char *s, size_t max)
{
    size_t n = 0;
    if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
        return false;
    for (; *s; s++, n++) {
        char c = *s;
        if (n >= max || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                          || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'))
            return false;
    }
    return true;
}

static bool
mac_is_valid (const char *mac)
{
    unsigned b[6];
    char tail;
    if (!mac || strlen (mac) != 17
        || sscanf (mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
                   &tail) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        if (mac[i * 3 + 2] != (i < 5 ? ':' : '\0'))
            return false;
    return (b[0] & 1) == 0;  /* a multicast address cannot be a NIC's */
}

static bool
machine_is_q35 (const char *machine)
{
    return strcmp (machine, "q35") == 0 || strncmp (machine, "pc-q35-", 7) == 0;
}

/*  The two -blockdev nodes of DISK. */
static int
add_blockdevs (argv_t *a, const vb_disk_def_t *disk, vb_error_t *err)
{
    char storage[64], format[64];
    snprintf (storage, sizeof storage, "vb-%s-storage", disk->target_dev);
    snprintf (format, sizeof format, "vb-%s-format", disk->target_dev);
    json_object *s = json_object_new_object ();
    json_object *f = json_object_new_object ();
    int rc = -1;
    if (!s || !f)
        goto cleanup;
    bool ro = disk->readonly || disk->device == VB_DISK_DEVICE_CDROM;
    if (json_object_object_add (s, "driver", json_object_new_string (
                                    disk->type == VB_DISK_TYPE_BLOCK ? "host_device" : "file"))
        || json_object_object_add (s, "filename", json_object_new_string (disk->source))
        || json_object_object_add (s, "node-name", json_object_new_string (storage))
        || json_object_object_add (s, "read-only", json_object_new_boolean (ro))
        || json_object_object_add (f, "driver", json_object_new_string (
                                       disk->format == VB_DISK_FORMAT_QCOW2 ? "qcow2" : "raw"))
        || json_object_object_add (f, "file", json_object_new_string (storage))
        || json_object_object_add (f, "node-name", json_object_new_string (format))
        || json_object_object_add (f, "read-only", json_object_new_boolean (ro)))
        goto cleanup;
    int flags = JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE;
    argv_add (a, "-blockdev");
    argv_add (a, json_object_to_json_string_ext (s, flags));
    argv_add (a, "-blockdev");
    argv_add (a, json_object_to_json_string_ext (f, flags));
    rc = 0;
cleanup:
    json_object_put (s);
    json_object_put (f);
    if (rc < 0)
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory building the -blockdev of disk '%s'",
                      disk->target_dev);
    return rc;
}

static int
add_disk (argv_t *a, const vb_domain_def_t *def, const char *machine, size_t i, bool bootable,
          vb_error_t *err)
{
    const vb_disk_def_t *disk = &def->disks[i];
    const char *dev = disk->target_dev;
    bool cdrom = disk->device == VB_DISK_DEVICE_CDROM;
    int idx = qemu_command_disk_index (dev);
    char *serial = NULL;
    char *tail = NULL;
    int rc = -1;

    if (!ident_is_valid (dev, TARGET_DEV_MAX) || idx < 0)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': <disk> target dev '%s' is not "
                             "a disk name like vda or sdb", def->name, dev ? dev : "");
    for (size_t j = 0; j < i; j++)
        if (strcmp (def->disks[j].target_dev, dev) == 0)
            return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': <disk> target dev '%s' "
                                 "is used twice", def->name, dev);
    if (!disk->source && !cdrom)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': disk '%s' has no <source>; "
                             "only a cdrom may be empty", def->name, dev);
    if (cdrom && disk->bus == VB_DISK_BUS_VIRTIO)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': cdrom '%s' cannot be on bus "
                             "virtio; use sata or scsi", def->name, dev);
    if (disk->bus == VB_DISK_BUS_SATA && !machine_is_q35 (machine))
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': disk '%s' is on bus sata, "
                             "which needs a q35 machine (not '%s')", def->name, dev, machine);
    if (disk->bus == VB_DISK_BUS_SATA && idx >= SATA_PORTS)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': sata disk '%s' is beyond "
                             "the %d ports of the AHCI controller (sda..sdf)", def->name, dev,
                             SATA_PORTS);
    if (disk->source && add_blockdevs (a, disk, err) < 0)
        return -1;

    if (disk->serial && !(serial = escape_opt (disk->serial)))
        goto oom;
    if (asprintf (&tail, "%s%s%s%s%s", disk->source ? ",drive=vb-" : "",
                  disk->source ? dev : "", disk->source ? "-format" : "",
                  serial ? ",serial=" : "", serial ? serial : "") < 0) {
        tail = NULL;
        goto oom;
    }
    argv_add (a, "-device");
    switch (disk->bus) {
    case VB_DISK_BUS_VIRTIO:
        argv_addf (a, "virtio-blk-pci,id=%s%s%s", dev, tail, bootable ? ",bootindex=1" : "");
        break;
    case VB_DISK_BUS_SATA:
        argv_addf (a, "%s,bus=ide.%d,id=%s%s%s", cdrom ? "ide-cd" : "ide-hd", idx, dev, tail,
                   bootable ? ",bootindex=1" : "");
        break;
    case VB_DISK_BUS_SCSI:
        argv_addf (a, "%s,bus=scsi0.0,channel=0,scsi-id=0,lun=%d,id=%s%s%s",
                   cdrom ? "scsi-cd" : "scsi-hd", idx, dev, tail, bootable ? ",bootindex=1" : "");
        break;
    case VB_DISK_BUS_IDE:
        /*  as libvirt on q35: "IDE controllers are unsupported for this QEMU binary or machine
         *  type" */
        vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': disk '%s' is on bus ide, which a "
                      "q35 machine does not have; use vd* (virtio), sd* (sata, scsi)",
                      def->name, dev);
        goto cleanup;
    default:
        vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': disk '%s' is on a bus QEMU does not "
                      "have here (virtio, sata, scsi)", def->name, dev);
        goto cleanup;
    }
    rc = 0;
    goto cleanup;
oom:
    vb_error_set (err, VB_ERR_INTERNAL, "out of memory building the argv of disk '%s'", dev);
cleanup:
    free (serial);
    free (tail);
    return rc;
}

static int
add_net (argv_t *a, const vb_domain_def_t *def, size_t i, vb_error_t *err)
{
    const vb_net_def_t *net = &def->nets[i];
    const char *model = net->model ? net->model : "virtio";
    const char *device;
    char mac[18];

    if (net->type != VB_NET_TYPE_USER)
        return vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': interface %zu is not of type "
                             "'user', the only type the qemu driver supports", def->name, i);
    if (strcmp (model, "virtio") == 0)
        device = "virtio-net-pci";
    else if (strcmp (model, "e1000") == 0 || strcmp (model, "e1000e") == 0
             || strcmp (model, "rtl8139") == 0)
        device = model;
    else
        return vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': interface model '%s' is not "
                             "supported (virtio, e1000, e1000e, rtl8139)", def->name, model);
    if (net->mac) {
        if (!mac_is_valid (net->mac))
            return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': <mac address='%s'> is "
                                 "not a unicast MAC address", def->name, net->mac);
        snprintf (mac, sizeof mac, "%s", net->mac);
    } else {
        char seed[64];
        int n = snprintf (seed, sizeof seed, "%s/net%zu", def->uuid, i);
        uint64_t h = vb_hash64 (seed, (size_t) n);
        snprintf (mac, sizeof mac, "52:54:00:%02x:%02x:%02x", (unsigned) (h >> 16) & 0xff,
                  (unsigned) (h >> 8) & 0xff, (unsigned) h & 0xff);
    }
    argv_add (a, "-netdev");
    argv_addf (a, "user,id=net%zu", i);
    argv_add (a, "-device");
    argv_addf (a, "%s,netdev=net%zu,id=net%zu,mac=%s", device, i, i, mac);
    return 0;
}

static int
add_chrs (argv_t *a, const vb_domain_def_t *def, vb_error_t *err)
{
    size_t nserial = 0;
    bool have_serial0 = false, virtio_serial = false;

    for (size_t i = 0; i < def->nchrs; i++) {
        const vb_chr_def_t *chr = &def->chrs[i];
        if (chr->kind != VB_CHR_SERIAL)
            continue;
        int port = chr->port >= 0 ? chr->port : (int) nserial;
        nserial++;
        if (chr->target_type && strcmp (chr->target_type, "isa-serial") != 0)
            return vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': <serial> target type "
                                 "'%s' is not supported (isa-serial)", def->name,
                                 chr->target_type);
        if (port >= ISA_SERIALS)
            return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': <serial> port %d is "
                                 "beyond the %d ISA serial ports", def->name, port, ISA_SERIALS);
        have_serial0 |= port == 0;
        argv_add (a, "-chardev");
        argv_addf (a, "pty,id=charserial%d", port);
        argv_add (a, "-device");
        argv_addf (a, "isa-serial,chardev=charserial%d,id=serial%d,index=%d", port, port, port);
    }
    size_t nconsole = 0;
    for (size_t i = 0; i < def->nchrs; i++) {
        const vb_chr_def_t *chr = &def->chrs[i];
        if (chr->kind != VB_CHR_CONSOLE)
            continue;
        size_t c = nconsole++;
        if (!chr->target_type || strcmp (chr->target_type, "serial") == 0) {
            /*  libvirt: a serial console is the first serial port; it makes one if none. */
            if (c != 0)
                return vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': only the first "
                                     "<console> may have target type serial", def->name);
            if (nserial > 0 || have_serial0)
                continue;
            argv_add (a, "-chardev");
            argv_add (a, "pty,id=charserial0");
            argv_add (a, "-device");
            argv_add (a, "isa-serial,chardev=charserial0,id=serial0,index=0");
            have_serial0 = true;
        } else if (strcmp (chr->target_type, "virtio") == 0) {
            if (!virtio_serial) {
                argv_add (a, "-device");
                argv_add (a, "virtio-serial-pci,id=virtio-serial0");
                virtio_serial = true;
            }
            argv_add (a, "-chardev");
            argv_addf (a, "pty,id=charconsole%zu", c);
            argv_add (a, "-device");
            argv_addf (a, "virtconsole,chardev=charconsole%zu,id=console%zu", c, c);
        } else {
            return vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': <console> target type "
                                 "'%s' is not supported (serial, virtio)", def->name,
                                 chr->target_type);
        }
    }
    return 0;
}

/*  Checks on the domain as a whole; the device checks live with each device. */
static int
check_domain (const vb_domain_def_t *def, const qemu_command_paths_t *paths, const char *machine,
              vb_error_t *err)
{
    if (!def || !paths || !paths->qmp_socket || !*paths->qmp_socket)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "a domain definition and a QMP socket path "
                             "are required to build a QEMU command line");
    if (!vb_name_is_valid (def->name))
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain name '%s' is not valid",
                             def->name ? def->name : "");
    if (!def->type || (strcmp (def->type, "kvm") != 0 && strcmp (def->type, "qemu") != 0))
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': <domain type='%s'> is not "
                             "kvm or qemu", def->name, def->type ? def->type : "");
    if (!vb_uuid_is_valid (def->uuid))
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': uuid '%s' is not valid",
                             def->name, def->uuid);
    if (def->os_type && strcmp (def->os_type, "hvm") != 0)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': <os><type> '%s' is not hvm",
                             def->name, def->os_type);
    if (def->os_arch && strcmp (def->os_arch, "x86_64") != 0)
        return vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': arch '%s' is not supported "
                             "(x86_64)", def->name, def->os_arch);
    if (!ident_is_valid (machine, 64))
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': machine type '%s' is not "
                             "valid", def->name, machine);
    if (def->memory_kib == 0 || def->vcpus == 0)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': <memory> and <vcpu> must be "
                             "positive", def->name);
    if (def->on_poweroff != VB_LIFECYCLE_DESTROY)
        return vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': <on_poweroff> must be destroy:"
                             " QEMU exits when the guest powers off", def->name);
    if (def->on_reboot != VB_LIFECYCLE_DESTROY && def->on_reboot != VB_LIFECYCLE_RESTART)
        return vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': <on_reboot> must be restart "
                             "or destroy", def->name);
    if (def->emulator && def->emulator[0] != '/')
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s': <emulator> '%s' is not an "
                             "absolute path", def->name, def->emulator);
    if (def->nfss > 0)
        return vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': <filesystem> devices are not "
                             "supported by the qemu driver", def->name);
    return 0;
}

char **
qemu_command_build (const vb_domain_def_t *def, const qemu_command_paths_t *paths,
                    vb_error_t *err)
{
    argv_t a = { 0 };
    char *name = NULL, *qmp = NULL;
    const char *machine = def && def->os_machine ? def->os_machine
                                                 : QEMU_COMMAND_DEFAULT_MACHINE;

    if (check_domain (def, paths, machine, err) < 0)
        goto fail;
    if (!(name = escape_opt (def->name)) || !(qmp = escape_opt (paths->qmp_socket)))
        goto oom;

    argv_add (&a, def->emulator ? def->emulator : QEMU_COMMAND_DEFAULT_EMULATOR);
    argv_add (&a, "-name");
    argv_addf (&a, "guest=%s,debug-threads=on", name);
    argv_add (&a, "-S");
    argv_add (&a, "-machine");
    argv_addf (&a, "%s,accel=%s", machine, strcmp (def->type, "kvm") == 0 ? "kvm" : "tcg");
    argv_add (&a, "-m");
    argv_addf (&a, "size=%lluk", (unsigned long long) def->memory_kib);
    argv_add (&a, "-smp");
    argv_addf (&a, "%u", def->vcpus);
    argv_add (&a, "-uuid");
    argv_add (&a, def->uuid);
    argv_add (&a, "-no-user-config");
    argv_add (&a, "-nodefaults");
    argv_add (&a, "-display");
    argv_add (&a, "none");
    argv_add (&a, "-msg");
    argv_add (&a, "timestamp=on");
    argv_add (&a, "-chardev");
    argv_addf (&a, "socket,id=charmonitor,path=%s,server=on,wait=off", qmp);
    argv_add (&a, "-mon");
    argv_add (&a, "chardev=charmonitor,id=monitor,mode=control");
    if (paths->pidfile) {
        argv_add (&a, "-pidfile");
        argv_add (&a, paths->pidfile);
    }
    if (def->on_reboot == VB_LIFECYCLE_DESTROY)
        argv_add (&a, "-no-reboot");

    bool scsi = false;
    for (size_t i = 0; i < def->ndisks; i++)
        scsi |= def->disks[i].bus == VB_DISK_BUS_SCSI;
    if (scsi) {
        argv_add (&a, "-device");
        argv_add (&a, "virtio-scsi-pci,id=scsi0");
    }
    bool boot_given = false;
    for (size_t i = 0; i < def->ndisks; i++) {
        bool bootable = !boot_given && def->disks[i].device == VB_DISK_DEVICE_DISK;
        boot_given |= bootable;
        if (add_disk (&a, def, machine, i, bootable, err) < 0)
            goto fail;
    }
    for (size_t i = 0; i < def->nnets; i++)
        if (add_net (&a, def, i, err) < 0)
            goto fail;
    if (add_chrs (&a, def, err) < 0)
        goto fail;
    argv_add (&a, "-device");
    argv_add (&a, "virtio-balloon-pci,id=balloon0");
    if (a.oom)
        goto oom;
    free (name);
    free (qmp);
    return a.items;
oom:
    vb_error_set (err, VB_ERR_INTERNAL, "out of memory building the QEMU command line of "
                  "domain '%s'", def && def->name ? def->name : "");
fail:
    free (name);
    free (qmp);
    argv_clear (&a);
    return NULL;
}

void
qemu_command_free (char ***argv_p)
{
    if (!argv_p || !*argv_p)
        return;
    for (char **p = *argv_p; *p; p++)
        free (*p);
    free (*argv_p);
    *argv_p = NULL;
}
