/*  lxc_stats — a container's counters from its cgroups (v1 and v2) and from /proc/net/dev.
 *
 *  Two layers. The parsers take the text of one kernel file and answer numbers; they do no I/O,
 *  so the unit tests feed them files captured from a real container (tests/data/cgroup). The
 *  locator finds a running container's cgroup directories from /proc/<init pid>/cgroup, and the
 *  readers combine both for the driver.
 *
 *  Files, as libvirt's LXC driver reads them (reference/libvirt-spec.md §6):
 *    cpu     v1 cpuacct.usage (ns) + cpuacct.stat (user/system in USER_HZ ticks)
 *            v2 cpu.stat usage_usec/user_usec/system_usec
 *    memory  v1 memory.usage_in_bytes, memory.limit_in_bytes
 *            v2 memory.current, memory.max ("max" = no limit)
 *    block   v1 blkio.throttle.io_service_bytes + io_serviced, lines "<maj:min> Read|Write N"
 *            v2 io.stat, lines "<maj:min> rbytes=N wbytes=N rios=N wios=N ..."
 *    net     /proc/net/dev line of the host side of a veth (its rx is the container's tx)
 *  A v1 throttle counter moves only on a queue where blk-throttle is active (kernel >= 6.10
 *  activates it when the first limit is set); the driver sets a limit no device reaches for
 *  each hostdev so the counters work (see lxc_driver.c).
 */
#ifndef LXC_STATS_H
#define LXC_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vb_error.h"

typedef struct {
    uint64_t time_ns;    /* total CPU time */
    uint64_t user_ns;
    uint64_t system_ns;
} lxc_cpu_stats_t;

typedef struct {
    uint64_t rd_reqs, rd_bytes, wr_reqs, wr_bytes;
} lxc_io_stats_t;

typedef struct {
    uint64_t rx_bytes, rx_pkts, rx_errs, rx_drop;
    uint64_t tx_bytes, tx_pkts, tx_errs, tx_drop;
} lxc_net_stats_t;

/* --- parsers (text of one file in, numbers out; -1 with INVALID_ARG naming the file) ------- */

/*  A file holding one unsigned decimal (memory.usage_in_bytes, cpuacct.usage, memory.current)
 *  or, when MAX_OK, the word "max" (memory.max), answered as UINT64_MAX. */
int lxc_stats_parse_u64 (const char *text, bool max_ok, uint64_t *out, vb_error_t *err);

/*  cgroup v1: USAGE = cpuacct.usage, STAT = cpuacct.stat; CLK_TCK = sysconf (_SC_CLK_TCK). */
int lxc_stats_parse_cpuacct (const char *usage, const char *stat, long clk_tck,
                             lxc_cpu_stats_t *out, vb_error_t *err);

/*  cgroup v2: cpu.stat. */
int lxc_stats_parse_cpu_stat (const char *text, lxc_cpu_stats_t *out, vb_error_t *err);

/*  cgroup v1: BYTES = blkio.throttle.io_service_bytes, IOS = blkio.throttle.io_serviced, the
 *  lines of device MAJ:MIN. A device without lines (no I/O yet) gives zeros. */
int lxc_stats_parse_blkio (const char *bytes, const char *ios, unsigned maj, unsigned min,
                           lxc_io_stats_t *out, vb_error_t *err);

/*  cgroup v2: io.stat, the line of MAJ:MIN (zeros when absent). */
int lxc_stats_parse_io_stat (const char *text, unsigned maj, unsigned min, lxc_io_stats_t *out,
                             vb_error_t *err);

/*  /proc/net/dev: the counters of interface IFNAME as the host sees them. -1 with NO_DOMAIN
 *  when the interface is not listed. */
int lxc_stats_parse_net_dev (const char *text, const char *ifname, lxc_net_stats_t *out,
                             vb_error_t *err);

/*  /proc/<pid>/cgroup: the path of CONTROLLER ("cpuacct", "memory", "blkio", "freezer"), or of
 *  the unified hierarchy when CONTROLLER is "" (the "0::" line). Returns a new string, or NULL
 *  with INVALID_ARG when the controller is not listed. */
char *lxc_stats_parse_proc_cgroup (const char *text, const char *controller, vb_error_t *err);

/* --- a running container's cgroups --------------------------------------------------------- */

typedef struct {
    bool v2;            /* pure cgroup v2 host (/sys/fs/cgroup is cgroup2) */
    char *cpu_dir;      /* v1: the cpuacct directory; v2: the unified directory */
    char *memory_dir;
    char *blkio_dir;
    char *freezer_dir;  /* v1: the freezer directory; v2: the unified directory */
} lxc_cgroup_t;

/*  Find the cgroup directories of the process PID under ROOT (normally "/sys/fs/cgroup"; v1
 *  controllers at ROOT/<controller>). Returns 0, or -1 with OPERATION_FAILED. */
int lxc_cgroup_find (const char *root, pid_t pid, lxc_cgroup_t *cg, vb_error_t *err);
void lxc_cgroup_clear (lxc_cgroup_t *cg);

int lxc_cgroup_read_cpu (const lxc_cgroup_t *cg, lxc_cpu_stats_t *out, vb_error_t *err);
/*  Memory in use and its limit, in bytes (LIMIT = UINT64_MAX when unlimited). */
int lxc_cgroup_read_memory (const lxc_cgroup_t *cg, uint64_t *usage, uint64_t *limit,
                            vb_error_t *err);
int lxc_cgroup_read_io (const lxc_cgroup_t *cg, unsigned maj, unsigned min, lxc_io_stats_t *out,
                        vb_error_t *err);

/*  Freeze (FREEZE) or thaw the cgroup, as libvirt does: v1 writes freezer.state FROZEN/THAWED,
 *  v2 writes cgroup.freeze 1/0. Returns 0, or -1 with OPERATION_FAILED. */
int lxc_cgroup_freeze (const lxc_cgroup_t *cg, bool freeze, vb_error_t *err);

/*  Is the cgroup frozen (v1 freezer.state FROZEN or FREEZING, v2 cgroup.freeze 1)? 1 yes, 0 no,
 *  -1 with ERR when the file cannot be read. */
int lxc_cgroup_frozen (const lxc_cgroup_t *cg, vb_error_t *err);

#endif
