/*  QEMU worker check: errors answer a clear code and sentence and change nothing on disk
 *  (issue 3, "Checks" 5).
 *
 *  Malformed XML and an invalid value -> INVALID_XML naming the problem; an unknown domain ->
 *  NO_DOMAIN; wrong state (suspend of a shut-off domain, start of a running one) ->
 *  OPERATION_INVALID "... is not running" / "... is already running"; a second define of a name
 *  with another uuid -> OPERATION_INVALID; a missing QEMU binary (<emulator>/nonexistent) and a
 *  missing image -> OPERATION_FAILED naming the path, the domain still shut off. After each
 *  failure the state directory holds exactly the same files with the same contents. A QEMU that
 *  exits during start-up -> OPERATION_FAILED quoting the end of its log.
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

#include "test_qemu_support.h"
#include "vb_domstate.h"
#include "vb_testcall.h"
#include "vb_testenv.h"

/*  Every file under DIR with its checksum, sorted: a picture of the state directory. The event
 *  journal and QEMU's logs are left out: they change on their own (an acknowledgment arriving,
 *  a running guest's QEMU writing) and hold no definition or state. */
static char *
s_snapshot (const char *dir)
{
    char cmd[1024];
    snprintf (cmd, sizeof cmd, "cd '%s' && find . \\( -type f -o -type s \\) "
              "! -name 'events-*.journal' ! -name '*.log' | sort | "
              "while read f; do if [ -S \"$f\" ]; then echo \"$f socket\"; "
              "else md5sum \"$f\"; fi; done", dir);
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    vb_testrun_t run;
    vb_testrun (&run, 10000, argv);
    assert_int_equal (run.exit_code, 0);
    char *out = strdup (run.out);
    vb_testrun_clear (&run);
    return out;
}

/*  Call OP on DOMAIN (args: XML for a define) and check the error CODE and that the message holds
 *  WANT; check the state directory did not change. */
static void
s_expect_error (vb_client_t *client, const char *state_dir, const char *op, const char *domain,
                const char *xml, vb_error_code_t code, const char *want)
{
    char *before = s_snapshot (state_dir);
    json_object *args = NULL;
    if (xml) {
        args = json_object_new_object ();
        json_object_object_add (args, "xml", json_object_new_string (xml));
    }
    vb_error_t err = {0};
    char buf[2048];
    vb_reply_t *r = vb_testcall (client, op, NULL, domain, args, 10000, NULL, &err);
    if (!vb_testcall_is_error (r, code) || !strstr (r->message, want))
        fail_msg ("%s %s: wanted %s with '%s', got %s", op, domain ? domain : "",
                  vb_error_code_name (code), want,
                  vb_testcall_describe (r, &err, buf, sizeof buf));
    vb_reply_destroy (&r);
    char *after = s_snapshot (state_dir);
    if (strcmp (before, after) != 0)
        fail_msg ("%s changed the state directory:\nbefore:\n%safter:\n%s", op, before, after);
    free (before);
    free (after);
}

static void
test_qemu_errors_clear_codes_and_nothing_changes_on_disk (void **state)
{
    vb_testenv_t *env = *state;
    char sdir[512], img[512], missing[512];
    snprintf (sdir, sizeof sdir, "%s/state-h1-default/h1/qemu", vb_testenv_dir (env));
    snprintf (img, sizeof img, "%s/web.raw", vb_testenv_dir (env));
    snprintf (missing, sizeof missing, "%s/missing.qcow2", vb_testenv_dir (env));
    qt_write_guest (img, "idle");

    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-qemu", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);

    char *disk = qt_disk_xml (img, "raw", "vda");
    char *xml = qt_domain_xml ("web", disk, NULL);
    qt_define (client, xml);

    s_expect_error (client, sdir, "domain.define", NULL,
                    "<domain type='kvm'><name>bad</name>", VB_ERR_INVALID_XML, "");
    char *bad = qt_domain_xml ("bad", disk, NULL);
    char *unit = strstr (bad, "unit='MiB'");
    assert_non_null (unit);
    memcpy (unit, "unit='XB' ", 10);
    s_expect_error (client, sdir, "domain.define", NULL, bad, VB_ERR_INVALID_XML, "memory");
    s_expect_error (client, sdir, "domain.info", "nosuch", NULL, VB_ERR_NO_DOMAIN, "nosuch");
    s_expect_error (client, sdir, "domain.suspend", "web", NULL, VB_ERR_OPERATION_INVALID,
                    "domain 'web' is not running");
    s_expect_error (client, sdir, "domain.destroy", "web", NULL, VB_ERR_OPERATION_INVALID,
                    "domain 'web' is not running");
    /*  Same name, another uuid. */
    char *again = qt_domain_xml ("web", disk, NULL);
    s_expect_error (client, sdir, "domain.define", NULL, again, VB_ERR_OPERATION_INVALID,
                    "already exists");

    char *noemu = qt_domain_xml ("noemu", disk, "/nonexistent");
    qt_define (client, noemu);
    s_expect_error (client, sdir, "domain.start", "noemu", NULL, VB_ERR_OPERATION_FAILED,
                    "/nonexistent");
    assert_int_equal (qt_state (client, "noemu", NULL, NULL, 0), VB_STATE_SHUTOFF);

    char *mdisk = qt_disk_xml (missing, "qcow2", "vda");
    char *noimg = qt_domain_xml ("noimg", mdisk, NULL);
    qt_define (client, noimg);
    s_expect_error (client, sdir, "domain.start", "noimg", NULL, VB_ERR_OPERATION_FAILED,
                    missing);
    assert_int_equal (qt_state (client, "noimg", NULL, NULL, 0), VB_STATE_SHUTOFF);

    /*  A QEMU that exits at once: OPERATION_FAILED with the end of its log (the log is the
     *  one file that changes: it records each start). */
    char fake[512];
    snprintf (fake, sizeof fake, "%s/fake-qemu", vb_testenv_dir (env));
    assert_non_null (vb_testenv_write_file (env, "fake-qemu", "#!/bin/sh\n"
                                            "echo 'fake-qemu: cannot set up guest memory' >&2\n"
                                            "exit 1\n"));
    assert_int_equal (chmod (fake, 0755), 0);
    char *dies = qt_domain_xml ("dies", disk, fake);
    qt_define (client, dies);
    vb_error_t err = {0};
    char buf[2048];
    vb_reply_t *r = vb_testcall (client, "domain.start", NULL, "dies", NULL, 10000, NULL, &err);
    if (!vb_testcall_is_error (r, VB_ERR_OPERATION_FAILED)
        || !strstr (r->message, "cannot set up guest memory"))
        fail_msg ("start of a QEMU that exits: %s", vb_testcall_describe (r, &err, buf,
                                                                            sizeof buf));
    vb_reply_destroy (&r);
    assert_int_equal (qt_state (client, "dies", NULL, NULL, 0), VB_STATE_SHUTOFF);
    free (dies);

    qt_ok (client, "domain.start", "web");
    s_expect_error (client, sdir, "domain.start", "web", NULL, VB_ERR_OPERATION_INVALID,
                    "domain 'web' is already running");
    s_expect_error (client, sdir, "domain.resume", "web", NULL, VB_ERR_OPERATION_INVALID,
                    "domain 'web' is not paused");
    qt_ok (client, "domain.destroy", "web");

    free (disk);
    free (xml);
    free (bad);
    free (again);
    free (noemu);
    free (mdisk);
    free (noimg);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("qemu_err", 0);
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
        cmocka_unit_test_setup_teardown (test_qemu_errors_clear_codes_and_nothing_changes_on_disk,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
