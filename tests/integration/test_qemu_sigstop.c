/*  QEMU worker check: a QEMU that stops answering (SIGSTOP) (issue 3, "Checks" 6).
 *
 *  Domains a and b run on one worker; a's QEMU gets SIGSTOP. A suspend of a with a 2 s deadline
 *  answers TIMEOUT by the deadline (the worker's QMP deadline is below it), while info, suspend
 *  and resume of b sent meanwhile are each answered at once; destroy of a then succeeds
 *  (SIGTERM stays pending on a stopped process, the SIGKILL after the grace period ends it).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "test_qemu_support.h"
#include "vb_domstate.h"
#include "vb_testcall.h"
#include "vb_testenv.h"
#include "vb_util.h"

#define STOPPED_DEADLINE_MS 2000

static void
s_quick_ok (vb_client_t *client, const char *op, const char *domain)
{
    vb_error_t err = {0};
    char buf[1024];
    int64_t ms = 0;
    vb_reply_t *r = vb_testcall (client, op, NULL, domain, NULL, 5000, &ms, &err);
    if (!r || !r->ok)
        fail_msg ("%s %s: %s", op, domain, vb_testcall_describe (r, &err, buf, sizeof buf));
    if (ms > 500 + vb_test_margin_ms ())
        fail_msg ("%s %s took %lld ms while another domain's QEMU hung", op, domain,
                  (long long) ms);
    vb_reply_destroy (&r);
}

static void
test_qemu_sigstop_timeout_by_deadline_others_served_destroy_works (void **state)
{
    vb_testenv_t *env = *state;
    const char *names[2] = {"a", "b"};
    pid_t pids[2] = {0, 0};

    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-qemu", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env), *slow = vb_testenv_client (env);
    assert_non_null (client);
    assert_non_null (slow);
    for (int i = 0; i < 2; i++) {
        char path[512];
        snprintf (path, sizeof path, "%s/%s.raw", vb_testenv_dir (env), names[i]);
        qt_write_guest (path, "idle");
        char *disk = qt_disk_xml (path, "raw", "vda");
        char *xml = qt_domain_xml (names[i], disk, NULL);
        qt_define (client, xml);
        qt_ok (client, "domain.start", names[i]);
        assert_int_equal (qt_state (client, names[i], &pids[i], NULL, 0), VB_STATE_RUNNING);
        free (disk);
        free (xml);
    }

    assert_int_equal (kill (pids[0], SIGSTOP), 0);
    int64_t sent = vb_now_ms ();
    assert_true (vb_testcall_send (slow, "domain.suspend", NULL, "a", NULL,
                                   STOPPED_DEADLINE_MS) > 0);
    s_quick_ok (client, "domain.info", "b");
    s_quick_ok (client, "domain.suspend", "b");
    s_quick_ok (client, "domain.resume", "b");
    s_quick_ok (client, "domain.info", "a");   /* info needs no QMP */

    vb_error_t err = {0};
    char buf[1024];
    vb_reply_t *r = vb_client_recv (slow, STOPPED_DEADLINE_MS + 5000, &err);
    int64_t took = vb_now_ms () - sent;
    if (!vb_testcall_is_error (r, VB_ERR_TIMEOUT))
        fail_msg ("suspend of a stopped QEMU: %s", vb_testcall_describe (r, &err, buf,
                                                                          sizeof buf));
    if (took > STOPPED_DEADLINE_MS + vb_test_margin_ms ())
        fail_msg ("TIMEOUT came after %lld ms, deadline %d ms", (long long) took,
                  STOPPED_DEADLINE_MS);
    vb_reply_destroy (&r);

    qt_ok (client, "domain.destroy", "a");
    assert_false (qt_alive (pids[0]));
    assert_int_equal (qt_state (client, "a", NULL, NULL, 0), VB_STATE_SHUTOFF);
    assert_int_equal (qt_state (client, "b", NULL, NULL, 0), VB_STATE_RUNNING);
    qt_ok (client, "domain.destroy", "b");
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("qemu_stop", 0);
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
            test_qemu_sigstop_timeout_by_deadline_others_served_destroy_works, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
