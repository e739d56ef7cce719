/*  vb_domxml — libvirt domain XML <-> vb_domain_def_t (libxml2).
 *
 *  Users bring the XML they already have: this module reads the subset of libvirt's domain XML a
 *  plain VM or container uses (see docs/protocol.md "Domain XML") into a definition, and formats a
 *  definition back as libvirt would. Elements and attributes it does not model are kept verbatim
 *  (as XML fragments in document order) and echoed back on format, never dropped. Invalid values
 *  answer INVALID_XML naming the element and the reason ("<memory>: unit 'XB' is not a size
 *  unit"). parse -> format -> parse gives an equal definition.
 */
#ifndef VB_DOMXML_H
#define VB_DOMXML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"

typedef enum { VB_DISK_TYPE_FILE = 0, VB_DISK_TYPE_BLOCK } vb_disk_type_t;
typedef enum { VB_DISK_DEVICE_DISK = 0, VB_DISK_DEVICE_CDROM } vb_disk_device_t;
typedef enum { VB_DISK_FORMAT_RAW = 0, VB_DISK_FORMAT_QCOW2 } vb_disk_format_t;
typedef enum { VB_DISK_BUS_VIRTIO = 0, VB_DISK_BUS_SATA, VB_DISK_BUS_SCSI } vb_disk_bus_t;

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
} vb_chr_def_t;

/*  LXC parts (issue 6) and Xen parts (issue 7) are added here by those issues. */
typedef struct {
    char *type;       /* <filesystem type='mount'> */
    char *source;     /* <source dir=> (absolute) */
    char *target;     /* <target dir=> */
    bool readonly;
} vb_fs_def_t;

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
    char *extra_xml;             /* unknown children of <domain>, verbatim */
    char *extra_devices_xml;     /* unknown children of <devices>, verbatim */
} vb_domain_def_t;

/*  Parse XML (LEN bytes, need not be NUL-terminated). Returns a new definition, or NULL with
 *  ERR = INVALID_XML (naming the element and reason). A missing uuid is generated. */
vb_domain_def_t *vb_domxml_parse (const char *xml, size_t len, vb_error_t *err);

/*  Format DEF as libvirt-style domain XML (2-space indent, libvirt's element order). Includes
 *  each disk's backingStore chain when present. Returns a new string (caller frees), NULL on
 *  allocation failure. */
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
