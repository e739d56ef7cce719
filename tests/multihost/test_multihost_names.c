/*  Multi-host check (issue 8): one domain name on two hosts.
 *
 *  Hosts are network namespaces on one bridge: virtbusd on "hub", a virtbus-test worker on
 *  each of A, B and C, vbsh and this program's client on "client". Domain "web" is defined on
 *  A and on C, "db" on B.
 *  - `vbsh dominfo web` fails (exit 1) naming both hosts, and domain.info answers AMBIGUOUS
 *    naming A and C;
 *  - `vbsh dominfo A/web`, `vbsh dominfo C/web` and `vbsh dominfo <UUID>` each answer the
 *    right one of the two; the unique bare name `db` answers B's domain;
 *  - the events endpoint a client learns from the broker is the advertised one (hub's address),
 *    and a subscriber on "client" receives the lifecycle event of a domain started on host B.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vb_cluster.h"
#include "vb_testcall.h"
#include "vb_testenv.h"

static const char *const s_hosts[] = {"A", "B", "C"};

typedef struct {
    vb_cluster_t *cluster;
    vb_client_t *client;
    char web_a[37], web_c[37], db_b[37];
} s_world_t;

static int
s_setup (void **state)
{
    s_world_t *w = calloc (1, sizeof *w);
    if (!w)
        return -1;
    *state = w;
    w->cluster = vb_cluster_new ("multihost_names", 0);
    if (!w->cluster)
        return -1;
    const char *all[] = {"hub", "A", "B", "C", "client"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!vb_cluster_add_host (w->cluster, all[i]))
            return -1;
    if (!vb_cluster_start_broker (w->cluster, "hub"))
        return -1;
    for (size_t i = 0; i < 3; i++)
        if (!vb_cluster_start_worker (w->cluster, "virtbus-test", s_hosts[i], NULL, NULL))
            return -1;
    w->client = vb_cluster_client (w->cluster, "client");
    if (!w->client)
        return -1;
    vb_testcall_hosts_t want = {.client = w->client, .hosts = s_hosts, .count = 3,
                                .workers = 3, .deadline_ms = 1000};
    if (!vb_test_poll_until (vb_testcall_hosts_listed, &want, 20,
                             vb_cluster_intervals_ms (w->cluster, 2), NULL)) {
        fprintf (stderr, "setup: hosts does not list A, B and C within 2 intervals\n");
        return -1;
    }
    if (vb_testcall_define (w->client, "A", "web", w->web_a) != 0
        || vb_testcall_define (w->client, "C", "web", w->web_c) != 0
        || vb_testcall_define (w->client, "B", "db", w->db_b) != 0)
        return -1;
    return 0;
}

static int
s_teardown (void **state)
{
    s_world_t *w = *state;
    int rc = 0;
    if (!w)
        return 0;
    if (w->cluster)
        rc = vb_cluster_stop (w->cluster);
    vb_cluster_destroy (&w->cluster);
    free (w);
    return rc;
}

/*  Does TEXT name host HOST as a word of its own ("hosts A and C", "'A'")? */
static bool
s_names_host (const char *text, const char *host)
{
    size_t len = strlen (host);
    for (const char *p = strstr (text, host); p; p = strstr (p + 1, host)) {
        bool before = p == text || strchr (" '\"(,", p[-1]);
        bool after = p[len] == '\0' || strchr (" '\"),;.\n", p[len]);
        if (before && after)
            return true;
    }
    return false;
}

static void
test_multihost_bare_name_on_two_hosts_answers_ambiguous_naming_both (void **state)
{
    s_world_t *w = *state;
    char line[1024];

    vb_error_t err = {0};
    vb_reply_t *r = vb_testcall (w->client, "domain.info", NULL, "web", NULL, 0, NULL, &err);
    if (!vb_testcall_is_error (r, VB_ERR_AMBIGUOUS) || !s_names_host (r->message, "A")
        || !s_names_host (r->message, "C") || s_names_host (r->message, "B"))
        fail_msg ("domain.info web should answer AMBIGUOUS naming hosts A and C: %s",
                  vb_testcall_describe (r, &err, line, sizeof line));
    vb_reply_destroy (&r);

    /* Like virsh, vbsh prints its empty line after a command even when it failed. */
    vb_testrun_t run;
    vb_cluster_vbsh (w->cluster, "client", &run, "dominfo", "web", NULL);
    if (run.exit_code != 1 || strncmp (run.err, "error: ", 7) != 0
        || !s_names_host (run.err, "A") || !s_names_host (run.err, "C")
        || run.out[strspn (run.out, "\n")] != '\0')
        fail_msg ("vbsh dominfo web should exit 1 with an error naming hosts A and C: exit "
                  "%d\nstdout:\n%s\nstderr:\n%s", run.exit_code, run.out, run.err);
    vb_testrun_clear (&run);
}

/*  `vbsh dominfo REF` exits 0 and shows NAME and UUID. */
static void
s_dominfo_is (s_world_t *w, const char *ref, const char *name, const char *uuid)
{
    vb_testrun_t run;
    vb_cluster_vbsh (w->cluster, "client", &run, "dominfo", ref, NULL);
    char want_name[128], want_uuid[128];
    snprintf (want_name, sizeof want_name, "Name:           %s\n", name);
    snprintf (want_uuid, sizeof want_uuid, "UUID:           %s\n", uuid);
    if (run.exit_code != 0 || run.err[0] || !strstr (run.out, want_name)
        || !strstr (run.out, want_uuid))
        fail_msg ("vbsh dominfo %s should show name %s and UUID %s: exit %d\n%s%s", ref, name,
                  uuid, run.exit_code, run.out, run.err);
    vb_testrun_clear (&run);
}

/*  domain.info REF answers the domain UUID on HOST. */
static void
s_info_is (s_world_t *w, const char *ref, const char *host, const char *uuid)
{
    char line[1024];
    vb_error_t err = {0};
    vb_reply_t *r = vb_testcall (w->client, "domain.info", NULL, ref, NULL, 0, NULL, &err);
    json_object *u = NULL, *h = NULL;
    if (!r || !r->ok || !json_object_object_get_ex (r->result, "uuid", &u)
        || !json_object_object_get_ex (r->result, "host", &h)
        || strcmp (json_object_get_string (u), uuid) != 0
        || strcmp (json_object_get_string (h), host) != 0)
        fail_msg ("domain.info %s should answer %s on host %s: %s", ref, uuid, host,
                  vb_testcall_describe (r, &err, line, sizeof line));
    vb_reply_destroy (&r);
}

static void
test_multihost_host_slash_name_and_uuid_address_one_of_two_same_named_domains (void **state)
{
    s_world_t *w = *state;

    s_info_is (w, "A/web", "A", w->web_a);
    s_info_is (w, "C/web", "C", w->web_c);
    s_info_is (w, w->web_c, "C", w->web_c);
    s_info_is (w, "db", "B", w->db_b);

    s_dominfo_is (w, "A/web", "web", w->web_a);
    s_dominfo_is (w, "C/web", "web", w->web_c);
    s_dominfo_is (w, w->web_a, "web", w->web_a);
    s_dominfo_is (w, w->web_c, "web", w->web_c);
    s_dominfo_is (w, "db", "db", w->db_b);
}

static void
test_multihost_subscriber_on_client_host_gets_events_from_worker_host (void **state)
{
    s_world_t *w = *state;
    vb_error_t err = {0};
    char line[1024];

    const char *events = vb_client_events_endpoint (w->client, &err);
    if (!events || strcmp (events, vb_cluster_events_ep (w->cluster)) != 0)
        fail_msg ("broker.info should give the advertised events endpoint %s, gave %s (%s)",
                  vb_cluster_events_ep (w->cluster), events ? events : "nothing", err.message);

    vb_subscriber_t *sub = vb_subscriber_new (w->client, "B/", 0, &err);
    if (!sub)
        fail_msg ("cannot subscribe to B's events from host client: %s", err.message);
    vb_reply_t *r = vb_testcall (w->client, "domain.start", NULL, "B/db", NULL, 0, NULL, &err);
    if (!r || !r->ok) {
        vb_subscriber_destroy (&sub);
        fail_msg ("start B/db: %s", vb_testcall_describe (r, &err, line, sizeof line));
    }
    vb_reply_destroy (&r);
    bool started = false;
    int bound = vb_cluster_intervals_ms (w->cluster, 5);
    while (!started) {
        vb_event_t *ev = vb_subscriber_recv (sub, bound, &err);
        if (!ev)
            break;
        started = ev->uuid && strcmp (ev->uuid, w->db_b) == 0 && ev->host
                  && strcmp (ev->host, "B") == 0 && ev->event
                  && strcmp (ev->event, "started") == 0;
        vb_event_destroy (&ev);
    }
    vb_subscriber_destroy (&sub);
    if (!started)
        fail_msg ("no 'started' event of B/db reached the subscriber on host client within "
                  "%d ms: %s", bound, err.message);
}

int
main (void)
{
    char why[256];
    if (!vb_netns_supported (why, sizeof why)) {
        printf ("SKIP: %s\n", why);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_multihost_bare_name_on_two_hosts_answers_ambiguous_naming_both),
        cmocka_unit_test (
            test_multihost_host_slash_name_and_uuid_address_one_of_two_same_named_domains),
        cmocka_unit_test (
            test_multihost_subscriber_on_client_host_gets_events_from_worker_host),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
