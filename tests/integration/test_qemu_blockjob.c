/*  Live backing-chain operations end to end (issue 9 "Checks"): virtbusd + virtbus-qemu + vbsh as
 *  real processes, real QEMU (KVM where /dev/kvm opens read-write, else TCG; never skipped).
 *
 *    commit    a domain started paused on a one-image qcow2 vdb; two disk-only snapshots ->
 *              domstats --backing shows 3 layers of vdb (backingIndex 1, 2); resumed, the
 *              disk-I/O guest copies vdb's sector 0 to WRITES sectors (they land in the top
 *              overlay); `blockcommit --active --pivot` -> 1 layer, the definitions name the
 *              base again, and `qemu-img convert -U` of the chain before equals the image
 *              after. Events: ready, then exactly one terminal (completed) block-job event.
 *  Content is read where QEMU has flushed its qcow2 metadata cache (reading a busy image with
 *  -U otherwise sees stale L2 tables): before a job on a suspended domain (QEMU's stop flushes
 *  every block device), after it once the domain is destroyed (QEMU flushes as it exits).
 *    pull      blockpull --wait flattens a 3-layer chain (qemu-img made, data in every layer)
 *              to 1 layer with identical content; then the flat disk refuses pull and commit.
 *    errors    a commit into a missing base (vdb[5], a path outside the chain), jobs on a disk
 *              without a chain, a second job on a busy disk: each a clear error, the chain
 *              unchanged; the busy job is aborted (canceled event) and the chain is intact.
 *    bandwidth a commit limited by --bandwidth: two domstats samples taken while the job runs
 *              (it is not yet ready, so no terminal event can have come) show the target
 *              layer's allocation strictly rising.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_qemu_stats_support.h"
#include "test_qemu_support.h"
#include "vb_guest.h"
#include "vb_json.h"
#include "vb_proto.h"
#include "vb_testenv.h"
#include "vb_util.h"

#define WRITES 40
#define BOOT_BOUND_MS 60000   /* SeaBIOS takes ~4.5 s under KVM; TCG is slower */
#define JOB_BOUND_MS 30000

typedef struct {
    vb_testenv_t *env;
    vb_client_t *client;
    char dir[512];
    char boot[600], base[600];
} bj_t;

/*  Broker, worker, client, and a domain DOM: vda = a raw boot disk holding GUEST (a disk_io
 *  guest when WRITES_N > 0, else idle), vdb = VDB (qcow2). */
static void
s_setup (bj_t *t, const char *dom, const char *vdb, unsigned writes_n)
{
    assert_non_null (vb_testenv_start_broker (t->env));
    assert_non_null (vb_testenv_start_worker (t->env, "virtbus-qemu", "h1", NULL));
    t->client = vb_testenv_client (t->env);
    assert_non_null (t->client);
    snprintf (t->dir, sizeof t->dir, "%s", vb_testenv_dir (t->env));
    snprintf (t->boot, sizeof t->boot, "%s/boot.raw", t->dir);
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    vb_error_t err = {0};
    if (writes_n)
        assert_int_equal (vb_guest_disk_io (sector, 1, writes_n, false, &err), 0);
    else
        vb_guest_idle (sector);
    assert_int_equal (vb_guest_write_image (t->boot, sector, 1 << 20, &err), 0);
    char *d1 = qt_disk_xml (t->boot, "raw", "vda"), *d2 = qt_disk_xml (vdb, "qcow2", "vdb");
    char *disks = NULL;
    assert_true (asprintf (&disks, "%s%s", d1, d2) > 0);
    char *xml = qt_domain_xml (dom, disks, NULL);
    qt_define (t->client, xml);
    free (d1);
    free (d2);
    free (disks);
    free (xml);
}

/*  DIR/NAME-0.qcow2 (bottom) ... NAME-(N-1).qcow2 (top), 16 MiB, layer d holding pattern 0x31+d
 *  over MiB d..d+1 (so every layer matters for the content). Fills PATHS (bottom first). */
static void
s_make_chain (const char *dir, const char *name, size_t n, char paths[][600])
{
    char cmd[2048];
    for (size_t d = 0; d < n; d++) {
        snprintf (paths[d], 600, "%s/%s-%zu.qcow2", dir, name, d);
        if (d == 0)
            snprintf (cmd, sizeof cmd, "qemu-img create -q -f qcow2 %s 16M", paths[d]);
        else
            snprintf (cmd, sizeof cmd, "qemu-img create -q -f qcow2 -F qcow2 -b %s %s",
                      paths[d - 1], paths[d]);
        qt_sh (cmd);
        snprintf (cmd, sizeof cmd, "qemu-io -f qcow2 -c 'write -q -P %u %zuM 1M' %s >/dev/null",
                  0x31u + (unsigned) d, d, paths[d]);
        qt_sh (cmd);
    }
}

/*  `vbsh ARGS...` (trailing NULLs allowed); evaluates to the run (caller clears). */
#define s_vbsh(t, ...)                                                                         \
    ({                                                                                         \
        vb_testrun_t run_;                                                                     \
        vb_testenv_vbsh ((t)->env, &run_, __VA_ARGS__, NULL);                                  \
        run_;                                                                                  \
    })

static void
s_expect_ok (vb_testrun_t *run, const char *out_has)
{
    if (run->exit_code != 0 || !strstr (run->out, out_has))
        fail_msg ("expected success with '%s'; exit %d, stdout '%s', stderr '%s'", out_has,
                  run->exit_code, run->out, run->err);
    vb_testrun_clear (run);
}

static void
s_expect_error (vb_testrun_t *run, const char *err_has)
{
    if (run->exit_code != 1 || !strstr (run->err, err_has))
        fail_msg ("expected an error with '%s'; exit %d, stdout '%s', stderr '%s'", err_has,
                  run->exit_code, run->out, run->err);
    vb_testrun_clear (run);
}

/*  vdb's layers from `domstats --block --backing DOM`: asserts backingIndex 1.. on the layers
 *  below the top and returns their count; PATHS (may be NULL) gets each path (caller frees). */
static size_t
s_vdb_layers (bj_t *t, const char *dom, char **paths, uint64_t *allocation)
{
    vb_testrun_t run;
    qs_stats_t stats;
    qs_domstats (t->env, &run, &stats, 0, "--block", "--backing", dom, NULL);
    const qs_dom_t *d = qs_dom (&stats, dom);
    assert_non_null (d);
    size_t count = (size_t) qs_u64 (d, "block.count"), n = 0;
    for (size_t i = 0; i < count; i++) {
        char k[64];
        snprintf (k, sizeof k, "block.%zu.name", i);
        if (strcmp (qs_get (d, k), "vdb") != 0)
            continue;
        snprintf (k, sizeof k, "block.%zu.backingIndex", i);
        if (n == 0)
            assert_null (qs_get (d, k));
        else
            assert_int_equal (qs_u64 (d, k), n);
        if (paths) {
            snprintf (k, sizeof k, "block.%zu.path", i);
            paths[n] = strdup (qs_get (d, k));
        }
        if (allocation) {
            snprintf (k, sizeof k, "block.%zu.allocation", i);
            allocation[n] = qs_u64 (d, k);
        }
        n++;
    }
    qs_stats_clear (&stats);
    vb_testrun_clear (&run);
    return n;
}

/*  sha256 of `qemu-img convert -U -O raw IMAGE` (the guest-visible content of its chain). */
static void
s_content (const char *dir, const char *image, char out[65])
{
    char raw[700], cmd[4096], sumfile[700];
    snprintf (raw, sizeof raw, "%s/content.raw", dir);
    snprintf (sumfile, sizeof sumfile, "%s/content.sum", dir);
    snprintf (cmd, sizeof cmd, "qemu-img convert -U -O raw %s %s && sha256sum %s > %s && rm %s",
              image, raw, raw, sumfile, raw);
    qt_sh (cmd);
    vb_error_t err = {0};
    char *text = vb_read_file (sumfile, 4096, NULL, &err);
    assert_non_null (text);
    assert_true (strlen (text) >= 64);
    memcpy (out, text, 64);
    out[64] = '\0';
    free (text);
}

typedef struct {
    bj_t *t;
    const char *dom;
    uint64_t wr;
} wr_poll_t;

/*  The guest's writes on vdb (the top entry of vdb) reached WRITES. */
static bool
s_writes_done (void *arg)
{
    wr_poll_t *p = arg;
    vb_testrun_t run;
    qs_stats_t stats;
    qs_domstats (p->t->env, &run, &stats, 0, "--block", p->dom, NULL);
    const qs_dom_t *d = qs_dom (&stats, p->dom);
    p->wr = d && qs_get (d, "block.1.wr.reqs") ? qs_u64 (d, "block.1.wr.reqs") : 0;
    qs_stats_clear (&stats);
    vb_testrun_clear (&run);
    return p->wr >= WRITES;
}

/*  The next block-job event of disk vdb (NULL after BOUND_MS). */
static vb_event_t *
s_next_job_event (vb_subscriber_t *sub, int bound_ms)
{
    int64_t until = vb_now_ms () + bound_ms;
    while (vb_now_ms () < until) {
        vb_error_t err = {0};
        vb_event_t *ev = vb_subscriber_recv (sub, (int) (until - vb_now_ms ()) + 1, &err);
        if (!ev)
            return NULL;
        if (ev->kind && strcmp (ev->kind, "block-job") == 0
            && strcmp (vb_json_str (ev->extra, "disk", ""), "vdb") == 0)
            return ev;
        vb_event_destroy (&ev);
    }
    return NULL;
}

static void
test_qemu_blockjob_snapshots_then_active_commit_pivot_keeps_content (void **state)
{
    bj_t t = {.env = *state};
    char base[600], s2[700], cmd[2048];
    snprintf (base, sizeof base, "%s/data.qcow2", vb_testenv_dir (t.env));
    snprintf (cmd, sizeof cmd, "qemu-img create -q -f qcow2 %s 8M && qemu-io -f qcow2 -c "
              "'write -q -P 0x5a 0 512' %s >/dev/null", base, base);
    qt_sh (cmd);
    s_setup (&t, "cm", base, WRITES);
    snprintf (s2, sizeof s2, "%s/s2.qcow2", t.dir);
    char spec2[800];
    snprintf (spec2, sizeof spec2, "--diskspec=vdb,file=%s", s2);
    qs_start_paused (t.client, "cm");
    assert_int_equal (s_vdb_layers (&t, "cm", NULL, NULL), 1);

    /*  s1: vda left out, vdb gets libvirt's default overlay name (data.s1). */
    vb_testrun_t run = s_vbsh (&t, "snapshot-create-as", "cm", "s1", "--disk-only", "--diskspec",
                               "vda,snapshot=no");
    s_expect_ok (&run, "Domain snapshot s1 created");
    char **paths = calloc (8, sizeof *paths);
    assert_int_equal (s_vdb_layers (&t, "cm", paths, NULL), 2);
    char default_overlay[700];
    snprintf (default_overlay, sizeof default_overlay, "%s/data.s1", t.dir);
    assert_string_equal (paths[0], default_overlay);
    assert_string_equal (paths[1], base);
    for (size_t i = 0; i < 8; i++)
        free (paths[i]);

    /*  s2: an explicit overlay file. */
    run = s_vbsh (&t, "snapshot-create-as", "cm", "s2", "--disk-only", "--diskspec=vda,snapshot=no",
                  spec2);
    s_expect_ok (&run, "Domain snapshot s2 created");
    assert_int_equal (s_vdb_layers (&t, "cm", paths, NULL), 3);
    assert_string_equal (paths[0], s2);
    assert_string_equal (paths[1], default_overlay);
    assert_string_equal (paths[2], base);
    for (size_t i = 0; i < 8; i++)
        free (paths[i]);

    /*  The persistent definition follows the live top. */
    vb_reply_t *reply = vb_client_call (t.client, "domain.xml", &(vb_target_t){.domain = "cm"},
                                        json_tokener_parse ("{\"inactive\": true}"), 0, NULL);
    assert_non_null (reply);
    assert_true (reply->ok);
    assert_non_null (strstr (vb_json_str (reply->result, "xml", ""), s2));
    vb_reply_destroy (&reply);

    qt_ok (t.client, "domain.resume", "cm");
    wr_poll_t p = {&t, "cm", 0};
    if (!vb_test_poll_until (s_writes_done, &p, 200, BOOT_BOUND_MS, NULL))
        fail_msg ("the guest did not write %d sectors on vdb within %d ms (saw %llu)", WRITES,
                  BOOT_BOUND_MS, (unsigned long long) p.wr);

    qt_ok (t.client, "domain.suspend", "cm");
    char before[65], base_only[65], after[65];
    s_content (t.dir, s2, before);
    s_content (t.dir, base, base_only);
    /*  The guest's writes are in the overlays: a commit that did nothing would show. */
    assert_string_not_equal (before, base_only);

    vb_error_t err = {0};
    vb_subscriber_t *sub = vb_subscriber_new (t.client, "", 0, &err);
    assert_non_null (sub);
    run = s_vbsh (&t, "blockcommit", "cm", "vdb", "--active", "--pivot", "--verbose");
    s_expect_ok (&run, "\nSuccessfully pivoted");

    /*  The chain is one layer as soon as the pivot answered: stats, live XML, definition. */
    assert_int_equal (s_vdb_layers (&t, "cm", paths, NULL), 1);
    assert_string_equal (paths[0], base);
    free (paths[0]);
    free (paths);
    reply = vb_client_call (t.client, "domain.xml", &(vb_target_t){.domain = "cm"}, NULL, 0,
                            NULL);
    assert_non_null (reply);
    const char *xml = vb_json_str (reply->result, "xml", "");
    const char *vdb = strstr (xml, "data.qcow2");
    assert_non_null (vdb);
    assert_null (strstr (xml, "s2.qcow2"));
    vb_reply_destroy (&reply);
    char xml_path[2048];
    snprintf (xml_path, sizeof xml_path, "grep -q \"file='%s'\" %s/state-h1-default/h1/qemu/*.xml",
              base, t.dir);
    qt_sh (xml_path);

    /*  Events: ready, then exactly one terminal event, completed, of an active commit. */
    vb_event_t *ev = s_next_job_event (sub, JOB_BOUND_MS);
    assert_non_null (ev);
    assert_string_equal (ev->event, "ready");
    assert_string_equal (vb_json_str (ev->extra, "job_type", ""), "active_commit");
    vb_event_destroy (&ev);
    ev = s_next_job_event (sub, JOB_BOUND_MS);
    assert_non_null (ev);
    assert_string_equal (ev->event, "completed");
    assert_string_equal (vb_json_str (ev->extra, "job_type", ""), "active_commit");
    assert_string_equal (vb_json_str (ev->extra, "path", ""), s2);
    vb_event_destroy (&ev);
    ev = s_next_job_event (sub, 1000);
    assert_null (ev);
    vb_subscriber_destroy (&sub);
    qt_ok (t.client, "domain.destroy", "cm");
    s_content (t.dir, base, after);
    assert_string_equal (before, after);
}

static void
test_qemu_blockjob_pull_flattens_three_layers_with_same_content (void **state)
{
    bj_t t = {.env = *state};
    char layers[3][600];
    s_make_chain (vb_testenv_dir (t.env), "vdb", 3, layers);
    s_setup (&t, "pl", layers[2], 0);
    qs_start_paused (t.client, "pl");
    assert_int_equal (s_vdb_layers (&t, "pl", NULL, NULL), 3);
    char before[65], after[65];
    s_content (t.dir, layers[2], before);

    vb_testrun_t run = s_vbsh (&t, "blockpull", "pl", "vdb", "--wait", NULL, NULL);
    s_expect_ok (&run, "\nPull complete");
    char *paths[4] = {NULL};
    assert_int_equal (s_vdb_layers (&t, "pl", paths, NULL), 1);
    assert_string_equal (paths[0], layers[2]);
    free (paths[0]);
    char cmd[1024];
    snprintf (cmd, sizeof cmd, "! qemu-img info -U %s | grep -q '^backing file'", layers[2]);
    qt_sh (cmd);

    /*  A flat disk has nothing to pull or commit. */
    run = s_vbsh (&t, "blockpull", "pl", "vdb", NULL, NULL, NULL, NULL);
    s_expect_error (&run, "has no backing file");
    run = s_vbsh (&t, "blockcommit", "pl", "vdb", "--active", NULL, NULL, NULL);
    s_expect_error (&run, "has no backing file");
    qt_ok (t.client, "domain.destroy", "pl");
    s_content (t.dir, layers[2], after);
    assert_string_equal (before, after);
}

static void
test_qemu_blockjob_errors_are_clear_and_leave_chain_unchanged (void **state)
{
    bj_t t = {.env = *state};
    char layers[3][600];
    s_make_chain (vb_testenv_dir (t.env), "vdb", 3, layers);
    /*  8 MiB more in the bottom layer: a pull at 1 MiB/s then runs for several seconds. */
    char cmd[2048];
    snprintf (cmd, sizeof cmd, "qemu-io -f qcow2 -c 'write -q -P 0x66 4M 8M' %s >/dev/null",
              layers[0]);
    qt_sh (cmd);
    s_setup (&t, "er", layers[2], 0);
    qs_start_paused (t.client, "er");
    char before[65], after[65];
    s_content (t.dir, layers[2], before);

    vb_testrun_t run = s_vbsh (&t, "blockcommit", "er", "vdb", "--active", "--base", "vdb[5]");
    s_expect_error (&run, "could not find image 'vdb[5]' in chain for 'vdb'");
    run = s_vbsh (&t, "blockcommit", "er", "vdb", "--active", "--base", "/nonexistent.qcow2");
    s_expect_error (&run, "could not find image '/nonexistent.qcow2' in chain for 'vdb'");
    run = s_vbsh (&t, "blockcommit", "er", "vdb", NULL, NULL, NULL, NULL);
    s_expect_error (&run, "requires active flag");
    run = s_vbsh (&t, "blockcommit", "er", "vda", "--active", NULL, NULL, NULL);
    s_expect_error (&run, "in chain for 'vda' has no backing file");
    run = s_vbsh (&t, "blockpull", "er", "vda", NULL, NULL, NULL, NULL);
    s_expect_error (&run, "disk 'vda' of domain 'er' has no backing file to pull from");
    run = s_vbsh (&t, "blockjob", "er", "vdb", "--abort", NULL, NULL, NULL);
    s_expect_error (&run, "disk vdb does not have an active block job");
    assert_int_equal (s_vdb_layers (&t, "er", NULL, NULL), 3);

    /*  A slow pull (1 MiB/s over 10 MiB of data) keeps the disk busy. */
    vb_error_t err = {0};
    vb_subscriber_t *sub = vb_subscriber_new (t.client, "", 0, &err);
    assert_non_null (sub);
    run = s_vbsh (&t, "blockpull", "er", "vdb", "--bandwidth", "1", NULL, NULL);
    s_expect_ok (&run, "Block Pull started");
    run = s_vbsh (&t, "blockcommit", "er", "vdb", "--active", NULL, NULL, NULL);
    s_expect_error (&run, "disk 'vdb' already in active block job");
    run = s_vbsh (&t, "blockpull", "er", "vdb", NULL, NULL, NULL, NULL);
    s_expect_error (&run, "disk 'vdb' already in active block job");
    run = s_vbsh (&t, "snapshot-create-as", "er", "x", "--disk-only", NULL, NULL, NULL);
    s_expect_error (&run, "already in active block job");
    run = s_vbsh (&t, "blockjob", "er", "vdb", "--info", NULL, NULL, NULL);
    if (run.exit_code != 0 || !strstr (run.err, "Block Pull: [")
        || !strstr (run.out, "    Bandwidth limit: 1048576 bytes/s (1.000 MiB/s)"))
        fail_msg ("blockjob --info: exit %d, stdout '%s', stderr '%s'", run.exit_code, run.out,
                  run.err);
    vb_testrun_clear (&run);
    run = s_vbsh (&t, "blockjob", "er", "vdb", "--pivot", NULL, NULL, NULL);
    s_expect_error (&run, "requires an active copy or commit job");
    run = s_vbsh (&t, "blockjob", "er", "vdb", "--abort", NULL, NULL, NULL);
    s_expect_ok (&run, "");
    vb_event_t *ev = s_next_job_event (sub, JOB_BOUND_MS);
    assert_non_null (ev);
    assert_string_equal (ev->event, "canceled");
    assert_string_equal (vb_json_str (ev->extra, "job_type", ""), "pull");
    vb_event_destroy (&ev);
    assert_null (s_next_job_event (sub, 1000));
    vb_subscriber_destroy (&sub);

    assert_int_equal (s_vdb_layers (&t, "er", NULL, NULL), 3);
    qt_ok (t.client, "domain.destroy", "er");
    s_content (t.dir, layers[2], after);
    assert_string_equal (before, after);
    snprintf (cmd, sizeof cmd, "test \"$(qemu-img info --backing-chain %s | grep -c "
              "'^image:')\" = 3", layers[2]);
    qt_sh (cmd);
}

static void
test_qemu_blockjob_bandwidth_commit_allocation_rises_while_running (void **state)
{
    bj_t t = {.env = *state};
    char layers[2][600], cmd[4096];
    /*  40 MiB to commit at 4 MiB/s. QEMU's rate limit lets the mirror's whole 16 MiB buffer
     *  through at once and then sleeps until the average is met (4 s here), so the job must be
     *  larger than two bursts for a later sample to show a rise while it is not yet ready. */
    snprintf (layers[0], 600, "%s/bw-0.qcow2", vb_testenv_dir (t.env));
    snprintf (layers[1], 600, "%s/bw-1.qcow2", vb_testenv_dir (t.env));
    snprintf (cmd, sizeof cmd, "qemu-img create -q -f qcow2 %s 64M && qemu-img create -q -f qcow2 "
              "-F qcow2 -b %s %s && qemu-io -f qcow2 -c 'write -q -P 0x77 0 40M' %s >/dev/null",
              layers[0], layers[0], layers[1], layers[1]);
    qt_sh (cmd);
    s_setup (&t, "bw", layers[1], 0);
    qs_start_paused (t.client, "bw");
    uint64_t alloc[4] = {0}, alloc2[4] = {0};
    assert_int_equal (s_vdb_layers (&t, "bw", NULL, alloc), 2);
    assert_int_equal (alloc[1], 0);

    vb_testrun_t run = s_vbsh (&t, "blockcommit", "bw", "vdb", "--active", "--bandwidth", "4",
                               NULL);
    s_expect_ok (&run, "Active Block Commit started");
    /*  A first sample once the commit wrote, a second once it wrote more; then the job must
     *  still be short of ready (no terminal event can have come yet). */
    int64_t until = vb_now_ms () + JOB_BOUND_MS;
    do {
        assert_int_equal (s_vdb_layers (&t, "bw", NULL, alloc), 2);
    } while (alloc[1] == 0 && vb_now_ms () < until);
    do {
        assert_int_equal (s_vdb_layers (&t, "bw", NULL, alloc2), 2);
        if (alloc2[1] == alloc[1])
            usleep (100 * 1000);
    } while (alloc2[1] == alloc[1] && vb_now_ms () < until);
    vb_reply_t *reply = vb_client_call (
        t.client, "domain.blockjob", &(vb_target_t){.domain = "bw"},
        json_tokener_parse ("{\"disk\": \"vdb\", \"action\": \"info\"}"), 0, NULL);
    assert_non_null (reply);
    assert_true (reply->ok);
    json_object *job = NULL;
    assert_true (json_object_object_get_ex (reply->result, "job", &job));
    assert_true (json_object_is_type (job, json_type_object));
    assert_false (vb_json_bool (job, "ready", true));
    assert_int_equal (vb_json_int (job, "bandwidth", 0), 4 << 20);
    vb_reply_destroy (&reply);
    if (!(alloc[1] > 0 && alloc2[1] > alloc[1]))
        fail_msg ("the base's allocation did not rise during the commit: %llu then %llu",
                  (unsigned long long) alloc[1], (unsigned long long) alloc2[1]);

    run = s_vbsh (&t, "blockjob", "bw", "vdb", "--abort", NULL, NULL, NULL);
    s_expect_ok (&run, "");
    assert_int_equal (s_vdb_layers (&t, "bw", NULL, NULL), 2);
    qt_ok (t.client, "domain.destroy", "bw");
}

static int
s_test_setup (void **state)
{
    *state = vb_testenv_new ("qemu_blockjob", 0);
    return *state ? 0 : -1;
}

static int
s_test_teardown (void **state)
{
    vb_testenv_t *env = *state;
    qt_kill_qemus (vb_testenv_dir (env));
    int rc = vb_testenv_stop (env);
    vb_testenv_destroy (&env);
    return rc;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_qemu_blockjob_snapshots_then_active_commit_pivot_keeps_content, s_test_setup,
            s_test_teardown),
        cmocka_unit_test_setup_teardown (
            test_qemu_blockjob_pull_flattens_three_layers_with_same_content, s_test_setup,
            s_test_teardown),
        cmocka_unit_test_setup_teardown (
            test_qemu_blockjob_errors_are_clear_and_leave_chain_unchanged, s_test_setup,
            s_test_teardown),
        cmocka_unit_test_setup_teardown (
            test_qemu_blockjob_bandwidth_commit_allocation_rises_while_running, s_test_setup,
            s_test_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
