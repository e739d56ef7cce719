/*  Unit tests for vb_json (common/vb_json.c): typed field reads with required/optional keys,
 *  type errors naming the field, and the full unsigned and signed 64-bit ranges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vb_json.h"

static json_object *
sample (void)
{
    json_object *obj = json_tokener_parse (
        "{\"s\": \"text\", \"i\": -5, \"u\": 7, \"b\": true, \"m\": {\"k\": 1}, \"a\": [1, 2],"
        " \"d\": 2.5, \"n\": null, \"i64max\": 9223372036854775807}");
    json_object_object_add (obj, "big", json_object_new_uint64 (UINT64_MAX));
    return obj;
}

static void
test_json_getters_read_present_fields (void **state)
{
    (void) state;
    json_object *obj = sample ();
    vb_error_t err = { 0 };
    const char *s = NULL;
    uint64_t u = 0;
    int64_t i = 0;
    bool b = false;
    json_object *m = NULL, *a = NULL;
    assert_int_equal (vb_json_get_string (obj, "s", true, &s, &err), 0);
    assert_string_equal (s, "text");
    assert_int_equal (vb_json_get_uint64 (obj, "u", true, &u, &err), 0);
    assert_true (u == 7);
    assert_int_equal (vb_json_get_uint64 (obj, "big", true, &u, &err), 0);
    assert_true (u == UINT64_MAX);
    assert_int_equal (vb_json_get_int64 (obj, "i", true, &i, &err), 0);
    assert_true (i == -5);
    assert_int_equal (vb_json_get_int64 (obj, "i64max", true, &i, &err), 0);
    assert_true (i == INT64_MAX);
    assert_int_equal (vb_json_get_bool (obj, "b", true, &b, &err), 0);
    assert_true (b);
    assert_int_equal (vb_json_get_object (obj, "m", true, &m, &err), 0);
    assert_int_equal (json_object_object_length (m), 1);
    assert_int_equal (vb_json_get_array (obj, "a", true, &a, &err), 0);
    assert_int_equal (json_object_array_length (a), 2);
    json_object_put (obj);
}

static void
test_json_absent_optional_leaves_output_untouched (void **state)
{
    (void) state;
    json_object *obj = sample ();
    vb_error_t err = { 0 };
    const char *s = "keep";
    uint64_t u = 99;
    assert_int_equal (vb_json_get_string (obj, "missing", false, &s, &err), 0);
    assert_string_equal (s, "keep");
    assert_int_equal (vb_json_get_uint64 (obj, "missing", false, &u, &err), 0);
    assert_true (u == 99);
    assert_int_equal (err.code, VB_OK);
    assert_int_equal (vb_json_get_string (obj, "missing", true, &s, &err), -1);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    assert_string_equal (err.message, "field 'missing' is missing");
    json_object_put (obj);
}

static void
test_json_wrong_types_answer_invalid_arg_naming_field (void **state)
{
    (void) state;
    json_object *obj = sample ();
    vb_error_t err = { 0 };
    const char *s = NULL;
    uint64_t u = 0;
    int64_t i = 0;
    bool b = false;
    json_object *o = NULL;
    assert_int_equal (vb_json_get_string (obj, "i", false, &s, &err), -1);
    assert_string_equal (err.message, "field 'i' must be a string, not an integer");
    assert_int_equal (vb_json_get_uint64 (obj, "i", false, &u, &err), -1);
    assert_string_equal (err.message, "field 'i' must be a non-negative integer, not -5");
    assert_int_equal (vb_json_get_uint64 (obj, "d", false, &u, &err), -1);
    assert_string_equal (err.message, "field 'd' must be a non-negative integer, not a float");
    assert_int_equal (vb_json_get_int64 (obj, "big", false, &i, &err), -1);
    assert_non_null (strstr (err.message, "beyond the signed 64-bit range"));
    assert_int_equal (vb_json_get_int64 (obj, "s", false, &i, &err), -1);
    assert_int_equal (vb_json_get_bool (obj, "u", false, &b, &err), -1);
    assert_string_equal (err.message, "field 'u' must be a boolean, not an integer");
    assert_int_equal (vb_json_get_object (obj, "a", false, &o, &err), -1);
    assert_string_equal (err.message, "field 'a' must be a map, not an array");
    assert_int_equal (vb_json_get_array (obj, "m", false, &o, &err), -1);
    assert_string_equal (err.message, "field 'm' must be an array, not a map");
    assert_int_equal (vb_json_get_string (obj, "n", false, &s, &err), -1);
    assert_string_equal (err.message, "field 'n' must be a string, not null");
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);

    json_object *arr = json_tokener_parse ("[1]");
    assert_int_equal (vb_json_get_string (arr, "x", false, &s, &err), -1);
    assert_non_null (strstr (err.message, "not a map"));
    assert_int_equal (vb_json_get_string (NULL, "x", false, &s, &err), -1);
    json_object_put (arr);
    json_object_put (obj);
}

static void
test_json_shorthands_fall_back_to_default (void **state)
{
    (void) state;
    json_object *obj = sample ();
    assert_string_equal (vb_json_str (obj, "s", "d"), "text");
    assert_string_equal (vb_json_str (obj, "i", "d"), "d");
    assert_string_equal (vb_json_str (obj, "zz", "d"), "d");
    assert_null (vb_json_str (obj, "zz", NULL));
    assert_true (vb_json_int (obj, "i", 1) == -5);
    assert_true (vb_json_int (obj, "s", 1) == 1);
    assert_true (vb_json_uint (obj, "big", 1) == UINT64_MAX);
    assert_true (vb_json_uint (obj, "i", 1) == 1);
    assert_true (vb_json_bool (obj, "b", false));
    assert_false (vb_json_bool (obj, "u", false));
    assert_true (vb_json_bool (NULL, "b", true));
    json_object_put (obj);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_json_getters_read_present_fields),
        cmocka_unit_test (test_json_absent_optional_leaves_output_untouched),
        cmocka_unit_test (test_json_wrong_types_answer_invalid_arg_naming_field),
        cmocka_unit_test (test_json_shorthands_fall_back_to_default),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
