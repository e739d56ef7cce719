/*  qemu_stats — domstats groups of a QEMU domain (see qemu_stats.h). */
#include "qemu_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vb_domstate.h"
#include "vb_image.h"
#include "vb_json.h"

/*  Deepest backing nesting followed in a query-blockstats reply (vb_image's limit, so a running
 *  and a shut-off domain report the same chains). */
#define S_MAX_DEPTH VB_IMAGE_CHAIN_MAX_DEPTH

/*  Largest /proc file read (stat is < 1 KiB, sched a few KiB). */
#define S_PROC_MAX 16384

/* --- helpers ----------------------------------------------------------------------------- */

/*  X of {"return": X, ...}, or REPLY itself. */
static json_object *
s_return (json_object *reply)
{
    json_object *ret = NULL;
    if (reply && json_object_is_type (reply, json_type_object)
        && json_object_object_get_ex (reply, "return", &ret))
        return ret;
    return reply;
}

static json_object *
s_return_array (json_object *reply)
{
    json_object *ret = s_return (reply);
    return ret && json_object_is_type (ret, json_type_array) ? ret : NULL;
}

static json_object *
s_obj (json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (obj && json_object_is_type (obj, json_type_object)
        && json_object_object_get_ex (obj, key, &v)
        && json_object_is_type (v, json_type_object))
        return v;
    return NULL;
}

/*  A non-negative integer field; DEFLT when absent, of another type or negative. */
static uint64_t
s_u64 (json_object *obj, const char *key, uint64_t deflt)
{
    json_object *v = NULL;
    if (!obj || !json_object_is_type (obj, json_type_object)
        || !json_object_object_get_ex (obj, key, &v) || !json_object_is_type (v, json_type_int))
        return deflt;
    if (json_object_get_int64 (v) < 0)
        return deflt;
    return json_object_get_uint64 (v);
}

static const char *
s_proc_root (const qemu_stats_input_t *in)
{
    return in->proc_root ? in->proc_root : "/proc";
}

/*  Read a small file whole into BUF (NUL-terminated). Returns its length or -1. */
static ssize_t
s_read_file (const char *path, char *buf, size_t size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len + 1 < size) {
        ssize_t n = read (fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t) n;
    }
    close (fd);
    buf[len] = '\0';
    return (ssize_t) len;
}

static uint64_t
s_ns_per_tick (void)
{
    long hz = sysconf (_SC_CLK_TCK);
    return hz > 0 ? 1000000000ull / (uint64_t) hz : 10000000ull;
}

/* --- /proc ------------------------------------------------------------------------------- */

int
qemu_stats_proc_times (const char *proc_root, pid_t pid, pid_t tid, uint64_t *utime,
                       uint64_t *stime)
{
    char path[512], buf[S_PROC_MAX];
    if (!proc_root || pid <= 0 || !utime || !stime)
        return -1;
    if (tid > 0)
        snprintf (path, sizeof path, "%s/%d/task/%d/stat", proc_root, (int) pid, (int) tid);
    else
        snprintf (path, sizeof path, "%s/%d/stat", proc_root, (int) pid);
    if (s_read_file (path, buf, sizeof buf) <= 0)
        return -1;
    /*  The command name may hold spaces and ')': fields start after the last ')'. Field 3
     *  (state) is token 0 there, so utime (14) and stime (15) are tokens 11 and 12. */
    char *p = strrchr (buf, ')');
    if (!p)
        return -1;
    p++;
    uint64_t vals[2] = { 0, 0 };
    for (int tok = 0; tok <= 12; tok++) {
        while (*p == ' ')
            p++;
        if (!*p || *p == '\n')
            return -1;
        char *end = p;
        if (tok >= 11) {
            if (*p < '0' || *p > '9')
                return -1;
            errno = 0;
            unsigned long long v = strtoull (p, &end, 10);
            if (errno || (*end != ' ' && *end != '\n' && *end != '\0'))
                return -1;
            vals[tok - 11] = v;
        }
        else
            while (*end && *end != ' ' && *end != '\n')
                end++;
        p = end;
    }
    *utime = vals[0];
    *stime = vals[1];
    return 0;
}

/*  Resident set of PID in KiB from statm. */
static int
s_proc_rss_kib (const char *proc_root, pid_t pid, uint64_t *kib)
{
    char path[512], buf[512];
    snprintf (path, sizeof path, "%s/%d/statm", proc_root, (int) pid);
    if (s_read_file (path, buf, sizeof buf) <= 0)
        return -1;
    unsigned long long size, resident;
    if (sscanf (buf, "%llu %llu", &size, &resident) != 2)
        return -1;
    long page = sysconf (_SC_PAGESIZE);
    *kib = resident * (uint64_t) (page > 0 ? page : 4096) / 1024;
    return 0;
}

/*  wait_sum of task/TID/sched ("se.statistics.wait_sum" or "wait_sum", in ms with six
 *  decimals) in ns; -1 when the kernel keeps no schedstats (no such line). */
static int
s_proc_wait_ns (const char *proc_root, pid_t pid, pid_t tid, uint64_t *ns)
{
    char path[512], buf[S_PROC_MAX];
    snprintf (path, sizeof path, "%s/%d/task/%d/sched", proc_root, (int) pid, (int) tid);
    if (s_read_file (path, buf, sizeof buf) <= 0)
        return -1;
    for (char *line = buf; line && *line; line = strchr (line, '\n') ? strchr (line, '\n') + 1
                                                                     : NULL) {
        while (*line == ' ')
            line++;
        char *key_end = line;
        while (*key_end && *key_end != ' ' && *key_end != ':' && *key_end != '\n')
            key_end++;
        size_t klen = (size_t) (key_end - line);
        if (!(klen == 8 && strncmp (line, "wait_sum", 8) == 0)
            && !(klen == 22 && strncmp (line, "se.statistics.wait_sum", 22) == 0))
            continue;
        char *colon = strchr (key_end, ':');
        if (!colon)
            return -1;
        char *p = colon + 1;
        while (*p == ' ')
            p++;
        char *end;
        errno = 0;
        unsigned long long ms = strtoull (p, &end, 10);
        if (errno || end == p)
            return -1;
        uint64_t frac = 0;
        int digits = 0;
        if (*end == '.')
            for (end++; *end >= '0' && *end <= '9'; end++)
                if (digits < 6) {
                    frac = frac * 10 + (uint64_t) (*end - '0');
                    digits++;
                }
        for (; digits < 6; digits++)
            frac *= 10;
        *ns = ms * 1000000ull + frac;
        return 0;
    }
    return -1;
}

/*  Second field of task/TID/schedstat: ns spent waiting on a run queue. */
static int
s_proc_delay_ns (const char *proc_root, pid_t pid, pid_t tid, uint64_t *ns)
{
    char path[512], buf[512];
    snprintf (path, sizeof path, "%s/%d/task/%d/schedstat", proc_root, (int) pid, (int) tid);
    if (s_read_file (path, buf, sizeof buf) <= 0)
        return -1;
    unsigned long long run, wait;
    if (sscanf (buf, "%llu %llu", &run, &wait) != 2)
        return -1;
    *ns = wait;
    return 0;
}

int
qemu_stats_file_sizes (void *arg, const char *path, uint64_t *physical, uint64_t *allocation)
{
    (void) arg;
    vb_error_t err = { 0 };
    return vb_image_file_sizes (path, physical, allocation, &err);
}

/* --- groups ------------------------------------------------------------------------------ */

int
qemu_stats_groups (json_object *names, unsigned *mask, unsigned *unsupported, vb_error_t *err)
{
    static const struct { const char *name; unsigned bit; } map[] = {
        { "state", QEMU_STATS_STATE },         { "cpu-total", QEMU_STATS_CPU_TOTAL },
        { "balloon", QEMU_STATS_BALLOON },     { "vcpu", QEMU_STATS_VCPU },
        { "interface", QEMU_STATS_INTERFACE }, { "block", QEMU_STATS_BLOCK },
    };
    unsigned m = 0, bad = 0;
    if (!mask)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "no output for the stats group mask");
    if (names && !json_object_is_type (names, json_type_array))
        return vb_error_set (err, VB_ERR_INVALID_ARG, "field 'groups' must be an array");
    size_t n = names ? json_object_array_length (names) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *g = json_object_array_get_idx (names, i);
        if (!json_object_is_type (g, json_type_string))
            return vb_error_set (err, VB_ERR_INVALID_ARG,
                                 "field 'groups' must be an array of strings");
        size_t k;
        for (k = 0; k < sizeof map / sizeof map[0]; k++)
            if (strcmp (json_object_get_string (g), map[k].name) == 0)
                break;
        if (k < sizeof map / sizeof map[0])
            m |= map[k].bit;
        else
            bad++;
    }
    *mask = n == 0 ? QEMU_STATS_ALL : m;
    if (unsupported)
        *unsupported = bad;
    return 0;
}

static bool
s_running (const qemu_stats_input_t *in)
{
    return in->pid > 0;
}

int
qemu_stats_state (vb_params_t *p, const qemu_stats_input_t *in)
{
    vb_params_add_int (p, in->state, "state.state");
    vb_params_add_int (p, in->reason, "state.reason");
    return vb_params_failed (p) ? -1 : 0;
}

int
qemu_stats_cpu_total (vb_params_t *p, const qemu_stats_input_t *in)
{
    uint64_t ut, st;
    if (s_running (in) && qemu_stats_proc_times (s_proc_root (in), in->pid, 0, &ut, &st) == 0) {
        uint64_t tick = s_ns_per_tick ();
        vb_params_add_ullong (p, (ut + st) * tick, "cpu.time");
        vb_params_add_ullong (p, ut * tick, "cpu.user");
        vb_params_add_ullong (p, st * tick, "cpu.system");
    }
    return vb_params_failed (p) ? -1 : 0;
}

int
qemu_stats_balloon (vb_params_t *p, const qemu_stats_input_t *in)
{
    uint64_t current = in->def->current_memory_kib;
    json_object *bal = s_return (in->balloon);
    if (s_running (in) && bal && json_object_is_type (bal, json_type_object)
        && s_u64 (bal, "actual", 0) > 0)
        current = s_u64 (bal, "actual", 0) / 1024;
    vb_params_add_ullong (p, current, "balloon.current");
    vb_params_add_ullong (p, in->def->memory_kib, "balloon.maximum");
    uint64_t rss;
    if (s_running (in) && s_proc_rss_kib (s_proc_root (in), in->pid, &rss) == 0)
        vb_params_add_ullong (p, rss, "balloon.rss");
    return vb_params_failed (p) ? -1 : 0;
}

int
qemu_stats_vcpu (vb_params_t *p, const qemu_stats_input_t *in)
{
    vb_params_add_uint (p, in->def->vcpus, "vcpu.current");
    vb_params_add_uint (p, in->def->vcpus, "vcpu.maximum");
    json_object *cpus = s_running (in) ? s_return_array (in->cpus) : NULL;
    size_t n = cpus ? json_object_array_length (cpus) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *c = json_object_array_get_idx (cpus, i);
        int64_t idx = vb_json_int (c, "cpu-index", -1);
        int64_t tid = vb_json_int (c, "thread-id", -1);
        if (idx < 0 || idx > 65535)
            continue;
        vb_params_add_int (p, 1, "vcpu.%" PRId64 ".state", idx);
        if (tid <= 0 || tid > INT32_MAX)
            continue;
        uint64_t ut, st, v;
        const char *root = s_proc_root (in);
        if (qemu_stats_proc_times (root, in->pid, (pid_t) tid, &ut, &st) == 0)
            vb_params_add_ullong (p, (ut + st) * s_ns_per_tick (), "vcpu.%" PRId64 ".time", idx);
        if (s_proc_wait_ns (root, in->pid, (pid_t) tid, &v) == 0)
            vb_params_add_ullong (p, v, "vcpu.%" PRId64 ".wait", idx);
        if (s_proc_delay_ns (root, in->pid, (pid_t) tid, &v) == 0)
            vb_params_add_ullong (p, v, "vcpu.%" PRId64 ".delay", idx);
    }
    return vb_params_failed (p) ? -1 : 0;
}

int
qemu_stats_interface (vb_params_t *p, const qemu_stats_input_t *in)
{
    /*  Every QEMU interface is `-netdev user` (qemu_command): no tap, so no host name and no
     *  counters to read; libvirt skips such entries and so do we. */
    if (s_running (in))
        vb_params_add_uint (p, (uint32_t) in->def->nnets, "net.count");
    return vb_params_failed (p) ? -1 : 0;
}

/* --- block ------------------------------------------------------------------------------- */

/*  Is QDEV (a query-blockstats or query-block "qdev") disk DEV's device? */
static bool
s_qdev_is (const char *qdev, const char *dev)
{
    char qdev1[192], qdev2[192];
    snprintf (qdev1, sizeof qdev1, "/machine/peripheral/%s/virtio-backend", dev);
    snprintf (qdev2, sizeof qdev2, "/machine/peripheral/%s", dev);
    return strcmp (qdev, qdev1) == 0 || strcmp (qdev, qdev2) == 0 || strcmp (qdev, dev) == 0;
}

/*  The query-blockstats entry of disk DEV: node-name vb-DEV-format, else its device's qdev. */
static const qemu_blockdev_t *
s_find_disk_entry (const qemu_blockstats_t *stats, const char *dev)
{
    char node[128];
    snprintf (node, sizeof node, "vb-%s-format", dev);
    const qemu_blockdev_t *entry = qemu_blockstats_by_node (stats, node);
    for (size_t i = 0; !entry && stats && i < stats->ndevs; i++)
        if (stats->devs[i].qdev && s_qdev_is (stats->devs[i].qdev, dev))
            entry = &stats->devs[i];
    return entry;
}

/*  The image of disk DEV's medium in a query-block reply (inserted.image of the device whose
 *  inserted node-name is vb-DEV-format, else whose qdev is the device), or NULL. */
static json_object *
s_find_disk_image (json_object *devices, const char *dev)
{
    char node[128];
    snprintf (node, sizeof node, "vb-%s-format", dev);
    size_t n = devices ? json_object_array_length (devices) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *inserted = s_obj (json_object_array_get_idx (devices, i), "inserted");
        if (strcmp (vb_json_str (inserted, "node-name", ""), node) == 0)
            return s_obj (inserted, "image");
    }
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx (devices, i);
        if (s_qdev_is (vb_json_str (e, "qdev", ""), dev))
            return s_obj (s_obj (e, "inserted"), "image");
    }
    return NULL;
}

/*  A layer's file name when it is a plain path (not a "json:{...}" description). */
static const char *
s_image_path (json_object *image)
{
    const char *f = vb_json_str (image, "filename", NULL);
    if (!f || !*f || strncmp (f, "json:", 5) == 0)
        return NULL;
    return f;
}

static void
s_block_header (vb_params_t *p, size_t n, const char *dev, const char *path, size_t depth)
{
    vb_params_add_string (p, dev, "block.%zu.name", n);
    if (path)
        vb_params_add_string (p, path, "block.%zu.path", n);
    if (depth > 0)
        vb_params_add_uint (p, (uint32_t) depth, "block.%zu.backingIndex", n);
}

/*  One layer of a running domain: LAYER is its query-blockstats layer (a device's top or a
 *  backing one), IMAGE its query-block image (inserted.image or a nested backing-image; NULL if
 *  missing). */
static void
s_block_layer_live (vb_params_t *p, size_t n, const vb_disk_def_t *disk,
                    const qemu_blocklayer_t *layer, json_object *image, size_t depth,
                    const qemu_stats_input_t *in)
{
    const char *path = depth > 0 ? s_image_path (image) : disk->source;
    s_block_header (p, n, disk->target_dev, path, depth);
    if (depth == 0) {
        static const struct { const char *key; qemu_bs_counter_t counter; } keys[] = {
            { "rd.reqs", QEMU_BS_RD_OPERATIONS },     { "rd.bytes", QEMU_BS_RD_BYTES },
            { "rd.times", QEMU_BS_RD_TOTAL_TIME_NS }, { "wr.reqs", QEMU_BS_WR_OPERATIONS },
            { "wr.bytes", QEMU_BS_WR_BYTES },         { "wr.times", QEMU_BS_WR_TOTAL_TIME_NS },
            { "fl.reqs", QEMU_BS_FLUSH_OPERATIONS },  { "fl.times", QEMU_BS_FLUSH_TOTAL_TIME_NS },
        };
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
            vb_params_add_ullong (p, layer->stats[keys[k].counter], "block.%zu.%s", n,
                                  keys[k].key);
    }
    vb_params_add_ullong (p, layer->storage_wr_highest_offset, "block.%zu.allocation", n);
    uint64_t capacity = s_u64 (image, "virtual-size", 0);
    if (capacity > 0)
        vb_params_add_ullong (p, capacity, "block.%zu.capacity", n);
    /*  QEMU's actual-size, measured now rather than taken from a query-block reply that may
     *  be older than this sample (the driver keeps one per run). */
    qemu_stats_file_fn *file_fn = in->file_fn ? in->file_fn : qemu_stats_file_sizes;
    uint64_t size, allocated;
    if (path && file_fn (in->file_arg, path, &size, &allocated) == 0)
        vb_params_add_ullong (p, allocated > 0 ? allocated : size, "block.%zu.physical", n);
}

static size_t
s_block_live (vb_params_t *p, const qemu_stats_input_t *in, bool backing)
{
    const qemu_blockstats_t *stats = in->blockstats;
    json_object *devices = s_return_array (in->block);
    size_t n = 0;
    for (size_t d = 0; d < in->def->ndisks; d++) {
        const vb_disk_def_t *disk = &in->def->disks[d];
        if (!disk->source) {
            s_block_header (p, n++, disk->target_dev, NULL, 0);
            continue;
        }
        const qemu_blockdev_t *entry = s_find_disk_entry (stats, disk->target_dev);
        if (!entry) {
            s_block_header (p, n++, disk->target_dev, disk->source, 0);
            continue;
        }
        /*  The two replies nest the chain alike: blockstats' `backing` and the image's
         *  `backing-image` are the same layer. */
        json_object *image = s_find_disk_image (devices, disk->target_dev);
        const qemu_blocklayer_t *layer = &entry->top;
        for (size_t depth = 0; layer && depth <= S_MAX_DEPTH; depth++) {
            s_block_layer_live (p, n++, disk, layer, image, depth, in);
            if (!backing)
                break;
            layer = layer->backing;
            image = s_obj (image, "backing-image");
        }
    }
    return n;
}

bool
qemu_stats_block_chains_match (const qemu_blockstats_t *blockstats, json_object *block)
{
    json_object *devices = s_return_array (block);
    if (!blockstats || !devices || blockstats->ndevs != json_object_array_length (devices))
        return false;
    /*  Every device with the same top node (or none, for an empty drive) and as many layers. */
    for (size_t i = 0; i < blockstats->ndevs; i++) {
        const qemu_blockdev_t *e = &blockstats->devs[i];
        json_object *dev = NULL;
        for (size_t k = 0; !dev && e->qdev && k < json_object_array_length (devices); k++) {
            json_object *d = json_object_array_get_idx (devices, k);
            if (strcmp (vb_json_str (d, "qdev", ""), e->qdev) == 0)
                dev = d;
        }
        if (!dev)
            return false;
        json_object *inserted = s_obj (dev, "inserted");
        const char *node = e->top.node_name;
        const char *dev_node = vb_json_str (inserted, "node-name", NULL);
        if ((node == NULL) != (dev_node == NULL) || (node && strcmp (node, dev_node) != 0))
            return false;
        size_t depth = 0;
        for (json_object *img = s_obj (s_obj (inserted, "image"), "backing-image");
             img && depth <= S_MAX_DEPTH; img = s_obj (img, "backing-image"))
            depth++;
        if (depth != e->depth)
            return false;
    }
    return true;
}

static size_t
s_block_offline (vb_params_t *p, const qemu_stats_input_t *in, bool backing)
{
    size_t n = 0;
    for (size_t d = 0; d < in->def->ndisks; d++) {
        const vb_disk_def_t *disk = &in->def->disks[d];
        if (!disk->source) {
            s_block_header (p, n++, disk->target_dev, NULL, 0);
            continue;
        }
        vb_error_t err = { 0 };
        vb_image_chain_t *chain = vb_image_chain_new (
            disk->source,
            disk->format == VB_DISK_FORMAT_QCOW2 ? VB_IMAGE_FORMAT_QCOW2 : VB_IMAGE_FORMAT_RAW,
            &err);
        if (!chain) {
            /*  A missing or unreadable image: what the definition says, as libvirt. */
            s_block_header (p, n++, disk->target_dev, disk->source, 0);
            continue;
        }
        size_t layers = backing ? chain->nlayers : 1;
        for (size_t i = 0; i < layers; i++, n++) {
            const vb_image_layer_t *l = &chain->layers[i];
            s_block_header (p, n, disk->target_dev, i == 0 ? disk->source : l->path, i);
            vb_params_add_ullong (p, l->allocation, "block.%zu.allocation", n);
            vb_params_add_ullong (p, l->virtual_size, "block.%zu.capacity", n);
            vb_params_add_ullong (p, l->physical, "block.%zu.physical", n);
        }
        vb_image_chain_destroy (&chain);
    }
    return n;
}

int
qemu_stats_block (vb_params_t *p, const qemu_stats_input_t *in, bool backing)
{
    /*  libvirt emits block.count first, though it is known only at the end. */
    vb_params_add_uint (p, 0, "block.count");
    size_t n = s_running (in) ? s_block_live (p, in, backing) : s_block_offline (p, in, backing);
    if (!vb_params_failed (p))
        vb_params_set_uint (p, "block.count", (uint32_t) n);
    return vb_params_failed (p) ? -1 : 0;
}

/* --- records ----------------------------------------------------------------------------- */

vb_params_t *
qemu_stats_params (const qemu_stats_input_t *in, unsigned mask, bool backing, vb_error_t *err)
{
    if (!in || !in->def) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "stats need the domain's definition");
        return NULL;
    }
    vb_params_t *p = vb_params_new ();
    if (!p) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory building stats of domain '%s'",
                      in->def->name);
        return NULL;
    }
    if (mask & QEMU_STATS_STATE)
        qemu_stats_state (p, in);
    if (mask & QEMU_STATS_CPU_TOTAL)
        qemu_stats_cpu_total (p, in);
    if (mask & QEMU_STATS_BALLOON)
        qemu_stats_balloon (p, in);
    if (mask & QEMU_STATS_VCPU)
        qemu_stats_vcpu (p, in);
    if (mask & QEMU_STATS_INTERFACE)
        qemu_stats_interface (p, in);
    if (mask & QEMU_STATS_BLOCK)
        qemu_stats_block (p, in, backing);
    if (vb_params_failed (p)) {
        vb_params_destroy (&p);
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory building stats of domain '%s'",
                      in->def->name);
    }
    return p;
}

json_object *
qemu_stats_record (const qemu_stats_input_t *in, unsigned mask, bool backing,
                   uint64_t sample_time_ns, vb_error_t *err)
{
    json_object *record = NULL, *params = NULL;
    vb_params_t *p = qemu_stats_params (in, mask, backing, err);
    if (!p)
        return NULL;
    params = vb_params_to_json (p);
    record = json_object_new_object ();
    if (!params || !record
        || json_object_object_add (record, "name", json_object_new_string (in->def->name))
        || json_object_object_add (record, "uuid", json_object_new_string (in->def->uuid))
        || json_object_object_add (record, "status", json_object_new_string ("ok"))
        || json_object_object_add (record, "sample_time_ns",
                                   json_object_new_uint64 (sample_time_ns))) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory building stats of domain '%s'",
                      in->def->name);
        json_object_put (record);
        record = NULL;
    }
    else {
        json_object_object_add (record, "params", params);
        params = NULL;
    }
    json_object_put (params);
    vb_params_destroy (&p);
    return record;
}
