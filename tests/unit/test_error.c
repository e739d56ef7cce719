/*  Unit tests for vb_error (common/vb_error.c): the closed set of wire names and the error
 *  object. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "vb_error.h"

static void
test_error_every_code_name_round_trips (void **state)
{
    (void) state;
    /*  The closed set of docs/protocol.md, in enum order. */
    const char *names[] = { "PROTOCOL", "INVALID_ARG", "INVALID_XML", "UNSUPPORTED", "NO_DOMAIN",
                            "NO_HOST", "NO_WORKER", "AMBIGUOUS", "OPERATION_INVALID",
                            "OPERATION_FAILED", "TIMEOUT", "WORKER_LOST", "BUSY", "DENIED",
                            "HYPERVISOR_UNAVAILABLE", "INTERNAL" };
    assert_int_equal (sizeof names / sizeof names[0], VB_ERR_LAST - 1);
    for (int code = VB_ERR_PROTOCOL; code < VB_ERR_LAST; code++) {
        assert_string_equal (vb_error_code_name ((vb_error_code_t) code), names[code - 1]);
        vb_error_code_t back = VB_OK;
        assert_int_equal (vb_error_code_from_name (names[code - 1], &back), 0);
        assert_int_equal (back, code);
    }
}

static void
test_error_unknown_names_and_ok_are_refused (void **state)
{
    (void) state;
    vb_error_code_t code = VB_ERR_BUSY;
    assert_int_equal (vb_error_code_from_name ("OK", &code), -1);
    assert_int_equal (vb_error_code_from_name ("no_domain", &code), -1);
    assert_int_equal (vb_error_code_from_name ("", &code), -1);
    assert_int_equal (vb_error_code_from_name (NULL, &code), -1);
    assert_int_equal (code, VB_ERR_BUSY);
    assert_string_equal (vb_error_code_name (VB_OK), "OK");
    assert_string_equal (vb_error_code_name (VB_ERR_LAST), "INTERNAL");
    assert_string_equal (vb_error_code_name ((vb_error_code_t) -3), "INTERNAL");
}

static void
test_error_set_formats_sentence_and_returns_minus_one (void **state)
{
    (void) state;
    vb_error_t err = { 0 };
    assert_int_equal (vb_error_set (&err, VB_ERR_OPERATION_INVALID,
                                    "domain '%s' is already running on host %s", "web", "a"),
                      -1);
    assert_int_equal (err.code, VB_ERR_OPERATION_INVALID);
    assert_string_equal (err.message, "domain 'web' is already running on host a");
    assert_int_equal (vb_error_set (NULL, VB_ERR_BUSY, "ignored"), -1);

    /*  A message longer than the buffer is cut, still NUL-terminated. */
    char big[VB_ERROR_MESSAGE_MAX * 2];
    memset (big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    vb_error_set (&err, VB_ERR_INTERNAL, "%s", big);
    assert_int_equal (strlen (err.message), VB_ERROR_MESSAGE_MAX - 1);
}

static void
test_error_copy_and_clear (void **state)
{
    (void) state;
    vb_error_t a = { 0 }, b = { 0 };
    vb_error_set (&a, VB_ERR_NO_HOST, "host 'h9' is not registered");
    assert_int_equal (vb_error_copy (&b, &a), -1);
    assert_int_equal (b.code, VB_ERR_NO_HOST);
    assert_string_equal (b.message, "host 'h9' is not registered");
    assert_int_equal (vb_error_copy (NULL, &a), -1);
    vb_error_copy (&b, NULL);
    assert_int_equal (b.code, VB_ERR_INTERNAL);
    vb_error_clear (&b);
    assert_int_equal (b.code, VB_OK);
    assert_string_equal (b.message, "");
    vb_error_clear (NULL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_error_every_code_name_round_trips),
        cmocka_unit_test (test_error_unknown_names_and_ok_are_refused),
        cmocka_unit_test (test_error_set_formats_sentence_and_returns_minus_one),
        cmocka_unit_test (test_error_copy_and_clear),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
