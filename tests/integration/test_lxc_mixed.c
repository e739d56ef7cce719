/*  QEMU domains and containers together (issue 6, "Checks" 3): one virtbusd, one virtbus-qemu
 *  with a paused domain (the idle boot-sector guest; kvm when /dev/kvm opens, else qemu) and one
 *  virtbus-lxc with a running busybox container. `vbsh list --all` shows both rows with their
 *  states; `vbsh domstats` and domain.stats give a record for each: state.state for both, the
 *  container's cpu.time, the VM's block entry.
 *  Teardown stops the container (lxc-stop) and kills the QEMU by the pid in its status file.
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

#include "test_lxc_support.h"
#include "test_qemu_support.h"
#include "vb_domstate.h"
#include "vb_json.h"
#include "vb_testcall.h"
#include "vb_testenv.h"

#define VBSH_OK(env, run, ...)                                                                 \
    do {                                                                                       \
        vb_testenv_vbsh (env, run, __VA_ARGS__, NULL);                                         \
        if ((run)->exit_code != 0 || (run)->err[0])                                            \
            fail_msg ("vbsh %s: exit %d\n%s%s", #__VA_ARGS__, (run)->exit_code, (run)->out,     \
                      (run)->err);                                                             \
    } while (0)

static int
s_setup (void **state)
{
    vb_testenv_t *env = vb_testenv_new ("lxc_mixed", 0);
    if (!env)
        return -1;
    *state = env;
    return 0;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    lt_cleanup (env, NULL);
    qt_kill_qemus (vb_testenv_dir (env));
    int rc = vb_testenv_stop (env);
    vb_testenv_destroy (&env);
    return rc;
}

/*  The row of `vbsh list` OUT whose Name column is NAME, copied to ROW; false when none. */
static bool
s_row (const char *out, const char *name, char *row, size_t size)
{
    const char *line = out;
    while (line && *line) {
        const char *end = strchr (line, '\n');
        size_t len = end? (size_t) (end - line): strlen (line);
        char copy[512], id[128], col[128];
        snprintf (copy, sizeof copy, "%.*s", (int) (len < sizeof copy? len: sizeof copy - 1),
                  line);
        if (sscanf (copy, "%127s %127s", id, col) == 2 && strcmp (col, name) == 0) {
            snprintf (row, size, "%s", copy);
            return true;
        }
        line = end? end + 1: NULL;
    }
    return false;
}

/*  The record of NAME in a domain.stats result, or NULL. */
static json_object *
s_record (json_object *records, const char *name)
{
    for (size_t i = 0; records && i < json_object_array_length (records); i++) {
        json_object *r = json_object_array_get_idx (records, i);
        if (strcmp (vb_json_str (r, "name", ""), name) == 0)
            return r;
    }
    return NULL;
}

/*  Parameter KEY of RECORD, or NULL. */
static json_object *
s_param (json_object *record, const char *key)
{
    json_object *params = NULL;
    if (!record || !json_object_object_get_ex (record, "params", &params))
        return NULL;
    for (size_t i = 0; i < json_object_array_length (params); i++) {
        json_object *p = json_object_array_get_idx (params, i);
        if (strcmp (json_object_get_string (json_object_array_get_idx (p, 0)), key) == 0)
            return json_object_array_get_idx (p, 2);
    }
    return NULL;
}

static bool
s_vm_booted (void *arg)
{
    return lt_stat ((vb_client_t *) arg, "vm1", "block", "block.0.rd.bytes") >= 512;
}

static void
test_lxc_mixed_list_and_domstats_show_vms_and_containers_together (void **state)
{
    vb_testenv_t *env = *state;
    vb_testrun_t run;
    char path[1024], row[512], want[1200];

    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-qemu", "h1", NULL));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-lxc", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);

    /*  The VM: idle guest, started then paused. */
    snprintf (path, sizeof path, "%s/boot.raw", vb_testenv_dir (env));
    qt_write_guest (path, "idle");
    char *disk = qt_disk_xml (path, "raw", "vda");
    char *vm_xml = qt_domain_xml ("vm1", disk, NULL);
    qt_define (client, vm_xml);
    qt_ok (client, "domain.start", "vm1");
    /*  Paused once the BIOS has read the boot sector, so vda has counters to show. */
    if (!vb_test_poll_until (s_vm_booted, client, 100, 20000, NULL))
        fail_msg ("vm1's BIOS never read its boot disk");
    qt_ok (client, "domain.suspend", "vm1");
    assert_true (qt_wait_state (client, "vm1", VB_STATE_PAUSED, 0, 10000));

    /*  The container: running. */
    char *ct_xml = lt_domain_xml ("ct1", 128, "while :; do sleep 1; done", "");
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string (ct_xml));
    json_object_put (lt_call_ok (client, "domain.define", NULL, args));
    json_object_put (lt_call_ok (client, "domain.start", "ct1", NULL));
    pid_t init = 0;
    assert_int_equal (lt_state (client, "ct1", &init), VB_STATE_RUNNING);
    assert_true (lt_alive (init));

    VBSH_OK (env, &run, "list", "--all");
    if (!s_row (run.out, "vm1", row, sizeof row) || !strstr (row, "paused"))
        fail_msg ("no paused vm1 row in:\n%s", run.out);
    if (!s_row (run.out, "ct1", row, sizeof row) || !strstr (row, "running"))
        fail_msg ("no running ct1 row in:\n%s", run.out);
    /*  The container's Id is its init pid. */
    snprintf (want, sizeof want, "%d", (int) init);
    char id[64];
    assert_int_equal (sscanf (row, "%63s", id), 1);
    assert_string_equal (id, want);
    vb_testrun_clear (&run);

    /*  Text output: one block per domain with the fields of each kind. */
    VBSH_OK (env, &run, "domstats");
    const char *vm = strstr (run.out, "Domain: 'vm1'\n");
    const char *ct = strstr (run.out, "Domain: 'ct1'\n");
    if (!vm || !ct)
        fail_msg ("domstats lacks a domain:\n%s", run.out);
    /*  Each block runs to the next "Domain:" line or the end. */
    const char *vm_end = strstr (vm + 1, "Domain: '");
    const char *ct_end = strstr (ct + 1, "Domain: '");
    size_t vm_len = vm_end? (size_t) (vm_end - vm): strlen (vm);
    size_t ct_len = ct_end? (size_t) (ct_end - ct): strlen (ct);
    char *vm_block = strndup (vm, vm_len), *ct_block = strndup (ct, ct_len);
    snprintf (want, sizeof want, "  state.state=%d\n", VB_STATE_PAUSED);
    if (!strstr (vm_block, want) || !strstr (vm_block, "  block.0.name=vda\n")
        || !strstr (vm_block, "  block.count="))
        fail_msg ("vm1's domstats block:\n%s", vm_block);
    snprintf (want, sizeof want, "  state.state=%d\n", VB_STATE_RUNNING);
    if (!strstr (ct_block, want) || !strstr (ct_block, "  cpu.time=")
        || !strstr (ct_block, "  balloon.maximum=131072\n"))
        fail_msg ("ct1's domstats block:\n%s", ct_block);
    free (vm_block);
    free (ct_block);
    vb_testrun_clear (&run);

    /*  The same through the request, as numbers. */
    json_object *records = lt_call_ok (client, "domain.stats", NULL, NULL);
    json_object *rv = s_record (records, "vm1"), *rc = s_record (records, "ct1");
    if (!rv || !rc)
        fail_msg ("domain.stats: %s", json_object_to_json_string (records));
    assert_int_equal (json_object_get_int (s_param (rv, "state.state")), VB_STATE_PAUSED);
    assert_int_equal (json_object_get_int (s_param (rc, "state.state")), VB_STATE_RUNNING);
    assert_non_null (s_param (rc, "cpu.time"));
    assert_true (json_object_get_uint64 (s_param (rc, "cpu.time")) > 0);
    assert_int_equal (json_object_get_int (s_param (rv, "block.count")), 1);
    assert_string_equal (json_object_get_string (s_param (rv, "block.0.name")), "vda");
    assert_non_null (s_param (rv, "block.0.rd.reqs"));
    /*  The BIOS's reads, kept while paused. */
    assert_true (json_object_get_uint64 (s_param (rv, "block.0.rd.bytes")) >= 512);
    json_object_put (records);

    json_object_put (lt_call_ok (client, "domain.destroy", "ct1", NULL));
    qt_ok (client, "domain.destroy", "vm1");
    free (ct_xml);
    free (vm_xml);
    free (disk);
}

int
main (void)
{
    if (geteuid () != 0) {
        fprintf (stderr, "test_lxc_mixed needs root (containers)\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_lxc_mixed_list_and_domstats_show_vms_and_containers_together, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
