/*  Issue 8 check: limits against abuse, on a real broker and virtbus-test worker.
 *
 *  A client sends 1,000 requests (test.sleep, each padded with 8 KiB) without reading a reply,
 *  against a broker started with --max-inflight K: exactly K are taken and the rest answer
 *  BUSY at once (all BUSY answers are waiting before the first taken request finishes); the
 *  broker's RSS (VmRSS) grows by less than 64 MiB; meanwhile another client's requests all
 *  succeed within their deadlines. Then a frame over the client limit (1 MiB) is refused
 *  with PROTOCOL and the broker keeps serving.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vb_testcall.h"
#include "vb_testenv.h"
#include "vb_util.h"

#define K 16
#define FLOOD 1000
#define PAD_BYTES 8192

/*  VmRSS of PID in KiB, or -1. */
static long
s_rss_kib (pid_t pid)
{
    char path[64], line[256];
    long kib = -1;
    snprintf (path, sizeof path, "/proc/%d/status", (int) pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    while (fgets (line, sizeof line, f))
        if (sscanf (line, "VmRSS: %ld kB", &kib) == 1)
            break;
    fclose (f);
    return kib;
}

static int
s_setup (void **state)
{
    vb_testenv_t *env = vb_testenv_new ("security_limits", 0);
    assert_non_null (env);
    *state = env;
    return 0;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    int rc = vb_testenv_stop (env);
    vb_testenv_destroy (&env);
    return rc;
}

static void
test_security_limits_flood_answers_busy_past_k_and_spares_other_clients (void **state)
{
    vb_testenv_t *env = *state;
    char bin[1024], state_dir[600], hb[16], k[16];
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (env, "virtbusd"));
    snprintf (state_dir, sizeof state_dir, "%s/broker", vb_testenv_dir (env));
    snprintf (hb, sizeof hb, "%d", vb_testenv_heartbeat_ms (env));
    snprintf (k, sizeof k, "%d", K);
    char *argv[] = { bin, "--clients", "tcp://127.0.0.1:*", "--workers", "tcp://127.0.0.1:*",
                     "--events", "tcp://127.0.0.1:*", "--state-dir", state_dir,
                     "--heartbeat-ms", hb, "--max-inflight", k, NULL };
    vb_testproc_t *broker = vb_testproc_start ("virtbusd", vb_testenv_dir (env), argv);
    assert_non_null (broker);
    assert_int_equal (vb_testproc_wait_ready (broker, vb_test_start_timeout_ms ()), 0);
    const char *clients_ep = vb_testproc_ready_value (broker, "clients");
    const char *workers_ep = vb_testproc_ready_value (broker, "workers");

    char wbin[1024], wstate[600];
    snprintf (wbin, sizeof wbin, "%s", vb_testenv_bin (env, "virtbus-test"));
    snprintf (wstate, sizeof wstate, "%s/state-h1", vb_testenv_dir (env));
    char *wargv[] = { wbin, "--broker", (char *) workers_ep, "--host", "h1", "--state-dir",
                      wstate, "--heartbeat-ms", hb, NULL };
    vb_testproc_t *worker = vb_testproc_start ("worker-h1", vb_testenv_dir (env), wargv);
    assert_non_null (worker);
    assert_int_equal (vb_testproc_wait_ready (worker, vb_test_start_timeout_ms ()), 0);

    vb_error_t err = { 0 };
    vb_client_t *flood = vb_client_new (clients_ep, &err);
    vb_client_t *other = vb_client_new (clients_ep, &err);
    assert_non_null (flood);
    assert_non_null (other);
    const char *hosts[] = { "h1" };
    vb_testcall_hosts_t want = { other, hosts, 1, 1, 1000 };
    assert_true (vb_test_poll_until (vb_testcall_hosts_listed, &want, 20,
                                     vb_testenv_intervals_ms (env, 5), NULL));
    long rss_before = s_rss_kib (vb_testproc_pid (broker));
    assert_true (rss_before > 0);

    /*  The taken requests must outlast sending all of them, so that "past K" is exact. */
    int sleep_ms = 4000 + 4 * vb_test_margin_ms ();
    char *pad = malloc (PAD_BYTES + 1);
    assert_non_null (pad);
    memset (pad, 'x', PAD_BYTES);
    pad[PAD_BYTES] = '\0';
    int64_t started = vb_now_ms ();
    for (int i = 0; i < FLOOD; i++) {
        int64_t give_up = vb_now_ms () + 5000;
        for (;;) {
            json_object *args = json_object_new_object ();
            json_object_object_add (args, "ms", json_object_new_int (sleep_ms));
            json_object_object_add (args, "pad", json_object_new_string (pad));
            vb_target_t target = { .host = "h1" };
            vb_error_t send_err = { 0 };
            if (vb_client_send (flood, "test.sleep", &target, args, (uint32_t) sleep_ms * 3,
                                NULL, &send_err) == 0)
                break;
            /*  Our own send queue is full: the broker reads it as fast as it can. */
            assert_int_equal (send_err.code, VB_ERR_BUSY);
            assert_true (vb_now_ms () < give_up);
            zclock_sleep (1);
        }
    }
    free (pad);
    int64_t sent_ms = vb_now_ms () - started;
    assert_true (sent_ms < sleep_ms);

    /*  The other client meanwhile: every request answered ok within its deadline. */
    for (int i = 0; i < 50; i++) {
        int64_t ms = 0;
        vb_reply_t *r = vb_testcall (other, i % 2 ? "domain.list" : "hosts", NULL, NULL, NULL,
                                     2000, &ms, &err);
        char what[256];
        if (!r || !r->ok || ms > 2000)
            fail_msg ("request %d of the other client: %s after %lld ms", i,
                      vb_testcall_describe (r, &err, what, sizeof what), (long long) ms);
        vb_reply_destroy (&r);
    }
    long rss_after = s_rss_kib (vb_testproc_pid (broker));
    assert_true (rss_after > 0);
    if (rss_after - rss_before >= 64 * 1024)
        fail_msg ("broker RSS grew from %ld KiB to %ld KiB", rss_before, rss_after);

    /*  Collect the flood's answers: FLOOD - K BUSY, all before any taken request finished. */
    int busy = 0, ok = 0, other_answers = 0;
    bool busy_after_ok = false;
    for (int i = 0; i < FLOOD; i++) {
        vb_reply_t *r = vb_client_recv (flood, sleep_ms * 3, &err);
        if (!r)
            fail_msg ("answer %d of %d missing: %s", i + 1, FLOOD, err.message);
        if (vb_testcall_is_error (r, VB_ERR_BUSY)) {
            busy++;
            if (ok > 0)
                busy_after_ok = true;
        }
        else if (r->ok)
            ok++;
        else
            other_answers++;
        vb_reply_destroy (&r);
    }
    assert_int_equal (busy, FLOOD - K);
    assert_int_equal (ok, K);
    assert_int_equal (other_answers, 0);
    assert_false (busy_after_ok);

    /*  Once the flood is answered the client has its quota back. */
    vb_reply_t *r = vb_testcall (flood, "domain.list", NULL, NULL, NULL, 2000, NULL, &err);
    assert_true (r && r->ok);
    vb_reply_destroy (&r);

    /*  A request frame over 1 MiB: refused before decoding, and the broker serves on. */
    char *big = malloc ((1u << 20) + 2);
    assert_non_null (big);
    memset (big, 'y', (1u << 20) + 1);
    big[(1u << 20) + 1] = '\0';
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, NULL, 0);
    zmsg_addstr (msg, "VBC1");
    zmsg_addstr (msg, big);
    free (big);
    assert_int_equal (zmsg_send (&msg, vb_client_socket (flood)), 0);
    r = vb_testcall (other, "hosts", NULL, NULL, NULL, 2000, NULL, &err);
    assert_true (r && r->ok);
    vb_reply_destroy (&r);
    r = vb_client_recv (flood, 2000, &err);
    assert_true (vb_testcall_is_error (r, VB_ERR_PROTOCOL));
    vb_reply_destroy (&r);
    assert_true (vb_testproc_alive (broker));

    vb_client_destroy (&flood);
    vb_client_destroy (&other);
    assert_int_equal (vb_testproc_stop (worker, 10000), 0);
    assert_int_equal (vb_testproc_stop (broker, 10000), 0);
    vb_testproc_destroy (&worker);
    vb_testproc_destroy (&broker);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (
            test_security_limits_flood_answers_busy_past_k_and_spares_other_clients),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
