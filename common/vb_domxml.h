/*  vb_domxml — libvirt domain XML <-> vb_domain_def_t (libxml2).
 *
 *  Users bring the XML they already have: this module reads the subset of libvirt's domain XML a
 *  plain VM or container uses (see docs/protocol.md "Domain XML") into a definition, and formats a
 *  definition back as libvirt would. parse -> format -> parse gives an equal definition.
 *
 *  Unknown elements are never dropped: a child element the module does not model (of <domain>,
 *  <os>, <devices>, <disk>, <interface>, <serial>/<console>, <filesystem>), and any element in a
 *  foreign namespace (<qemu:commandline>), is kept verbatim in the matching extra_xml field and
 *  echoed back on format: domain-level ones after </os>, <os>-level ones last in <os>, device-
 *  level ones after the consoles, the rest last inside their element. Dropped on purpose, so
 *  callers must not rely on them: attributes the module does not model on elements it does
 *  (<domain id=>, <driver cache=>, <vcpu current=>, <disk snapshot=> ...), children of the
 *  leaf elements it models (<source><seclabel/></source>, <target><model/></target> of a serial,
 *  <driver><metadata_cache/></driver> ...), children of <backingStore> other than <format>/
 *  <source>/<backingStore>, markup inside <description> (its text is kept), and comments and
 *  processing instructions outside unknown elements. backingStore index= is ignored on input
 *  (the chain is renumbered by depth, 1 = first backing file, DESIGN §4).
 *
 *  Parsing is safe on hostile input: documents over VB_DOMXML_MAX_BYTES, any DOCTYPE (so no
 *  entity declarations, no external entities, no DTD loading) and network access are refused.
 *  The document must be UTF-8 (an encoding declaration is ignored). Every parse failure answers INVALID_XML (also for valid libvirt XML virtbus does not support,
 *  such as <disk type='network'>) with a sentence naming the element, its line and the reason:
 *  "<memory> at line 7: unit 'XB' is not a size unit". A driver checks what it cannot run
 *  (e.g. os type 'exe' on qemu is refused here already; an lxc domain without <init> is not).
 */
#ifndef VB_DOMXML_H
#define VB_DOMXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"

/*  Largest document vb_domxml_parse and vb_domxml_peek_type accept, in bytes. */
#define VB_DOMXML_MAX_BYTES (1024 * 1024)

typedef enum { VB_DISK_TYPE_FILE = 0, VB_DISK_TYPE_BLOCK } vb_disk_type_t;
typedef enum { VB_DISK_DEVICE_DISK = 0, VB_DISK_DEVICE_CDROM } vb_disk_device_t;
typedef enum { VB_DISK_FORMAT_RAW = 0, VB_DISK_FORMAT_QCOW2 } vb_disk_format_t;
/*  Target dev prefixes: vd* -> virtio; sd* -> sata or scsi (default scsi); xvd* -> xen (issue 7);
 *  hd* -> ide (Xen HVM guests; QEMU's q35 has no IDE bus and refuses it). A bus that does not
 *  match its dev's prefix is INVALID_XML. */
typedef enum { VB_DISK_BUS_VIRTIO = 0, VB_DISK_BUS_SATA, VB_DISK_BUS_SCSI,
               VB_DISK_BUS_XEN, VB_DISK_BUS_IDE } vb_disk_bus_t;

/*  One layer of a disk's backing chain, as shown in the live XML
 *  (<backingStore type='file' index='N'><format type='qcow2'/><source file='...'/>...). */
typedef struct vb_backing_store {
    unsigned index;                    /* depth: 1 = first backing file */
    vb_disk_type_t type;
    vb_disk_format_t format;
    char *path;
    struct vb_backing_store *backing;  /* next layer down, NULL at the bottom */
} vb_backing_store_t;

typedef struct {
    vb_disk_type_t type;          /* <disk type='file|block'> */
    vb_disk_device_t device;      /* <disk device='disk|cdrom'> */
    char *driver_name;            /* <driver name='qemu'>; NULL when absent */
    vb_disk_format_t format;      /* <driver type='qcow2|raw'>; raw when absent */
    char *source;                 /* <source file=|dev=>; NULL = empty (cdrom only) */
    char *target_dev;             /* <target dev='vda'>; required, unique */
    vb_disk_bus_t bus;            /* <target bus=>; default from the dev prefix (vd->virtio,
                                     sd->scsi... as libvirt) */
    bool readonly;                /* <readonly/> (always true for cdrom) */
    char *serial;                 /* <serial>; NULL when absent */
    vb_backing_store_t *backing;  /* live chain (format only; parse keeps it if present) */
    char *extra_xml;              /* unknown children of <disk>, verbatim; NULL when none */
    /*  Every extra_xml field holds whole elements, each indented for its place in the formatted
     *  document (2 spaces per level: <domain> children at 2, <disk> children at 6) and ending
     *  with a newline. Format appends it as is. */
} vb_disk_def_t;

typedef enum { VB_NET_TYPE_USER = 0, VB_NET_TYPE_ETHERNET } vb_net_type_t;

typedef struct {
    vb_net_type_t type;  /* <interface type='user'> (qemu); 'ethernet' (lxc) */
    char *mac;           /* <mac address=>; NULL = generated at start */
    char *model;         /* <model type=>; NULL = virtio */
    char *target_dev;    /* <target dev=> (host side name); NULL when absent */
    char *extra_xml;
} vb_net_def_t;

typedef enum { VB_CHR_SERIAL = 0, VB_CHR_CONSOLE } vb_chr_kind_t;

typedef struct {
    vb_chr_kind_t kind;  /* <serial type='pty'> or <console type='pty'> */
    char *target_type;   /* <target type=> (console: 'serial'|'virtio'); NULL when absent */
    int port;            /* <target port=>; -1 when absent */
    char *extra_xml;     /* unknown children (e.g. a live <source path=>, <alias>) */
} vb_chr_def_t;

/*  LXC parts (issue 6) and Xen parts (issue 7) are added here by those issues. */
typedef struct {
    char *type;       /* <filesystem type='mount'> */
    char *source;     /* <source dir=> (absolute); NULL when absent */
    char *target;     /* <target dir=> (required, unique; absolute for lxc, a mount tag else) */
    bool readonly;
    char *extra_xml;  /* unknown children */
} vb_fs_def_t;

/*  <hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block></source>
 *  </hostdev> (lxc: a host block device given to the container). Other hostdev modes and types
 *  are not modelled and stay in extra_devices_xml. */
typedef struct {
    char *block;      /* <source><block> (absolute path; required) */
    char *extra_xml;  /* unknown children of <hostdev> */
} vb_hostdev_def_t;

typedef enum { VB_LIFECYCLE_DESTROY = 0, VB_LIFECYCLE_RESTART, VB_LIFECYCLE_PRESERVE,
               VB_LIFECYCLE_RENAME_RESTART, VB_LIFECYCLE_COREDUMP_DESTROY,
               VB_LIFECYCLE_COREDUMP_RESTART } vb_lifecycle_action_t;

typedef struct {
    char *type;                  /* <domain type='kvm|qemu|lxc|xen|test'> */
    char *name;                  /* required, vb_name_is_valid() */
    char uuid[37];               /* generated when absent */
    char *title;                 /* NULL when absent */
    char *description;
    uint64_t memory_kib;         /* <memory unit=...> converted to KiB; > 0 */
    uint64_t current_memory_kib; /* <currentMemory>; = memory_kib when absent */
    unsigned vcpus;              /* <vcpu>; >= 1, default 1 */
    char *os_type;               /* <os><type>: hvm | exe | linux | xen */
    char *os_arch;               /* <type arch=>; NULL when absent */
    char *os_machine;            /* <type machine=>; NULL when absent */
    char *os_kernel, *os_initrd, *os_cmdline;  /* <os><kernel>... (xen, direct boot) */
    char *os_init;               /* <os><init> (lxc) */
    char **os_initargs;          /* <os><initarg>..., NULL-terminated; NULL when none */
    vb_lifecycle_action_t on_poweroff, on_reboot, on_crash;  /* libvirt defaults:
                                                    destroy, restart, destroy */
    char *emulator;              /* <devices><emulator>; NULL = driver default */
    vb_disk_def_t *disks;  size_t ndisks;
    vb_net_def_t *nets;    size_t nnets;
    vb_chr_def_t *chrs;    size_t nchrs;
    vb_fs_def_t *fss;      size_t nfss;
    vb_hostdev_def_t *hostdevs; size_t nhostdevs;  /* storage hostdevs, in document order */
    char *extra_xml;             /* unknown children of <domain>, verbatim */
    char *extra_devices_xml;     /* unknown children of <devices>, verbatim */
    char *os_extra_xml;          /* unknown children of <os> (<boot dev=>, <loader> ...) */
} vb_domain_def_t;

/*  Parse XML (LEN bytes, need not be NUL-terminated). Returns a new definition (free with
 *  vb_domain_def_free), or NULL with ERR = INVALID_XML (naming the element, its line and the
 *  reason; INTERNAL only when out of memory). A missing uuid is generated (random v4); a given
 *  one is normalised to lower-case 8-4-4-4-12; MACs to lower-case xx:xx:xx:xx:xx:xx. Serials are
 *  stored before consoles (the order format writes them in). */
vb_domain_def_t *vb_domxml_parse (const char *xml, size_t len, vb_error_t *err);

/*  Format DEF as libvirt-style domain XML: 2-space indent, single-quoted attributes, elements in
 *  libvirt's order (name, uuid, title, description, memory unit='KiB', currentMemory,
 *  vcpu placement='static', os, <extra_xml>, on_poweroff, on_reboot, on_crash, devices: emulator,
 *  disks, filesystems, interfaces, serials, consoles, storage hostdevs,
 *  <extra_devices_xml>). Each disk with a
 *  backing chain gets libvirt's live form, nested <backingStore type= index=> ending in an empty
 *  <backingStore/>. Returns a new string (caller frees), NULL on allocation failure. */
char *vb_domxml_format (const vb_domain_def_t *def);

/*  Deep copy; NULL on allocation failure. */
vb_domain_def_t *vb_domain_def_copy (const vb_domain_def_t *def);
void vb_domain_def_free (vb_domain_def_t **def_p);
void vb_backing_store_free (vb_backing_store_t **bs_p);

/*  The <domain type='...'> of XML without a full parse (for routing a define to a driver).
 *  Returns a new string, or NULL with ERR = INVALID_XML. */
char *vb_domxml_peek_type (const char *xml, size_t len, vb_error_t *err);

/*  The driver that serves a domain type: kvm, qemu -> "qemu"; lxc -> "lxc"; xen -> "xen";
 *  test -> "test"; NULL for anything else. */
const char *vb_domxml_driver_for_type (const char *type);

#endif
