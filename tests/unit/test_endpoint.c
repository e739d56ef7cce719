/*  vb_endpoint: loopback and wildcard detection, --advertise validation, and the bind policy
 *  (no keys beyond loopback unless --insecure; no wildcard without --advertise). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "vb_endpoint.h"

static void
test_endpoint_loopback_only_for_local_addresses (void **state)
{
    (void) state;
    assert_true (vb_endpoint_is_loopback ("tcp://127.0.0.1:*"));
    assert_true (vb_endpoint_is_loopback ("tcp://127.5.4.3:16600"));
    assert_true (vb_endpoint_is_loopback ("tcp://localhost:0"));
    assert_true (vb_endpoint_is_loopback ("tcp://[::1]:16600"));
    assert_true (vb_endpoint_is_loopback ("ipc:///run/virtbus.sock"));
    assert_true (vb_endpoint_is_loopback ("inproc://x"));
    assert_false (vb_endpoint_is_loopback ("tcp://0.0.0.0:*"));
    assert_false (vb_endpoint_is_loopback ("tcp://*:16600"));
    assert_false (vb_endpoint_is_loopback ("tcp://10.0.0.1:16600"));
    assert_false (vb_endpoint_is_loopback ("tcp://128.0.0.1:16600"));
    assert_false (vb_endpoint_is_loopback ("tcp://eth0:16600"));
    assert_false (vb_endpoint_is_loopback ("tcp://lo;10.0.0.1:16600"));
    assert_false (vb_endpoint_is_loopback ("tcp://127.0.0.1"));
    assert_false (vb_endpoint_is_loopback (NULL));
}

static void
test_endpoint_wildcards_are_recognised (void **state)
{
    (void) state;
    assert_true (vb_endpoint_is_wildcard ("tcp://0.0.0.0:*"));
    assert_true (vb_endpoint_is_wildcard ("tcp://*:1"));
    assert_true (vb_endpoint_is_wildcard ("tcp://[::]:1"));
    assert_false (vb_endpoint_is_wildcard ("tcp://10.0.0.1:1"));
    assert_false (vb_endpoint_is_wildcard ("ipc://0.0.0.0:1"));
}

static void
test_endpoint_advertise_accepts_hosts_and_addresses_only (void **state)
{
    (void) state;
    const char *good[] = { "hub", "hub.example.org", "10.0.0.1", "[fd00::1]", "[::1]",
                           "a-b.c0" };
    const char *bad[] = { "a b:c", "a b", "", "0.0.0.0", "fd00::1", "[zz::1]", "-hub", "hub-",
                          "a..b", "10.0.0.300", "host:80", "tcp://x", "[::1", "h/x" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true (vb_advertise_is_valid (good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (vb_advertise_is_valid (bad[i]))
            fail_msg ("'%s' accepted as an advertised host", bad[i]);
    assert_false (vb_advertise_is_valid (NULL));
}

static void
test_endpoint_policy_needs_keys_or_insecure_beyond_loopback (void **state)
{
    (void) state;
    vb_error_t err = { 0 };
    const char *local[] = { "tcp://127.0.0.1:*", "ipc:///tmp/x", NULL };
    const char *wide[] = { "tcp://127.0.0.1:*", "tcp://10.0.0.1:*", NULL };
    const char *wild[] = { "tcp://0.0.0.0:*", NULL };
    assert_int_equal (vb_endpoint_policy (local, NULL, false, false, &err), 0);
    assert_int_equal (vb_endpoint_policy (wide, NULL, false, false, &err), -1);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    assert_non_null (strstr (err.message, "tcp://10.0.0.1:*"));
    assert_non_null (strstr (err.message, "--insecure"));
    assert_int_equal (vb_endpoint_policy (wide, NULL, true, false, &err), 0);
    assert_int_equal (vb_endpoint_policy (wide, NULL, false, true, &err), 0);
    /*  A wildcard needs --advertise, keys or not. */
    assert_int_equal (vb_endpoint_policy (wild, NULL, true, false, &err), -1);
    assert_non_null (strstr (err.message, "--advertise"));
    assert_int_equal (vb_endpoint_policy (wild, "hub", true, false, &err), 0);
    assert_int_equal (vb_endpoint_policy (wild, "a b:c", true, true, &err), -1);
    assert_non_null (strstr (err.message, "'a b:c'"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_endpoint_loopback_only_for_local_addresses),
        cmocka_unit_test (test_endpoint_wildcards_are_recognised),
        cmocka_unit_test (test_endpoint_advertise_accepts_hosts_and_addresses_only),
        cmocka_unit_test (test_endpoint_policy_needs_keys_or_insecure_beyond_loopback),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
