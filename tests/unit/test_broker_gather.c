/*  Unit tests for broker/vb_gather: merging fan-out shares and naming the missing in partial. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "vb_gather.h"

static vb_gather_t *
s_three (void)
{
    vb_gather_t *g = vb_gather_new (42, 3);
    assert_non_null (g);
    assert_int_equal (vb_gather_set_share (g, 0, "a-test-1", "a", "test"), 0);
    assert_int_equal (vb_gather_set_share (g, 1, "b-test-1", "b", "test"), 0);
    assert_int_equal (vb_gather_set_share (g, 2, "c-test-1", "c", "test"), 0);
    return g;
}

static vb_reply_t *
s_list_reply (int first, int count)
{
    json_object *list = json_object_new_array ();
    for (int i = 0; i < count; i++)
        json_object_array_add (list, json_object_new_int (first + i));
    return vb_reply_new_ok (7, list);
}

static void
test_gather_concatenates_results_in_share_order (void **state)
{
    (void) state;
    vb_gather_t *g = s_three ();
    vb_reply_t *r2 = s_list_reply (20, 1), *r0 = s_list_reply (0, 2), *r1 = s_list_reply (10, 0);
    assert_int_equal (vb_gather_reply (g, 2, r2), 0);
    assert_int_equal (vb_gather_reply (g, 0, r0), 0);
    assert_int_equal (vb_gather_pending (g), 1);
    assert_int_equal (vb_gather_reply (g, 1, r1), 0);
    assert_int_equal (vb_gather_pending (g), 0);
    /*  A second answer for a settled share is refused. */
    assert_int_equal (vb_gather_reply (g, 1, r0), -1);
    vb_reply_t *reply = vb_gather_finish (g, 2000);
    assert_non_null (reply);
    assert_true (reply->ok);
    assert_int_equal (reply->id, 42);
    assert_int_equal (reply->partial_count, 0);
    assert_int_equal (json_object_array_length (reply->result), 3);
    assert_int_equal (json_object_get_int (json_object_array_get_idx (reply->result, 0)), 0);
    assert_int_equal (json_object_get_int (json_object_array_get_idx (reply->result, 1)), 1);
    assert_int_equal (json_object_get_int (json_object_array_get_idx (reply->result, 2)), 20);
    vb_reply_destroy (&reply);
    vb_reply_destroy (&r0);
    vb_reply_destroy (&r1);
    vb_reply_destroy (&r2);
    vb_gather_destroy (&g);
    assert_null (g);
}

static void
test_gather_names_lost_failed_and_silent_workers_in_partial (void **state)
{
    (void) state;
    vb_gather_t *g = s_three ();
    vb_reply_t *r0 = s_list_reply (0, 1);
    vb_reply_t *r1 = vb_reply_new_error (7, VB_ERR_HYPERVISOR_UNAVAILABLE, "no hypervisor");
    assert_int_equal (vb_gather_reply (g, 0, r0), 0);
    assert_int_equal (vb_gather_reply (g, 1, r1), 0);
    assert_true (vb_gather_share_pending (g, 2));
    /*  c never answers: at the deadline it is a TIMEOUT entry. */
    vb_reply_t *reply = vb_gather_finish (g, 500);
    assert_true (reply->ok);
    assert_int_equal (json_object_array_length (reply->result), 1);
    assert_int_equal (reply->partial_count, 2);
    assert_string_equal (reply->partial[0].worker, "b-test-1");
    assert_int_equal (reply->partial[0].code, VB_ERR_HYPERVISOR_UNAVAILABLE);
    assert_string_equal (reply->partial[1].host, "c");
    assert_string_equal (reply->partial[1].driver, "test");
    assert_int_equal (reply->partial[1].code, VB_ERR_TIMEOUT);
    assert_string_equal (reply->partial[1].message,
                         "worker c-test-1 on host c did not answer within 500 ms");
    vb_reply_destroy (&reply);
    vb_reply_destroy (&r0);
    vb_reply_destroy (&r1);
    vb_gather_destroy (&g);
}

static void
test_gather_worker_lost_share_completes_without_waiting (void **state)
{
    (void) state;
    vb_gather_t *g = s_three ();
    vb_reply_t *r = s_list_reply (0, 1);
    vb_gather_reply (g, 0, r);
    vb_gather_reply (g, 1, r);
    assert_int_equal (vb_gather_fail (g, 2, VB_ERR_WORKER_LOST, "worker c-test-1 died"), 0);
    assert_int_equal (vb_gather_pending (g), 0);
    assert_int_equal (vb_gather_fail (g, 2, VB_ERR_WORKER_LOST, "again"), -1);
    assert_int_equal (vb_gather_fail (g, 9, VB_ERR_WORKER_LOST, "out of range"), -1);
    vb_reply_t *reply = vb_gather_finish (g, 2000);
    assert_int_equal (json_object_array_length (reply->result), 2);
    assert_int_equal (reply->partial_count, 1);
    assert_int_equal (reply->partial[0].code, VB_ERR_WORKER_LOST);
    vb_reply_destroy (&reply);
    vb_reply_destroy (&r);
    vb_gather_destroy (&g);
}

static void
test_gather_keeps_worker_partials_and_refuses_non_list_results (void **state)
{
    (void) state;
    vb_gather_t *g = s_three ();
    vb_reply_t *r0 = s_list_reply (0, 1);
    vb_reply_add_partial (r0, "a", "test", "a-test-1", VB_ERR_TIMEOUT,
                          "domain 'web': monitor did not answer");
    vb_reply_t *r1 = vb_reply_new_ok (7, json_object_new_object ());
    vb_reply_t *r2 = s_list_reply (5, 1);
    vb_gather_reply (g, 0, r0);
    vb_gather_reply (g, 1, r1);
    vb_gather_reply (g, 2, r2);
    vb_reply_t *reply = vb_gather_finish (g, 2000);
    assert_int_equal (json_object_array_length (reply->result), 2);
    assert_int_equal (reply->partial_count, 2);
    assert_string_equal (reply->partial[0].message, "domain 'web': monitor did not answer");
    assert_int_equal (reply->partial[1].code, VB_ERR_PROTOCOL);
    assert_string_equal (reply->partial[1].worker, "b-test-1");
    vb_reply_destroy (&reply);
    vb_reply_destroy (&r0);
    vb_reply_destroy (&r1);
    vb_reply_destroy (&r2);
    vb_gather_destroy (&g);
}

static void
test_gather_with_no_shares_answers_an_empty_list (void **state)
{
    (void) state;
    vb_gather_t *g = vb_gather_new (3, 0);
    assert_int_equal (vb_gather_pending (g), 0);
    vb_reply_t *reply = vb_gather_finish (g, 2000);
    assert_true (reply->ok);
    assert_int_equal (json_object_array_length (reply->result), 0);
    assert_int_equal (reply->partial_count, 0);
    vb_reply_destroy (&reply);
    vb_gather_destroy (&g);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_gather_concatenates_results_in_share_order),
        cmocka_unit_test (test_gather_names_lost_failed_and_silent_workers_in_partial),
        cmocka_unit_test (test_gather_worker_lost_share_completes_without_waiting),
        cmocka_unit_test (test_gather_keeps_worker_partials_and_refuses_non_list_results),
        cmocka_unit_test (test_gather_with_no_shares_answers_an_empty_list),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
