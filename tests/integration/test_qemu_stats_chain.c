/*  domstats checks on a 3-layer backing chain (issue 4 "Checks": backing chain, offline, format).
 *
 *  Domain "chain": vda = qcow2 chain top -> b1 -> b2 made by qemu-img (each layer a different
 *  virtual size, b1 and b2 holding some data), vdb = a 64 MiB sparse raw file.
 *    offline  shut off, `vbsh domstats --block --backing` reports all 3 layers of vda (read from
 *             the qcow2 headers) and vdb, each with DESIGN §4's shut-off values: allocation =
 *             st_blocks x 512, capacity = qcow2 virtual size (`qemu-img info` agrees; raw: =
 *             physical), physical = st_size.
 *    running  started paused: block.count=4, names vda vda vda vdb, each layer's path,
 *             backingIndex 1 and 2 on vda's backing layers only, capacity = `qemu-img info -U`
 *             virtual size, physical = QEMU's actual-size (allocated bytes of the file; see
 *             DESIGN §4), allocation = wr_highest_offset = 0 (the paused guest wrote nothing),
 *             rd/wr/fl counters on the top layers only.
 *    format   the live text has virsh's layout and exactly the key sequence of the text virsh
 *             9.0 printed for a domain of this shape (tests/data/stats/libvirt-ref), once
 *             libvirt's backingIndex numbering is mapped to ours as that fixture's README says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_qemu_stats_support.h"
#include "test_qemu_support.h"
#include "vb_testenv.h"
#include "vb_util.h"

#define LAYERS 3

typedef struct {
    vb_testenv_t *env;
    vb_client_t *client;
    char *layers[LAYERS];
    char data[512];
} chain_t;

static void
s_setup_domain (chain_t *c)
{
    assert_non_null (vb_testenv_start_broker (c->env));
    assert_non_null (vb_testenv_start_worker (c->env, "virtbus-qemu", "h1", NULL));
    c->client = vb_testenv_client (c->env);
    assert_non_null (c->client);
    qs_make_chain (vb_testenv_dir (c->env), "vda", LAYERS, c->layers);
    snprintf (c->data, sizeof c->data, "%s/vdb.raw", vb_testenv_dir (c->env));
    char cmd[600];
    snprintf (cmd, sizeof cmd, "truncate -s 64M %s", c->data);
    qt_sh (cmd);
    char *d1 = qt_disk_xml (c->layers[0], "qcow2", "vda"), *d2 = qt_disk_xml (c->data, "raw",
                                                                              "vdb");
    char *disks = NULL;
    assert_true (asprintf (&disks, "%s%s", d1, d2) > 0);
    char *xml = qt_domain_xml ("chain", disks, NULL);
    qt_define (c->client, xml);
    free (d1);
    free (d2);
    free (disks);
    free (xml);
}

static void
s_free_layers (chain_t *c)
{
    for (size_t i = 0; i < LAYERS; i++)
        free (c->layers[i]);
}

static void
s_key (char *buf, size_t size, size_t entry, const char *field)
{
    snprintf (buf, size, "block.%zu.%s", entry, field);
}

/*  Names, paths and backingIndex of the 4 entries. */
static void
s_check_layout (const qs_dom_t *dom, const chain_t *c)
{
    char k[64];
    assert_int_equal (qs_u64 (dom, "block.count"), LAYERS + 1);
    for (size_t i = 0; i < LAYERS; i++) {
        s_key (k, sizeof k, i, "name");
        assert_string_equal (qs_get (dom, k), "vda");
        s_key (k, sizeof k, i, "path");
        assert_string_equal (qs_get (dom, k), c->layers[i]);
        s_key (k, sizeof k, i, "backingIndex");
        if (i == 0)
            assert_null (qs_get (dom, k));
        else
            assert_int_equal (qs_u64 (dom, k), i);
    }
    s_key (k, sizeof k, LAYERS, "name");
    assert_string_equal (qs_get (dom, k), "vdb");
    s_key (k, sizeof k, LAYERS, "path");
    assert_string_equal (qs_get (dom, k), c->data);
    s_key (k, sizeof k, LAYERS, "backingIndex");
    assert_null (qs_get (dom, k));
}

static void
test_qemu_stats_chain_shutoff_reports_every_layer_from_disk (void **state)
{
    chain_t c = {.env = *state};
    s_setup_domain (&c);
    vb_testrun_t run;
    qs_stats_t stats;
    qs_domstats (c.env, &run, &stats, 0, "--block", "--backing", NULL);
    assert_int_equal (stats.ndoms, 1);
    const qs_dom_t *dom = qs_dom (&stats, "chain");
    assert_non_null (dom);
    s_check_layout (dom, &c);
    char k[64];
    for (size_t i = 0; i <= LAYERS; i++) {
        const char *path = i < LAYERS ? c.layers[i] : c.data;
        struct stat st;
        assert_int_equal (stat (path, &st), 0);
        s_key (k, sizeof k, i, "allocation");
        assert_int_equal (qs_u64 (dom, k), (uint64_t) st.st_blocks * 512);
        s_key (k, sizeof k, i, "physical");
        assert_int_equal (qs_u64 (dom, k), (uint64_t) st.st_size);
        s_key (k, sizeof k, i, "capacity");
        assert_int_equal (qs_u64 (dom, k), i < LAYERS ? qs_virtual_size (path)
                                                      : (uint64_t) st.st_size);
        /*  No QEMU, no counters. */
        s_key (k, sizeof k, i, "rd.reqs");
        assert_null (qs_get (dom, k));
    }
    /*  The layers really differ, so a mix-up would show. */
    assert_int_not_equal (qs_u64 (dom, "block.0.capacity"), qs_u64 (dom, "block.2.capacity"));
    assert_null (qs_get (dom, "state.state"));   /* only --block was asked */
    qs_stats_clear (&stats);
    vb_testrun_clear (&run);
    s_free_layers (&c);
}

/*  virsh's text (fixture) with libvirt's backingIndex mapped to ours: dropped on a disk's first
 *  entry, else the number of earlier entries of the same disk. Returns the keys in order. */
static void
s_reference_keys (qs_stats_t *ref)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/stats/libvirt-ref/virsh-block-backing.txt",
              VB_TEST_DATA_DIR);
    vb_error_t err = {0};
    char *text = vb_read_file (path, 1 << 20, NULL, &err);
    if (!text)
        fail_msg ("%s", err.message);
    qs_parse (text, ref);
    free (text);
    assert_int_equal (ref->ndoms, 1);
    qs_dom_t *d = &ref->doms[0];
    size_t out = 0;
    for (size_t i = 0; i < d->nkeys; i++) {
        char *key = d->keys[i];
        size_t entry;
        int used = 0;
        if (sscanf (key, "block.%zu.backingIndex%n", &entry, &used) == 1
            && key[used] == '\0') {
            char name_key[64];
            s_key (name_key, sizeof name_key, entry, "name");
            const char *name = qs_get (d, name_key);
            size_t earlier = 0;
            for (size_t e = 0; e < entry; e++) {
                s_key (name_key, sizeof name_key, e, "name");
                if (name && qs_get (d, name_key) && strcmp (qs_get (d, name_key), name) == 0)
                    earlier++;
            }
            if (earlier == 0) {
                free (key);
                free (d->values[i]);
                continue;
            }
            free (d->values[i]);
            assert_true (asprintf (&d->values[i], "%zu", earlier) > 0);
        }
        d->keys[out] = key;
        d->values[out] = d->values[i];
        out++;
    }
    d->nkeys = out;
}

static void
test_qemu_stats_chain_running_layers_sizes_and_virsh_layout (void **state)
{
    chain_t c = {.env = *state};
    s_setup_domain (&c);
    qs_start_paused (c.client, "chain");

    vb_testrun_t run;
    qs_stats_t stats;
    qs_domstats (c.env, &run, &stats, 0, "--block", "--backing", "chain", NULL);
    assert_int_equal (stats.ndoms, 1);
    assert_string_equal (run.err, "");
    const qs_dom_t *dom = qs_dom (&stats, "chain");
    assert_non_null (dom);
    s_check_layout (dom, &c);
    char k[64];
    for (size_t i = 0; i <= LAYERS; i++) {
        const char *path = i < LAYERS ? c.layers[i] : c.data;
        struct stat st;
        assert_int_equal (stat (path, &st), 0);
        s_key (k, sizeof k, i, "capacity");
        assert_int_equal (qs_u64 (dom, k), qs_virtual_size (path));
        s_key (k, sizeof k, i, "allocation");
        assert_int_equal (qs_u64 (dom, k), 0);
        /*  QEMU's actual-size is the file's allocated bytes; for a file with none allocated
         *  (sparse vdb) the table falls back to st_size. */
        s_key (k, sizeof k, i, "physical");
        uint64_t want = st.st_blocks ? (uint64_t) st.st_blocks * 512 : (uint64_t) st.st_size;
        assert_int_equal (qs_u64 (dom, k), want);
        bool top = i == 0 || i == LAYERS;
        s_key (k, sizeof k, i, "rd.reqs");
        if (top)
            assert_non_null (qs_get (dom, k));
        else
            assert_null (qs_get (dom, k));
        s_key (k, sizeof k, i, "wr.bytes");
        if (top)
            assert_non_null (qs_get (dom, k));
        else
            assert_null (qs_get (dom, k));
    }

    /*  Format: the same key sequence as virsh 9.0 for this shape, numbering mapped. */
    qs_stats_t ref;
    s_reference_keys (&ref);
    const qs_dom_t *r = &ref.doms[0];
    for (size_t i = 0; i < r->nkeys || i < dom->nkeys; i++) {
        const char *want = i < r->nkeys ? r->keys[i] : "(end)";
        const char *got = i < dom->nkeys ? dom->keys[i] : "(end)";
        if (strcmp (want, got) != 0)
            fail_msg ("key %zu: virsh has %s, vbsh printed %s", i, want, got);
        if (strstr (want, "backingIndex"))
            assert_string_equal (r->values[i], dom->values[i]);
    }
    assert_true (strncmp (run.out, "Domain: 'chain'\n  block.count=4\n", 32) == 0);
    qs_stats_clear (&ref);
    qs_stats_clear (&stats);
    vb_testrun_clear (&run);

    qt_ok (c.client, "domain.destroy", "chain");
    s_free_layers (&c);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("qemu_stats_chain", 0);
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    qt_kill_qemus (vb_testenv_dir (env));
    vb_testenv_destroy (&env);
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_qemu_stats_chain_shutoff_reports_every_layer_from_disk, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_qemu_stats_chain_running_layers_sizes_and_virsh_layout, s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
