/*  QEMU worker check: the lifecycle of a real domain through vbsh (issue 3, "Checks" 1).
 *
 *  vda is a 3-layer qcow2 chain made by qemu-img (base <- mid <- top; the idle boot sector lives
 *  in base), vdb is raw. define -> start -> running -> suspend -> paused -> resume -> running;
 *  the live `dumpxml` shows vda's chain as <backingStore index='1'> (mid) and index='2' (base)
 *  read from QEMU; destroy -> shut off (the QEMU process is gone) -> undefine: the domain is no
 *  longer listed and its files are gone from the state directory. The events stream carries
 *  exactly one event per transition.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_qemu_support.h"
#include "vb_domstate.h"
#include "vb_testcall.h"
#include "vb_testenv.h"

/*  vbsh ARGS...; fails unless exit 0 with nothing on stderr. Caller clears RUN. */
#define VBSH_OK(env, run, ...)                                                                 \
    do {                                                                                       \
        vb_testenv_vbsh (env, run, __VA_ARGS__, NULL);                                         \
        if ((run)->exit_code != 0 || (run)->err[0])                                            \
            fail_msg ("vbsh %s: exit %d\n%s%s", #__VA_ARGS__, (run)->exit_code, (run)->out,     \
                      (run)->err);                                                             \
    } while (0)

static void
s_expect_event (vb_subscriber_t *sub, const char *event, const char *detail)
{
    vb_error_t err = {0};
    vb_event_t *ev = vb_subscriber_recv (sub, 10000, &err);
    if (!ev)
        fail_msg ("no event %s/%s: %s", event, detail, err.message);
    if (strcmp (ev->event, event) != 0 || strcmp (ev->detail, detail) != 0)
        fail_msg ("event %s/%s, wanted %s/%s", ev->event, ev->detail, event, detail);
    vb_event_destroy (&ev);
}

static void
test_qemu_lifecycle_chain_suspend_resume_dumpxml_destroy_undefine (void **state)
{
    vb_testenv_t *env = *state;
    vb_testrun_t run;
    const char *dir = vb_testenv_dir (env);
    char cmd[8192], path[512], vdb[512], top[512], mid[512],
        base[512];

    snprintf (path, sizeof path, "%s/boot.raw", dir);
    qt_write_guest (path, "idle");
    snprintf (base, sizeof base, "%s/base.qcow2", dir);
    snprintf (mid, sizeof mid, "%s/mid.qcow2", dir);
    snprintf (top, sizeof top, "%s/top.qcow2", dir);
    snprintf (vdb, sizeof vdb, "%s/data.raw", dir);
    snprintf (cmd, sizeof cmd,
              "qemu-img convert -f raw -O qcow2 %s %s && "
              "qemu-img create -q -f qcow2 -b %s -F qcow2 %s && "
              "qemu-img create -q -f qcow2 -b %s -F qcow2 %s && "
              "truncate -s 4M %s", path, base, base, mid, mid, top, vdb);
    qt_sh (cmd);

    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-qemu", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);
    vb_error_t err = {0};
    vb_subscriber_t *sub = vb_subscriber_new (client, "h1/qemu/web", 0, &err);
    assert_non_null (sub);

    char *d1 = qt_disk_xml (top, "qcow2", "vda"), *d2 = qt_disk_xml (vdb, "raw", "vdb");
    char disks[4096];
    snprintf (disks, sizeof disks, "%s%s", d1, d2);
    char *xml = qt_domain_xml ("web", disks, NULL);
    const char *xml_path = vb_testenv_write_file (env, "web.xml", xml);
    assert_non_null (xml_path);

    VBSH_OK (env, &run, "define", xml_path);
    vb_testrun_clear (&run);
    s_expect_event (sub, "defined", "added");
    VBSH_OK (env, &run, "list", "--all");
    assert_non_null (strstr (run.out, "shut off"));
    vb_testrun_clear (&run);

    VBSH_OK (env, &run, "start", "web");
    vb_testrun_clear (&run);
    s_expect_event (sub, "started", "booted");
    VBSH_OK (env, &run, "dominfo", "web");
    assert_non_null (strstr (run.out, "State:          running"));
    vb_testrun_clear (&run);
    pid_t pid = 0;
    assert_int_equal (qt_state (client, "web", &pid, NULL, 0), VB_STATE_RUNNING);
    assert_true (pid > 0 && qt_alive (pid));

    VBSH_OK (env, &run, "suspend", "web");
    vb_testrun_clear (&run);
    s_expect_event (sub, "suspended", "paused");
    VBSH_OK (env, &run, "dominfo", "web");
    assert_non_null (strstr (run.out, "State:          paused"));
    vb_testrun_clear (&run);
    VBSH_OK (env, &run, "resume", "web");
    vb_testrun_clear (&run);
    s_expect_event (sub, "resumed", "unpaused");
    VBSH_OK (env, &run, "dominfo", "web");
    assert_non_null (strstr (run.out, "State:          running"));
    vb_testrun_clear (&run);

    /*  The live XML: vda's chain from QEMU, by depth. */
    VBSH_OK (env, &run, "dumpxml", "web");
    char want[PATH_MAX + 64];
    const char *b1 = strstr (run.out, "<backingStore type='file' index='1'>");
    const char *b2 = strstr (run.out, "<backingStore type='file' index='2'>");
    if (!b1 || !b2 || b2 < b1)
        fail_msg ("live XML without the chain:\n%s", run.out);
    snprintf (want, sizeof want, "<source file='%s'/>", mid);
    assert_true (strstr (b1, want) && strstr (b1, want) < b2);
    snprintf (want, sizeof want, "<source file='%s'/>", base);
    assert_non_null (strstr (b2, want));
    assert_null (strstr (run.out, "index='3'"));
    vb_testrun_clear (&run);
    /*  The inactive XML has no chain, as libvirt's. */
    VBSH_OK (env, &run, "dumpxml", "--inactive", "web");
    assert_null (strstr (run.out, "backingStore"));
    vb_testrun_clear (&run);

    VBSH_OK (env, &run, "destroy", "web");
    vb_testrun_clear (&run);
    s_expect_event (sub, "stopped", "destroyed");
    assert_false (qt_alive (pid));
    VBSH_OK (env, &run, "domstate", "web");
    assert_non_null (strstr (run.out, "shut off"));
    vb_testrun_clear (&run);

    VBSH_OK (env, &run, "undefine", "web");
    vb_testrun_clear (&run);
    s_expect_event (sub, "undefined", "removed");
    VBSH_OK (env, &run, "list", "--all");
    assert_null (strstr (run.out, "web"));
    vb_testrun_clear (&run);
    /*  No definition, status, lock, socket or pidfile of the domain remains (its log stays, as
     *  libvirt keeps it; files of the worker core are not the domain's). */
    snprintf (cmd, sizeof cmd, "cd %s/state-h1-default/h1/qemu && test -z \"$(ls . run | "
              "grep -E '[.](xml|status|lock|qmp|pid)$' | grep -v '^define.lock$')\"", dir);
    qt_sh (cmd);

    vb_subscriber_destroy (&sub);
    free (xml);
    free (d1);
    free (d2);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("qemu_life", 0);
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
            test_qemu_lifecycle_chain_suspend_resume_dumpxml_destroy_undefine, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
