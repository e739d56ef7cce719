/*  Unit tests: qemu_domain (status files) and qemu_process (identity, log tail). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qemu_domain.h"
#include "qemu_process.h"
#include "vb_util.h"

static char s_dir[] = "/tmp/vbtest-qemu_domain-XXXXXX";

static void
s_write (const char *path, const char *text)
{
    vb_error_t err = {0};
    assert_int_equal (vb_write_file_atomic (path, text, strlen (text), &err), 0);
}

static void
test_qemu_status_write_read_round_trip (void **state)
{
    (void) state;
    char *path = qemu_domain_path (s_dir, "0e6a3b8e-95a4-4a29-9a35-6d0e8d1c2f10", ".status");
    assert_string_equal (path + strlen (s_dir),
                         "/0e6a3b8e-95a4-4a29-9a35-6d0e8d1c2f10.status");
    qemu_status_t in = {.pid = 4242, .start_ticks = 123456789, .monitor = "/run/x.qmp",
                        .start_time_ns = 17, .state = 3, .reason = 1,
                        .xml = "<domain type='kvm'>\"quoted\"</domain>"};
    vb_error_t err = {0};
    assert_int_equal (qemu_status_write (path, &in, &err), 0);
    qemu_status_t out;
    assert_int_equal (qemu_status_read (path, &out, &err), 0);
    assert_int_equal (out.pid, 4242);
    assert_true (out.start_ticks == 123456789);
    assert_string_equal (out.monitor, "/run/x.qmp");
    assert_true (out.start_time_ns == 17);
    assert_int_equal (out.state, 3);
    assert_int_equal (out.reason, 1);
    assert_string_equal (out.xml, in.xml);
    qemu_status_clear (&out);
    assert_null (out.xml);
    free (path);
}

static void
test_qemu_status_read_rejects_invalid_files (void **state)
{
    (void) state;
    const char *bad[] = {
        "", "[]", "not json", "{\"pid\": 1, \"start_ticks\": 1, \"monitor\": \"m\", "
        "\"state\": 1, \"xml\": \"<d/>\"}",
        "{\"pid\": 100, \"start_ticks\": 1, \"monitor\": \"m\", \"state\": 9, \"xml\": \"x\"}",
        "{\"pid\": 100, \"start_ticks\": 1, \"monitor\": 5, \"state\": 1, \"xml\": \"x\"}",
        "{\"pid\": 100, \"start_ticks\": 1, \"monitor\": \"m\", \"state\": 1, \"xml\": \"\"}",
        "{\"pid\": 100, \"start_ticks\": 1, \"monitor\": \"m\", \"state\": 1}",
    };
    char path[128];
    snprintf (path, sizeof path, "%s/bad.status", s_dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_write (path, bad[i]);
        qemu_status_t out;
        vb_error_t err = {0};
        assert_int_equal (qemu_status_read (path, &out, &err), -1);
        assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
        assert_non_null (strstr (err.message, path));
        assert_null (out.xml);
    }
    qemu_status_t out;
    vb_error_t err = {0};
    snprintf (path, sizeof path, "%s/absent.status", s_dir);
    assert_int_equal (qemu_status_read (path, &out, &err), -1);
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
}

static void
test_qemu_process_identity_of_self_and_gone_pid (void **state)
{
    (void) state;
    uint64_t ticks = 0;
    assert_int_equal (qemu_process_start_ticks (getpid (), &ticks), 0);
    assert_true (qemu_process_is (getpid (), ticks));
    assert_false (qemu_process_is (getpid (), ticks + 1));
    assert_true (qemu_process_cpu_time_ns (getpid ()) < 3600ull * 1000000000ull);
    assert_int_equal (qemu_process_start_ticks (0, &ticks), -1);
    assert_int_equal (qemu_process_start_ticks (0x7ffffff0, &ticks), -1);
}

static void
test_qemu_process_log_tail_one_line_from_line_boundary (void **state)
{
    (void) state;
    char path[128];
    snprintf (path, sizeof path, "%s/x.log", s_dir);
    s_write (path, "first line that is long\nsecond\nthird error\n\n");
    char *tail = qemu_process_log_tail (path, 26);
    assert_string_equal (tail, "second | third error");
    free (tail);
    tail = qemu_process_log_tail (path, 4096);
    assert_string_equal (tail, "first line that is long | second | third error");
    free (tail);
    snprintf (path, sizeof path, "%s/none.log", s_dir);
    tail = qemu_process_log_tail (path, 100);
    assert_string_equal (tail, "");
    free (tail);
}

static void
test_qemu_process_spawn_runs_in_own_session_with_log (void **state)
{
    (void) state;
    char log[128];
    snprintf (log, sizeof log, "%s/spawn.log", s_dir);
    char *argv[] = {"/bin/sh", "-c",
                    "echo out; echo err >&2; echo sid=$(ps -o sid= -p $$ | tr -d ' ')", NULL};
    vb_error_t err = {0};
    pid_t pid = qemu_process_spawn (argv, log, &err);
    assert_true (pid > 0);
    /*  Waited for directly: valgrind does not know pidfd_open (the integration tests use the
     *  pidfds). */
    int status = 0;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    char *text = vb_read_file (log, 4096, NULL, &err);
    assert_non_null (text);
    char want[64];
    snprintf (want, sizeof want, "out\nerr\nsid=%d\n", (int) pid);   /* sid = its own pid */
    assert_non_null (strstr (text, want));
    free (text);
    char *missing[] = {"/nonexistent/qemu", NULL};
    /*  glibc reports the exec failure at once; where spawn is a plain fork (valgrind) it shows
     *  as exit status 127, as the header allows. */
    pid = qemu_process_spawn (missing, log, &err);
    if (pid < 0) {
        assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
        assert_non_null (strstr (err.message, "/nonexistent/qemu"));
    }
    else {
        assert_int_equal (waitpid (pid, &status, 0), pid);
        assert_true (WIFEXITED (status) && WEXITSTATUS (status) == 127);
    }
}

static int
s_setup (void **state)
{
    (void) state;
    return mkdtemp (s_dir) ? 0 : -1;
}

static int
s_teardown (void **state)
{
    (void) state;
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system (cmd) == 0 ? 0 : -1;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_qemu_status_write_read_round_trip),
        cmocka_unit_test (test_qemu_status_read_rejects_invalid_files),
        cmocka_unit_test (test_qemu_process_identity_of_self_and_gone_pid),
        cmocka_unit_test (test_qemu_process_log_tail_one_line_from_line_boundary),
        cmocka_unit_test (test_qemu_process_spawn_runs_in_own_session_with_log),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
