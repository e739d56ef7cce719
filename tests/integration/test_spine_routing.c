/*  Spine check: routing of requests aimed at domains, and define placement.
 *
 *  Workers: h1 and h2 (one each), and two on h3 (same --host, different --id and --state-dir).
 *  - "web" defined on h1 and on h2: the bare name answers AMBIGUOUS naming both hosts,
 *    "h1/web" and "h2/web" reach their own host, the UUID reaches its domain;
 *  - four defines aimed at h3 are placed on the least loaded worker each time: 2 and 2;
 *  - an unknown domain answers NO_DOMAIN; vbsh prints `error: ...` on stderr and exits 1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vb_testcall.h"
#include "vb_testenv.h"

/*  domain.info on TARGET; fails the test unless ok. Returns the reply (caller destroys). */
static vb_reply_t *
s_info_ok (vb_client_t *client, const char *target)
{
    char line[2048];
    vb_error_t err = {0};
    vb_reply_t *r = vb_testcall (client, "domain.info", NULL, target, NULL, 0, NULL, &err);
    if (!r || !r->ok)
        fail_msg ("domain.info %s: %s", target, vb_testcall_describe (r, &err, line, sizeof line));
    return r;
}

static const char *
s_field (json_object *obj, const char *key)
{
    json_object *field = NULL;
    if (!json_object_object_get_ex (obj, key, &field)
        || !json_object_is_type (field, json_type_string))
        return "";
    return json_object_get_string (field);
}

static void
test_spine_routing_ambiguous_qualified_uuid_placement_and_errors (void **state)
{
    vb_testenv_t *env = *state;
    char line[2048];

    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-test", "h1", NULL));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-test", "h2", NULL));
    vb_testproc_t *w3a = vb_testenv_start_worker (env, "virtbus-test", "h3", "h3-test-a");
    vb_testproc_t *w3b = vb_testenv_start_worker (env, "virtbus-test", "h3", "h3-test-b");
    assert_non_null (w3a);
    assert_non_null (w3b);
    assert_string_equal (vb_testproc_ready_value (w3a, "worker"), "h3-test-a");
    assert_string_equal (vb_testproc_ready_value (w3b, "worker"), "h3-test-b");
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);
    const char *hosts[] = {"h1", "h2", "h3"};
    vb_testcall_hosts_t all = {.client = client, .hosts = hosts, .count = 3, .workers = 4,
                               .deadline_ms = 1000};
    if (!vb_test_poll_until (vb_testcall_hosts_listed, &all, 20,
                             vb_testenv_intervals_ms (env, 2), NULL))
        fail_msg ("hosts does not list the 4 workers within 2 intervals of their ready lines");

    /* The same name on two hosts. */
    char uuid_h1[37], uuid_h2[37];
    assert_int_equal (vb_testcall_define (client, "h1", "web", uuid_h1), 0);
    assert_int_equal (vb_testcall_define (client, "h2", "web", uuid_h2), 0);
    assert_string_not_equal (uuid_h1, uuid_h2);
    assert_true (vb_testcall_wait_ok (client, "domain.info", NULL, "h2/web", 1000, 20,
                                      vb_testenv_intervals_ms (env, 2)));

    vb_error_t err = {0};
    vb_reply_t *r = vb_testcall (client, "domain.info", NULL, "web", NULL, 0, NULL, &err);
    vb_testcall_describe (r, &err, line, sizeof line);
    if (!vb_testcall_is_error (r, VB_ERR_AMBIGUOUS))
        fail_msg ("domain.info web (on h1 and h2): want AMBIGUOUS, got %s", line);
    if (!strstr (r->message, "h1") || !strstr (r->message, "h2"))
        fail_msg ("the AMBIGUOUS message must name both hosts: '%s'", r->message);
    vb_reply_destroy (&r);

    r = s_info_ok (client, "h1/web");
    assert_string_equal (s_field (r->result, "host"), "h1");
    assert_string_equal (s_field (r->result, "uuid"), uuid_h1);
    vb_reply_destroy (&r);
    r = s_info_ok (client, "h2/web");
    assert_string_equal (s_field (r->result, "host"), "h2");
    assert_string_equal (s_field (r->result, "uuid"), uuid_h2);
    vb_reply_destroy (&r);
    r = s_info_ok (client, uuid_h2);
    assert_string_equal (s_field (r->result, "host"), "h2");
    assert_string_equal (s_field (r->result, "name"), "web");
    vb_reply_destroy (&r);

    /* Placement: the least loaded h3 worker each time, the load counted as routed. */
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf (name, sizeof name, "p%d", i + 1);
        assert_int_equal (vb_testcall_define (client, "h3", name, NULL), 0);
    }
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "all", json_object_new_boolean (true));
    r = vb_testcall (client, "domain.list", NULL, NULL, args, 0, NULL, &err);
    vb_testcall_describe (r, &err, line, sizeof line);
    if (!r || !r->ok || r->partial_count != 0)
        fail_msg ("domain.list --all: %s", line);
    size_t on_a = vb_testcall_count2 (r->result, "host", "h3", "worker", "h3-test-a");
    size_t on_b = vb_testcall_count2 (r->result, "host", "h3", "worker", "h3-test-b");
    if (on_a != 2 || on_b != 2)
        fail_msg ("4 defines on h3 placed %zu on h3-test-a and %zu on h3-test-b, want 2 and 2: "
                  "%s", on_a, on_b, line);
    vb_reply_destroy (&r);

    /* Unknown domains. */
    const char *unknown[] = {"nosuch", "h1/nosuch", "00000000-0000-4000-8000-000000000000"};
    for (size_t i = 0; i < 3; i++) {
        r = vb_testcall (client, "domain.info", NULL, unknown[i], NULL, 0, NULL, &err);
        if (!vb_testcall_is_error (r, VB_ERR_NO_DOMAIN))
            fail_msg ("domain.info %s: want NO_DOMAIN, got %s", unknown[i],
                      vb_testcall_describe (r, &err, line, sizeof line));
        vb_reply_destroy (&r);
    }

    /* vbsh: errors on stderr as `error: ...`, exit status 1, nothing but virsh's trailing
     * blank line on stdout. */
    const char *bad[] = {"nosuch", "web"};
    for (size_t i = 0; i < 2; i++) {
        vb_testrun_t run;
        vb_testenv_vbsh (env, &run, "dominfo", bad[i], NULL);
        if (run.exit_code != 1 || strncmp (run.err, "error: ", 7) != 0
            || run.out[strspn (run.out, " \n")] != '\0')
            fail_msg ("vbsh dominfo %s: want exit 1, 'error: ...' on stderr and no text on "
                      "stdout; got exit %d, stdout '%s', stderr '%s'", bad[i], run.exit_code,
                      run.out, run.err);
        if (i == 1 && (!strstr (run.err, "h1") || !strstr (run.err, "h2")))
            fail_msg ("vbsh dominfo web (ambiguous) should name h1 and h2: %s", run.err);
        vb_testrun_clear (&run);
    }
    vb_testrun_t run;
    vb_testenv_vbsh (env, &run, "dominfo", "h2/web", NULL);
    if (run.exit_code != 0 || !strstr (run.out, uuid_h2))
        fail_msg ("vbsh dominfo h2/web (exit %d) should show %s:\n%s%s", run.exit_code, uuid_h2,
                  run.out, run.err);
    vb_testrun_clear (&run);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("spine_routing", 0);
    return *state ? 0 : -1;
}

static int
s_teardown (void **state)
{
    vb_testenv_t *env = *state;
    int rc = env ? vb_testenv_stop (env) : 0;
    vb_testenv_destroy (&env);
    vb_testproc_kill_all ();
    return rc;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_spine_routing_ambiguous_qualified_uuid_placement_and_errors, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
