/*  Spine check: a worker that stops answering (SIGSTOP).
 *
 *  Three virtbus-test workers (h1, h2, h3), one domain each; h2 is stopped. A request for h2's
 *  domain with a 500 ms deadline answers TIMEOUT after >= 500 ms and < 1.5 s, while requests for
 *  h1's and h3's domains sent meanwhile are answered at once; a fan-out with a 500 ms deadline
 *  answers the other two workers' domains and names h2 in `partial`. The heartbeat is 500 ms
 *  here so that the deadline (500 ms) passes well before the 3 silent intervals (1.5 s) that
 *  declare h2 dead. Kept stopped, h2 is then declared dead within 3 intervals of the SIGSTOP
 *  (its TCP link stays up, so only the heartbeat can tell) and a request in flight to it answers
 *  WORKER_LOST at once. After SIGCONT h2 registers again and serves.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "vb_testcall.h"
#include "vb_testenv.h"

#define HEARTBEAT_MS 500
#define DEADLINE_MS 500
#define TIMEOUT_UPPER_MS 1500
/* Deadline of each "hosts" probe while h2 is stopped (each waits that long for h2). */
#define PROBE_DEADLINE_MS 100
/* How long the other workers are exercised while h2's request waits. */
#define MEANWHILE_MS 300

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
    vb_client_t *client;
    uint64_t info_id, list_id;
    vb_reply_t *info, *list;
    int64_t info_at, list_at;
} s_pending_t;

static void
s_collect (s_pending_t *p, int timeout_ms)
{
    vb_error_t err = {0};
    vb_reply_t *r;
    while ((r = vb_client_recv (p->client, timeout_ms, &err))) {
        if (r->id == p->info_id && !p->info) {
            p->info = r;
            p->info_at = s_now_ms ();
        }
        else if (r->id == p->list_id && !p->list) {
            p->list = r;
            p->list_at = s_now_ms ();
        }
        else
            vb_reply_destroy (&r);
        timeout_ms = 0;
    }
}

static bool
s_both_answered (void *arg)
{
    s_pending_t *p = arg;
    s_collect (p, 0);
    return p->info && p->list;
}

static bool
s_info_answered (void *arg)
{
    s_pending_t *p = arg;
    s_collect (p, 0);
    return p->info != NULL;
}

typedef struct {
    s_pending_t *pending;
    vb_client_t *probe;
} s_silent_t;

static bool
s_h2_gone (void *arg)
{
    s_silent_t *s = arg;
    s_collect (s->pending, 0);
    bool in_partial = true;
    int count = vb_testcall_hosts_count (s->probe, "h2", NULL, PROBE_DEADLINE_MS, &in_partial);
    return count == 0 && !in_partial;
}

static void
test_spine_stopped_worker_times_out_while_others_serve_then_is_declared_dead (void **state)
{
    vb_testenv_t *env = *state;
    char line[2048];
    const char *hosts[] = {"h1", "h2", "h3"};
    const char *domains[] = {"dom-h1", "dom-h2", "dom-h3"};
    vb_testproc_t *workers[3];

    assert_non_null (vb_testenv_start_broker (env));
    for (int i = 0; i < 3; i++)
        assert_non_null (workers[i] = vb_testenv_start_worker (env, "virtbus-test", hosts[i],
                                                               NULL));
    vb_client_t *client = vb_testenv_client (env);
    assert_non_null (client);
    vb_testcall_hosts_t all3 = {.client = client, .hosts = hosts, .count = 3, .workers = 3,
                                .deadline_ms = 1000};
    if (!vb_test_poll_until (vb_testcall_hosts_listed, &all3, 20,
                             vb_testenv_intervals_ms (env, 2), NULL))
        fail_msg ("hosts does not list h1, h2 and h3 within 2 intervals of their ready lines");
    for (int i = 0; i < 3; i++) {
        assert_int_equal (vb_testcall_define (client, hosts[i], domains[i], NULL), 0);
        assert_true (vb_testcall_wait_ok (client, "domain.info", NULL, domains[i], 1000, 20,
                                          vb_testenv_intervals_ms (env, 2)));
    }

    s_pending_t p = {.client = vb_testenv_client (env)};
    assert_non_null (p.client);
    assert_int_equal (vb_testproc_signal (workers[1], SIGSTOP), 0);
    int64_t stopped = s_now_ms ();
    int64_t sent = stopped;
    p.info_id = vb_testcall_send (p.client, "domain.info", NULL, "dom-h2", NULL, DEADLINE_MS);
    json_object *all = json_object_new_object ();
    json_object_object_add (all, "all", json_object_new_boolean (true));
    p.list_id = vb_testcall_send (p.client, "domain.list", NULL, NULL, all, DEADLINE_MS);
    assert_true (p.info_id != 0 && p.list_id != 0);

    /* Meanwhile h1 and h3 are served, each answer well before h2's deadline. */
    int served = 0;
    while (s_now_ms () - sent < MEANWHILE_MS) {
        for (int i = 0; i < 3; i += 2) {
            vb_error_t err = {0};
            int64_t ms = 0;
            vb_reply_t *r = vb_testcall (client, "domain.info", NULL, domains[i], NULL, 1000, &ms,
                                         &err);
            vb_testcall_describe (r, &err, line, sizeof line);
            if (!r || !r->ok)
                fail_msg ("domain.info %s while h2 is stopped: %s", domains[i], line);
            vb_reply_destroy (&r);
            if (ms > DEADLINE_MS / 2)
                fail_msg ("domain.info %s took %d ms while h2 is stopped; it must not wait for "
                          "h2", domains[i], (int) ms);
            served++;
        }
        s_collect (&p, 0);
        if (p.info || p.list)
            fail_msg ("a request involving stopped h2 was answered after %d ms, before its "
                      "%d ms deadline: %s", (int) (s_now_ms () - sent), DEADLINE_MS,
                      vb_testcall_describe (p.info ? p.info : p.list, NULL, line, sizeof line));
    }
    assert_true (served >= 2);

    if (!vb_test_poll_until (s_both_answered, &p, 5, TIMEOUT_UPPER_MS + vb_test_margin_ms (),
                             NULL))
        fail_msg ("no answer %d ms after sending to stopped h2: domain.info %s, domain.list %s",
                  (int) (s_now_ms () - sent), p.info ? "answered" : "missing",
                  p.list ? "answered" : "missing");

    vb_testcall_describe (p.info, NULL, line, sizeof line);
    int64_t info_ms = p.info_at - sent;
    if (!vb_testcall_is_error (p.info, VB_ERR_TIMEOUT))
        fail_msg ("domain.info dom-h2 (stopped) with a %d ms deadline: want TIMEOUT, got %s",
                  DEADLINE_MS, line);
    if (info_ms < DEADLINE_MS || info_ms >= TIMEOUT_UPPER_MS)
        fail_msg ("domain.info dom-h2 (stopped) answered TIMEOUT after %d ms; want >= %d and "
                  "< %d", (int) info_ms, DEADLINE_MS, TIMEOUT_UPPER_MS);

    print_message ("%d requests to h1/h3 served meanwhile; TIMEOUT after %d ms\n", served,
                   (int) info_ms);
    vb_testcall_describe (p.list, NULL, line, sizeof line);
    int64_t list_ms = p.list_at - sent;
    if (!p.list->ok || vb_testcall_count (p.list->result, "name", "dom-h1") != 1
        || vb_testcall_count (p.list->result, "name", "dom-h3") != 1
        || !vb_testcall_partial_names (p.list, "h2", NULL))
        fail_msg ("domain.list with h2 stopped: want dom-h1, dom-h3 and h2 in partial, got %s",
                  line);
    if (list_ms < DEADLINE_MS || list_ms >= TIMEOUT_UPPER_MS)
        fail_msg ("domain.list with h2 stopped answered after %d ms; want >= %d and < %d",
                  (int) list_ms, DEADLINE_MS, TIMEOUT_UPPER_MS);
    vb_reply_destroy (&p.info);
    vb_reply_destroy (&p.list);

    /* Still stopped, h2 falls silent for 3 intervals: the broker declares it dead, drops it
     * from hosts and answers what was in flight to it WORKER_LOST at once, long before that
     * request's own deadline. */
    p.info_id = vb_testcall_send (p.client, "domain.info", NULL, "dom-h2", NULL, 5000);
    p.list_id = 0;
    assert_true (p.info_id != 0);
    s_silent_t silent = {.pending = &p, .probe = client};
    int64_t gone_ms = 0;
    /* 3 intervals + margin, + one probe that may have started just before the death. */
    int gone_bound = vb_testenv_intervals_ms (env, 3) + PROBE_DEADLINE_MS;
    if (!vb_test_poll_until (s_h2_gone, &silent, 20, gone_bound + 3000, NULL))
        fail_msg ("stopped h2 still in hosts %d ms after SIGSTOP", (int) (s_now_ms () - stopped));
    gone_ms = s_now_ms () - stopped;
    if (gone_ms > gone_bound)
        fail_msg ("stopped h2 left hosts %d ms after SIGSTOP; bound is 3 intervals + margin "
                  "+ one probe = %d ms", (int) gone_ms, gone_bound);
    if (!vb_test_poll_until (s_info_answered, &p, 5, vb_test_margin_ms (), NULL))
        fail_msg ("the request in flight to h2 was not answered when h2 was declared dead");
    if (!vb_testcall_is_error (p.info, VB_ERR_WORKER_LOST))
        fail_msg ("the request in flight to h2 when it was declared dead: want WORKER_LOST, "
                  "got %s", vb_testcall_describe (p.info, NULL, line, sizeof line));
    print_message ("stopped h2 declared dead %d ms after SIGSTOP (bound %d ms)\n",
                   (int) gone_ms, gone_bound);
    vb_reply_destroy (&p.info);

    /* Resumed, h2 serves again (re-registering if the broker gave it up meanwhile). */
    assert_int_equal (vb_testproc_signal (workers[1], SIGCONT), 0);
    if (!vb_testcall_wait_ok (client, "domain.info", NULL, "dom-h2", 1000, 20,
                              vb_testenv_intervals_ms (env, 3)))
        fail_msg ("dom-h2 not served within 3 intervals of SIGCONT");
}

static int
s_setup (void **state)
{
    *state = vb_testenv_new ("spine_worker_stop", HEARTBEAT_MS);
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
            test_spine_stopped_worker_times_out_while_others_serve_then_is_declared_dead,
            s_setup, s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
