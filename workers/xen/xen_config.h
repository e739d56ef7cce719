/*  xen_config — a libvirt Xen domain definition -> libxl_domain_config.
 *
 *  virtbus-xen speaks libvirt's Xen domain XML (vb_domxml parses it); libxl wants a
 *  libxl_domain_config. This module is the translation, kept pure (no libxl context, no hypervisor)
 *  so unit tests can hold its output against what `xl create -n` prints for an equivalent xl.cfg.
 *
 *  Supported (anything else answers UNSUPPORTED naming the element):
 *    <domain type='xen'>, <name>, <uuid>, <memory> (-> max_memkb), <currentMemory>
 *    (-> target_memkb), <vcpu> (max_vcpus, all online);
 *    PV: <os><type>linux</type> (or 'xen') with <kernel> (required), <initrd>, <cmdline>;
 *    HVM, where the host can run it (HOST, from libxl_get_physinfo: the hvm capability and
 *    hardware-assisted or shadow paging; else UNSUPPORTED naming what is missing):
 *    <os><type>hvm</type> with <loader> (libxl's hvmloader
 *    only; any path ending in /hvmloader), <boot dev='hd|cdrom|network|fd'>... (default hd),
 *    optional <kernel>/<initrd>/<cmdline> (direct boot), <features> <acpi/> <apic/> <pae/>
 *    (each on when present, off when absent, as libvirt sets them) and <hap state=>; no VNC or
 *    SDL display; a <serial type='pty'> gives the guest's emulated serial port ("pty");
 *    <on_poweroff>/<on_reboot>/<on_crash>: destroy, restart, preserve, rename-restart,
 *    coredump-destroy, coredump-restart;
 *    <disk device='disk'> with target xvdX (HVM also hdX, bus ide):
 *      <driver name='phy'> (or none) on a block device      -> backend phy, format raw
 *      <driver name='phy'> (or none) on a raw file          -> backend phy on a loop device the
 *                                                              caller maps (DISK_PATH_FN), so
 *                                                              blkback serves it and counts I/O
 *      <driver name='qemu' type='raw|qcow2'> on a file      -> backend qdisk (QEMU; no blkback
 *                                                              counters)
 *      qcow2 without name='qemu'                            -> UNSUPPORTED
 *    <readonly/> -> read-only; <console>/<serial> are accepted and ignored (a PV guest always
 *    has its xenconsole).
 *  Not supported: <interface>, <filesystem>, <hostdev>, cdroms, <emulator>, <graphics>, other
 *  <features> and <os> children, and elements vb_domxml keeps as unknown (extra_xml), each
 *  named in the UNSUPPORTED message.
 */
#ifndef XEN_CONFIG_H
#define XEN_CONFIG_H

#include <libxl.h>

#include "vb_domxml.h"
#include "vb_error.h"

/*  What Xen on this host offers HVM guests (libxl_get_physinfo). */
typedef struct {
    bool hvm;       /* cap_hvm: VT-x or AMD-V */
    bool hap;       /* cap_hap: hardware-assisted paging (EPT/NPT) */
    bool shadow;    /* cap_shadow: shadow paging built into Xen */
} xen_config_host_t;

/*  Map DISK (a raw file on the phy backend) to the block device libxl gets as pdev_path. Returns
 *  0 with *PATH_OUT (new string, caller frees), or -1 with ERR. ARG is the caller's. */
typedef int (xen_config_disk_path_fn) (void *arg, const vb_disk_def_t *disk, char **path_out,
                                       vb_error_t *err);

/*  Does DEF use only what this module translates, and can HOST run it? Returns 0, or -1 with
 *  ERR: UNSUPPORTED naming the element or what the host lacks (an HVM guest needs the hvm
 *  capability and HAP or shadow paging; <hap state='on'> needs HAP, 'off' shadow paging),
 *  INVALID_XML for a definition that is not a Xen one (type, a PV domain without kernel, a bad
 *  <boot dev>). */
int xen_config_check (const vb_domain_def_t *def, const xen_config_host_t *host,
                      vb_error_t *err);

/*  Does DISK go to the kernel's blkback through a loop device (phy backend on a raw file)? */
bool xen_config_disk_needs_loop (const vb_disk_def_t *disk);

/*  Fill CFG (initialised by the caller with libxl_domain_config_init; disposed by the caller
 *  with libxl_domain_config_dispose, also after a failure) from DEF. DISK_PATH_FN maps raw
 *  files on the phy backend (see xen_config_disk_needs_loop); NULL refuses such disks. Returns
 *  0, or -1 with ERR (as xen_config_check, INTERNAL when out of memory, or DISK_PATH_FN's). */
int xen_config_from_def (const vb_domain_def_t *def, const xen_config_host_t *host,
                         libxl_domain_config *cfg, xen_config_disk_path_fn *disk_path_fn,
                         void *arg, vb_error_t *err);

/*  CFG as libxl's JSON (libxl_domain_config_to_json, the form `xl create -n` prints under
 *  "config"). Returns a new string (caller frees), or NULL. */
char *xen_config_to_json (libxl_domain_config *cfg);

/*  The Xen device number of a target name, as libxl and blkback number them (sysfs
 *  vbd-<domid>-<devno>): xvdX[N] = 202<<8 | disk<<4 | part for disks 0..15, else
 *  1<<28 | disk<<8 | part; hdX and sdX as libvirt's libxlDiskPathToNumber. Returns the number,
 *  or -1 for a name that is not a disk target. */
long xen_config_disk_devno (const char *target);

#endif
