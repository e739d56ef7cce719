/*  Spine check: vbsh against a real broker and virtbus-test worker.
 *
 *  `vbsh hosts` lists the worker's host; `vbsh define FILE` defines a domain from an XML file;
 *  `vbsh list --all` shows it shut off and `vbsh --json list --all` prints valid JSON holding
 *  it; after `vbsh start web`, `vbsh dominfo web` shows `State:          running` and
 *  `vbsh list` (running domains only) shows it; after `vbsh destroy web` it is shut off again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vb_testcall.h"
#include "vb_testenv.h"

/*  Run vbsh with up to 4 arguments (NULL-terminated); fail the test unless it exits 0. The
 *  caller clears RUN. */
static void
s_vbsh_ok (vb_testenv_t *env, vb_testrun_t *run, const char *a, const char *b, const char *c,
           const char *d)
{
    vb_testenv_vbsh (env, run, a, b, c, d, NULL);
    if (run->exit_code != 0 || run->err[0] != '\0')
        fail_msg ("vbsh %s %s %s %s: exit %d (want 0, nothing on stderr):\n%s%s", a,
                  b ? b : "", c ? c : "", d ? d : "", run->exit_code, run->out, run->err);
}

/*  Is JSON valid and complete (one value, nothing after it)? Returns the tree or NULL. */
static json_object *
s_parse_json (const char *text)
{
    json_tokener *tok = json_tokener_new ();
    json_tokener_set_flags (tok, JSON_TOKENER_STRICT);
    json_object *obj = json_tokener_parse_ex (tok, text, (int) strlen (text));
    bool complete = json_tokener_get_error (tok) == json_tokener_success;
    size_t used = json_tokener_get_parse_end (tok);
    json_tokener_free (tok);
    while (complete && text[used] && strchr (" \t\r\n", text[used]))
        used++;
    if (!complete || text[used] != '\0') {
        json_object_put (obj);
        return NULL;
    }
    return obj;
}

static void
test_spine_cli_hosts_define_list_json_start_dominfo (void **state)
{
    vb_testenv_t *env = *state;
    vb_testrun_t run;

    assert_non_null (vb_testenv_start_broker (env));
    assert_non_null (vb_testenv_start_worker (env, "virtbus-test", "h1", NULL));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);
    const char *h1[] = {"h1"};
    vb_testcall_hosts_t one = {.client = client, .hosts = h1, .count = 1, .workers = 1,
                               .deadline_ms = 1000};
    if (!vb_test_poll_until (vb_testcall_hosts_listed, &one, 20,
                             vb_testenv_intervals_ms (env, 2), NULL))
        fail_msg ("hosts does not list h1 within 2 intervals of its ready line");

    s_vbsh_ok (env, &run, "hosts", NULL, NULL, NULL);
    if (!strstr (run.out, "h1") || !strstr (run.out, "test"))
        fail_msg ("vbsh hosts should show host h1 and driver test:\n%s", run.out);
    vb_testrun_clear (&run);

    s_vbsh_ok (env, &run, "--json", "hosts", NULL, NULL);
    json_object *json = s_parse_json (run.out);
    if (!json || !vb_testcall_json_has_string (json, "h1"))
        fail_msg ("vbsh --json hosts is not valid JSON naming h1:\n%s", run.out);
    json_object_put (json);
    vb_testrun_clear (&run);

    char *xml = vb_testcall_domain_xml ("web");
    assert_non_null (xml);
    const char *path = vb_testenv_write_file (env, "web.xml", xml);
    free (xml);
    assert_non_null (path);
    s_vbsh_ok (env, &run, "define", path, NULL, NULL);
    if (!strstr (run.out, "web"))
        fail_msg ("vbsh define should name the domain it defined:\n%s", run.out);
    vb_testrun_clear (&run);

    s_vbsh_ok (env, &run, "list", "--all", NULL, NULL);
    if (!strstr (run.out, "web") || !strstr (run.out, "shut off"))
        fail_msg ("vbsh list --all should show web shut off:\n%s", run.out);
    vb_testrun_clear (&run);

    s_vbsh_ok (env, &run, "--json", "list", "--all", NULL);
    json = s_parse_json (run.out);
    if (!json || !vb_testcall_json_has_string (json, "web"))
        fail_msg ("vbsh --json list --all is not valid JSON naming web:\n%s", run.out);
    json_object_put (json);
    vb_testrun_clear (&run);

    s_vbsh_ok (env, &run, "list", NULL, NULL, NULL);
    if (strstr (run.out, "web"))
        fail_msg ("vbsh list (running only) shows web before it started:\n%s", run.out);
    vb_testrun_clear (&run);

    s_vbsh_ok (env, &run, "start", "web", NULL, NULL);
    vb_testrun_clear (&run);
    s_vbsh_ok (env, &run, "dominfo", "web", NULL, NULL);
    if (!strstr (run.out, "State:          running"))
        fail_msg ("vbsh dominfo web after start lacks 'State:          running':\n%s", run.out);
    if (!strstr (run.out, "Name:           web"))
        fail_msg ("vbsh dominfo web lacks 'Name:           web':\n%s", run.out);
    vb_testrun_clear (&run);
    s_vbsh_ok (env, &run, "list", NULL, NULL, NULL);
    if (!strstr (run.out, "web") || !strstr (run.out, "running"))
        fail_msg ("vbsh list should show web running:\n%s", run.out);
    vb_testrun_clear (&run);

    /* Starting it again is refused the virsh way. */
    vb_testenv_vbsh (env, &run, "start", "web", NULL);
    if (run.exit_code != 1 || strncmp (run.err, "error: ", 7) != 0)
        fail_msg ("vbsh start web (already running): want exit 1 and 'error: ...', got exit %d:"
                  "\n%s%s", run.exit_code, run.out, run.err);
    vb_testrun_clear (&run);

    s_vbsh_ok (env, &run, "destroy", "web", NULL, NULL);
    vb_testrun_clear (&run);
    s_vbsh_ok (env, &run, "dominfo", "web", NULL, NULL);
    if (!strstr (run.out, "State:          shut off"))
        fail_msg ("vbsh dominfo web after destroy lacks 'State:          shut off':\n%s",
                  run.out);
    vb_testrun_clear (&run);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("spine_cli", 0);
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
        cmocka_unit_test_setup_teardown (test_spine_cli_hosts_define_list_json_start_dominfo,
                                         s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
