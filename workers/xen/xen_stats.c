/*  xen_stats — domstats groups of a Xen domain (see xen_stats.h). */
#include "xen_stats.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_image.h"
#include "xen_config.h"

#define XEN_SYSFS_ROOT "/sys/bus/xen-backend/devices"
#define XEN_SECTOR_DEFAULT 512

/*  One decimal counter file: digits, an optional newline, nothing else. */
static int
s_read_counter (const char *dir, const char *name, uint64_t *out, vb_error_t *err)
{
    char path[4096], buf[64];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen (path, "re");
    if (!f) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot read vbd counter %s: %s", path,
                      strerror (errno));
        return -1;
    }
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long long v = n? strtoull (buf, &end, 10): 0;
    if (n == 0 || n >= sizeof buf - 2 || *end || errno || buf[0] == '-' || buf[0] == '+'
        || buf[0] == ' ') {
        vb_error_set (err, VB_ERR_OPERATION_FAILED,
                      "vbd counter %s does not hold a decimal number", path);
        return -1;
    }
    *out = v;
    return 0;
}

int
xen_stats_read_vbd (const char *dir, xen_vbd_stats_t *out, vb_error_t *err)
{
    memset (out, 0, sizeof *out);
    if (s_read_counter (dir, "rd_req", &out->rd_req, err) != 0
        || s_read_counter (dir, "wr_req", &out->wr_req, err) != 0
        || s_read_counter (dir, "rd_sect", &out->rd_sect, err) != 0
        || s_read_counter (dir, "wr_sect", &out->wr_sect, err) != 0
        || s_read_counter (dir, "f_req", &out->f_req, err) != 0
        || s_read_counter (dir, "ds_req", &out->ds_req, err) != 0
        || s_read_counter (dir, "oo_req", &out->oo_req, err) != 0)
        return -1;
    return 0;
}

static const char *s_group_names[] = { "state", "cpu-total", "balloon", "vcpu", "block" };

int
xen_stats_groups (json_object *names, unsigned *mask, unsigned *unsupported, vb_error_t *err)
{
    unsigned m = 0, u = 0;
    if (names && !json_object_is_type (names, json_type_array)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "field 'groups' must be an array of strings");
        return -1;
    }
    size_t n = names? json_object_array_length (names): 0;
    for (size_t i = 0; i < n; i++) {
        json_object *g = json_object_array_get_idx (names, i);
        if (!json_object_is_type (g, json_type_string)) {
            vb_error_set (err, VB_ERR_INVALID_ARG, "field 'groups' must be an array of strings");
            return -1;
        }
        size_t k;
        for (k = 0; k < sizeof s_group_names / sizeof *s_group_names; k++)
            if (strcmp (json_object_get_string (g), s_group_names[k]) == 0)
                break;
        if (k < sizeof s_group_names / sizeof *s_group_names)
            m |= 1u << k;
        else
            u++;
    }
    *mask = n? m: XEN_STATS_ALL;
    if (unsupported)
        *unsupported = u;
    return 0;
}

static bool
s_running (const xen_stats_input_t *in)
{
    return in->domid >= 0;
}

static void
s_state (vb_params_t *p, const xen_stats_input_t *in)
{
    vb_params_add_int (p, in->state, "state.state");
    vb_params_add_int (p, in->reason, "state.reason");
}

static void
s_cpu_total (vb_params_t *p, const xen_stats_input_t *in)
{
    if (s_running (in))
        vb_params_add_ullong (p, in->cpu_time_ns, "cpu.time");
}

static void
s_balloon (vb_params_t *p, const xen_stats_input_t *in)
{
    uint64_t cur = in->def->current_memory_kib? in->def->current_memory_kib
                                              : in->def->memory_kib;
    uint64_t max = in->def->memory_kib;
    if (s_running (in)) {
        cur = in->current_memkb;
        max = in->max_memkb;
    }
    vb_params_add_ullong (p, cur, "balloon.current");
    vb_params_add_ullong (p, max, "balloon.maximum");
}

static void
s_vcpu (vb_params_t *p, const xen_stats_input_t *in)
{
    unsigned online = in->def->vcpus;
    if (s_running (in) && in->vcpus) {
        online = 0;
        for (size_t i = 0; i < in->nvcpus; i++)
            online += in->vcpus[i].online? 1: 0;
    }
    vb_params_add_uint (p, online, "vcpu.current");
    vb_params_add_uint (p, in->def->vcpus, "vcpu.maximum");
    if (!s_running (in) || !in->vcpus)
        return;
    for (size_t i = 0; i < in->nvcpus; i++) {
        const xen_vcpu_t *v = &in->vcpus[i];
        /*  libvirt's libxlDomainGetVcpus: running -> VIR_VCPU_RUNNING (1), blocked ->
         *  VIR_VCPU_BLOCKED (2), else offline (0). */
        int state = v->running? 1: v->blocked? 2: 0;
        vb_params_add_int (p, state, "vcpu.%u.state", v->id);
        vb_params_add_ullong (p, v->time_ns, "vcpu.%u.time", v->id);
    }
}

static void
s_block_disk (vb_params_t *p, const xen_stats_input_t *in, const vb_disk_def_t *disk, size_t n)
{
    vb_params_add_string (p, disk->target_dev, "block.%zu.name", n);
    if (disk->source)
        vb_params_add_string (p, disk->source, "block.%zu.path", n);
    long devno = xen_config_disk_devno (disk->target_dev);
    bool blkback = disk->driver_name == NULL || strcmp (disk->driver_name, "qemu") != 0;
    if (s_running (in) && blkback && devno >= 0) {
        char dir[4096];
        xen_vbd_stats_t st;
        vb_error_t err = { 0 };
        snprintf (dir, sizeof dir, "%s/vbd-%d-%ld/statistics",
                  in->sysfs_root? in->sysfs_root: XEN_SYSFS_ROOT, in->domid, devno);
        /*  A disk still connecting has no counters yet: its entry then has name and path. */
        if (xen_stats_read_vbd (dir, &st, &err) == 0) {
            unsigned sector = in->sector_size_fn
                              ? in->sector_size_fn (in->sector_size_arg, in->domid, devno): 0;
            if (!sector)
                sector = XEN_SECTOR_DEFAULT;
            vb_params_add_ullong (p, st.rd_req, "block.%zu.rd.reqs", n);
            vb_params_add_ullong (p, st.rd_sect * sector, "block.%zu.rd.bytes", n);
            vb_params_add_ullong (p, st.wr_req, "block.%zu.wr.reqs", n);
            vb_params_add_ullong (p, st.wr_sect * sector, "block.%zu.wr.bytes", n);
            vb_params_add_ullong (p, st.f_req, "block.%zu.fl.reqs", n);
            vb_params_add_ullong (p, st.oo_req, "block.%zu.errors", n);
        }
    }
    if (disk->source) {
        vb_error_t err = { 0 };
        vb_image_chain_t *chain = vb_image_chain_new (
            disk->source, disk->format == VB_DISK_FORMAT_QCOW2? VB_IMAGE_FORMAT_QCOW2
                                                              : VB_IMAGE_FORMAT_RAW, &err);
        if (chain) {
            vb_params_add_ullong (p, chain->layers[0].allocation, "block.%zu.allocation", n);
            vb_params_add_ullong (p, chain->layers[0].virtual_size, "block.%zu.capacity", n);
            vb_params_add_ullong (p, chain->layers[0].physical, "block.%zu.physical", n);
            vb_image_chain_destroy (&chain);
        }
    }
}

static void
s_block (vb_params_t *p, const xen_stats_input_t *in)
{
    vb_params_add_uint (p, (uint32_t) in->def->ndisks, "block.count");
    for (size_t i = 0; i < in->def->ndisks; i++)
        s_block_disk (p, in, &in->def->disks[i], i);
}

vb_params_t *
xen_stats_params (const xen_stats_input_t *in, unsigned mask, vb_error_t *err)
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
    if (mask & XEN_STATS_STATE)
        s_state (p, in);
    if (mask & XEN_STATS_CPU_TOTAL)
        s_cpu_total (p, in);
    if (mask & XEN_STATS_BALLOON)
        s_balloon (p, in);
    if (mask & XEN_STATS_VCPU)
        s_vcpu (p, in);
    if (mask & XEN_STATS_BLOCK)
        s_block (p, in);
    if (vb_params_failed (p)) {
        vb_params_destroy (&p);
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory building stats of domain '%s'",
                      in->def->name);
    }
    return p;
}

json_object *
xen_stats_record (const xen_stats_input_t *in, unsigned mask, uint64_t sample_time_ns,
                  vb_error_t *err)
{
    vb_params_t *p = xen_stats_params (in, mask, err);
    if (!p)
        return NULL;
    json_object *params = vb_params_to_json (p);
    vb_params_destroy (&p);
    json_object *record = json_object_new_object ();
    if (!params || !record) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory building stats of domain '%s'",
                      in->def->name);
        json_object_put (record);
        json_object_put (params);
        return NULL;
    }
    json_object_object_add (record, "name", json_object_new_string (in->def->name));
    json_object_object_add (record, "uuid", json_object_new_string (in->def->uuid));
    json_object_object_add (record, "status", json_object_new_string ("ok"));
    json_object_object_add (record, "sample_time_ns", json_object_new_uint64 (sample_time_ns));
    json_object_object_add (record, "params", params);
    return record;
}
