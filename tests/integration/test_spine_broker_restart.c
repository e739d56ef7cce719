/*  Spine check: the broker killed (SIGKILL) and restarted on the same endpoints.
 *
 *  The first broker binds ephemeral ports (port 0); its ready line gives the resolved endpoints,
 *  and the second broker binds exactly those once the kernel has released them. Three
 *  virtbus-test workers (h1, h2, h3), each owning a domain, must be registered with the new
 *  broker within 2 heartbeat intervals (+ margin) of its ready line, with no manual step, and
 *  `vbsh list --all` then shows every domain.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "vb_testcall.h"
#include "vb_testenv.h"

static void
test_spine_broker_restart_gets_every_worker_back_within_two_intervals (void **state)
{
    vb_testenv_t *env = *state;
    const char *hosts[] = {"h1", "h2", "h3"};
    const char *domains[] = {"dom-h1", "dom-h2", "dom-h3"};

    /* Port 0, not '*': CZMQ resolves '*' to the first free port from 49152 up, so a port freed
     * by the kill would be the very next one any other test (ctest -j2) binds with '*'; the
     * kernel's port-0 choice is random and does not come back to it. */
    const char *any = "tcp://127.0.0.1:0";
    assert_non_null (vb_testenv_start_broker_on (env, any, any, any));
    for (int i = 0; i < 3; i++)
        assert_non_null (vb_testenv_start_worker (env, "virtbus-test", hosts[i], NULL));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);
    vb_testcall_hosts_t all3 = {.client = client, .hosts = hosts, .count = 3, .workers = 3,
                                .deadline_ms = 1000};
    if (!vb_test_poll_until (vb_testcall_hosts_listed, &all3, 20,
                             vb_testenv_intervals_ms (env, 2), NULL))
        fail_msg ("hosts does not list h1, h2 and h3 within 2 intervals of their ready lines");
    for (int i = 0; i < 3; i++)
        assert_int_equal (vb_testcall_define (client, hosts[i], domains[i], NULL), 0);

    char *clients_ep = strdup (vb_testenv_clients_ep (env));
    char *workers_ep = strdup (vb_testenv_workers_ep (env));
    char *events_ep = strdup (vb_testenv_events_ep (env));
    assert_true (clients_ep && workers_ep && events_ep);
    assert_null (strchr (clients_ep, '*'));
    assert_null (strstr (clients_ep, ":0"));

    vb_testproc_t *old = vb_testenv_broker (env);
    pid_t old_pid = vb_testproc_pid (old);
    assert_int_equal (vb_testproc_signal (old, SIGKILL), 0);
    assert_int_equal (vb_testproc_wait_exit (old, 2000, NULL), 0);
    vb_testenv_kill_broker (env);
    /* The killed broker's connections hold its ports until the peers close their ends. */
    const char *eps[] = {clients_ep, workers_ep, events_ep};
    for (int i = 0; i < 3; i++)
        if (!vb_test_wait_port_free (eps[i], vb_testenv_intervals_ms (env, 5)))
            fail_msg ("%s is still taken %d ms after the broker was killed", eps[i],
                      vb_testenv_intervals_ms (env, 5));

    vb_testproc_t *broker = vb_testenv_start_broker_on (env, clients_ep, workers_ep, events_ep);
    if (!broker)
        fail_msg ("virtbusd did not restart on %s %s %s", clients_ep, workers_ep, events_ep);
    assert_true (vb_testproc_pid (broker) != old_pid);
    assert_string_equal (vb_testenv_clients_ep (env), clients_ep);
    assert_string_equal (vb_testenv_workers_ep (env), workers_ep);
    assert_string_equal (vb_testenv_events_ep (env), events_ep);

    /* The client reconnects by itself (same endpoint); the workers must re-register. */
    int64_t back_ms = 0;
    int bound = vb_testenv_intervals_ms (env, 2);
    all3.deadline_ms = (uint32_t) vb_testenv_heartbeat_ms (env);
    if (!vb_test_poll_until (vb_testcall_hosts_listed, &all3, 10, bound + 3000, &back_ms))
        fail_msg ("the workers did not all register with the restarted broker within %d ms",
                  bound + 3000);
    if (back_ms > bound)
        fail_msg ("the workers were back %d ms after the restarted broker's ready line; bound "
                  "is 2 intervals + margin = %d ms", (int) back_ms, bound);

    print_message ("workers back %d ms after the restarted broker's ready line (bound %d ms)\n",
                   (int) back_ms, bound);

    vb_testrun_t run;
    vb_testenv_vbsh (env, &run, "list", "--all", NULL);
    if (run.exit_code != 0 || !strstr (run.out, "dom-h1") || !strstr (run.out, "dom-h2")
        || !strstr (run.out, "dom-h3"))
        fail_msg ("vbsh list --all after the broker restart (exit %d) lacks a domain:\n%s%s",
                  run.exit_code, run.out, run.err);
    vb_testrun_clear (&run);

    for (int i = 0; i < 3; i++) {
        char line[1024];
        vb_error_t err = {0};
        vb_reply_t *r = vb_testcall (client, "domain.info", NULL, domains[i], NULL, 0, NULL,
                                     &err);
        if (!r || !r->ok)
            fail_msg ("domain.info %s after the broker restart: %s", domains[i],
                      vb_testcall_describe (r, &err, line, sizeof line));
        vb_reply_destroy (&r);
    }
    free (clients_ep);
    free (workers_ep);
    free (events_ep);
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("spine_broker_restart", 0);
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
            test_spine_broker_restart_gets_every_worker_back_within_two_intervals, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
