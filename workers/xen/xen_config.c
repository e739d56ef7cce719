/*  xen_config — libvirt Xen domain XML -> libxl_domain_config (see xen_config.h).
 *
 *  Field for field this follows what xl's parser sets for the equivalent xl.cfg (the unit tests
 *  compare the JSON), which is also what libvirt's libxl_conf.c sets for these elements.
 */
#include "xen_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  The first element name in an extra_xml string ("<foo ...>" -> "foo"), into BUF. */
static const char *
s_first_element (const char *xml, char *buf, size_t size)
{
    const char *p = xml? strchr (xml, '<'): NULL;
    size_t n = 0;
    if (p) {
        p++;
        while (p[n] && !isspace ((unsigned char) p[n]) && p[n] != '>' && p[n] != '/'
               && n + 1 < size)
            n++;
        memcpy (buf, p, n);
    }
    buf[n] = '\0';
    return n? buf: "unknown";
}

static bool
s_is_qemu_driver (const vb_disk_def_t *disk)
{
    return disk->driver_name && strcmp (disk->driver_name, "qemu") == 0;
}

bool
xen_config_disk_needs_loop (const vb_disk_def_t *disk)
{
    return !s_is_qemu_driver (disk) && disk->type == VB_DISK_TYPE_FILE;
}

static int
s_check_disk (const vb_domain_def_t *def, const vb_disk_def_t *disk, vb_error_t *err)
{
    char el[64];
    const char *dev = disk->target_dev;
    if (disk->device != VB_DISK_DEVICE_DISK) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "domain '%s': <disk device='cdrom'> (%s) is not supported by the Xen "
                      "driver", def->name, dev);
        return -1;
    }
    if (disk->bus != VB_DISK_BUS_XEN || xen_config_disk_devno (dev) < 0) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "domain '%s': <target dev='%s'> is not supported by the Xen driver; "
                      "PV disks are xvdX", def->name, dev);
        return -1;
    }
    if (disk->driver_name && strcmp (disk->driver_name, "phy") != 0
        && strcmp (disk->driver_name, "qemu") != 0) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "domain '%s': <driver name='%s'> of disk %s is not supported; use 'phy' "
                      "or 'qemu'", def->name, disk->driver_name, dev);
        return -1;
    }
    if (disk->format == VB_DISK_FORMAT_QCOW2 && !s_is_qemu_driver (disk)) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "domain '%s': <driver type='qcow2'> of disk %s needs <driver name='qemu'> "
                      "(the QEMU disk backend); the phy backend serves raw data only",
                      def->name, dev);
        return -1;
    }
    if (s_is_qemu_driver (disk) && disk->type != VB_DISK_TYPE_FILE) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "domain '%s': <disk type='block'> %s with <driver name='qemu'> is not "
                      "supported; use <driver name='phy'>", def->name, dev);
        return -1;
    }
    if (!disk->source) {
        vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': disk %s has no <source>",
                      def->name, dev);
        return -1;
    }
    if (disk->extra_xml) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "domain '%s': <%s> in disk %s is not supported by the Xen driver",
                      def->name, s_first_element (disk->extra_xml, el, sizeof el), dev);
        return -1;
    }
    return 0;
}

int
xen_config_check (const vb_domain_def_t *def, vb_error_t *err)
{
    char el[64];
    if (!def->type || strcmp (def->type, "xen") != 0) {
        vb_error_set (err, VB_ERR_INVALID_XML,
                      "domain type '%s' is not served by the Xen driver; use <domain type='xen'>",
                      def->type? def->type: "");
        return -1;
    }
    if (def->os_type && strcmp (def->os_type, "hvm") == 0) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "domain '%s': <os><type>hvm</type> is not supported by this Xen driver; "
                      "use PV (<type>linux</type> with <kernel>)", def->name);
        return -1;
    }
    if (!def->os_type || (strcmp (def->os_type, "linux") != 0 && strcmp (def->os_type, "xen") != 0)) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "domain '%s': <os><type>%s</type> is not supported; use <type>linux</type>",
                      def->name, def->os_type? def->os_type: "");
        return -1;
    }
    if (!def->os_kernel) {
        vb_error_set (err, VB_ERR_INVALID_XML,
                      "domain '%s': a PV domain needs <os><kernel> (no bootloader is supported)",
                      def->name);
        return -1;
    }
    const char *what = NULL;
    if (def->nnets)
        what = "interface";
    else if (def->nfss)
        what = "filesystem";
    else if (def->nhostdevs)
        what = "hostdev";
    else if (def->emulator)
        what = "emulator";
    else if (def->os_init || def->os_initargs)
        what = "init";
    else if (def->extra_xml)
        what = s_first_element (def->extra_xml, el, sizeof el);
    else if (def->extra_devices_xml)
        what = s_first_element (def->extra_devices_xml, el, sizeof el);
    else if (def->os_extra_xml)
        what = s_first_element (def->os_extra_xml, el, sizeof el);
    if (what) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "domain '%s': <%s> is not supported by the Xen driver", def->name, what);
        return -1;
    }
    for (size_t i = 0; i < def->ndisks; i++)
        if (s_check_disk (def, &def->disks[i], err) != 0)
            return -1;
    return 0;
}

static libxl_action_on_shutdown
s_action (vb_lifecycle_action_t action)
{
    switch (action) {
    case VB_LIFECYCLE_RESTART: return LIBXL_ACTION_ON_SHUTDOWN_RESTART;
    case VB_LIFECYCLE_PRESERVE: return LIBXL_ACTION_ON_SHUTDOWN_PRESERVE;
    case VB_LIFECYCLE_RENAME_RESTART: return LIBXL_ACTION_ON_SHUTDOWN_RESTART_RENAME;
    case VB_LIFECYCLE_COREDUMP_DESTROY: return LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_DESTROY;
    case VB_LIFECYCLE_COREDUMP_RESTART: return LIBXL_ACTION_ON_SHUTDOWN_COREDUMP_RESTART;
    case VB_LIFECYCLE_DESTROY:
    default: return LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
    }
}

/*  A bitmap of N bits, all set, allocated as libxl_bitmap_dispose frees it (plain free). */
static int
s_bitmap_all (libxl_bitmap *map, unsigned n)
{
    map->size = (n + 7) / 8;
    map->map = calloc (map->size? map->size: 1, 1);
    if (!map->map)
        return -1;
    for (unsigned i = 0; i < n; i++)
        map->map[i / 8] |= (uint8_t) (1u << (i % 8));
    return 0;
}

static int
s_dup (char **dst, const char *src)
{
    if (!src)
        return 0;
    *dst = strdup (src);
    return *dst? 0: -1;
}

static int
s_fill_disk (const vb_disk_def_t *disk, libxl_device_disk *x, xen_config_disk_path_fn *fn,
             void *arg, vb_error_t *err)
{
    x->readwrite = disk->readonly? 0: 1;
    if (s_is_qemu_driver (disk)) {
        x->backend = LIBXL_DISK_BACKEND_QDISK;
        x->format = disk->format == VB_DISK_FORMAT_QCOW2? LIBXL_DISK_FORMAT_QCOW2
                                                        : LIBXL_DISK_FORMAT_RAW;
    }
    else {
        /*  As xl's "phy:" prefix: raw, backend left to libxl, which picks phy (blkback) for a
         *  block device; a file gets there through a loop device (DISK_PATH_FN). */
        x->backend = LIBXL_DISK_BACKEND_UNKNOWN;
        x->format = LIBXL_DISK_FORMAT_RAW;
    }
    if (s_dup (&x->vdev, disk->target_dev) != 0)
        goto oom;
    if (!xen_config_disk_needs_loop (disk))
        return s_dup (&x->pdev_path, disk->source) == 0? 0: -1;
    if (!fn) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "disk %s: a raw file on the phy backend needs a loop device, which is "
                      "only set up when the domain starts", disk->target_dev);
        return -1;
    }
    return fn (arg, disk, &x->pdev_path, err);
oom:
    vb_error_set (err, VB_ERR_INTERNAL, "out of memory translating disk %s", disk->target_dev);
    return -1;
}

int
xen_config_from_def (const vb_domain_def_t *def, libxl_domain_config *cfg,
                     xen_config_disk_path_fn *disk_path_fn, void *arg, vb_error_t *err)
{
    if (xen_config_check (def, err) != 0)
        return -1;

    libxl_domain_create_info *c = &cfg->c_info;
    libxl_domain_build_info *b = &cfg->b_info;
    c->type = LIBXL_DOMAIN_TYPE_PV;
    if (s_dup (&c->name, def->name) != 0)
        goto oom;
    /*  xl.conf's defaults (run_hotplug_scripts=1, claim_mode=1): domains started here behave
     *  as the same domain started with xl. */
    libxl_defbool_set (&c->run_hotplug_scripts, true);
    if (libxl_uuid_from_string (&c->uuid, def->uuid) != 0) {
        vb_error_set (err, VB_ERR_INVALID_XML, "domain '%s': uuid '%s' is not valid",
                      def->name, def->uuid);
        return -1;
    }

    libxl_domain_build_info_init_type (b, LIBXL_DOMAIN_TYPE_PV);
    libxl_defbool_set (&b->claim_mode, true);
    b->max_vcpus = (int) def->vcpus;
    if (s_bitmap_all (&b->avail_vcpus, def->vcpus) != 0)
        goto oom;
    b->max_memkb = def->memory_kib;
    b->target_memkb = def->current_memory_kib? def->current_memory_kib: def->memory_kib;
    if (s_dup (&b->kernel, def->os_kernel) != 0 || s_dup (&b->ramdisk, def->os_initrd) != 0
        || s_dup (&b->cmdline, def->os_cmdline) != 0)
        goto oom;

    cfg->on_poweroff = s_action (def->on_poweroff);
    cfg->on_reboot = s_action (def->on_reboot);
    cfg->on_crash = s_action (def->on_crash);
    cfg->on_soft_reset = LIBXL_ACTION_ON_SHUTDOWN_SOFT_RESET;

    if (def->ndisks) {
        cfg->disks = calloc (def->ndisks, sizeof *cfg->disks);
        if (!cfg->disks)
            goto oom;
        for (size_t i = 0; i < def->ndisks; i++) {
            libxl_device_disk_init (&cfg->disks[i]);
            cfg->num_disks = (int) i + 1;
            if (s_fill_disk (&def->disks[i], &cfg->disks[i], disk_path_fn, arg, err) != 0)
                return -1;
        }
    }
    return 0;

oom:
    vb_error_set (err, VB_ERR_INTERNAL, "out of memory translating domain '%s'", def->name);
    return -1;
}

char *
xen_config_to_json (libxl_domain_config *cfg)
{
    /*  The generator uses the context only to log a failure, so no hypervisor is needed here
     *  (unit tests run on hosts without Xen). */
    return libxl_domain_config_to_json (NULL, cfg);
}

long
xen_config_disk_devno (const char *target)
{
    /*  libvirt's libxlDiskPathToNumber / libxl's libxl__device_disk_dev_number, for the
     *  names libvirt accepts: xvd, hd, sd with letters then an optional partition number. */
    if (!target)
        return -1;
    const char *p;
    int kind;
    if (strncmp (target, "xvd", 3) == 0)
        kind = 0, p = target + 3;
    else if (strncmp (target, "hd", 2) == 0)
        kind = 1, p = target + 2;
    else if (strncmp (target, "sd", 2) == 0)
        kind = 2, p = target + 2;
    else
        return -1;
    long disk = 0;
    int letters = 0;
    while (*p >= 'a' && *p <= 'z') {
        disk = disk * 26 + (*p - 'a' + 1);
        if (disk > (1L << 20))
            return -1;
        p++;
        letters++;
    }
    if (!letters)
        return -1;
    disk -= 1;
    long part = 0;
    if (*p) {
        if (*p == '0')
            return -1;
        char *end;
        part = strtol (p, &end, 10);
        if (*end || part < 1 || part > 255)
            return -1;
    }
    switch (kind) {
    case 0:
        if (disk <= 15 && part <= 15)
            return (202L << 8) | (disk << 4) | part;
        if (disk > ((1L << 20) - 1))
            return -1;
        return (1L << 28) | (disk << 8) | part;
    case 1:
        if (disk > 3 || part > 63)
            return -1;
        return ((disk < 2? 3L: 22L) << 8) | ((disk & 1) << 6) | part;
    default:
        if (disk > 15 || part > 15)
            return -1;
        return (8L << 8) | (disk << 4) | part;
    }
}
