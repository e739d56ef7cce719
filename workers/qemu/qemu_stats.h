/*  qemu_stats — a QEMU domain's domstats groups, from QMP replies, /proc and the definition.
 *
 *  Pure functions: the caller (qemu_driver) asks the monitor and hands the parsed replies in;
 *  nothing here talks QMP or waits. Every group appends libvirt's keys, types and units
 *  (../shared/reference/libvirt-spec.md §1) to a vb_params list, in libvirt's order. Replies
 *  may be given as QMP sends them ({"return": X, "id": ...}) or as X; a missing (NULL) or
 *  malformed reply leaves out the fields it would have supplied and never fails the record,
 *  because a stats request must answer with what is known.
 *
 *  Groups (names as on the wire, bits as libvirt's virDomainStatsTypes):
 *    state      state.state, state.reason (int)
 *    cpu-total  cpu.time, cpu.user, cpu.system (ullong ns) from /proc/PID/stat utime and stime
 *               x 1e9/_SC_CLK_TCK. A shut-off domain has no cpu.* at all (libvirt 9 reports its
 *               own daemon's CPU there, surprise S3; not copied).
 *    balloon    balloon.current (query-balloon actual / 1024, else <currentMemory>),
 *               balloon.maximum (<memory>), both KiB; running: balloon.rss (KiB) from
 *               /proc/PID/statm resident pages x page size.
 *    vcpu       vcpu.current, vcpu.maximum (uint, <vcpu>); running, per query-cpus-fast entry
 *               (cpu-index N, thread-id TID): vcpu.N.state (int, 1 = running, as libvirt reports
 *               every online vCPU), vcpu.N.time (ullong ns, /proc/PID/task/TID/stat utime +
 *               stime), vcpu.N.wait (ullong ns, `wait_sum` of task/TID/sched, ms; only when
 *               the kernel keeps schedstats, i.e. the line exists), vcpu.N.delay (ullong ns,
 *               second field of task/TID/schedstat).
 *    interface  running: net.count (uint) = interfaces in the definition, then per interface
 *               with a host device name net.N.*. virtbus's QEMU interfaces are `-netdev user`:
 *               there is no tap, no host name and no host-side counters, so, as libvirt skips
 *               entries without an ifname, only net.count is emitted.
 *    block      see below.
 *
 *  Block (DESIGN §4; issue 4 item 2). block.count (uint) first, = entries emitted; then per
 *  disk in definition order the top layer and, with BACKING, each backing layer top-down:
 *    block.N.name          the disk's target on every layer
 *    block.N.path          the layer's file or device (absent for an empty cdrom)
 *    block.N.backingIndex  depth in the chain, 1 = first backing file; absent on the top layer
 *    rd.reqs rd.bytes rd.times wr.reqs wr.bytes wr.times fl.reqs fl.times  top layer only
 *    allocation capacity physical
 *  Running (query-blockstats + query-block): the disk's entries are the ones whose node-name
 *  (query-block: inserted.node-name) is vb-DEV-format (qemu_command's names), else whose qdev is
 *  the device (id = DEV); backing layers are blockstats' nested `backing` entries and, at the
 *  same depth, the nested `backing-image`s of query-block's inserted.image. A backing layer's
 *  path = its image's filename (none when it is a "json:" description). allocation = the
 *  layer's parent.stats.wr_highest_offset (its storage node), always emitted; capacity = the
 *  layer's image virtual-size, emitted when non-zero; physical = the allocated bytes of the
 *  layer's file (st_blocks x 512, the number QEMU reports as actual-size: its
 *  raw_get_allocated_file_size) when non-zero, else st_size / lseek SEEK_END, read through
 *  FILE_FN at the time of the record; omitted when the file cannot be read. A disk with no blockstats entry gets name and path only (as libvirt
 *  without monitor data). An empty cdrom gets name only.
 *  Shut off: the chain read from the image headers (vb_image): allocation = st_blocks x 512
 *  (block device: 0), capacity = qcow2 virtual size (raw: = physical), physical = st_size /
 *  lseek, all three always emitted; with BACKING every layer, with backingIndex. A chain that
 *  cannot be read gives name and path only.
 */
#ifndef QEMU_STATS_H
#define QEMU_STATS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "qemu_blockstats.h"
#include "vb_domxml.h"
#include "vb_error.h"
#include "vb_params.h"

typedef enum {
    QEMU_STATS_STATE = 1 << 0,
    QEMU_STATS_CPU_TOTAL = 1 << 1,
    QEMU_STATS_BALLOON = 1 << 2,
    QEMU_STATS_VCPU = 1 << 3,
    QEMU_STATS_INTERFACE = 1 << 4,
    QEMU_STATS_BLOCK = 1 << 5,
} qemu_stats_group_t;

#define QEMU_STATS_ALL 0x3fu

/*  A layer's file for `physical`: *PHYSICAL = st_size (block device: lseek SEEK_END),
 *  *ALLOCATION = st_blocks x 512 (block device: 0); 0, or -1 when PATH cannot be read. ARG is
 *  the caller's. qemu_stats_file_sizes is the real one (vb_image_file_sizes). */
typedef int (qemu_stats_file_fn) (void *arg, const char *path, uint64_t *physical,
                                  uint64_t *allocation);
int qemu_stats_file_sizes (void *arg, const char *path, uint64_t *physical,
                           uint64_t *allocation);

/*  Everything one record is made from. Pointers are borrowed for the call. */
typedef struct {
    const vb_domain_def_t *def;   /* required */
    int state, reason;            /* vb_state_t and its reason */
    pid_t pid;                    /* QEMU's pid; <= 0 = not running (shut off) */
    const char *proc_root;        /* NULL = "/proc" (tests point it at captured files) */
    const qemu_blockstats_t *blockstats;  /* query-blockstats reply (qemu_blockstats), or NULL */
    json_object *block;           /* query-block reply (may be older than blockstats: only its
                                     chain, filenames and virtual sizes are read), or NULL */
    json_object *cpus;            /* query-cpus-fast reply, or NULL */
    json_object *balloon;         /* query-balloon reply, or NULL */
    qemu_stats_file_fn *file_fn;  /* NULL = qemu_stats_file_sizes */
    void *file_arg;
} qemu_stats_input_t;

/*  Map wire group names ("state", "cpu-total", "balloon", "vcpu", "interface", "block") to a
 *  mask. NAMES NULL or empty = all groups. Unknown names (perf, iothread, ... that this driver
 *  does not supply) are left out of *MASK and counted in *UNSUPPORTED (may be NULL) so the
 *  caller can implement --enforce. Returns 0, or -1 with ERR (INVALID_ARG) when NAMES is not an
 *  array of strings. */
int qemu_stats_groups (json_object *names, unsigned *mask, unsigned *unsupported,
                       vb_error_t *err);

/*  The groups, one by one; each appends to P and returns 0, or -1 when P has failed (out of
 *  memory). They read only their own inputs from IN. */
int qemu_stats_state (vb_params_t *p, const qemu_stats_input_t *in);
int qemu_stats_cpu_total (vb_params_t *p, const qemu_stats_input_t *in);
int qemu_stats_balloon (vb_params_t *p, const qemu_stats_input_t *in);
int qemu_stats_vcpu (vb_params_t *p, const qemu_stats_input_t *in);
int qemu_stats_interface (vb_params_t *p, const qemu_stats_input_t *in);
/*  Running domain: from IN->blockstats / block; shut off (pid <= 0): from the images. */
int qemu_stats_block (vb_params_t *p, const qemu_stats_input_t *in, bool backing);

/*  Does the query-block reply BLOCK describe the chains the query-blockstats reply BLOCKSTATS
 *  shows: the same devices (qdev), each with the same top node-name (or none: an empty drive)
 *  and as many backing layers? A snapshot, a commit, a pull or a medium change since BLOCK was
 *  asked makes them differ. Either NULL or malformed: false. */
bool qemu_stats_block_chains_match (const qemu_blockstats_t *blockstats, json_object *block);

/*  All groups in MASK in libvirt's order. Returns a new list (vb_params_destroy), or NULL with
 *  ERR: INVALID_ARG without a definition, INTERNAL when out of memory. */
vb_params_t *qemu_stats_params (const qemu_stats_input_t *in, unsigned mask, bool backing,
                                vb_error_t *err);

/*  A stats record {name, uuid, status: "ok", sample_time_ns, params: [[key, type, value]...]}
 *  (the driver adds host/driver/worker with vb_call_domain_info_add_origin, and replaces status
 *  / adds age_ms for stale samples). Returns a new object, or NULL with ERR as above. */
json_object *qemu_stats_record (const qemu_stats_input_t *in, unsigned mask, bool backing,
                                uint64_t sample_time_ns, vb_error_t *err);

/*  /proc readers, exposed for tests: utime and stime (clock ticks) of PROC_ROOT/PID/stat or,
 *  with TID > 0, PROC_ROOT/PID/task/TID/stat. Returns 0, or -1 when unreadable or malformed. */
int qemu_stats_proc_times (const char *proc_root, pid_t pid, pid_t tid, uint64_t *utime,
                           uint64_t *stime);

#endif
