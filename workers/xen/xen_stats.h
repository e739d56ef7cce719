/*  xen_stats — a Xen domain's domstats groups, from libxl_domain_info, libxl_list_vcpu and
 *  blkback's sysfs counters.
 *
 *  libvirt's Xen driver has no bulk stats (../shared/reference/libvirt-spec.md §7); virtbus gives
 *  Xen domains the same keys, types and units as the QEMU worker (qemu_stats.h), from the
 *  sources libvirt's libxl driver uses for its per-call APIs. Pure functions over their inputs:
 *  the driver asks libxl and passes the answers in, tests pass captured data.
 *
 *  Groups (wire names):
 *    state      state.state, state.reason (int)
 *    cpu-total  cpu.time (ullong ns) = libxl_dominfo.cpu_time; running only
 *    balloon    balloon.current = current_memkb when running, else <currentMemory>;
 *               balloon.maximum = max_memkb when running, else <memory> (ullong KiB)
 *    vcpu       vcpu.current, vcpu.maximum (uint); running, per libxl_vcpuinfo: vcpu.N.state
 *               (int: 1 running, 2 blocked, 0 offline as libvirt's virVcpuState),
 *               vcpu.N.time (ullong ns, vcpu_time)
 *    block      block.count, then per disk: block.N.name, block.N.path; for phy disks of a
 *               running domain the blkback counters of sysfs vbd-<domid>-<devno>/statistics:
 *               rd.reqs = rd_req, rd.bytes = rd_sect x sector size, wr.reqs = wr_req,
 *               wr.bytes = wr_sect x sector size, fl.reqs = f_req, errors = oo_req; for image
 *               files (not running, or qdisk) capacity and physical of each layer (vb_image).
 */
#ifndef XEN_STATS_H
#define XEN_STATS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "vb_domxml.h"
#include "vb_error.h"
#include "vb_params.h"

typedef enum {
    XEN_STATS_STATE = 1 << 0,
    XEN_STATS_CPU_TOTAL = 1 << 1,
    XEN_STATS_BALLOON = 1 << 2,
    XEN_STATS_VCPU = 1 << 3,
    XEN_STATS_BLOCK = 1 << 4,
} xen_stats_group_t;

#define XEN_STATS_ALL 0x1fu

/*  blkback's counters of one vbd (statistics/ files), as read. */
typedef struct {
    uint64_t rd_req, wr_req, rd_sect, wr_sect, f_req, ds_req, oo_req;
} xen_vbd_stats_t;

/*  One vCPU as libxl_list_vcpu reports it. */
typedef struct {
    unsigned id;
    bool online, running, blocked;
    uint64_t time_ns;
} xen_vcpu_t;

/*  Everything one record is made from. Pointers are borrowed for the call. */
typedef struct {
    const vb_domain_def_t *def;  /* required */
    int state, reason;           /* vb_state_t and its reason */
    int domid;                   /* -1 when not running */
    uint64_t cpu_time_ns;        /* libxl_dominfo.cpu_time */
    uint64_t current_memkb, max_memkb;
    const xen_vcpu_t *vcpus;     /* running: libxl_list_vcpu, NULL when unknown */
    size_t nvcpus;
    const char *sysfs_root;      /* NULL = "/sys/bus/xen-backend/devices" */
    /*  The sector size blkback counts in for DEVNO (xenstore backend "sector-size"); NULL or a
     *  return of 0 = 512. */
    unsigned (*sector_size_fn) (void *arg, int domid, long devno);
    void *sector_size_arg;
} xen_stats_input_t;

/*  Read DIR/rd_req ... (a vbd's statistics directory). Each file is one decimal number
 *  (blkback formats "%llu\n"). Returns 0 when every counter read, -1 with ERR naming the first
 *  file that is missing or malformed (the struct then holds the counters read so far). */
int xen_stats_read_vbd (const char *dir, xen_vbd_stats_t *out, vb_error_t *err);

/*  Map wire group names to a mask, as qemu_stats_groups (unknown ones counted in
 *  *UNSUPPORTED). Returns 0, or -1 with ERR (INVALID_ARG). */
int xen_stats_groups (json_object *names, unsigned *mask, unsigned *unsupported,
                      vb_error_t *err);

/*  All groups in MASK in libvirt's order. Returns a new list, or NULL with ERR. */
vb_params_t *xen_stats_params (const xen_stats_input_t *in, unsigned mask, vb_error_t *err);

/*  A record {name, uuid, status: "ok", sample_time_ns, params}. NULL with ERR. */
json_object *xen_stats_record (const xen_stats_input_t *in, unsigned mask,
                               uint64_t sample_time_ns, vb_error_t *err);

#endif
