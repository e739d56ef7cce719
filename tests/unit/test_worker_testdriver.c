/*  Unit tests of the virtbus-test driver (workers/test/test_driver.c), driven through the real
 *  worker core and a fake broker ROUTER, exactly as the broker would drive it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_driver.h"
#include "test_worker_harness.h"
#include "vb_domstate.h"
#include "vb_json.h"
#include "vb_util.h"

#define WEB_UUID "c7a5fdbd-edaf-9455-926a-d65c16db1809"

/*  The example of libvirt's formatdomain documentation, trimmed to what a test domain has. */
static const char *s_web_xml =
    "<domain type='test'>\n"
    "  <name>web</name>\n"
    "  <uuid>" WEB_UUID "</uuid>\n"
    "  <memory unit='KiB'>1048576</memory>\n"
    "  <currentMemory unit='KiB'>524288</currentMemory>\n"
    "  <vcpu placement='static'>2</vcpu>\n"
    "  <os>\n"
    "    <type arch='x86_64'>hvm</type>\n"
    "  </os>\n"
    "</domain>\n";

static uint64_t s_next_id = 100;

static int
setup (void **state)
{
    harness_t *h = calloc (1, sizeof *h);
    harness_start (h, &test_driver, 1000);
    json_object *ready = harness_expect (h, VB_WCMD_READY, 5000, NULL);
    assert_non_null (ready);
    json_object_put (ready);
    *state = h;
    return 0;
}

static int
teardown (void **state)
{
    harness_t *h = (harness_t *) *state;
    harness_stop (h);
    free (h);
    return 0;
}

/*  Call OP and return the reply (caller puts). */
static json_object *
s_call (harness_t *h, const char *op, const char *domain, json_object *args)
{
    json_object *reply = harness_call (h, s_next_id++, op, domain, args);
    assert_non_null (reply);
    return reply;
}

/*  Call OP, assert success, return the result (borrowed from *REPLY_OUT, which the caller puts). */
static json_object *
s_ok (harness_t *h, const char *op, const char *domain, json_object *args,
      json_object **reply_out)
{
    json_object *reply = s_call (h, op, domain, args);
    if (!vb_json_bool (reply, "ok", false))
        fail_msg ("%s %s failed: %s %s", op, domain? domain: "", harness_error_code (reply),
                  harness_error_message (reply));
    json_object *result = NULL;
    json_object_object_get_ex (reply, "result", &result);
    *reply_out = reply;
    return result;
}

static void
s_ok_void (harness_t *h, const char *op, const char *domain, json_object *args)
{
    json_object *reply = NULL;
    s_ok (h, op, domain, args, &reply);
    json_object_put (reply);
}

static void
s_fails (harness_t *h, const char *op, const char *domain, json_object *args, const char *code,
         const char *message)
{
    json_object *reply = s_call (h, op, domain, args);
    assert_false (vb_json_bool (reply, "ok", true));
    assert_string_equal (harness_error_code (reply), code);
    if (message)
        assert_string_equal (harness_error_message (reply), message);
    json_object_put (reply);
}

static json_object *
s_xml_args (const char *xml)
{
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "xml", json_object_new_string (xml));
    return args;
}

static void
s_expect_event (harness_t *h, const char *kind, const char *event, const char *detail)
{
    json_object *ev = harness_expect (h, VB_WCMD_EVENT, 5000, NULL);
    assert_non_null (ev);
    assert_string_equal (vb_json_str (ev, "domain", ""), "web");
    assert_string_equal (vb_json_str (ev, "uuid", ""), WEB_UUID);
    assert_string_equal (vb_json_str (ev, "kind", ""), kind);
    assert_string_equal (vb_json_str (ev, "event", ""), event);
    assert_string_equal (vb_json_str (ev, "detail", ""), detail);
    json_object_put (ev);
}

static void
s_define_web (harness_t *h)
{
    json_object *reply = NULL;
    json_object *result = s_ok (h, "domain.define", NULL, s_xml_args (s_web_xml), &reply);
    assert_string_equal (vb_json_str (result, "name", ""), "web");
    assert_string_equal (vb_json_str (result, "uuid", ""), WEB_UUID);
    json_object_put (reply);
    s_expect_event (h, "lifecycle", "defined", "added");
}

static void
s_assert_state (harness_t *h, const char *domain, int state, int reason)
{
    json_object *reply = NULL;
    json_object *info = s_ok (h, "domain.info", domain, NULL, &reply);
    if (vb_json_int (info, "state", -1) != state || vb_json_int (info, "reason", -1) != reason)
        fail_msg ("domain %s is %s (%s), expected %s (%s)", domain,
                  vb_state_name ((int) vb_json_int (info, "state", -1)),
                  vb_state_reason_name ((int) vb_json_int (info, "state", -1),
                                        (int) vb_json_int (info, "reason", -1)),
                  vb_state_name (state), vb_state_reason_name (state, reason));
    json_object_put (reply);
}

/* --- tests --------------------------------------------------------------------------------- */

static void
test_testdriver_define_announces_domains_before_reply_and_emits_defined (void **state)
{
    harness_t *h = (harness_t *) *state;
    harness_request (h, "client-1", 1, "domain.define", NULL, s_xml_args (s_web_xml), 5000);
    vb_wmsg_t *first = harness_next (h, 5000, true);
    assert_non_null (first);
    assert_int_equal (first->cmd, VB_WCMD_DOMAINS);
    json_object *domains = NULL;
    assert_true (json_object_object_get_ex (first->body, "domains", &domains));
    assert_int_equal (json_object_array_length (domains), 1);
    json_object *entry = json_object_array_get_idx (domains, 0);
    assert_string_equal (vb_json_str (entry, "name", ""), "web");
    assert_string_equal (vb_json_str (entry, "uuid", ""), WEB_UUID);
    assert_int_equal (vb_json_int (entry, "state", -1), VB_STATE_SHUTOFF);
    vb_wmsg_destroy (&first);
    json_object *reply = harness_expect (h, VB_WCMD_REPLY, 5000, NULL);
    assert_true (vb_json_bool (reply, "ok", false));
    json_object_put (reply);
    s_expect_event (h, "lifecycle", "defined", "added");

    json_object *info = s_ok (h, "domain.info", "web", NULL, &reply);
    assert_string_equal (vb_json_str (info, "name", ""), "web");
    assert_string_equal (vb_json_str (info, "uuid", ""), WEB_UUID);
    assert_int_equal (vb_json_int (info, "id", 0), -1);
    assert_int_equal (vb_json_int (info, "state", -1), VB_STATE_SHUTOFF);
    assert_int_equal (vb_json_uint (info, "max_mem_kib", 0), 1048576);
    assert_int_equal (vb_json_uint (info, "memory_kib", 0), 524288);
    assert_int_equal (vb_json_int (info, "vcpus", 0), 2);
    assert_true (vb_json_bool (info, "persistent", false));
    assert_false (vb_json_bool (info, "autostart", true));
    assert_string_equal (vb_json_str (info, "host", ""), "h1");
    assert_string_equal (vb_json_str (info, "driver", ""), "test");
    assert_string_equal (vb_json_str (info, "worker", ""), h->id);
    json_object_put (reply);
}

static void
test_testdriver_define_refuses_existing_name_bad_xml_and_other_types (void **state)
{
    harness_t *h = (harness_t *) *state;
    s_define_web (h);
    s_fails (h, "domain.define", NULL, s_xml_args (s_web_xml), "OPERATION_INVALID",
             "domain 'web' already exists");
    s_fails (h, "domain.define", NULL, s_xml_args ("<domain type='test'><name>x"),
             "INVALID_XML", NULL);
    s_fails (h, "domain.define", NULL,
             s_xml_args ("<domain type='kvm'><name>vm1</name><memory>1024</memory>"
                         "<os><type>hvm</type></os></domain>"), "INVALID_XML", NULL);
    s_fails (h, "domain.define", NULL, json_object_new_object (), "INVALID_ARG", NULL);
}

static void
test_testdriver_lifecycle_follows_libvirt_states_and_events (void **state)
{
    harness_t *h = (harness_t *) *state;
    s_define_web (h);

    s_ok_void (h, "domain.start", "web", NULL);
    s_expect_event (h, "lifecycle", "started", "booted");
    s_assert_state (h, "web", VB_STATE_RUNNING, VB_RUNNING_BOOTED);
    s_fails (h, "domain.start", "web", NULL, "OPERATION_INVALID",
             "domain 'web' is already running");
    s_fails (h, "domain.resume", "web", NULL, "OPERATION_INVALID", "domain 'web' is not paused");

    s_ok_void (h, "domain.suspend", "web", NULL);
    s_expect_event (h, "lifecycle", "suspended", "paused");
    s_assert_state (h, "web", VB_STATE_PAUSED, VB_PAUSED_USER);
    s_fails (h, "domain.suspend", "web", NULL, "OPERATION_INVALID",
             "domain 'web' is already paused");

    s_ok_void (h, "domain.resume", "web", NULL);
    s_expect_event (h, "lifecycle", "resumed", "unpaused");
    s_assert_state (h, "web", VB_STATE_RUNNING, VB_RUNNING_UNPAUSED);

    s_ok_void (h, "domain.reboot", "web", NULL);
    s_expect_event (h, "reboot", "reboot", "");
    s_assert_state (h, "web", VB_STATE_RUNNING, VB_RUNNING_BOOTED);

    s_ok_void (h, "domain.shutdown", "web", NULL);
    s_expect_event (h, "lifecycle", "shutdown", "finished");
    s_expect_event (h, "lifecycle", "stopped", "shutdown");
    s_assert_state (h, "web", VB_STATE_SHUTOFF, VB_SHUTOFF_SHUTDOWN);

    const char *not_running = "domain 'web' is not running";
    s_fails (h, "domain.shutdown", "web", NULL, "OPERATION_INVALID", not_running);
    s_fails (h, "domain.destroy", "web", NULL, "OPERATION_INVALID", not_running);
    s_fails (h, "domain.suspend", "web", NULL, "OPERATION_INVALID", not_running);
    s_fails (h, "domain.resume", "web", NULL, "OPERATION_INVALID", not_running);
    s_fails (h, "domain.reboot", "web", NULL, "OPERATION_INVALID", not_running);

    /*  Addressed by UUID this time. */
    s_ok_void (h, "domain.start", WEB_UUID, NULL);
    s_expect_event (h, "lifecycle", "started", "booted");
    s_ok_void (h, "domain.destroy", WEB_UUID, NULL);
    s_expect_event (h, "lifecycle", "stopped", "destroyed");
    s_assert_state (h, WEB_UUID, VB_STATE_SHUTOFF, VB_SHUTOFF_DESTROYED);

    s_fails (h, "domain.start", "nosuch", NULL, "NO_DOMAIN",
             "domain 'nosuch' not found on host h1");
}

static void
test_testdriver_start_paused_and_ids_count_up (void **state)
{
    harness_t *h = (harness_t *) *state;
    s_define_web (h);
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "paused", json_object_new_boolean (true));
    s_ok_void (h, "domain.start", "web", args);
    s_expect_event (h, "lifecycle", "started", "booted");
    s_expect_event (h, "lifecycle", "suspended", "paused");
    s_assert_state (h, "web", VB_STATE_PAUSED, VB_PAUSED_USER);

    json_object *reply = NULL;
    json_object *info = s_ok (h, "domain.info", "web", NULL, &reply);
    assert_int_equal (vb_json_int (info, "id", 0), 1);
    json_object_put (reply);

    s_ok_void (h, "domain.destroy", "web", NULL);
    s_ok_void (h, "domain.start", "web", NULL);
    info = s_ok (h, "domain.info", "web", NULL, &reply);
    assert_int_equal (vb_json_int (info, "id", 0), 2);
    json_object_put (reply);
}

static void
test_testdriver_undefine_running_domain_makes_it_transient_until_stopped (void **state)
{
    harness_t *h = (harness_t *) *state;
    s_define_web (h);
    s_ok_void (h, "domain.start", "web", NULL);
    s_expect_event (h, "lifecycle", "started", "booted");

    s_ok_void (h, "domain.undefine", "web", NULL);
    s_expect_event (h, "lifecycle", "undefined", "removed");
    json_object *reply = NULL;
    json_object *info = s_ok (h, "domain.info", "web", NULL, &reply);
    assert_false (vb_json_bool (info, "persistent", true));
    assert_int_equal (vb_json_int (info, "state", -1), VB_STATE_RUNNING);
    json_object_put (reply);
    s_fails (h, "domain.undefine", "web", NULL, "OPERATION_INVALID",
             "cannot undefine transient domain 'web'");

    /*  Stopping a transient domain removes it, and the broker hears the new inventory. */
    s_ok_void (h, "domain.destroy", "web", NULL);
    s_expect_event (h, "lifecycle", "stopped", "destroyed");
    json_object *domains_msg = NULL;
    for (int i = 0; i < 3; i++) {   /* DOMAINS from define, undefine, then the removal */
        json_object_put (domains_msg);
        domains_msg = harness_expect (h, VB_WCMD_DOMAINS, 5000, NULL);
        assert_non_null (domains_msg);
    }
    json_object *domains = NULL;
    assert_true (json_object_object_get_ex (domains_msg, "domains", &domains));
    assert_int_equal (json_object_array_length (domains), 0);
    json_object_put (domains_msg);
    s_fails (h, "domain.info", "web", NULL, "NO_DOMAIN", NULL);
}

static void
test_testdriver_undefine_inactive_domain_removes_it (void **state)
{
    harness_t *h = (harness_t *) *state;
    s_define_web (h);
    s_ok_void (h, "domain.undefine", WEB_UUID, NULL);
    s_expect_event (h, "lifecycle", "undefined", "removed");
    s_fails (h, "domain.info", "web", NULL, "NO_DOMAIN", NULL);
    /*  The name is free again. */
    s_define_web (h);
}

static void
s_define_named (harness_t *h, const char *name)
{
    char xml[256];
    snprintf (xml, sizeof xml, "<domain type='test'><name>%s</name><memory>1024</memory>"
              "<os><type>hvm</type></os></domain>", name);
    s_ok_void (h, "domain.define", NULL, s_xml_args (xml));
}

/*  The names of a list reply, comma-separated. */
static void
s_list_names (harness_t *h, json_object *args, char *out, size_t size)
{
    json_object *reply = NULL;
    json_object *list = s_ok (h, "domain.list", NULL, args, &reply);
    assert_true (json_object_is_type (list, json_type_array));
    out[0] = '\0';
    for (size_t i = 0; i < json_object_array_length (list); i++) {
        json_object *entry = json_object_array_get_idx (list, i);
        assert_string_equal (vb_json_str (entry, "host", ""), "h1");
        strncat (out, vb_json_str (entry, "name", "?"), size - strlen (out) - 2);
        strcat (out, ",");
    }
    json_object_put (reply);
}

static json_object *
s_flag (const char *name)
{
    json_object *args = json_object_new_object ();
    json_object_object_add (args, name, json_object_new_boolean (true));
    return args;
}

static void
test_testdriver_list_defaults_to_active_like_virsh (void **state)
{
    harness_t *h = (harness_t *) *state;
    s_define_named (h, "zeta");
    s_define_named (h, "alpha");
    s_define_named (h, "mid");
    s_define_named (h, "beta");
    s_ok_void (h, "domain.start", "zeta", NULL);
    s_ok_void (h, "domain.start", "mid", NULL);
    char names[256];
    s_list_names (h, NULL, names, sizeof names);
    assert_string_equal (names, "zeta,mid,");              /* active, by id */
    s_list_names (h, s_flag ("inactive"), names, sizeof names);
    assert_string_equal (names, "alpha,beta,");            /* inactive, by name */
    s_list_names (h, s_flag ("all"), names, sizeof names);
    assert_string_equal (names, "zeta,mid,alpha,beta,");
}

static void
test_testdriver_xml_round_trips_through_domxml (void **state)
{
    harness_t *h = (harness_t *) *state;
    s_define_web (h);
    json_object *reply = NULL;
    json_object *result = s_ok (h, "domain.xml", "web", NULL, &reply);
    const char *xml = vb_json_str (result, "xml", "");
    assert_non_null (strstr (xml, "<domain type='test'"));
    assert_non_null (strstr (xml, "<name>web</name>"));
    assert_non_null (strstr (xml, WEB_UUID));
    /*  What it formats defines again elsewhere: undefine and define from its own XML. */
    char *copy = strdup (xml);
    json_object_put (reply);
    s_ok_void (h, "domain.undefine", "web", NULL);
    s_ok_void (h, "domain.define", NULL, s_xml_args (copy));
    free (copy);
    s_assert_state (h, "web", VB_STATE_SHUTOFF, VB_REASON_UNKNOWN);
}

static void
test_testdriver_stats_report_state_params (void **state)
{
    harness_t *h = (harness_t *) *state;
    s_define_web (h);
    s_define_named (h, "db");
    s_ok_void (h, "domain.start", "web", NULL);

    json_object *args = json_object_new_object ();
    json_object *groups = json_object_new_array ();
    json_object_array_add (groups, json_object_new_string ("state"));
    json_object_object_add (args, "groups", groups);
    json_object *domains = json_object_new_array ();
    json_object_array_add (domains, json_object_new_string ("web"));
    json_object_object_add (args, "domains", domains);
    json_object *reply = NULL;
    json_object *records = s_ok (h, "domain.stats", NULL, args, &reply);
    assert_int_equal (json_object_array_length (records), 1);
    json_object *rec = json_object_array_get_idx (records, 0);
    assert_string_equal (vb_json_str (rec, "name", ""), "web");
    assert_string_equal (vb_json_str (rec, "uuid", ""), WEB_UUID);
    assert_string_equal (vb_json_str (rec, "host", ""), "h1");
    assert_string_equal (vb_json_str (rec, "driver", ""), "test");
    assert_string_equal (vb_json_str (rec, "worker", ""), h->id);
    assert_string_equal (vb_json_str (rec, "state", ""), "ok");
    json_object *params = NULL;
    assert_true (json_object_object_get_ex (rec, "params", &params));
    assert_string_equal (json_object_to_json_string_ext (params, JSON_C_TO_STRING_PLAIN),
                         "[[\"state.state\",\"int\",1],[\"state.reason\",\"int\",1]]");
    json_object_put (reply);

    /*  Without a domain list: every domain of this worker. */
    records = s_ok (h, "domain.stats", NULL, NULL, &reply);
    assert_int_equal (json_object_array_length (records), 2);
    json_object_put (reply);
}

static void
test_testdriver_emit_events_sends_count_events_in_order_before_reply (void **state)
{
    harness_t *h = (harness_t *) *state;
    s_define_web (h);
    json_object_put (harness_expect (h, VB_WCMD_DOMAINS, 5000, NULL));   /* the define's */
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "domain", json_object_new_string ("web"));
    json_object_object_add (args, "count", json_object_new_int (1000));
    harness_request (h, "client-1", 900, "test.emit_events", NULL, args, 5000);
    /*  Events 1..1000 (after the define's wseq 1), then the reply; ACK as a broker would. */
    for (int i = 1; i <= 1000; i++) {
        vb_wmsg_t *msg = harness_next (h, 5000, true);
        assert_non_null (msg);
        assert_int_equal (msg->cmd, VB_WCMD_EVENT);
        assert_int_equal (vb_json_uint (msg->body, "wseq", 0), (uint64_t) i + 1);
        assert_string_equal (vb_json_str (msg->body, "kind", ""), "test");
        char detail[16];
        snprintf (detail, sizeof detail, "%d", i);
        assert_string_equal (vb_json_str (msg->body, "detail", ""), detail);
        vb_wmsg_destroy (&msg);
    }
    json_object *ack = json_object_new_object ();
    json_object_object_add (ack, "wseq", json_object_new_uint64 (1001));
    harness_send (h, VB_WCMD_EVENT_ACK, ack);
    vb_wmsg_t *msg = harness_next (h, 5000, true);
    assert_non_null (msg);
    assert_int_equal (msg->cmd, VB_WCMD_REPLY);
    json_object *result = NULL;
    assert_true (json_object_object_get_ex (msg->body, "result", &result));
    assert_int_equal (vb_json_uint (result, "emitted", 0), 1000);
    vb_wmsg_destroy (&msg);
    s_assert_state (h, "web", VB_STATE_SHUTOFF, VB_REASON_UNKNOWN);

    s_fails (h, "test.emit_events", NULL, json_object_new_object (), "INVALID_ARG", NULL);
}

static void
test_testdriver_sleep_answers_later_without_blocking_the_loop (void **state)
{
    harness_t *h = (harness_t *) *state;
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "ms", json_object_new_int (300));
    int64_t t0 = vb_now_ms ();
    harness_request (h, "client-1", 950, "test.sleep", NULL, args, 5000);
    /*  Served meanwhile. */
    json_object *reply = NULL;
    s_ok (h, "domain.list", NULL, NULL, &reply);
    json_object_put (reply);
    assert_true (vb_now_ms () - t0 < 300);
    json_object *slept = harness_expect (h, VB_WCMD_REPLY, 5000, NULL);
    assert_non_null (slept);
    assert_int_equal (vb_json_uint (slept, "id", 0), 950);
    assert_true (vb_json_bool (slept, "ok", false));
    assert_true (vb_now_ms () - t0 >= 300);
    json_object_put (slept);

    args = json_object_new_object ();
    json_object_object_add (args, "ms", json_object_new_int (-1));
    s_fails (h, "test.sleep", NULL, args, "INVALID_ARG", NULL);
}

static void
test_testdriver_pending_sleep_at_shutdown_is_freed (void **state)
{
    /*  The worker is destroyed with a test.sleep in flight; valgrind/ASan check no leak. */
    harness_t *h = (harness_t *) *state;
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "ms", json_object_new_int (60000));
    harness_request (h, "client-1", 960, "test.sleep", NULL, args, 5000);
    json_object *reply = NULL;
    s_ok (h, "domain.list", NULL, NULL, &reply);
    json_object_put (reply);
}

int
main (void)
{
#define T(name) cmocka_unit_test_setup_teardown (name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T (test_testdriver_define_announces_domains_before_reply_and_emits_defined),
        T (test_testdriver_define_refuses_existing_name_bad_xml_and_other_types),
        T (test_testdriver_lifecycle_follows_libvirt_states_and_events),
        T (test_testdriver_start_paused_and_ids_count_up),
        T (test_testdriver_undefine_running_domain_makes_it_transient_until_stopped),
        T (test_testdriver_undefine_inactive_domain_removes_it),
        T (test_testdriver_list_defaults_to_active_like_virsh),
        T (test_testdriver_xml_round_trips_through_domxml),
        T (test_testdriver_stats_report_state_params),
        T (test_testdriver_emit_events_sends_count_events_in_order_before_reply),
        T (test_testdriver_sleep_answers_later_without_blocking_the_loop),
        T (test_testdriver_pending_sleep_at_shutdown_is_freed),
    };
#undef T
    return cmocka_run_group_tests (tests, NULL, NULL);
}
