/*  Unit tests for broker/vb_registry: registration, the domain index, resolution (AMBIGUOUS,
 *  NO_DOMAIN, tombstones -> NO_WORKER), placement and liveness. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "vb_registry.h"

#define UUID_WEB_A "11111111-1111-4111-8111-111111111111"
#define UUID_WEB_C "33333333-3333-4333-8333-333333333333"
#define UUID_DB_A "22222222-2222-4222-8222-222222222222"

/*  A READY body: domains given as "name=uuid" strings, NULL-terminated. */
static json_object *
s_ready (const char *id, const char *host, const char *driver, int pid, ...)
{
    json_object *body = json_object_new_object ();
    json_object_object_add (body, "worker", json_object_new_string (id));
    json_object_object_add (body, "host", json_object_new_string (host));
    json_object_object_add (body, "driver", json_object_new_string (driver));
    json_object_object_add (body, "version", json_object_new_int (1));
    json_object_object_add (body, "pid", json_object_new_int (pid));
    json_object *domains = json_object_new_array ();
    va_list ap;
    va_start (ap, pid);
    const char *spec;
    while ((spec = va_arg (ap, const char *))) {
        const char *eq = strchr (spec, '=');
        json_object *d = json_object_new_object ();
        json_object_object_add (d, "name", json_object_new_string_len (spec, (int) (eq - spec)));
        json_object_object_add (d, "uuid", json_object_new_string (eq + 1));
        json_object_object_add (d, "state", json_object_new_int (5));
        json_object_array_add (domains, d);
    }
    va_end (ap);
    json_object_object_add (body, "domains", domains);
    return body;
}

static vb_reg_worker_t *
s_register (vb_registry_t *reg, const char *route, json_object *body, vb_reg_ready_t *how)
{
    vb_error_t err = {0};
    vb_reg_worker_t *w = vb_registry_ready (reg, route, strlen (route), body, 1000, how, &err);
    json_object_put (body);
    assert_non_null (w);
    return w;
}

/*  Hosts a and c both have "web"; a also has "db". */
static vb_registry_t *
s_two_hosts (void)
{
    vb_registry_t *reg = vb_registry_new ();
    assert_non_null (reg);
    s_register (reg, "ra", s_ready ("a-test-1", "a", "test", 10, "web=" UUID_WEB_A,
                                    "db=" UUID_DB_A, NULL), NULL);
    s_register (reg, "rc", s_ready ("c-test-1", "c", "test", 30, "web=" UUID_WEB_C, NULL), NULL);
    return reg;
}

static void
test_registry_bare_name_on_two_hosts_answers_ambiguous_naming_both (void **state)
{
    (void) state;
    vb_registry_t *reg = s_two_hosts ();
    vb_error_t err = {0};
    vb_route_t route = {0};
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){.domain = "web"}, &route, &err),
                      -1);
    assert_int_equal (err.code, VB_ERR_AMBIGUOUS);
    assert_string_equal (err.message, "domain 'web' exists on hosts a and c; use host/name");
    vb_registry_destroy (&reg);
}

static void
test_registry_host_slash_name_and_uuid_resolve_to_owner (void **state)
{
    (void) state;
    vb_registry_t *reg = s_two_hosts ();
    vb_error_t err = {0};
    vb_route_t route = {0};
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){.domain = "c/web"}, &route, &err),
                      0);
    assert_string_equal (route.worker->id, "c-test-1");
    assert_string_equal (route.domain->uuid, UUID_WEB_C);

    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){.host = "a", .domain = "web"},
                                           &route, &err), 0);
    assert_string_equal (route.worker->id, "a-test-1");

    /*  UUIDs match whatever their case. */
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){
                                               .domain = "33333333-3333-4333-8333-333333333333"},
                                           &route, &err), 0);
    assert_string_equal (route.worker->id, "c-test-1");
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){.domain = "db"}, &route, &err),
                      0);
    assert_string_equal (route.domain->name, "db");
    vb_registry_destroy (&reg);
}

static void
test_registry_unknown_domain_answers_no_domain (void **state)
{
    (void) state;
    vb_registry_t *reg = s_two_hosts ();
    vb_error_t err = {0};
    vb_route_t route = {0};
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){.domain = "vm9"}, &route, &err),
                      -1);
    assert_int_equal (err.code, VB_ERR_NO_DOMAIN);
    assert_string_equal (err.message, "domain 'vm9' not found on any host");
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){.domain = "c/db"}, &route, &err),
                      -1);
    assert_int_equal (err.code, VB_ERR_NO_DOMAIN);
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){
                                               .domain = "44444444-4444-4444-8444-444444444444"},
                                           &route, &err), -1);
    assert_int_equal (err.code, VB_ERR_NO_DOMAIN);
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){.domain = "../etc"}, &route,
                                           &err), -1);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    vb_registry_destroy (&reg);
}

static void
test_registry_dead_worker_domains_answer_no_worker_until_claimed (void **state)
{
    (void) state;
    vb_registry_t *reg = s_two_hosts ();
    vb_error_t err = {0};
    vb_route_t route = {0};
    vb_registry_remove (reg, "c-test-1");
    assert_null (vb_registry_get (reg, "c-test-1"));
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){.domain = "c/web"}, &route, &err),
                      -1);
    assert_int_equal (err.code, VB_ERR_NO_WORKER);
    assert_non_null (route.domain);
    assert_string_equal (route.domain->worker, "c-test-1");
    /*  The tombstone still counts for ambiguity: the domain exists, its worker is away. */
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){.domain = "web"}, &route, &err),
                      -1);
    assert_int_equal (err.code, VB_ERR_AMBIGUOUS);

    /*  A sibling on host c adopts it. */
    s_register (reg, "rc2", s_ready ("c-test-2", "c", "test", 31, "web=" UUID_WEB_C, NULL), NULL);
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){.domain = "c/web"}, &route, &err),
                      0);
    assert_string_equal (route.worker->id, "c-test-2");
    vb_registry_destroy (&reg);
}

static void
test_registry_reregistering_without_a_domain_drops_its_tombstone (void **state)
{
    (void) state;
    vb_registry_t *reg = s_two_hosts ();
    vb_error_t err = {0};
    vb_route_t route = {0};
    vb_registry_remove (reg, "a-test-1");
    vb_reg_ready_t how;
    s_register (reg, "ra-new", s_ready ("a-test-1", "a", "test", 11, "db=" UUID_DB_A, NULL),
                &how);
    assert_int_equal (how, VB_REG_NEW);
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){.domain = "a/web"}, &route, &err),
                      -1);
    assert_int_equal (err.code, VB_ERR_NO_DOMAIN);
    assert_int_equal (vb_registry_resolve (reg, &(vb_target_t){.domain = "web"}, &route, &err),
                      0);
    assert_string_equal (route.worker->id, "c-test-1");
    vb_registry_destroy (&reg);
}

static void
test_registry_ready_tells_reconnect_from_restart_and_keys_by_worker_id (void **state)
{
    (void) state;
    vb_registry_t *reg = s_two_hosts ();
    vb_reg_ready_t how;
    vb_reg_worker_t *w = s_register (reg, "ra-2", s_ready ("a-test-1", "a", "test", 10,
                                                           "web=" UUID_WEB_A, NULL), &how);
    assert_int_equal (how, VB_REG_RECONNECT);
    assert_ptr_equal (vb_registry_by_route (reg, "ra-2", 4), w);
    assert_null (vb_registry_by_route (reg, "ra", 2));
    assert_int_equal (vb_registry_size (reg), 2);
    w = s_register (reg, "ra-2", s_ready ("a-test-1", "a", "test", 99, NULL), &how);
    assert_int_equal (how, VB_REG_RESTARTED);
    assert_int_equal (w->ndomains, 0);
    /*  Another worker id on the same connection replaces the first. */
    s_register (reg, "ra-2", s_ready ("a-test-9", "a", "test", 100, NULL), &how);
    assert_int_equal (how, VB_REG_NEW);
    assert_null (vb_registry_get (reg, "a-test-1"));
    assert_int_equal (vb_registry_size (reg), 2);
    vb_registry_destroy (&reg);
}

static void
test_registry_place_picks_least_loaded_then_lowest_id (void **state)
{
    (void) state;
    vb_registry_t *reg = vb_registry_new ();
    vb_error_t err = {0};
    s_register (reg, "r2", s_ready ("h-qemu-2", "h", "qemu", 2, NULL), NULL);
    s_register (reg, "r1", s_ready ("h-qemu-1", "h", "qemu", 1, "web=" UUID_WEB_A, NULL), NULL);
    s_register (reg, "r3", s_ready ("h-qemu-3", "h", "qemu", 3, NULL), NULL);
    s_register (reg, "r4", s_ready ("g-lxc-1", "g", "lxc", 4, NULL), NULL);

    /*  Loads 1, 0, 0: the tie between 2 and 3 goes to the lower id. */
    vb_reg_worker_t *w = vb_registry_place (reg, NULL, "qemu", &err);
    assert_non_null (w);
    assert_string_equal (w->id, "h-qemu-2");
    /*  The define is counted as routed, so the next goes elsewhere. */
    w->pending_defines++;
    w = vb_registry_place (reg, NULL, "qemu", &err);
    assert_string_equal (w->id, "h-qemu-3");
    w->pending_defines++;
    /*  All at load 1: the lowest id. */
    w = vb_registry_place (reg, NULL, "qemu", &err);
    assert_string_equal (w->id, "h-qemu-1");
    assert_int_equal (vb_reg_worker_load (w), 1);

    assert_null (vb_registry_place (reg, "h", "lxc", &err));
    assert_int_equal (err.code, VB_ERR_NO_WORKER);
    assert_null (vb_registry_place (reg, NULL, "xen", &err));
    assert_int_equal (err.code, VB_ERR_NO_WORKER);
    w = vb_registry_place (reg, "g", "lxc", &err);
    assert_string_equal (w->id, "g-lxc-1");
    vb_registry_destroy (&reg);
}

static void
test_registry_select_filters_and_sorts_by_worker_id (void **state)
{
    (void) state;
    vb_registry_t *reg = s_two_hosts ();
    s_register (reg, "rb", s_ready ("b-test-1", "b", "test", 20, NULL), NULL);
    size_t n = 0;
    vb_reg_worker_t **all = vb_registry_select (reg, NULL, NULL, &n);
    assert_int_equal (n, 3);
    assert_string_equal (all[0]->id, "a-test-1");
    assert_string_equal (all[1]->id, "b-test-1");
    assert_string_equal (all[2]->id, "c-test-1");
    free (all);
    vb_reg_worker_t **some = vb_registry_select (reg, "c", "test", &n);
    assert_int_equal (n, 1);
    free (some);
    assert_null (vb_registry_select (reg, "c", "qemu", &n));
    assert_int_equal (n, 0);
    assert_true (vb_registry_host_known (reg, "b"));
    assert_false (vb_registry_host_known (reg, "z"));
    vb_registry_destroy (&reg);
}

static void
test_registry_silent_worker_expires_after_timeout (void **state)
{
    (void) state;
    vb_registry_t *reg = s_two_hosts ();  /* both seen at t=1000 */
    vb_registry_touch (vb_registry_get (reg, "a-test-1"), 3500);
    assert_null (vb_registry_next_expired (reg, 4000, 3000));
    const char *id = vb_registry_next_expired (reg, 4001, 3000);
    assert_non_null (id);
    assert_string_equal (id, "c-test-1");
    vb_registry_remove (reg, id);
    assert_null (vb_registry_next_expired (reg, 4001, 3000));
    vb_registry_destroy (&reg);
}

static void
test_registry_domains_update_replaces_owned_set_and_skips_bad_entries (void **state)
{
    (void) state;
    vb_registry_t *reg = s_two_hosts ();
    vb_error_t err = {0};
    json_object *domains = json_object_new_array ();
    json_object *bad = json_object_new_object ();
    json_object_object_add (bad, "name", json_object_new_string ("x"));
    json_object_object_add (bad, "uuid", json_object_new_string ("not-a-uuid"));
    json_object_array_add (domains, bad);
    json_object *db = json_object_new_object ();
    json_object_object_add (db, "name", json_object_new_string ("db"));
    json_object_object_add (db, "uuid", json_object_new_string (UUID_DB_A));
    json_object_array_add (domains, db);
    assert_int_equal (vb_registry_set_domains (reg, "a-test-1", domains, &err), 0);
    assert_int_equal (vb_registry_get (reg, "a-test-1")->ndomains, 1);
    assert_null (vb_registry_domain (reg, UUID_WEB_A));
    assert_non_null (vb_registry_domain (reg, UUID_DB_A));
    assert_int_equal (vb_registry_set_domains (reg, "nobody", domains, &err), -1);
    assert_int_equal (err.code, VB_ERR_NO_WORKER);
    json_object_put (domains);
    vb_registry_destroy (&reg);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_registry_bare_name_on_two_hosts_answers_ambiguous_naming_both),
        cmocka_unit_test (test_registry_host_slash_name_and_uuid_resolve_to_owner),
        cmocka_unit_test (test_registry_unknown_domain_answers_no_domain),
        cmocka_unit_test (test_registry_dead_worker_domains_answer_no_worker_until_claimed),
        cmocka_unit_test (test_registry_reregistering_without_a_domain_drops_its_tombstone),
        cmocka_unit_test (test_registry_ready_tells_reconnect_from_restart_and_keys_by_worker_id),
        cmocka_unit_test (test_registry_place_picks_least_loaded_then_lowest_id),
        cmocka_unit_test (test_registry_select_filters_and_sorts_by_worker_id),
        cmocka_unit_test (test_registry_silent_worker_expires_after_timeout),
        cmocka_unit_test (test_registry_domains_update_replaces_owned_set_and_skips_bad_entries),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
