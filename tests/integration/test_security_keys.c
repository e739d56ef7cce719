/*  Issue 8 check: CurveZMQ keys on a real broker (loopback, real processes).
 *
 *  Keys are made with `virtbusd keygen` exactly as docs/operations.md says; the broker runs with
 *  --keys, a virtbus-test worker registers with its own key. Then: vbsh with no key, an unknown
 *  key or a wrong server key exits 1 with `error: authentication failed` within 2 s; a
 *  subscriber with an unknown key receives no event while an allowed one receives it; a
 *  read-only key lists, reads stats and dominfo, and is DENIED destroy; an admin key destroys;
 *  a worker with an unknown key, or with a client's key, never appears in `hosts`. And the bind
 *  policy: a non-loopback bind without keys, a wildcard without --advertise and a malformed
 *  --advertise each refuse to start with one line; --insecure lets the wildcard bind start.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "vb_testcall.h"
#include "vb_testenv.h"

typedef struct {
    vb_testenv_t *env;
    char keys[512];          /* the broker's --keys directory */
    char secrets[512];       /* where the peers' secret files live */
    vb_testproc_t *broker;
    vb_testproc_t *worker;
    const char *clients_ep;
    const char *workers_ep;
    const char *events_ep;
} fixture_t;

static char *
s_path (const char *dir, const char *name)
{
    char *path = NULL;
    if (asprintf (&path, "%s/%s", dir, name) < 0)
        return NULL;
    return path;
}

/*  `virtbusd keygen --out DIR [--role ROLE] --broker-cert KEYS/broker NAME`; fails the test
 *  unless it exits 0. */
static void
s_keygen (fixture_t *f, const char *dir, const char *role, const char *name)
{
    char bin[1024], broker_cert[600];
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (f->env, "virtbusd"));
    snprintf (broker_cert, sizeof broker_cert, "%s/broker", f->keys);
    char *argv[12];
    int argc = 0;
    argv[argc++] = bin;
    argv[argc++] = "keygen";
    argv[argc++] = "--out";
    argv[argc++] = (char *) dir;
    if (role) {
        argv[argc++] = "--role";
        argv[argc++] = (char *) role;
    }
    if (!streq (name, "broker")) {
        argv[argc++] = "--broker-cert";
        argv[argc++] = broker_cert;
    }
    argv[argc++] = (char *) name;
    argv[argc] = NULL;
    vb_testrun_t run;
    vb_testrun (&run, 10000, argv);
    if (run.exit_code != 0)
        fail_msg ("virtbusd keygen %s: exit %d\n%s%s", name, run.exit_code, run.out, run.err);
    vb_testrun_clear (&run);
}

/*  Move DIR/NAME_secret to the secrets directory (the owner keeps it, the broker never sees
 *  it). */
static void
s_take_secret (fixture_t *f, const char *dir, const char *name)
{
    char from[1100], to[1100];
    snprintf (from, sizeof from, "%s/%s_secret", dir, name);
    snprintf (to, sizeof to, "%s/%s_secret", f->secrets, name);
    assert_int_equal (rename (from, to), 0);
}

static const char *
s_secret (fixture_t *f, const char *name)
{
    static char path[1100];
    snprintf (path, sizeof path, "%s/%s_secret", f->secrets, name);
    return path;
}

/*  Start a virtbus-test worker for HOST with KEY (a name in secrets/). Returns it without
 *  waiting for the ready line. */
static vb_testproc_t *
s_start_worker (fixture_t *f, const char *host, const char *key)
{
    char bin[1024], state[1024], name[64], hb[16];
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (f->env, "virtbus-test"));
    snprintf (state, sizeof state, "%s/state-%s", vb_testenv_dir (f->env), host);
    snprintf (name, sizeof name, "worker-%s", host);
    snprintf (hb, sizeof hb, "%d", vb_testenv_heartbeat_ms (f->env));
    char *argv[] = { bin, "--broker", (char *) f->workers_ep, "--host", (char *) host,
                     "--state-dir", state, "--heartbeat-ms", hb, "--key",
                     (char *) s_secret (f, key), NULL };
    return vb_testproc_start (name, vb_testenv_dir (f->env), argv);
}

/*  Run vbsh with KEY (a name in secrets/, or NULL for none) and up to 3 arguments. */
static int
s_vbsh (fixture_t *f, vb_testrun_t *run, const char *key, const char *a, const char *b,
        const char *c)
{
    char bin[1024];
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (f->env, "vbsh"));
    char *argv[10];
    int argc = 0;
    argv[argc++] = bin;
    argv[argc++] = "-c";
    argv[argc++] = (char *) f->clients_ep;
    if (key) {
        argv[argc++] = "-k";
        argv[argc++] = (char *) s_secret (f, key);
    }
    argv[argc++] = (char *) a;
    if (b)
        argv[argc++] = (char *) b;
    if (c)
        argv[argc++] = (char *) c;
    argv[argc] = NULL;
    return vb_testrun (run, vb_test_sanitized () ? 60000 : 15000, argv);
}

static int
s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    f->env = vb_testenv_new ("security_keys", 0);
    assert_non_null (f->env);
    snprintf (f->keys, sizeof f->keys, "%s/keys", vb_testenv_dir (f->env));
    snprintf (f->secrets, sizeof f->secrets, "%s/secrets", vb_testenv_dir (f->env));
    assert_int_equal (mkdir (f->secrets, 0700), 0);
    char workers[600], clients[600], stray[600];
    snprintf (workers, sizeof workers, "%s/workers", f->keys);
    snprintf (clients, sizeof clients, "%s/clients", f->keys);
    snprintf (stray, sizeof stray, "%s/stray", vb_testenv_dir (f->env));

    s_keygen (f, f->keys, NULL, "broker");
    s_keygen (f, workers, NULL, "w1");
    s_take_secret (f, workers, "w1");
    s_keygen (f, clients, "admin", "alice");
    s_take_secret (f, clients, "alice");
    s_keygen (f, clients, "read-only", "ro");
    s_take_secret (f, clients, "ro");
    /*  Keys nobody allowed: made the same way, never copied into the broker's directories. */
    s_keygen (f, stray, "admin", "mallory");
    s_take_secret (f, stray, "mallory");
    s_keygen (f, stray, NULL, "wmallory");
    s_take_secret (f, stray, "wmallory");

    char bin[1024], state_dir[600], hb[16];
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (f->env, "virtbusd"));
    snprintf (state_dir, sizeof state_dir, "%s/broker", vb_testenv_dir (f->env));
    snprintf (hb, sizeof hb, "%d", vb_testenv_heartbeat_ms (f->env));
    char *argv[] = { bin, "--clients", "tcp://127.0.0.1:*", "--workers", "tcp://127.0.0.1:*",
                     "--events", "tcp://127.0.0.1:*", "--state-dir", state_dir,
                     "--heartbeat-ms", hb, "--keys", f->keys, "--log-level", "info", NULL };
    f->broker = vb_testproc_start ("virtbusd", vb_testenv_dir (f->env), argv);
    assert_non_null (f->broker);
    assert_int_equal (vb_testproc_wait_ready (f->broker, vb_test_start_timeout_ms ()), 0);
    f->clients_ep = vb_testproc_ready_value (f->broker, "clients");
    f->workers_ep = vb_testproc_ready_value (f->broker, "workers");
    f->events_ep = vb_testproc_ready_value (f->broker, "events");
    assert_non_null (f->clients_ep);

    f->worker = s_start_worker (f, "h1", "w1");
    assert_non_null (f->worker);
    assert_int_equal (vb_testproc_wait_ready (f->worker, vb_test_start_timeout_ms ()), 0);

    /*  An admin defines the domain the tests read and destroy. */
    vb_error_t err = { 0 };
    vb_client_t *admin = vb_client_new_keyed (f->clients_ep, s_secret (f, "alice"), NULL, &err);
    if (!admin)
        fail_msg ("admin client: %s", err.message);
    assert_int_equal (vb_testcall_define (admin, "h1", "web", NULL), 0);
    vb_reply_t *r = vb_testcall (admin, "domain.start", NULL, "web", NULL, 2000, NULL, &err);
    assert_true (r && r->ok);
    vb_reply_destroy (&r);
    vb_client_destroy (&admin);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    int rc = 0;
    if (f->worker && vb_testproc_stop (f->worker, 10000) != 0)
        rc = -1;
    if (f->broker && vb_testproc_stop (f->broker, 10000) != 0)
        rc = -1;
    vb_testproc_destroy (&f->worker);
    vb_testproc_destroy (&f->broker);
    if (vb_testenv_stop (f->env) != 0)
        rc = -1;
    vb_testenv_destroy (&f->env);
    free (f);
    return rc;
}

/*  A refused handshake is an error within 2 s, never a hang until the request deadline. */
static void
s_expect_auth_failure (fixture_t *f, const char *key, const char *what)
{
    vb_testrun_t run;
    s_vbsh (f, &run, key, "hosts", NULL, NULL);
    if (run.exit_code != 1 || !strstr (run.err, "error: authentication failed")
        || run.elapsed_ms >= 2000)
        fail_msg ("vbsh hosts with %s: exit %d after %lld ms (want 1 within 2000 ms with "
                  "'error: authentication failed'):\n%s%s", what, run.exit_code,
                  (long long) run.elapsed_ms, run.out, run.err);
    vb_testrun_clear (&run);
}

static void
test_security_no_key_or_unknown_key_fails_authentication_within_2s (void **state)
{
    fixture_t *f = *state;
    s_expect_auth_failure (f, NULL, "no key");
    s_expect_auth_failure (f, "mallory", "an unknown key");
    /*  A worker's key is not a client key (separate ZAP domains). */
    s_expect_auth_failure (f, "w1", "a worker's key");

    /*  A known key that trusts the wrong broker key fails the same way. */
    char *wrong = s_path (f->keys, "../stray/mallory");
    assert_non_null (wrong);
    vb_testrun_t run;
    char bin[1024];
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (f->env, "vbsh"));
    char *argv[] = { bin, "-c", (char *) f->clients_ep, "-k", (char *) s_secret (f, "alice"),
                     "--server-key", wrong, "hosts", NULL };
    vb_testrun (&run, 15000, argv);
    if (run.exit_code != 1 || !strstr (run.err, "error: authentication failed")
        || run.elapsed_ms >= 2000)
        fail_msg ("vbsh with a wrong server key: exit %d after %lld ms:\n%s", run.exit_code,
                  (long long) run.elapsed_ms, run.err);
    vb_testrun_clear (&run);
    free (wrong);

    /*  And the client library reports it as DENIED, at once. */
    vb_error_t err = { 0 };
    vb_client_t *c = vb_client_new_keyed (f->clients_ep, s_secret (f, "mallory"), NULL, &err);
    assert_non_null (c);
    int64_t ms = 0;
    vb_reply_t *r = vb_testcall (c, "hosts", NULL, NULL, NULL, 5000, &ms, &err);
    assert_null (r);
    assert_int_equal (err.code, VB_ERR_DENIED);
    assert_true (ms < 2000);
    vb_client_destroy (&c);
}

/*  A SUB with KEY subscribed to everything, connected to the events endpoint. */
static zsock_t *
s_raw_sub (fixture_t *f, const char *key)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    assert_non_null (sub);
    zcert_t *cert = zcert_load (s_secret (f, key));
    char broker[600];
    snprintf (broker, sizeof broker, "%s/broker", f->keys);
    zcert_t *server = zcert_load (broker);
    assert_non_null (cert);
    assert_non_null (server);
    zcert_apply (cert, sub);
    zsock_set_curve_serverkey (sub, zcert_public_txt (server));
    zsock_set_subscribe (sub, "");
    assert_int_equal (zsock_connect (sub, "%s", f->events_ep), 0);
    zcert_destroy (&cert);
    zcert_destroy (&server);
    return sub;
}

/*  Messages that are events (not control topics) received on SUB within WAIT_MS. */
static int
s_count_events (zsock_t *sub, int wait_ms)
{
    int n = 0;
    int64_t end = zclock_mono () + wait_ms;
    zpoller_t *poller = zpoller_new (sub, NULL);
    while (zclock_mono () < end) {
        if (!zpoller_wait (poller, (int) (end - zclock_mono ())))
            continue;
        zmsg_t *msg = zmsg_recv (sub);
        char *topic = msg ? zmsg_popstr (msg) : NULL;
        if (topic && topic[0] != '!')
            n++;
        zstr_free (&topic);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    return n;
}

static void
test_security_unknown_key_subscriber_receives_no_event (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    vb_client_t *admin = vb_client_new_keyed (f->clients_ep, s_secret (f, "alice"), NULL, &err);
    if (!admin)
        fail_msg ("admin client: %s", err.message);
    /*  The allowed subscriber goes through the library (keys applied to its SUB, synced). */
    vb_subscriber_t *good = vb_subscriber_new (admin, "", 0, &err);
    assert_non_null (good);
    zsock_t *bad = s_raw_sub (f, "mallory");
    zsock_t *worker_key = s_raw_sub (f, "w1");

    json_object *args = json_object_new_object ();
    json_object_object_add (args, "count", json_object_new_int (5));
    vb_reply_t *r = vb_testcall (admin, "test.emit_events", NULL, "web", args, 2000, NULL, &err);
    assert_true (r && r->ok);
    vb_reply_destroy (&r);

    int seen = 0;
    for (int i = 0; i < 5; i++) {
        vb_event_t *ev = vb_subscriber_recv (good, 2000 + vb_test_margin_ms (), &err);
        if (ev)
            seen++;
        vb_event_destroy (&ev);
    }
    assert_int_equal (seen, 5);
    /*  The events went out while both strangers were connecting and retrying; now also ask
     *  for more while they listen. */
    args = json_object_new_object ();
    json_object_object_add (args, "count", json_object_new_int (5));
    r = vb_testcall (admin, "test.emit_events", NULL, "web", args, 2000, NULL, &err);
    assert_true (r && r->ok);
    vb_reply_destroy (&r);
    assert_int_equal (s_count_events (bad, 1000), 0);
    assert_int_equal (s_count_events (worker_key, 200), 0);

    zsock_destroy (&bad);
    zsock_destroy (&worker_key);
    vb_subscriber_destroy (&good);
    vb_client_destroy (&admin);
}

static void
test_security_read_only_key_reads_but_destroy_is_denied (void **state)
{
    fixture_t *f = *state;
    vb_testrun_t run;
    const char *reads[][2] = { { "list", "--all" }, { "domstats", "web" }, { "dominfo", "web" },
                               { "hosts", NULL } };
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        s_vbsh (f, &run, "ro", reads[i][0], reads[i][1], NULL);
        if (run.exit_code != 0 || !strstr (run.out, reads[i][0][0] == 'h' ? "h1" : "web"))
            fail_msg ("read-only vbsh %s: exit %d\n%s%s", reads[i][0], run.exit_code, run.out,
                      run.err);
        vb_testrun_clear (&run);
    }
    s_vbsh (f, &run, "ro", "destroy", "web", NULL);
    if (run.exit_code != 1
        || !strstr (run.err, "key 'ro' is read-only: domain.destroy needs an admin key"))
        fail_msg ("read-only destroy: exit %d\n%s%s", run.exit_code, run.out, run.err);
    vb_testrun_clear (&run);

    vb_error_t err = { 0 };
    vb_client_t *ro = vb_client_new_keyed (f->clients_ep, s_secret (f, "ro"), NULL, &err);
    assert_non_null (ro);
    vb_reply_t *r = vb_testcall (ro, "domain.destroy", NULL, "web", NULL, 2000, NULL, &err);
    assert_true (vb_testcall_is_error (r, VB_ERR_DENIED));
    vb_reply_destroy (&r);
    r = vb_testcall (ro, "domain.info", NULL, "web", NULL, 2000, NULL, &err);
    assert_true (r && r->ok);
    vb_reply_destroy (&r);
    vb_client_destroy (&ro);
}

static void
test_security_admin_key_destroys (void **state)
{
    fixture_t *f = *state;
    vb_testrun_t run;
    s_vbsh (f, &run, "alice", "destroy", "web", NULL);
    if (run.exit_code != 0)
        fail_msg ("admin destroy: exit %d\n%s%s", run.exit_code, run.out, run.err);
    vb_testrun_clear (&run);
    s_vbsh (f, &run, "alice", "dominfo", "web", NULL);
    assert_int_equal (run.exit_code, 0);
    assert_non_null (strstr (run.out, "shut off"));
    vb_testrun_clear (&run);
    s_vbsh (f, &run, "alice", "start", "web", NULL);
    assert_int_equal (run.exit_code, 0);
    vb_testrun_clear (&run);
}

static void
test_security_unknown_or_client_key_worker_never_registers (void **state)
{
    fixture_t *f = *state;
    vb_testproc_t *stranger = s_start_worker (f, "h2", "wmallory");
    vb_testproc_t *client_key = s_start_worker (f, "h3", "alice");
    assert_non_null (stranger);
    assert_non_null (client_key);
    vb_error_t err = { 0 };
    vb_client_t *admin = vb_client_new_keyed (f->clients_ep, s_secret (f, "alice"), NULL, &err);
    if (!admin)
        fail_msg ("admin client: %s", err.message);
    /*  Over several heartbeat intervals (a registered worker shows within one), h1 alone. */
    int64_t end = zclock_mono () + vb_testenv_intervals_ms (f->env, 5);
    while (zclock_mono () < end) {
        assert_int_equal (vb_testcall_hosts_count (admin, "h2", NULL, 1000, NULL), 0);
        assert_int_equal (vb_testcall_hosts_count (admin, "h3", NULL, 1000, NULL), 0);
        assert_int_equal (vb_testcall_hosts_count (admin, "h1", NULL, 1000, NULL), 1);
        zclock_sleep (vb_testenv_heartbeat_ms (f->env) / 2);
    }
    assert_true (vb_testproc_alive (stranger));
    assert_null (vb_testproc_ready_line (stranger));
    vb_client_destroy (&admin);
    assert_int_equal (vb_testproc_stop (stranger, 10000), 0);
    assert_int_equal (vb_testproc_stop (client_key, 10000), 0);
    vb_testproc_destroy (&stranger);
    vb_testproc_destroy (&client_key);
}

/*  virtbusd with ARGS (NULL-terminated, after the binary) must exit 1 quickly with a line on
 *  stderr containing WANT. */
static void
s_expect_refusal (fixture_t *f, const char *want, const char *a, const char *b, const char *c,
                  const char *d)
{
    char bin[1024], state_dir[600];
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (f->env, "virtbusd"));
    snprintf (state_dir, sizeof state_dir, "%s/refused", vb_testenv_dir (f->env));
    char *argv[] = { bin, "--state-dir", state_dir, "--workers", "tcp://127.0.0.1:*",
                     "--events", "tcp://127.0.0.1:*", (char *) a, (char *) b, (char *) c,
                     (char *) d, NULL };
    vb_testrun_t run;
    vb_testrun (&run, 10000, argv);
    if (run.exit_code == 0 || strstr (run.out, "ready") || !strstr (run.err, want))
        fail_msg ("virtbusd %s %s %s %s: exit %d (want a refusal naming '%s'):\n%s%s", a,
                  b ? b : "", c ? c : "", d ? d : "", run.exit_code, want, run.out, run.err);
    vb_testrun_clear (&run);
}

static void
test_security_broker_refuses_unsafe_binds (void **state)
{
    fixture_t *f = *state;
    s_expect_refusal (f, "without keys", "--clients", "tcp://0.0.0.0:*", "--advertise",
                      "127.0.0.1");
    s_expect_refusal (f, "--advertise", "--clients", "tcp://0.0.0.0:*", "--insecure", NULL);
    s_expect_refusal (f, "is not a host name", "--clients", "tcp://0.0.0.0:*", "--advertise",
                      "a b:c");

    /*  --insecure accepts the risk: it starts and advertises the given host. */
    char bin[1024], state_dir[600];
    snprintf (bin, sizeof bin, "%s", vb_testenv_bin (f->env, "virtbusd"));
    snprintf (state_dir, sizeof state_dir, "%s/insecure", vb_testenv_dir (f->env));
    char *argv[] = { bin, "--state-dir", state_dir, "--clients", "tcp://0.0.0.0:*",
                     "--workers", "tcp://127.0.0.1:*", "--events", "tcp://127.0.0.1:*",
                     "--advertise", "localhost", "--insecure", NULL };
    vb_testproc_t *b = vb_testproc_start ("virtbusd-insecure", vb_testenv_dir (f->env), argv);
    assert_non_null (b);
    assert_int_equal (vb_testproc_wait_ready (b, vb_test_start_timeout_ms ()), 0);
    assert_int_equal (strncmp (vb_testproc_ready_value (b, "clients"), "tcp://localhost:", 16),
                      0);
    assert_int_equal (vb_testproc_stop (b, 10000), 0);
    vb_testproc_destroy (&b);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_security_no_key_or_unknown_key_fails_authentication_within_2s),
        cmocka_unit_test (test_security_unknown_key_subscriber_receives_no_event),
        cmocka_unit_test (test_security_read_only_key_reads_but_destroy_is_denied),
        cmocka_unit_test (test_security_admin_key_destroys),
        cmocka_unit_test (test_security_unknown_or_client_key_worker_never_registers),
        cmocka_unit_test (test_security_broker_refuses_unsafe_binds),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
