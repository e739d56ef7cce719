/*  Integration test of the virtbus-test binary as a process (VB_BIN_DIR/virtbus-test): the
 *  process interface of README.md — `ready ...` line, registration with a broker ROUTER bound by
 *  the test on an ephemeral port, a request, clean exit on SIGTERM, one-line failures.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <czmq.h>

#include "vb_json.h"
#include "vb_proto.h"
#include "vb_util.h"

extern char **environ;

#define BIN VB_BIN_DIR "/virtbus-test"

typedef struct {
    pid_t pid;
    int out;   /* child's stdout */
    int err;   /* child's stderr */
} child_t;

static void
s_spawn (child_t *c, char *const argv[])
{
    int out[2], err[2];
    assert_int_equal (pipe2 (out, O_CLOEXEC), 0);
    assert_int_equal (pipe2 (err, O_CLOEXEC), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init (&fa);
    posix_spawn_file_actions_adddup2 (&fa, out[1], 1);
    posix_spawn_file_actions_adddup2 (&fa, err[1], 2);
    assert_int_equal (posix_spawn (&c->pid, argv[0], &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy (&fa);
    close (out[1]);
    close (err[1]);
    c->out = out[0];
    c->err = err[0];
}

/*  Read from FD until EOF or TIMEOUT_MS or (UNTIL_NEWLINE and a newline). */
static void
s_read (int fd, char *buf, size_t size, int timeout_ms, bool until_newline)
{
    size_t len = 0;
    int64_t deadline = vb_now_ms () + timeout_ms;
    buf[0] = '\0';
    while (len + 1 < size) {
        int64_t left = deadline - vb_now_ms ();
        if (left <= 0)
            break;
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll (&p, 1, (int) left) <= 0)
            break;
        ssize_t n = read (fd, buf + len, size - 1 - len);
        if (n <= 0)
            break;
        len += (size_t) n;
        buf[len] = '\0';
        if (until_newline && strchr (buf, '\n'))
            break;
    }
}

/*  Wait for the child to exit within TIMEOUT_MS; returns its wait status, or -1 after killing it. */
static int
s_wait (child_t *c, int timeout_ms)
{
    int64_t deadline = vb_now_ms () + timeout_ms;
    int status = 0;
    while (vb_now_ms () < deadline) {
        pid_t r = waitpid (c->pid, &status, WNOHANG);
        if (r == c->pid) {
            close (c->out);
            close (c->err);
            return status;
        }
        struct pollfd p = { .fd = c->err, .events = 0 };
        poll (&p, 0, 10);   /* a bounded 10 ms step between polls of waitpid */
    }
    kill (c->pid, SIGKILL);
    waitpid (c->pid, &status, 0);
    close (c->out);
    close (c->err);
    return -1;
}

static void
test_worker_process_registers_serves_and_exits_cleanly_on_sigterm (void **state)
{
    (void) state;
    char dir[] = "/tmp/vb-test-worker-proc-XXXXXX";
    assert_non_null (mkdtemp (dir));
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    zsock_set_router_handover (router, 1);
    assert_true (zsock_bind (router, "tcp://127.0.0.1:*") > 0);
    char endpoint[256];
    char *last = zsock_last_endpoint (router);   /* a new string */
    snprintf (endpoint, sizeof endpoint, "%s", last);
    zstr_free (&last);

    child_t c;
    char *argv[] = { BIN, "--broker", endpoint, "--host", "hp", "--state-dir", dir,
                     "--heartbeat-ms", "100", NULL };
    s_spawn (&c, argv);

    zsock_set_rcvtimeo (router, 5000);
    zmsg_t *msg = zmsg_recv (router);
    assert_non_null (msg);
    char *identity = zmsg_popstr (msg);
    vb_limits_t limits = vb_limits_worker ();
    vb_error_t err = { 0 };
    vb_wmsg_t *wmsg = vb_wmsg_decode (msg, &limits, &err);
    zmsg_destroy (&msg);
    assert_non_null (wmsg);
    assert_int_equal (wmsg->cmd, VB_WCMD_READY);
    assert_string_equal (vb_json_str (wmsg->body, "driver", ""), "test");
    assert_string_equal (vb_json_str (wmsg->body, "host", ""), "hp");
    assert_int_equal (vb_json_int (wmsg->body, "pid", 0), c.pid);
    char id[160];
    snprintf (id, sizeof id, "%s", vb_json_str (wmsg->body, "worker", ""));
    assert_string_equal (identity, id);
    assert_int_equal (strncmp (id, "hp-test-", 8), 0);
    assert_int_equal (strlen (id), strlen ("hp-test-") + 8);
    vb_wmsg_destroy (&wmsg);

    /*  Not ready until the broker has acknowledged READY (with a heartbeat): before that, a
     *  request routed to this worker would find no registration. */
    char line[512], expected[512];
    s_read (c.out, line, sizeof line, 50, true);
    assert_string_equal (line, "");
    /*  Acknowledge; again every 250 ms, since a worker that heard nothing for 3 intervals
     *  (300 ms here) reconnects and registers again, and an acknowledgment can cross that. */
    for (int tries = 0; tries < 20 && !strchr (line, '\n'); tries++) {
        msg = vb_wmsg_encode (VB_WCMD_HEARTBEAT, NULL);
        zmsg_pushstr (msg, identity);
        assert_int_equal (zmsg_send (&msg, router), 0);
        s_read (c.out, line, sizeof line, 250, true);
    }
    snprintf (expected, sizeof expected, "ready worker=%s host=hp driver=test broker=%s\n", id,
              endpoint);
    assert_string_equal (line, expected);

    /*  A request through the process. */
    vb_target_t target = { 0 };
    vb_request_t *req = vb_request_new (5, "domain.list", &target, NULL, 2000);
    json_object *body = vb_request_to_json (req);
    vb_request_destroy (&req);
    json_object_object_add (body, "origin", json_object_new_string ("c"));
    msg = vb_wmsg_encode (VB_WCMD_REQUEST, body);
    zmsg_pushstr (msg, identity);
    assert_int_equal (zmsg_send (&msg, router), 0);
    bool replied = false;
    int64_t deadline = vb_now_ms () + 5000;
    while (!replied && vb_now_ms () < deadline) {
        msg = zmsg_recv (router);
        if (!msg)
            break;
        zframe_t *id_frame = zmsg_pop (msg);
        zframe_destroy (&id_frame);
        wmsg = vb_wmsg_decode (msg, &limits, &err);
        zmsg_destroy (&msg);
        assert_non_null (wmsg);
        if (wmsg->cmd == VB_WCMD_REPLY) {
            assert_int_equal (vb_json_uint (wmsg->body, "id", 0), 5);
            assert_true (vb_json_bool (wmsg->body, "ok", false));
            replied = true;
        }
        vb_wmsg_destroy (&wmsg);
    }
    assert_true (replied);
    free (identity);

    assert_int_equal (kill (c.pid, SIGTERM), 0);
    int status = s_wait (&c, 5000);
    assert_true (status != -1 && WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    zsock_destroy (&router);
    char command[128];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    assert_int_equal (system (command), 0);
}

static void
test_worker_process_help_names_it_a_test_double (void **state)
{
    (void) state;
    child_t c;
    char *argv[] = { BIN, "--help", NULL };
    s_spawn (&c, argv);
    char out[4096];
    s_read (c.out, out, sizeof out, 5000, false);
    assert_int_equal (s_wait (&c, 5000), 0);
    assert_non_null (strstr (out, "usage: virtbus-test"));
    assert_non_null (strstr (out, "TEST DOUBLE"));
    assert_non_null (strstr (out, "not a hypervisor"));
    assert_non_null (strstr (out, "--broker EP"));

    char *argv2[] = { BIN, "--version", NULL };
    s_spawn (&c, argv2);
    s_read (c.out, out, sizeof out, 5000, false);
    assert_int_equal (s_wait (&c, 5000), 0);
    assert_string_equal (out, "virtbus-test " VB_VERSION "\n");
}

/*  Bad arguments and an unusable state dir: non-zero with exactly one line on stderr. */
static void
s_assert_refuses (char *const argv[], const char *needle)
{
    child_t c;
    s_spawn (&c, argv);
    char err[4096];
    s_read (c.err, err, sizeof err, 5000, false);
    int status = s_wait (&c, 5000);
    assert_true (status != -1 && WIFEXITED (status));
    assert_int_not_equal (WEXITSTATUS (status), 0);
    char *nl = strchr (err, '\n');
    assert_non_null (nl);
    assert_string_equal (nl + 1, "");
    if (!strstr (err, needle))
        fail_msg ("stderr '%s' does not mention '%s'", err, needle);
}

static void
test_worker_process_refuses_to_start_with_a_one_line_reason (void **state)
{
    (void) state;
    char *a1[] = { BIN, "--frobnicate", NULL };
    s_assert_refuses (a1, "--frobnicate");
    char *a2[] = { BIN, "--heartbeat-ms", "zero", NULL };
    s_assert_refuses (a2, "--heartbeat-ms");
    char *a3[] = { BIN, "--host", "no/slash", "--state-dir", "/nonexistent-vb", NULL };
    s_assert_refuses (a3, "no/slash");
    char *a4[] = { BIN, "--state-dir", "/proc/vb-nowhere", "--host", "h", NULL };
    s_assert_refuses (a4, "/proc/vb-nowhere");
    char dir[] = "/tmp/vb-test-worker-proc-XXXXXX";
    assert_non_null (mkdtemp (dir));
    char *a5[] = { BIN, "--broker", "bogus://x", "--state-dir", dir, "--host", "h", NULL };
    s_assert_refuses (a5, "bogus://x");
    char command[128];
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    assert_int_equal (system (command), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_worker_process_registers_serves_and_exits_cleanly_on_sigterm),
        cmocka_unit_test (test_worker_process_help_names_it_a_test_double),
        cmocka_unit_test (test_worker_process_refuses_to_start_with_a_one_line_reason),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
