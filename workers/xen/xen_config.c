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

#include <libxml/parser.h>
#include <libxml/tree.h>

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

static bool
s_is_hvm (const vb_domain_def_t *def)
{
    return def->os_type && strcmp (def->os_type, "hvm") == 0;
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
    bool ide_ok = s_is_hvm (def) && disk->bus == VB_DISK_BUS_IDE;
    if ((disk->bus != VB_DISK_BUS_XEN && !ide_ok) || xen_config_disk_devno (dev) < 0) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "domain '%s': <target dev='%s'> is not supported by the Xen driver; "
                      "%s", def->name, dev, s_is_hvm (def) ? "HVM disks are xvdX or hdX (ide)"
                                                           : "PV disks are xvdX");
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

/* --- HVM: <os><loader>/<boot>, <features> -------------------------------------------------- */

typedef struct {
    int acpi, apic, pae;        /* <features> children: 1 present, 0 absent */
    int hap;                    /* <hap/> or <hap state='on|off'>: 1 / 0; -1 absent */
    char boot[8];               /* <boot dev> in order as xl's letters; "" when none */
} hvm_opts_t;

/*  Call FN for each element of SNIPPET (an extra_xml string: whole elements, verbatim). */
typedef int (element_fn) (const vb_domain_def_t *def, xmlNodePtr node, hvm_opts_t *opts,
                          vb_error_t *err);

static int
s_each_element (const vb_domain_def_t *def, const char *snippet, element_fn *fn,
                hvm_opts_t *opts, vb_error_t *err)
{
    if (!snippet)
        return 0;
    char *doc_text = NULL;
    if (asprintf (&doc_text, "<x>%s</x>", snippet) < 0)
        return vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading domain '%s'",
                             def->name);
    /*  vb_domxml produced the snippet from a document it parsed, so it is well-formed. */
    xmlDocPtr doc = xmlReadMemory (doc_text, (int) strlen (doc_text), NULL, "UTF-8",
                                   XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    free (doc_text);
    if (!doc)
        return vb_error_set (err, VB_ERR_INVALID_XML, "domain '%s': cannot read back its "
                             "unmodelled elements", def->name);
    int rc = 0;
    for (xmlNodePtr n = xmlDocGetRootElement (doc)->children; n && rc == 0; n = n->next)
        if (n->type == XML_ELEMENT_NODE)
            rc = fn (def, n, opts, err);
    xmlFreeDoc (doc);
    return rc;
}

static int
s_unsupported_element (const vb_domain_def_t *def, const char *where, const xmlChar *name,
                       vb_error_t *err)
{
    return vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': <%s%s> is not supported by the "
                         "Xen driver", def->name, where, (const char *) name);
}

/*  A child of <os>: <loader> (hvmloader only: libxl's default firmware) or <boot dev>. */
static int
s_on_os_element (const vb_domain_def_t *def, xmlNodePtr node, hvm_opts_t *opts,
                 vb_error_t *err)
{
    if (xmlStrcmp (node->name, BAD_CAST "boot") == 0) {
        static const struct { const char *dev; char letter; } devs[] = {
            { "hd", 'c' }, { "cdrom", 'd' }, { "network", 'n' }, { "fd", 'a' },
        };
        xmlChar *dev = xmlGetProp (node, BAD_CAST "dev");
        size_t k = 0;
        while (dev && k < sizeof devs / sizeof devs[0]
               && strcmp ((const char *) dev, devs[k].dev) != 0)
            k++;
        size_t len = strlen (opts->boot);
        int rc = 0;
        if (!dev || k == sizeof devs / sizeof devs[0])
            rc = vb_error_set (err, VB_ERR_INVALID_XML, "domain '%s': <boot dev='%s'> is not "
                               "hd, cdrom, network or fd", def->name,
                               dev ? (const char *) dev : "");
        else if (len + 1 >= sizeof opts->boot)
            rc = vb_error_set (err, VB_ERR_INVALID_XML, "domain '%s': more <boot> devices than "
                               "there are kinds", def->name);
        else {
            opts->boot[len] = devs[k].letter;
            opts->boot[len + 1] = '\0';
        }
        xmlFree (dev);
        return rc;
    }
    if (xmlStrcmp (node->name, BAD_CAST "loader") == 0) {
        xmlChar *type = xmlGetProp (node, BAD_CAST "type");
        xmlChar *path = xmlNodeGetContent (node);
        const char *base = path ? strrchr ((const char *) path, '/') : NULL;
        base = base ? base + 1 : (const char *) path;
        bool hvmloader = (!type || xmlStrcmp (type, BAD_CAST "rom") == 0) && base
                         && strcmp (base, "hvmloader") == 0;
        int rc = hvmloader ? 0 : vb_error_set (err, VB_ERR_UNSUPPORTED,
                                               "domain '%s': <loader> '%s' is not supported; "
                                               "the Xen driver boots HVM guests with libxl's "
                                               "hvmloader", def->name,
                                               path ? (const char *) path : "");
        xmlFree (type);
        xmlFree (path);
        return rc;
    }
    return s_unsupported_element (def, "os><", node->name, err);
}

static int
s_on_feature (const vb_domain_def_t *def, xmlNodePtr node, hvm_opts_t *opts, vb_error_t *err)
{
    if (xmlStrcmp (node->name, BAD_CAST "acpi") == 0)
        opts->acpi = 1;
    else if (xmlStrcmp (node->name, BAD_CAST "apic") == 0)
        opts->apic = 1;
    else if (xmlStrcmp (node->name, BAD_CAST "pae") == 0)
        opts->pae = 1;
    else if (xmlStrcmp (node->name, BAD_CAST "hap") == 0) {
        xmlChar *state = xmlGetProp (node, BAD_CAST "state");
        opts->hap = !state || xmlStrcmp (state, BAD_CAST "on") == 0 ? 1
                    : xmlStrcmp (state, BAD_CAST "off") == 0 ? 0 : -2;
        xmlFree (state);
        if (opts->hap == -2)
            return vb_error_set (err, VB_ERR_INVALID_XML, "domain '%s': <hap state=> is on or "
                                 "off", def->name);
    }
    else
        return s_unsupported_element (def, "features><", node->name, err);
    return 0;
}

/*  A child of <domain> virtbus does not model: <features> only (an HVM guest's). */
static int
s_on_domain_element (const vb_domain_def_t *def, xmlNodePtr node, hvm_opts_t *opts,
                     vb_error_t *err)
{
    if (xmlStrcmp (node->name, BAD_CAST "features") != 0)
        return s_unsupported_element (def, "", node->name, err);
    for (xmlNodePtr c = node->children; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE && s_on_feature (def, c, opts, err) != 0)
            return -1;
    return 0;
}

static int
s_hvm_opts (const vb_domain_def_t *def, hvm_opts_t *opts, vb_error_t *err)
{
    memset (opts, 0, sizeof *opts);
    opts->hap = -1;
    return s_each_element (def, def->os_extra_xml, s_on_os_element, opts, err) != 0
           || s_each_element (def, def->extra_xml, s_on_domain_element, opts, err) != 0 ? -1 : 0;
}

/*  Can HOST run the HVM guest DEF, with its paging (OPTS->hap)? */
static int
s_check_host (const vb_domain_def_t *def, const hvm_opts_t *opts, const xen_config_host_t *host,
              vb_error_t *err)
{
    if (!host->hvm)
        return vb_error_set (err, VB_ERR_UNSUPPORTED,
                             "domain '%s': this host cannot run HVM guests (Xen reports no hvm "
                             "capability: the CPU lacks VT-x/AMD-V or it is off); use PV "
                             "(<type>linux</type> with <kernel>)", def->name);
    if (!host->hap && !host->shadow)
        return vb_error_set (err, VB_ERR_UNSUPPORTED,
                             "domain '%s': this host cannot run HVM guests: Xen has neither "
                             "hardware-assisted paging (no EPT/NPT, as under emulation) nor "
                             "shadow paging (built without it); use PV (<type>linux</type> "
                             "with <kernel>)", def->name);
    if (opts->hap == 1 && !host->hap)
        return vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': <hap> is on, but this host "
                             "has no hardware-assisted paging", def->name);
    if (opts->hap == 0 && !host->shadow)
        return vb_error_set (err, VB_ERR_UNSUPPORTED, "domain '%s': <hap state='off'> needs "
                             "shadow paging, which this Xen was built without", def->name);
    return 0;
}

int
xen_config_check (const vb_domain_def_t *def, const xen_config_host_t *host, vb_error_t *err)
{
    char el[64];
    if (!def->type || strcmp (def->type, "xen") != 0) {
        vb_error_set (err, VB_ERR_INVALID_XML,
                      "domain type '%s' is not served by the Xen driver; use <domain type='xen'>",
                      def->type? def->type: "");
        return -1;
    }
    bool hvm = s_is_hvm (def);
    if (!hvm && (!def->os_type || (strcmp (def->os_type, "linux") != 0
                                   && strcmp (def->os_type, "xen") != 0))) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "domain '%s': <os><type>%s</type> is not supported; use <type>linux</type> "
                      "(PV) or <type>hvm</type>", def->name, def->os_type? def->os_type: "");
        return -1;
    }
    if (!hvm && !def->os_kernel) {
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
    else if (def->extra_xml && !hvm)
        what = s_first_element (def->extra_xml, el, sizeof el);
    else if (def->extra_devices_xml)
        what = s_first_element (def->extra_devices_xml, el, sizeof el);
    else if (def->os_extra_xml && !hvm)
        what = s_first_element (def->os_extra_xml, el, sizeof el);
    if (what) {
        vb_error_set (err, VB_ERR_UNSUPPORTED,
                      "domain '%s': <%s> is not supported by the Xen driver", def->name, what);
        return -1;
    }
    for (size_t i = 0; i < def->ndisks; i++)
        if (s_check_disk (def, &def->disks[i], err) != 0)
            return -1;
    hvm_opts_t opts;
    return hvm && (s_hvm_opts (def, &opts, err) != 0 || s_check_host (def, &opts, host, err) != 0)
           ? -1 : 0;
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

/*  The HVM part of B, as libvirt's libxl driver sets it (libxlMakeDomBuildInfo) for the
 *  elements supported: pae/apic/acpi on or off by <features>, the boot order (default disk),
 *  no VNC or SDL display (there is no <graphics>), a pty serial for <serial type='pty'>. */
static int
s_fill_hvm (const vb_domain_def_t *def, const hvm_opts_t *opts, libxl_domain_config *cfg)
{
    libxl_domain_build_info *b = &cfg->b_info;
    if (opts->hap >= 0)
        libxl_defbool_set (&cfg->c_info.hap, opts->hap == 1);
    libxl_defbool_set (&b->u.hvm.pae, opts->pae == 1);
    libxl_defbool_set (&b->apic, opts->apic == 1);
    libxl_defbool_set (&b->acpi, opts->acpi == 1);
    libxl_defbool_set (&b->u.hvm.vnc.enable, false);
    libxl_defbool_set (&b->u.hvm.sdl.enable, false);
    if (s_dup (&b->u.hvm.boot, opts->boot[0] ? opts->boot : "c") != 0)
        return -1;
    for (size_t i = 0; i < def->nchrs; i++)
        if (def->chrs[i].kind == VB_CHR_SERIAL)
            return s_dup (&b->u.hvm.serial, "pty");
    return 0;
}

int
xen_config_from_def (const vb_domain_def_t *def, const xen_config_host_t *host,
                     libxl_domain_config *cfg, xen_config_disk_path_fn *disk_path_fn, void *arg,
                     vb_error_t *err)
{
    if (xen_config_check (def, host, err) != 0)
        return -1;
    bool hvm = s_is_hvm (def);
    hvm_opts_t opts;
    if (hvm && s_hvm_opts (def, &opts, err) != 0)
        return -1;

    libxl_domain_create_info *c = &cfg->c_info;
    libxl_domain_build_info *b = &cfg->b_info;
    c->type = hvm ? LIBXL_DOMAIN_TYPE_HVM : LIBXL_DOMAIN_TYPE_PV;
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

    libxl_domain_build_info_init_type (b, c->type);
    libxl_defbool_set (&b->claim_mode, true);
    b->max_vcpus = (int) def->vcpus;
    if (s_bitmap_all (&b->avail_vcpus, def->vcpus) != 0)
        goto oom;
    b->max_memkb = def->memory_kib;
    b->target_memkb = def->current_memory_kib? def->current_memory_kib: def->memory_kib;
    if (s_dup (&b->kernel, def->os_kernel) != 0 || s_dup (&b->ramdisk, def->os_initrd) != 0
        || s_dup (&b->cmdline, def->os_cmdline) != 0)
        goto oom;
    if (hvm && s_fill_hvm (def, &opts, cfg) != 0)
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
