/*  Unit tests for qemu_stats: domstats groups from captured QMP replies, /proc files and images.
 *
 *  Fixtures: tests/data/stats/SCENARIO/ (README there says how each was captured from QEMU 7.2
 *  and libvirt 9.0). Every expected parameter list below was written by hand from the values in
 *  the fixture files (query-blockstats, query-block, sizes.txt, qemu-img-info, proc/), never from
 *  this module's output. The shut-off tests make images with qemu-img at test time and take the
 *  expected numbers from `qemu-img info` and stat(2). The format test renders records with
 *  vbsh_format and compares them with virsh 9.0's captured text, after applying the one
 *  documented difference (backingIndex numbering) to virsh's text.
 */
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stddef.h>
#include <cmocka.h>

#include "qemu_stats.h"
#include "vb_domxml.h"
#include "vb_params.h"
#include "vbsh_format.h"

#define DATA VB_TEST_DATA_DIR "/stats/"

/* --- helpers ----------------------------------------------------------------------------- */

static char *
slurp (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    fseek (f, 0, SEEK_END);
    long n = ftell (f);
    fseek (f, 0, SEEK_SET);
    char *buf = malloc ((size_t) n + 1);
    if (buf && fread (buf, 1, (size_t) n, f) != (size_t) n) {
        free (buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose (f);
    return buf;
}

static char *
fixture_text (const char *scenario, const char *file)
{
    char path[512];
    snprintf (path, sizeof path, DATA "%s/%s", scenario, file);
    char *text = slurp (path);
    if (!text)
        fail_msg ("cannot read fixture %s", path);
    return text;
}

static json_object *
fixture_json (const char *scenario, const char *file)
{
    char *text = fixture_text (scenario, file);
    json_object *j = json_tokener_parse (text);
    free (text);
    assert_non_null (j);
    return j;
}

/*  A scenario's captured query-blockstats reply line, read as the driver reads it. */
static qemu_blockstats_t *
fixture_blockstats (const char *scenario)
{
    char *text = fixture_text (scenario, "query-blockstats.json");
    vb_error_t err = { 0 };
    qemu_blockstats_t *bs = qemu_blockstats_parse (text, strlen (text), &err);
    free (text);
    if (!bs)
        fail_msg ("query-blockstats of %s: %s", scenario, err.message);
    return bs;
}

/*  A layer's file at capture time: sizes.txt ("PATH SIZE" lines: the host's lseek(SEEK_END) of
 *  each layer) and the "actual-size" that `qemu-img info -U --backing-chain` printed for it in
 *  qemu-img-info-*.json (st_blocks x 512, as QEMU measures it; none for a block device, whose
 *  allocation is 0). */
typedef struct {
    char *text;
    json_object *infos;   /* every layer of every qemu-img-info-*.json, one array */
} sizes_t;

static int
sizes_lookup (void *arg, const char *path, uint64_t *size, uint64_t *allocated)
{
    sizes_t *s = (sizes_t *) arg;
    size_t plen = strlen (path);
    char *line = s->text;
    while (line && *line && !(strncmp (line, path, plen) == 0 && line[plen] == ' '))
        line = strchr (line, '\n') ? strchr (line, '\n') + 1 : NULL;
    if (!line || !*line)
        return -1;
    *size = strtoull (line + plen + 1, NULL, 10);
    *allocated = 0;
    for (size_t i = 0; i < json_object_array_length (s->infos); i++) {
        json_object *layer = json_object_array_get_idx (s->infos, i), *v;
        if (json_object_object_get_ex (layer, "filename", &v)
            && strcmp (json_object_get_string (v), path) == 0
            && json_object_object_get_ex (layer, "actual-size", &v))
            *allocated = (uint64_t) json_object_get_int64 (v);
    }
    return 0;
}

static void
sizes_load (sizes_t *s, const char *scenario)
{
    s->text = fixture_text (scenario, "sizes.txt");
    s->infos = json_object_new_array ();
    static const char *const disks[] = { "vda", "vdb" };
    for (size_t d = 0; d < 2; d++) {
        char file[64], path[512];
        snprintf (file, sizeof file, "qemu-img-info-%s.json", disks[d]);
        snprintf (path, sizeof path, DATA "%s/%s", scenario, file);
        if (access (path, R_OK) != 0)
            continue;
        json_object *chain = fixture_json (scenario, file);
        for (size_t i = 0; i < json_object_array_length (chain); i++)
            json_object_array_add (s->infos,
                                   json_object_get (json_object_array_get_idx (chain, i)));
        json_object_put (chain);
    }
}

/*  A running domain's inputs from a scenario folder. */
typedef struct {
    vb_domain_def_t *def;
    qemu_blockstats_t *blockstats;
    json_object *block, *cpus, *balloon;
    sizes_t sizes;
    char proc_root[512];
    qemu_stats_input_t in;
} scenario_t;

static void
scenario_load (scenario_t *s, const char *name)
{
    memset (s, 0, sizeof *s);
    char *xml = fixture_text (name, "domain.xml");
    vb_error_t err = { 0 };
    s->def = vb_domxml_parse (xml, strlen (xml), &err);
    free (xml);
    if (!s->def)
        fail_msg ("domain.xml of %s: %s", name, err.message);
    s->blockstats = fixture_blockstats (name);
    s->block = fixture_json (name, "query-block.json");
    s->cpus = fixture_json (name, "query-cpus-fast.json");
    s->balloon = fixture_json (name, "query-balloon.json");
    sizes_load (&s->sizes, name);
    snprintf (s->proc_root, sizeof s->proc_root, DATA "%s/proc", name);
    s->in = (qemu_stats_input_t) {
        .def = s->def, .state = 3, .reason = 1, .pid = 1, .proc_root = s->proc_root,
        .blockstats = s->blockstats, .block = s->block, .cpus = s->cpus,
        .balloon = s->balloon, .file_fn = sizes_lookup, .file_arg = &s->sizes,
    };
}

static void
scenario_free (scenario_t *s)
{
    vb_domain_def_free (&s->def);
    qemu_blockstats_destroy (&s->blockstats);
    json_object_put (s->block);
    json_object_put (s->cpus);
    json_object_put (s->balloon);
    free (s->sizes.text);
    json_object_put (s->sizes.infos);
}

/*  "key type value" for each parameter, compared line by line with EXPECTED (NULL-ended). */
static void
assert_params (const vb_params_t *p, const char *const *expected)
{
    size_t n = vb_params_count (p);
    size_t i;
    for (i = 0; expected[i]; i++) {
        if (i >= n)
            fail_msg ("parameter %zu missing: expected '%s'", i, expected[i]);
        const vb_param_t *q = vb_params_at (p, i);
        char got[1024];
        switch (q->type) {
        case VB_PARAM_INT:
        case VB_PARAM_LLONG:
            snprintf (got, sizeof got, "%s %s %lld", q->key, vb_param_type_name (q->type),
                      (long long) q->v.i);
            break;
        case VB_PARAM_UINT:
        case VB_PARAM_ULLONG:
            snprintf (got, sizeof got, "%s %s %llu", q->key, vb_param_type_name (q->type),
                      (unsigned long long) q->v.u);
            break;
        case VB_PARAM_BOOL:
            snprintf (got, sizeof got, "%s bool %s", q->key, q->v.b ? "yes" : "no");
            break;
        case VB_PARAM_STRING:
            snprintf (got, sizeof got, "%s string %s", q->key, q->v.s);
            break;
        }
        if (strcmp (got, expected[i]) != 0)
            fail_msg ("parameter %zu: got '%s', expected '%s'", i, got, expected[i]);
    }
    if (n != i)
        fail_msg ("%zu parameters, expected %zu (first extra: %s)", n, i,
                  vb_params_at (p, i)->key);
}

static void
check_block (const char *scenario, bool backing, const char *const *expected)
{
    scenario_t s;
    scenario_load (&s, scenario);
    vb_error_t err = { 0 };
    vb_params_t *p = qemu_stats_params (&s.in, QEMU_STATS_BLOCK, backing, &err);
    assert_non_null (p);
    assert_params (p, expected);
    vb_params_destroy (&p);
    scenario_free (&s);
}

#define TOP_COUNTERS(n, rd_reqs, rd_bytes, rd_times)                                     \
    "block." #n ".rd.reqs ullong " #rd_reqs, "block." #n ".rd.bytes ullong " #rd_bytes,  \
        "block." #n ".rd.times ullong " #rd_times, "block." #n ".wr.reqs ullong 0",      \
        "block." #n ".wr.bytes ullong 0", "block." #n ".wr.times ullong 0",              \
        "block." #n ".fl.reqs ullong 0", "block." #n ".fl.times ullong 0"

#define CAP "/tmp/vb-stats-capture/"

/* --- block, running ---------------------------------------------------------------------- */

static void
test_stats_block_depth0_one_entry_without_backing_index (void **state)
{
    (void) state;
    static const char *const expected[] = {
        "block.count uint 1",
        "block.0.name string vda", "block.0.path string " CAP "d0-0.qcow2",
        TOP_COUNTERS (0, 1, 512, 96783),
        /* allocation = parent (storage) wr_highest_offset 458752, not the format node's
         * 2162688; physical = allocated bytes (qemu-img's actual-size) */
        "block.0.allocation ullong 458752", "block.0.capacity ullong 67108864",
        "block.0.physical ullong 397312",
        NULL };
    check_block ("depth0", true, expected);
}

static void
test_stats_block_depth1_backing_layer_has_index_1_and_no_counters (void **state)
{
    (void) state;
    static const char *const expected[] = {
        "block.count uint 2",
        "block.0.name string vda", "block.0.path string " CAP "d1-0.qcow2",
        TOP_COUNTERS (0, 1, 512, 119708),
        "block.0.allocation ullong 393216", "block.0.capacity ullong 67108864",
        "block.0.physical ullong 331776",
        "block.1.name string vda", "block.1.path string " CAP "d1-1.qcow2",
        "block.1.backingIndex uint 1",
        "block.1.allocation ullong 0", "block.1.capacity ullong 83886080",
        "block.1.physical ullong 1380352",
        NULL };
    check_block ("depth1", true, expected);
}

static void
test_stats_block_depth2_layers_numbered_by_depth (void **state)
{
    (void) state;
    static const char *const expected[] = {
        "block.count uint 3",
        "block.0.name string vda", "block.0.path string " CAP "d2-0.qcow2",
        TOP_COUNTERS (0, 1, 512, 115081),
        "block.0.allocation ullong 393216", "block.0.capacity ullong 67108864",
        "block.0.physical ullong 331776",
        "block.1.name string vda", "block.1.path string " CAP "d2-1.qcow2",
        "block.1.backingIndex uint 1",
        "block.1.allocation ullong 0", "block.1.capacity ullong 83886080",
        "block.1.physical ullong 1314816",
        "block.2.name string vda", "block.2.path string " CAP "d2-2.qcow2",
        "block.2.backingIndex uint 2",
        "block.2.allocation ullong 0", "block.2.capacity ullong 100663296",
        "block.2.physical ullong 2428928",
        NULL };
    check_block ("depth2", true, expected);
}

static void
test_stats_block_depth2_without_backing_flag_reports_top_only (void **state)
{
    (void) state;
    static const char *const expected[] = {
        "block.count uint 1",
        "block.0.name string vda", "block.0.path string " CAP "d2-0.qcow2",
        TOP_COUNTERS (0, 1, 512, 115081),
        "block.0.allocation ullong 393216", "block.0.capacity ullong 67108864",
        "block.0.physical ullong 331776",
        NULL };
    check_block ("depth2", false, expected);
}

static void
test_stats_block_depth3_four_layers (void **state)
{
    (void) state;
    static const char *const expected[] = {
        "block.count uint 4",
        "block.0.name string vda", "block.0.path string " CAP "d3-0.qcow2",
        TOP_COUNTERS (0, 1, 512, 2083887),
        "block.0.allocation ullong 393216", "block.0.capacity ullong 67108864",
        "block.0.physical ullong 331776",
        "block.1.name string vda", "block.1.path string " CAP "d3-1.qcow2",
        "block.1.backingIndex uint 1",
        "block.1.allocation ullong 0", "block.1.capacity ullong 83886080",
        "block.1.physical ullong 1314816",
        "block.2.name string vda", "block.2.path string " CAP "d3-2.qcow2",
        "block.2.backingIndex uint 2",
        "block.2.allocation ullong 0", "block.2.capacity ullong 100663296",
        "block.2.physical ullong 2363392",
        "block.3.name string vda", "block.3.path string " CAP "d3-3.qcow2",
        "block.3.backingIndex uint 3",
        "block.3.allocation ullong 0", "block.3.capacity ullong 117440512",
        "block.3.physical ullong 3477504",
        NULL };
    check_block ("depth3", true, expected);
}

static void
test_stats_block_depth4_five_layers (void **state)
{
    (void) state;
    static const char *const expected[] = {
        "block.count uint 5",
        "block.0.name string vda", "block.0.path string " CAP "d4-0.qcow2",
        TOP_COUNTERS (0, 1, 512, 1565539),
        "block.0.allocation ullong 393216", "block.0.capacity ullong 67108864",
        "block.0.physical ullong 331776",
        "block.1.name string vda", "block.1.path string " CAP "d4-1.qcow2",
        "block.1.backingIndex uint 1",
        "block.1.allocation ullong 0", "block.1.capacity ullong 83886080",
        "block.1.physical ullong 1314816",
        "block.2.name string vda", "block.2.path string " CAP "d4-2.qcow2",
        "block.2.backingIndex uint 2",
        "block.2.allocation ullong 0", "block.2.capacity ullong 100663296",
        "block.2.physical ullong 2363392",
        "block.3.name string vda", "block.3.path string " CAP "d4-3.qcow2",
        "block.3.backingIndex uint 3",
        "block.3.allocation ullong 0", "block.3.capacity ullong 117440512",
        "block.3.physical ullong 3411968",
        "block.4.name string vda", "block.4.path string " CAP "d4-4.qcow2",
        "block.4.backingIndex uint 4",
        "block.4.allocation ullong 0", "block.4.capacity ullong 134217728",
        "block.4.physical ullong 4530176",
        NULL };
    check_block ("depth4", true, expected);
}

static void
test_stats_block_device_physical_falls_back_to_device_size (void **state)
{
    (void) state;
    /*  A loop device has no allocated bytes (QEMU's actual-size 0): physical is its size
     *  (sizes.txt). */
    static const char *const expected[] = {
        "block.count uint 1",
        "block.0.name string vda", "block.0.path string /dev/loop0",
        TOP_COUNTERS (0, 1, 512, 97384),
        "block.0.allocation ullong 2162688", "block.0.capacity ullong 33554432",
        "block.0.physical ullong 33554432",
        NULL };
    check_block ("blockdev", true, expected);
}

static void
test_stats_block_empty_cdrom_has_name_only (void **state)
{
    (void) state;
    /*  QEMU keeps counters for the empty drive (SeaBIOS probed it: rd_operations 3); libvirt
     *  reports an empty cdrom by name only, and so do we. */
    static const char *const expected[] = {
        "block.count uint 2",
        "block.0.name string vda", "block.0.path string " CAP "cd-0.qcow2",
        TOP_COUNTERS (0, 1, 512, 101460),
        "block.0.allocation ullong 458752", "block.0.capacity ullong 67108864",
        "block.0.physical ullong 397312",
        "block.1.name string sdc",
        NULL };
    check_block ("cdrom-empty", true, expected);
}

static void
test_stats_block_raw_backing_file_is_a_layer (void **state)
{
    (void) state;
    static const char *const expected[] = {
        "block.count uint 2",
        "block.0.name string vda", "block.0.path string " CAP "rb-0.qcow2",
        TOP_COUNTERS (0, 1, 512, 113248),
        "block.0.allocation ullong 393216", "block.0.capacity ullong 67108864",
        "block.0.physical ullong 331776",
        "block.1.name string vda", "block.1.path string " CAP "rb-1.raw",
        "block.1.backingIndex uint 1",
        "block.1.allocation ullong 0", "block.1.capacity ullong 50331648",
        "block.1.physical ullong 1052672",
        NULL };
    check_block ("raw-backing", true, expected);
}

/*  The driver keeps one query-block per run; a blockstats reply that shows other chains (a
 *  snapshot, commit, pull or medium change since) must be told apart. */
static void
test_stats_block_chains_match_only_the_same_chains (void **state)
{
    (void) state;
    /*  Each capture's devices: top node and backing layers, from its README. */
    static const char *const scenarios[] = {
        "depth0", "depth1", "depth2", "depth3", "depth4", "blockdev", "cdrom-empty",
        "raw-backing", "full",
    };
    static const char *const shapes[] = {
        "vda:0", "vda:1", "vda:2", "vda:3", "vda:4", "vda:0", "vda:0 sdc:empty",
        "vda:1", "vda:2 vdb:0",
    };
    size_t n = sizeof scenarios / sizeof scenarios[0];
    qemu_blockstats_t *stats[9];
    json_object *block[9];
    for (size_t i = 0; i < n; i++) {
        stats[i] = fixture_blockstats (scenarios[i]);
        block[i] = fixture_json (scenarios[i], "query-block.json");
    }
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n; k++) {
            bool same = strcmp (shapes[i], shapes[k]) == 0;
            if (qemu_stats_block_chains_match (stats[i], block[k]) != same)
                fail_msg ("blockstats of %s against query-block of %s: expected %s",
                          scenarios[i], scenarios[k], same ? "a match" : "no match");
        }
    /*  A new top node (a snapshot's overlay) under the same device. */
    json_object *renamed = fixture_json ("depth2", "query-block.json");
    json_object *inserted = json_object_object_get (
        json_object_array_get_idx (json_object_object_get (renamed, "return"), 0), "inserted");
    json_object_object_add (inserted, "node-name", json_object_new_string ("vb-vda-snap1"));
    assert_false (qemu_stats_block_chains_match (stats[2], renamed));
    json_object_put (renamed);
    assert_false (qemu_stats_block_chains_match (NULL, block[0]));
    assert_false (qemu_stats_block_chains_match (stats[0], NULL));
    for (size_t i = 0; i < n; i++) {
        qemu_blockstats_destroy (&stats[i]);
        json_object_put (block[i]);
    }
}

static void
test_stats_block_without_monitor_data_reports_name_and_path (void **state)
{
    (void) state;
    scenario_t s;
    scenario_load (&s, "full");
    /*  A reply that is not what QEMU sends reads as no reply at all: never a crash, and each
     *  disk still has its definition's name and path. */
    static const char garbage[] = "{\"return\": {\"not\": \"an array\"}}";
    assert_null (qemu_blockstats_parse (garbage, strlen (garbage), NULL));
    static const char weird_text[] =
        "[{\"node-name\": \"vb-vda-format\", \"stats\": 7, \"parent\": [], \"backing\": 1},"
        " 5, null, {\"qdev\": 3}]";
    qemu_blockstats_t *weird = qemu_blockstats_parse (weird_text, strlen (weird_text), NULL);
    assert_non_null (weird);
    static const char *const header_only[] = {
        "block.count uint 2",
        "block.0.name string vda", "block.0.path string " CAP "full-vda-0.qcow2",
        "block.1.name string vdb", "block.1.path string " CAP "full-vdb.raw",
        NULL };
    s.in.blockstats = NULL;
    vb_params_t *none = qemu_stats_params (&s.in, QEMU_STATS_BLOCK, true, NULL);
    assert_non_null (none);
    assert_params (none, header_only);
    vb_params_destroy (&none);
    /*  Wrong-typed fields: counters read as 0, allocation 0; capacity/physical still from the
     *  query-block reply of the real capture. */
    s.in.blockstats = weird;
    vb_params_t *p = qemu_stats_params (&s.in, QEMU_STATS_BLOCK, true, NULL);
    static const char *const weird_expected[] = {
        "block.count uint 2",
        "block.0.name string vda", "block.0.path string " CAP "full-vda-0.qcow2",
        TOP_COUNTERS (0, 0, 0, 0),
        "block.0.allocation ullong 0", "block.0.capacity ullong 67108864",
        "block.0.physical ullong 331776",
        "block.1.name string vdb", "block.1.path string " CAP "full-vdb.raw",
        NULL };
    assert_params (p, weird_expected);
    vb_params_destroy (&p);
    qemu_blockstats_destroy (&weird);
    scenario_free (&s);
}

static void
test_stats_block_without_query_block_keeps_blockstats_fields (void **state)
{
    (void) state;
    scenario_t s;
    scenario_load (&s, "depth1");
    /*  query-block missing, then malformed (chain cut short, sizes of the wrong type): the
     *  blockstats fields stay; capacity goes; physical is measured on the top's file as ever
     *  (331776 allocated), and a backing layer without an image has no path, so no physical
     *  either. */
    json_object *cut = json_tokener_parse (
        "{\"return\": [{\"qdev\": \"/machine/peripheral/vda/virtio-backend\", \"inserted\":"
        " {\"node-name\": \"vb-vda-format\", \"image\": {\"virtual-size\": \"big\","
        " \"actual-size\": -1, \"backing-image\": 3}}}]}");
    static const char *const expected[] = {
        "block.count uint 2",
        "block.0.name string vda", "block.0.path string " CAP "d1-0.qcow2",
        TOP_COUNTERS (0, 1, 512, 119708),
        "block.0.allocation ullong 393216", "block.0.physical ullong 331776",
        "block.1.name string vda", "block.1.backingIndex uint 1",
        "block.1.allocation ullong 0",
        NULL };
    json_object *inputs[] = { NULL, cut };
    for (size_t i = 0; i < 2; i++) {
        s.in.block = inputs[i];
        vb_params_t *p = qemu_stats_params (&s.in, QEMU_STATS_BLOCK, true, NULL);
        assert_non_null (p);
        assert_params (p, expected);
        vb_params_destroy (&p);
    }
    json_object_put (cut);
    scenario_free (&s);
}

/* --- whole record, running --------------------------------------------------------------- */

static void
test_stats_full_record_all_groups_in_libvirt_order (void **state)
{
    (void) state;
    scenario_t s;
    scenario_load (&s, "full");
    /*  The captured /proc is QEMU's pid 29691 (pid.txt). */
    char *pidtxt = fixture_text ("full", "pid.txt");
    s.in.pid = (pid_t) atoi (pidtxt);
    free (pidtxt);
    assert_int_equal (s.in.pid, 29691);

    /*  Expected values from the captured files, by hand:
     *    proc/29691/stat: utime 4, stime 444 (ticks)
     *    proc/29691/statm: resident 11124 pages (status: VmRSS 44496 kB)
     *    query-balloon: actual 134217728 B = 131072 KiB
     *    query-cpus-fast: cpu 0 thread 29695, cpu 1 thread 29696
     *    task/29695/stat utime 1 stime 435; schedstat 2nd field 1257418646
     *    task/29696/stat utime 0 stime 0;   schedstat 2nd field 5708207
     *    sched has no wait_sum line (kernel without schedstats): no vcpu.N.wait */
    unsigned long long tick = 1000000000ull / (unsigned long long) sysconf (_SC_CLK_TCK);
    unsigned long long rss = 11124ull * (unsigned long long) sysconf (_SC_PAGESIZE) / 1024;
    char cpu_time[64], cpu_user[64], cpu_sys[64], rss_line[64], v0[64], v1[64];
    snprintf (cpu_time, sizeof cpu_time, "cpu.time ullong %llu", 448 * tick);
    snprintf (cpu_user, sizeof cpu_user, "cpu.user ullong %llu", 4 * tick);
    snprintf (cpu_sys, sizeof cpu_sys, "cpu.system ullong %llu", 444 * tick);
    snprintf (rss_line, sizeof rss_line, "balloon.rss ullong %llu", rss);
    snprintf (v0, sizeof v0, "vcpu.0.time ullong %llu", 436 * tick);
    snprintf (v1, sizeof v1, "vcpu.1.time ullong %llu", 0 * tick);
    const char *const expected[] = {
        "state.state int 3", "state.reason int 1",
        cpu_time, cpu_user, cpu_sys,
        "balloon.current ullong 131072", "balloon.maximum ullong 131072", rss_line,
        "vcpu.current uint 2", "vcpu.maximum uint 2",
        "vcpu.0.state int 1", v0, "vcpu.0.delay ullong 1257418646",
        "vcpu.1.state int 1", v1, "vcpu.1.delay ullong 5708207",
        "net.count uint 1",
        "block.count uint 4",
        "block.0.name string vda", "block.0.path string " CAP "full-vda-0.qcow2",
        TOP_COUNTERS (0, 1, 512, 125746),
        "block.0.allocation ullong 393216", "block.0.capacity ullong 67108864",
        "block.0.physical ullong 331776",
        "block.1.name string vda", "block.1.path string " CAP "full-vda-1.qcow2",
        "block.1.backingIndex uint 1",
        "block.1.allocation ullong 0", "block.1.capacity ullong 83886080",
        "block.1.physical ullong 1314816",
        "block.2.name string vda", "block.2.path string " CAP "full-vda-2.qcow2",
        "block.2.backingIndex uint 2",
        "block.2.allocation ullong 0", "block.2.capacity ullong 100663296",
        "block.2.physical ullong 2428928",
        "block.3.name string vdb", "block.3.path string " CAP "full-vdb.raw",
        TOP_COUNTERS (3, 0, 0, 0),
        /* actual-size 0 for the sparse raw file: physical = its st_size (sizes.txt) */
        "block.3.allocation ullong 0", "block.3.capacity ullong 67108864",
        "block.3.physical ullong 67108864",
        NULL };
    vb_error_t err = { 0 };
    vb_params_t *p = qemu_stats_params (&s.in, QEMU_STATS_ALL, true, &err);
    assert_non_null (p);
    assert_params (p, expected);
    vb_params_destroy (&p);

    /*  The record carries the same list in wire form. */
    json_object *rec = qemu_stats_record (&s.in, QEMU_STATS_STATE | QEMU_STATS_VCPU, false,
                                          12345, &err);
    assert_non_null (rec);
    assert_string_equal (json_object_to_json_string_ext (rec, JSON_C_TO_STRING_PLAIN),
                         "{\"name\":\"full\",\"uuid\":\"6d1f3a0e-5b7c-4d2e-9f10-2a3b4c5d6e7f\","
                         "\"status\":\"ok\",\"sample_time_ns\":12345,\"params\":["
                         "[\"state.state\",\"int\",3],[\"state.reason\",\"int\",1],"
                         "[\"vcpu.current\",\"uint\",2],[\"vcpu.maximum\",\"uint\",2],"
                         "[\"vcpu.0.state\",\"int\",1],"
                         "[\"vcpu.0.time\",\"ullong\",4360000000],"
                         "[\"vcpu.0.delay\",\"ullong\",1257418646],"
                         "[\"vcpu.1.state\",\"int\",1],[\"vcpu.1.time\",\"ullong\",0],"
                         "[\"vcpu.1.delay\",\"ullong\",5708207]]}");
    json_object_put (rec);
    scenario_free (&s);
}

static void
test_stats_proc_stat_command_name_with_spaces_and_parens (void **state)
{
    (void) state;
    char dir[] = "/tmp/vb-stats-proc-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char path[512];
    snprintf (path, sizeof path, "%s/42", dir);
    assert_int_equal (mkdir (path, 0700), 0);
    snprintf (path, sizeof path, "%s/42/stat", dir);
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs ("42 (a) b (c) R 1 1 1 0 -1 0 0 0 0 0 17 23 0 0 20 0 1 0 5 0 0\n", f);
    fclose (f);
    uint64_t ut = 0, st = 0;
    assert_int_equal (qemu_stats_proc_times (dir, 42, 0, &ut, &st), 0);
    assert_int_equal (ut, 17);
    assert_int_equal (st, 23);
    /*  Truncated after utime, and a missing file. */
    f = fopen (path, "w");
    fputs ("42 (x) R 1 1 1 0 -1 0 0 0 0 0 17", f);
    fclose (f);
    assert_int_equal (qemu_stats_proc_times (dir, 42, 0, &ut, &st), -1);
    assert_int_equal (qemu_stats_proc_times (dir, 43, 0, &ut, &st), -1);
    unlink (path);
    snprintf (path, sizeof path, "%s/42", dir);
    rmdir (path);
    rmdir (dir);
}

/* --- shut off ---------------------------------------------------------------------------- */

static int
run (const char *fmt, ...) __attribute__ ((format (printf, 1, 2)));
static int
run (const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (cmd, sizeof cmd, fmt, ap);
    va_end (ap);
    int rc = system (cmd);
    return WIFEXITED (rc) ? WEXITSTATUS (rc) : -1;
}

static json_object *
qemu_img_info (const char *path)
{
    char cmd[1024];
    snprintf (cmd, sizeof cmd, "qemu-img info -U --output=json '%s'", path);
    FILE *p = popen (cmd, "r");
    assert_non_null (p);
    char buf[65536];
    size_t n = fread (buf, 1, sizeof buf - 1, p);
    buf[n] = '\0';
    assert_int_equal (pclose (p), 0);
    json_object *j = json_tokener_parse (buf);
    assert_non_null (j);
    return j;
}

static void
test_stats_shutoff_reports_chain_from_images_and_no_cpu (void **state)
{
    (void) state;
    char dir[] = "/tmp/vb-stats-off-XXXXXX";
    assert_non_null (mkdtemp (dir));
    /*  vda: top (48M) -> b1 (64M, 1 MiB written) -> b2 (80M, 2 MiB written); vdb raw 8M with
     *  1 MiB written; sdc an empty cdrom; vdc names a missing file. */
    assert_int_equal (run ("qemu-img create -q -f qcow2 %s/b2.qcow2 80M && "
                           "qemu-io -f qcow2 -c 'write -q 1M 2M' %s/b2.qcow2 && "
                           "qemu-img create -q -f qcow2 -F qcow2 -b %s/b2.qcow2 %s/b1.qcow2 64M && "
                           "qemu-io -f qcow2 -c 'write -q 0 1M' %s/b1.qcow2 && "
                           "qemu-img create -q -f qcow2 -F qcow2 -b %s/b1.qcow2 %s/top.qcow2 48M && "
                           "qemu-img create -q -f raw %s/vdb.raw 8M && "
                           "qemu-io -f raw -c 'write -q 0 1M' %s/vdb.raw",
                           dir, dir, dir, dir, dir, dir, dir, dir, dir), 0);
    char xml[4096];
    snprintf (xml, sizeof xml,
              "<domain type='kvm'><name>off</name><memory unit='KiB'>65536</memory>"
              "<currentMemory unit='KiB'>32768</currentMemory><vcpu>3</vcpu>"
              "<os><type arch='x86_64' machine='q35'>hvm</type></os><devices>"
              "<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>"
              "<source file='%s/top.qcow2'/><target dev='vda' bus='virtio'/></disk>"
              "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
              "<source file='%s/vdb.raw'/><target dev='vdb' bus='virtio'/></disk>"
              "<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
              "<target dev='sdc' bus='sata'/><readonly/></disk>"
              "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
              "<source file='%s/missing.raw'/><target dev='vdc' bus='virtio'/></disk>"
              "<interface type='user'/></devices></domain>", dir, dir, dir);
    vb_error_t err = { 0 };
    vb_domain_def_t *def = vb_domxml_parse (xml, strlen (xml), &err);
    if (!def)
        fail_msg ("%s", err.message);

    /*  Oracle: qemu-img info (virtual-size; actual-size = st_blocks * 512) and stat st_size. */
    const char *names[] = { "top.qcow2", "b1.qcow2", "b2.qcow2", "vdb.raw" };
    char paths[4][512];
    unsigned long long cap[4], alloc[4], phys[4];
    for (int i = 0; i < 4; i++) {
        snprintf (paths[i], sizeof paths[i], "%s/%s", dir, names[i]);
        json_object *info = qemu_img_info (paths[i]);
        json_object *v;
        assert_true (json_object_object_get_ex (info, "virtual-size", &v));
        cap[i] = (unsigned long long) json_object_get_int64 (v);
        assert_true (json_object_object_get_ex (info, "actual-size", &v));
        alloc[i] = (unsigned long long) json_object_get_int64 (v);
        json_object_put (info);
        struct stat sb;
        assert_int_equal (stat (paths[i], &sb), 0);
        phys[i] = (unsigned long long) sb.st_size;
    }
    assert_int_equal (cap[0], 48ull << 20);
    assert_int_equal (cap[1], 64ull << 20);
    assert_int_equal (cap[2], 80ull << 20);
    assert_int_equal (cap[3], 8ull << 20);
    assert_true (alloc[2] >= (2ull << 20));  /* the data really landed in b2 */

    char lines[40][600];
    size_t k = 0;
#define L(...) snprintf (lines[k++], sizeof lines[0], __VA_ARGS__)
    L ("state.state int 5");
    L ("state.reason int 1");
    L ("balloon.current ullong 32768");
    L ("balloon.maximum ullong 65536");
    L ("vcpu.current uint 3");
    L ("vcpu.maximum uint 3");
    L ("block.count uint 6");
    for (int i = 0; i < 3; i++) {
        L ("block.%d.name string vda", i);
        L ("block.%d.path string %s", i, paths[i]);
        if (i > 0)
            L ("block.%d.backingIndex uint %d", i, i);
        L ("block.%d.allocation ullong %llu", i, alloc[i]);
        L ("block.%d.capacity ullong %llu", i, cap[i]);
        L ("block.%d.physical ullong %llu", i, phys[i]);
    }
    L ("block.3.name string vdb");
    L ("block.3.path string %s", paths[3]);
    L ("block.3.allocation ullong %llu", alloc[3]);
    L ("block.3.capacity ullong %llu", phys[3]);  /* raw: capacity = physical */
    L ("block.3.physical ullong %llu", phys[3]);
    L ("block.4.name string sdc");
    L ("block.5.name string vdc");
    L ("block.5.path string %s/missing.raw", dir);
#undef L
    const char *expected[41];
    for (size_t i = 0; i < k; i++)
        expected[i] = lines[i];
    expected[k] = NULL;

    qemu_stats_input_t in = { .def = def, .state = 5, .reason = 1, .pid = 0 };
    vb_params_t *p = qemu_stats_params (&in, QEMU_STATS_ALL, true, &err);
    assert_non_null (p);
    assert_params (p, expected);
    assert_null (vb_params_find (p, "cpu.time"));
    assert_null (vb_params_find (p, "net.count"));
    vb_params_destroy (&p);

    /*  Without --backing: only each disk's own image. */
    p = qemu_stats_params (&in, QEMU_STATS_BLOCK, false, &err);
    assert_non_null (p);
    assert_int_equal (vb_params_find (p, "block.count")->v.u, 4);
    assert_string_equal (vb_params_find (p, "block.1.name")->v.s, "vdb");
    assert_null (vb_params_find (p, "block.1.backingIndex"));
    vb_params_destroy (&p);

    vb_domain_def_free (&def);
    assert_int_equal (run ("rm -rf '%s'", dir), 0);
}

/* --- text format against virsh ----------------------------------------------------------- */

/*  virsh's text with the documented numbering difference applied: libvirt 9 prints
 *  backingIndex = its node id on every layer; virtbus prints the depth (1 = first backing file)
 *  and nothing on a disk's top layer. A layer's depth is how many entries with the same name
 *  precede it. Also virsh's end-of-command blank line is dropped (libvirt-spec §3, S5). */
static char *
virsh_renumbered (const char *virsh)
{
    char *out = calloc (1, strlen (virsh) + 64);
    char names[64][32] = { { 0 } };
    const char *line = virsh;
    while (*line) {
        const char *eol = strchr (line, '\n');
        size_t len = eol ? (size_t) (eol - line + 1) : strlen (line);
        unsigned n;
        char name[32], copy[512];
        snprintf (copy, sizeof copy, "%.*s", (int) len, line);
        if (sscanf (copy, "  block.%u.name=%31s", &n, name) == 2 && n < 64)
            snprintf (names[n], sizeof names[n], "%s", name);
        if (sscanf (copy, "  block.%u.backingIndex=", &n) == 1 && strstr (copy, "backingIndex=")
            && n < 64) {
            unsigned depth = 0;
            for (unsigned i = 0; i < n; i++)
                depth += strcmp (names[i], names[n]) == 0;
            if (depth > 0)
                sprintf (out + strlen (out), "  block.%u.backingIndex=%u\n", n, depth);
        }
        else
            strncat (out, line, len);
        line += len;
    }
    size_t l = strlen (out);
    if (l >= 2 && strcmp (out + l - 2, "\n\n") == 0)
        out[l - 1] = '\0';
    return out;
}

static void
check_virsh_format (bool backing, const char *virsh_file)
{
    scenario_t s;
    scenario_load (&s, "libvirt-ref");
    vb_error_t err = { 0 };
    json_object *rec = qemu_stats_record (&s.in, QEMU_STATS_BLOCK, backing, 1, &err);
    assert_non_null (rec);
    char *ours = vbsh_format_domstats_record (rec, &err);
    assert_non_null (ours);
    char *virsh = fixture_text ("libvirt-ref", virsh_file);
    char *expected = virsh_renumbered (virsh);
    assert_string_equal (ours, expected);
    /*  The transform changed only backingIndex lines: virsh had more of them. */
    assert_true (strlen (virsh) > strlen (expected));
    free (expected);
    free (virsh);
    free (ours);
    json_object_put (rec);
    scenario_free (&s);
}

static void
test_stats_text_matches_virsh_block_backing_apart_from_numbering (void **state)
{
    (void) state;
    check_virsh_format (true, "virsh-block-backing.txt");
}

static void
test_stats_text_matches_virsh_block_apart_from_numbering (void **state)
{
    (void) state;
    check_virsh_format (false, "virsh-block.txt");
}

/* --- groups and params ------------------------------------------------------------------- */

static void
test_stats_groups_map_names_and_count_unsupported (void **state)
{
    (void) state;
    unsigned mask = 0, bad = 0;
    json_object *names = json_tokener_parse ("[\"block\", \"state\", \"perf\", \"vcpu\"]");
    assert_int_equal (qemu_stats_groups (names, &mask, &bad, NULL), 0);
    assert_int_equal (mask, QEMU_STATS_BLOCK | QEMU_STATS_STATE | QEMU_STATS_VCPU);
    assert_int_equal (bad, 1);
    json_object_put (names);
    assert_int_equal (qemu_stats_groups (NULL, &mask, &bad, NULL), 0);
    assert_int_equal (mask, QEMU_STATS_ALL);
    names = json_tokener_parse ("[\"block\", 3]");
    vb_error_t err = { 0 };
    assert_int_equal (qemu_stats_groups (names, &mask, &bad, &err), -1);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    json_object_put (names);
    assert_null (qemu_stats_params (NULL, QEMU_STATS_ALL, false, &err));
}

static void
test_params_to_json_keeps_order_types_and_full_ullong_range (void **state)
{
    (void) state;
    vb_params_t *p = vb_params_new ();
    vb_params_add_int (p, -3, "a.%d", 1);
    vb_params_add_uint (p, 4000000000u, "b");
    vb_params_add_llong (p, -5000000000ll, "c");
    vb_params_add_ullong (p, UINT64_MAX, "d");
    vb_params_add_bool (p, true, "e");
    vb_params_add_string (p, "x y", "f");
    assert_false (vb_params_failed (p));
    assert_int_equal (vb_params_set_uint (p, "b", 7), 0);
    assert_int_equal (vb_params_set_uint (p, "c", 7), -1);
    json_object *j = vb_params_to_json (p);
    assert_string_equal (json_object_to_json_string_ext (j, JSON_C_TO_STRING_PLAIN),
                         "[[\"a.1\",\"int\",-3],[\"b\",\"uint\",7],[\"c\",\"llong\",-5000000000],"
                         "[\"d\",\"ullong\",18446744073709551615],[\"e\",\"bool\",true],"
                         "[\"f\",\"string\",\"x y\"]]");
    json_object_put (j);
    /*  A refused add fails the list for good. */
    assert_int_equal (vb_params_add_string (p, NULL, "g"), -1);
    assert_true (vb_params_failed (p));
    assert_int_equal (vb_params_add_int (p, 1, "h"), -1);
    assert_null (vb_params_to_json (p));
    vb_params_destroy (&p);
    assert_null (p);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_stats_block_depth0_one_entry_without_backing_index),
        cmocka_unit_test (test_stats_block_depth1_backing_layer_has_index_1_and_no_counters),
        cmocka_unit_test (test_stats_block_depth2_layers_numbered_by_depth),
        cmocka_unit_test (test_stats_block_depth2_without_backing_flag_reports_top_only),
        cmocka_unit_test (test_stats_block_depth3_four_layers),
        cmocka_unit_test (test_stats_block_depth4_five_layers),
        cmocka_unit_test (test_stats_block_device_physical_falls_back_to_device_size),
        cmocka_unit_test (test_stats_block_chains_match_only_the_same_chains),
        cmocka_unit_test (test_stats_block_empty_cdrom_has_name_only),
        cmocka_unit_test (test_stats_block_raw_backing_file_is_a_layer),
        cmocka_unit_test (test_stats_block_without_monitor_data_reports_name_and_path),
        cmocka_unit_test (test_stats_block_without_query_block_keeps_blockstats_fields),
        cmocka_unit_test (test_stats_full_record_all_groups_in_libvirt_order),
        cmocka_unit_test (test_stats_proc_stat_command_name_with_spaces_and_parens),
        cmocka_unit_test (test_stats_shutoff_reports_chain_from_images_and_no_cpu),
        cmocka_unit_test (test_stats_text_matches_virsh_block_backing_apart_from_numbering),
        cmocka_unit_test (test_stats_text_matches_virsh_block_apart_from_numbering),
        cmocka_unit_test (test_stats_groups_map_names_and_count_unsupported),
        cmocka_unit_test (test_params_to_json_keeps_order_types_and_full_ullong_range),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
