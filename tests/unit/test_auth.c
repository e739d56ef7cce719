/*  vb_auth: roles and their checks, keygen and strict certificate loading, allowed-key
 *  directories (malformed certificates left out and described, reload on change), peer keys,
 *  and one real CURVE handshake through the authenticator with its per-endpoint domains. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "vb_auth.h"
#include "vb_util.h"

typedef struct {
    char dir[256];
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    snprintf (f->dir, sizeof f->dir, "/tmp/vbtest-auth-XXXXXX");
    assert_non_null (mkdtemp (f->dir));
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal (system (cmd), 0);
    free (f);
    return 0;
}

static void
s_write (const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen (path, "w");
    assert_non_null (fp);
    fputs (text, fp);
    fclose (fp);
}

static const char *
s_sub (fixture_t *f, const char *sub)
{
    static char path[512];
    snprintf (path, sizeof path, "%s/%s", f->dir, sub);
    return path;
}

static void
test_auth_role_parse_accepts_only_the_two_roles (void **state)
{
    (void) state;
    vb_auth_role_t role = VB_AUTH_ROLE_NONE;
    assert_int_equal (vb_auth_role_parse ("read-only", &role), 0);
    assert_int_equal (role, VB_AUTH_ROLE_READ_ONLY);
    assert_int_equal (vb_auth_role_parse ("admin", &role), 0);
    assert_int_equal (role, VB_AUTH_ROLE_ADMIN);
    assert_int_equal (vb_auth_role_parse ("Admin", &role), -1);
    assert_int_equal (vb_auth_role_parse ("none", &role), -1);
    assert_int_equal (vb_auth_role_parse ("", &role), -1);
    assert_int_equal (vb_auth_role_parse (NULL, &role), -1);
    assert_string_equal (vb_auth_role_name (VB_AUTH_ROLE_READ_ONLY), "read-only");
    assert_string_equal (vb_auth_role_name ((vb_auth_role_t) 99), "none");
}

static void
test_auth_read_only_may_read_and_admin_may_do_everything (void **state)
{
    (void) state;
    const char *reads[] = { "hosts", "broker.info", "domain.list", "domain.info", "domain.xml",
                            "domain.stats", "events.replay", "events.sync" };
    const char *writes[] = { "domain.destroy", "domain.define", "domain.start",
                             "domain.undefine", "test.sleep", "block.commit", "hosts.x", "" };
    for (size_t i = 0; i < sizeof reads / sizeof reads[0]; i++) {
        assert_true (vb_auth_role_allows (VB_AUTH_ROLE_READ_ONLY, reads[i]));
        assert_true (vb_auth_role_allows (VB_AUTH_ROLE_ADMIN, reads[i]));
        assert_false (vb_auth_role_allows (VB_AUTH_ROLE_NONE, reads[i]));
    }
    for (size_t i = 0; i < sizeof writes / sizeof writes[0]; i++) {
        assert_false (vb_auth_role_allows (VB_AUTH_ROLE_READ_ONLY, writes[i]));
        assert_true (vb_auth_role_allows (VB_AUTH_ROLE_ADMIN, writes[i]));
    }
}

static void
test_auth_check_denied_message_names_key_op_and_fix (void **state)
{
    (void) state;
    vb_error_t err = { 0 };
    assert_int_equal (vb_auth_check ("alice", VB_AUTH_ROLE_READ_ONLY, "domain.list", &err), 0);
    assert_int_equal (vb_auth_check ("alice", VB_AUTH_ROLE_READ_ONLY, "domain.destroy", &err),
                      -1);
    assert_int_equal (err.code, VB_ERR_DENIED);
    assert_string_equal (err.message,
                         "key 'alice' is read-only: domain.destroy needs an admin key");
    assert_int_equal (vb_auth_check ("bob", VB_AUTH_ROLE_NONE, "hosts", &err), -1);
    assert_int_equal (err.code, VB_ERR_DENIED);
}

static void
test_auth_keygen_writes_pair_with_metadata_and_never_overwrites (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    assert_int_equal (vb_auth_keygen (f->dir, "broker", NULL, NULL, &err), 0);
    char broker[300];
    snprintf (broker, sizeof broker, "%s/broker", f->dir);
    assert_int_equal (vb_auth_keygen (s_sub (f, "clients"), "alice", "admin", broker, &err), 0);

    char path[512];
    snprintf (path, sizeof path, "%s/alice_secret", s_sub (f, "clients"));
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    zcert_t *secret = vb_auth_cert_load (path, true, &err);
    assert_non_null (secret);
    zcert_t *pub = vb_auth_cert_load (broker, false, &err);
    assert_non_null (pub);
    assert_string_equal (zcert_meta (secret, "role"), "admin");
    assert_string_equal (zcert_meta (secret, "name"), "alice");
    assert_string_equal (zcert_meta (secret, "broker-key"), zcert_public_txt (pub));
    /*  The public half holds no secret. */
    snprintf (path, sizeof path, "%s/alice", s_sub (f, "clients"));
    assert_null (vb_auth_cert_load (path, true, &err));
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    assert_non_null (strstr (err.message, "secret-key"));

    assert_int_equal (vb_auth_keygen (s_sub (f, "clients"), "alice", "admin", NULL, &err), -1);
    assert_non_null (strstr (err.message, "never overwritten"));
    assert_int_equal (vb_auth_keygen (f->dir, "../evil", NULL, NULL, &err), -1);
    assert_int_equal (vb_auth_keygen (f->dir, "x_secret", NULL, NULL, &err), -1);
    assert_int_equal (vb_auth_keygen (f->dir, "carol", "root", NULL, &err), -1);
    assert_non_null (strstr (err.message, "role 'root'"));
    zcert_destroy (&secret);
    zcert_destroy (&pub);
}

static void
test_auth_cert_load_rejects_malformed_files (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    s_write (f->dir, "garbage", "\x01\x02 this is not ZPL {{{\n");
    s_write (f->dir, "short", "curve\n    public-key = \"abc\"\n");
    s_write (f->dir, "badz85",
             "curve\n    public-key = \"~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~\"\n");
    s_write (f->dir, "nokey", "metadata\n    role = \"admin\"\n");
    const char *names[] = { "garbage", "short", "badz85", "nokey", "missing" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        snprintf (path, sizeof path, "%s/%s", f->dir, names[i]);
        vb_error_clear (&err);
        assert_null (vb_auth_cert_load (path, false, &err));
        assert_int_equal (err.code, VB_ERR_INVALID_ARG);
        assert_non_null (strstr (err.message, path));
    }
    /*  A directory is not a certificate. */
    assert_null (vb_auth_cert_load (f->dir, false, &err));
}

static void
test_auth_dir_loads_valid_certs_and_describes_the_rest (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    const char *clients = s_sub (f, "clients");
    char dir[512];
    snprintf (dir, sizeof dir, "%s", clients);
    assert_int_equal (vb_auth_keygen (dir, "alice", "admin", NULL, &err), 0);
    assert_int_equal (vb_auth_keygen (dir, "ro", "read-only", NULL, &err), 0);
    assert_int_equal (vb_auth_keygen (dir, "norole", NULL, NULL, &err), 0);
    s_write (dir, "broken", "curve\n    public-key = \"abc\"\n");
    s_write (dir, ".hidden", "ignored");
    s_write (dir, "alice~", "ignored");
    /*  The same key under a second name is refused. */
    char from[600], to[600];
    snprintf (from, sizeof from, "%s/alice", dir);
    snprintf (to, sizeof to, "%s/zz-copy", dir);
    char cmd[1300];
    snprintf (cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    assert_int_equal (system (cmd), 0);

    vb_auth_dir_t *d = vb_auth_dir_new (dir, true, &err);
    assert_non_null (d);
    assert_int_equal (vb_auth_dir_size (d), 2);
    zlistx_t *problems = vb_auth_dir_problems (d);
    assert_int_equal (zlistx_size (problems), 3);
    const char *p = zlistx_first (problems);
    assert_non_null (strstr (p, "broken"));
    p = zlistx_next (problems);
    assert_non_null (strstr (p, "norole"));
    assert_non_null (strstr (p, "role"));
    p = zlistx_next (problems);
    assert_non_null (strstr (p, "zz-copy"));

    zcert_t *alice = vb_auth_cert_load (from, false, &err);
    assert_non_null (alice);
    const char *name = NULL;
    vb_auth_role_t role = VB_AUTH_ROLE_NONE;
    assert_int_equal (vb_auth_dir_lookup (d, zcert_public_txt (alice), &name, &role), 0);
    assert_string_equal (name, "alice");
    assert_int_equal (role, VB_AUTH_ROLE_ADMIN);
    assert_int_equal (vb_auth_dir_lookup (d, "0000000000000000000000000000000000000000", &name,
                                          &role), -1);

    /*  Removing a file takes effect on the next refresh (the directory's mtime changes). */
    assert_int_equal (unlink (from), 0);
    assert_int_equal (unlink (to), 0);
    struct timespec times[2] = { { 0, UTIME_NOW }, { time (NULL) + 5, 0 } };
    assert_int_equal (utimensat (AT_FDCWD, dir, times, 0), 0);
    assert_int_equal (vb_auth_dir_refresh (d), 0);
    assert_int_equal (vb_auth_dir_lookup (d, zcert_public_txt (alice), &name, &role), -1);
    assert_int_equal (vb_auth_dir_size (d), 1);

    zcert_destroy (&alice);
    vb_auth_dir_destroy (&d);
    assert_null (d);
    assert_null (vb_auth_dir_new (s_sub (f, "nosuch"), false, &err));
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
}

static void
test_auth_keys_need_a_broker_key (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    assert_int_equal (vb_auth_keygen (f->dir, "broker", NULL, NULL, &err), 0);
    assert_int_equal (vb_auth_keygen (f->dir, "plain", "admin", NULL, &err), 0);
    char plain[300], broker[300];
    snprintf (plain, sizeof plain, "%s/plain_secret", f->dir);
    snprintf (broker, sizeof broker, "%s/broker", f->dir);
    assert_null (vb_auth_keys_new (plain, NULL, &err));
    assert_non_null (strstr (err.message, "--server-key"));
    vb_auth_keys_t *keys = vb_auth_keys_new (plain, broker, &err);
    assert_non_null (keys);
    assert_int_equal (strlen (vb_auth_keys_public (keys)), 40);
    vb_auth_keys_destroy (&keys);
    assert_null (keys);
    snprintf (plain, sizeof plain, "%s/plain", f->dir);
    assert_null (vb_auth_keys_new (plain, broker, &err));   /* a public file has no secret */
}

/*  A CURVE client with KEYS connecting to SERVER: does a message get through? */
static bool
s_gets_through (zsock_t *server, const char *endpoint, vb_auth_keys_t *keys, char **user,
                char **role)
{
    zsock_t *client = zsock_new (ZMQ_DEALER);
    zsock_set_linger (client, 0);
    vb_auth_keys_apply (keys, client);
    zsock_connect (client, "%s", endpoint);
    zstr_send (client, "hello");
    zpoller_t *poller = zpoller_new (server, NULL);
    bool got = zpoller_wait (poller, 1000) == server;
    if (got) {
        zmsg_t *msg = zmsg_recv (server);
        zframe_t *id = zmsg_pop (msg);
        zframe_t *body = zmsg_first (msg);
        const char *name = NULL;
        vb_auth_role_t r = VB_AUTH_ROLE_NONE;
        if (vb_auth_peer (body, &name, &r) == 0) {
            *user = strdup (name);
            *role = strdup (vb_auth_role_name (r));
        }
        zframe_destroy (&id);
        zmsg_destroy (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&client);
    return got;
}

static void
test_auth_server_separates_domains_and_sets_user_and_role (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    char broker[300], sub[300];
    snprintf (broker, sizeof broker, "%s/broker", f->dir);
    assert_int_equal (vb_auth_keygen (f->dir, "broker", NULL, NULL, &err), 0);
    snprintf (sub, sizeof sub, "%s/clients", f->dir);
    assert_int_equal (vb_auth_keygen (sub, "ro", "read-only", broker, &err), 0);
    snprintf (sub, sizeof sub, "%s/workers", f->dir);
    assert_int_equal (vb_auth_keygen (sub, "w1", NULL, broker, &err), 0);

    vb_auth_server_t *auth = vb_auth_server_new (f->dir, &err);
    assert_non_null (auth);
    zsock_t *clients = zsock_new (ZMQ_ROUTER);
    zsock_t *workers = zsock_new (ZMQ_ROUTER);
    vb_auth_server_apply (auth, clients, VB_AUTH_DOMAIN_CLIENTS);
    vb_auth_server_apply (auth, workers, VB_AUTH_DOMAIN_WORKERS);
    /*  tcp, not inproc: inproc connections skip the security handshake altogether. */
    assert_true (zsock_bind (clients, "tcp://127.0.0.1:*") > 0);
    assert_true (zsock_bind (workers, "tcp://127.0.0.1:*") > 0);
    char *clients_ep = zsock_last_endpoint (clients);
    char *workers_ep = zsock_last_endpoint (workers);

    char path[400];
    snprintf (path, sizeof path, "%s/clients/ro_secret", f->dir);
    vb_auth_keys_t *ro = vb_auth_keys_new (path, NULL, &err);
    snprintf (path, sizeof path, "%s/workers/w1_secret", f->dir);
    vb_auth_keys_t *w1 = vb_auth_keys_new (path, NULL, &err);
    assert_non_null (ro);
    assert_non_null (w1);

    char *user = NULL, *role = NULL;
    assert_true (s_gets_through (clients, clients_ep, ro, &user, &role));
    assert_string_equal (user, "ro");
    assert_string_equal (role, "read-only");
    free (user);
    free (role);
    user = role = NULL;
    assert_true (s_gets_through (workers, workers_ep, w1, &user, &role));
    assert_string_equal (user, "w1");
    free (user);
    free (role);
    user = role = NULL;
    /*  Each key only where its directory allows it. */
    assert_false (s_gets_through (workers, workers_ep, ro, &user, &role));
    assert_false (s_gets_through (clients, clients_ep, w1, &user, &role));

    zstr_free (&clients_ep);
    zstr_free (&workers_ep);
    vb_auth_keys_destroy (&ro);
    vb_auth_keys_destroy (&w1);
    zsock_destroy (&clients);
    zsock_destroy (&workers);
    vb_auth_server_destroy (&auth);
    assert_null (auth);

    /*  Without the broker keypair there is no server. */
    snprintf (path, sizeof path, "%s/broker_secret", f->dir);
    assert_int_equal (unlink (path), 0);
    assert_null (vb_auth_server_new (f->dir, &err));
    assert_non_null (strstr (err.message, "broker_secret"));
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_auth_role_parse_accepts_only_the_two_roles),
        cmocka_unit_test (test_auth_read_only_may_read_and_admin_may_do_everything),
        cmocka_unit_test (test_auth_check_denied_message_names_key_op_and_fix),
        cmocka_unit_test_setup_teardown (
            test_auth_keygen_writes_pair_with_metadata_and_never_overwrites, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (test_auth_cert_load_rejects_malformed_files, s_setup,
                                         s_teardown),
        cmocka_unit_test_setup_teardown (test_auth_dir_loads_valid_certs_and_describes_the_rest,
                                         s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (test_auth_keys_need_a_broker_key, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_auth_server_separates_domains_and_sets_user_and_role, s_setup, s_teardown),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    zsys_shutdown ();
    return rc;
}
