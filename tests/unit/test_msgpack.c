/*  Unit tests for the msgpack <-> json-c codec of vb_proto.h (common/vb_msgpack.c): round trips
 *  of every value type, and every limit of the raw-byte validator (size, depth, string length,
 *  declared counts, bin/ext, key types, trailing bytes) answering PROTOCOL without crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "vb_proto.h"

/*  Raw bytes built with msgpack-c's packer, so tests can write what vb_msgpack_encode never
 *  would (bin, ext, int keys, lies about counts). */
typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} raw_t;

static void
raw_init (raw_t *r)
{
    msgpack_sbuffer_init (&r->sbuf);
    msgpack_packer_init (&r->pk, &r->sbuf, msgpack_sbuffer_write);
}

static void
raw_str (raw_t *r, const char *s)
{
    msgpack_pack_str (&r->pk, strlen (s));
    msgpack_pack_str_body (&r->pk, s, strlen (s));
}

static int
decode_raw (raw_t *r, const vb_limits_t *limits, json_object **out, vb_error_t *err)
{
    int rc = vb_msgpack_decode (r->sbuf.data, r->sbuf.size, limits, out, err);
    msgpack_sbuffer_destroy (&r->sbuf);
    return rc;
}

/*  Decode bytes that must fail with PROTOCOL and a message containing NEEDLE. */
static void
expect_protocol (const void *data, size_t size, const vb_limits_t *limits, const char *needle)
{
    json_object *out = (json_object *) 0x1;
    vb_error_t err = { 0 };
    assert_int_equal (vb_msgpack_decode (data, size, limits, &out, &err), -1);
    assert_null (out);
    assert_int_equal (err.code, VB_ERR_PROTOCOL);
    if (!strstr (err.message, needle))
        fail_msg ("error '%s' does not mention '%s'", err.message, needle);
}

static void
expect_raw_protocol (raw_t *r, const vb_limits_t *limits, const char *needle)
{
    expect_protocol (r->sbuf.data, r->sbuf.size, limits, needle);
    msgpack_sbuffer_destroy (&r->sbuf);
}

static json_object *
round_trip (json_object *in)
{
    zframe_t *frame = vb_msgpack_encode (in);
    assert_non_null (frame);
    json_object *out = NULL;
    vb_error_t err = { 0 };
    vb_limits_t limits = vb_limits_worker ();
    if (vb_msgpack_decode (zframe_data (frame), zframe_size (frame), &limits, &out, &err) < 0)
        fail_msg ("round trip failed: %s", err.message);
    zframe_destroy (&frame);
    return out;
}

static void
test_msgpack_round_trip_every_type_is_equal (void **state)
{
    (void) state;
    json_object *in = json_tokener_parse (
        "{\"nil\": null, \"t\": true, \"f\": false, \"zero\": 0, \"small\": 7, \"neg\": -33,"
        " \"i64min\": -9223372036854775808, \"i64max\": 9223372036854775807,"
        " \"dbl\": 1.5, \"str\": \"h\\u00e9llo\", \"empty\": \"\", \"arr\": [1, \"two\", [3]],"
        " \"map\": {\"a\": {\"b\": []}}, \"emptymap\": {}}");
    assert_non_null (in);
    json_object_object_add (in, "u64max", json_object_new_uint64 (UINT64_MAX));
    json_object *out = round_trip (in);
    assert_true (json_object_equal (in, out));
    json_object *u = NULL;
    assert_true (json_object_object_get_ex (out, "u64max", &u));
    assert_true (json_object_get_uint64 (u) == UINT64_MAX);
    assert_true (json_object_object_get_ex (out, "i64min", &u));
    assert_true (json_object_get_int64 (u) == INT64_MIN);
    json_object_put (in);
    json_object_put (out);
}

/*  msgpack-c hands an empty string over as a NULL pointer with size 0: {"": ""} must decode
 *  (found by the fuzzer: 81 a0 73). */
static void
test_msgpack_empty_key_and_empty_string_decode (void **state)
{
    (void) state;
    const unsigned char bytes[] = { 0x82, 0xa0, 0x73, 0xa1, 'k', 0xa0 };
    vb_limits_t limits = vb_limits_client ();
    json_object *out = NULL;
    vb_error_t err = { 0 };
    assert_int_equal (vb_msgpack_decode (bytes, sizeof bytes, &limits, &out, &err), 0);
    json_object *v = NULL;
    assert_true (json_object_object_get_ex (out, "", &v));
    assert_int_equal (json_object_get_int (v), 0x73);
    assert_true (json_object_object_get_ex (out, "k", &v));
    assert_string_equal (json_object_get_string (v), "");
    json_object_put (out);
}

static void
test_msgpack_nil_top_level_decodes_to_null (void **state)
{
    (void) state;
    zframe_t *frame = vb_msgpack_encode (NULL);
    assert_non_null (frame);
    assert_int_equal (zframe_size (frame), 1);
    assert_int_equal (zframe_data (frame)[0], 0xc0);
    json_object *out = (json_object *) 0x1;
    vb_error_t err = { 0 };
    assert_int_equal (vb_msgpack_decode (zframe_data (frame), 1, NULL, &out, &err), 0);
    assert_null (out);
    zframe_destroy (&frame);
}

static void
test_msgpack_string_with_nul_round_trips_with_length (void **state)
{
    (void) state;
    json_object *in = json_object_new_string_len ("a\0b", 3);
    json_object *out = round_trip (in);
    assert_int_equal (json_object_get_string_len (out), 3);
    assert_memory_equal (json_object_get_string (out), "a\0b", 3);
    json_object_put (in);
    json_object_put (out);
}

static void
test_msgpack_float32_decodes_as_double (void **state)
{
    (void) state;
    raw_t r;
    raw_init (&r);
    msgpack_pack_float (&r.pk, 0.25f);
    json_object *out = NULL;
    vb_error_t err = { 0 };
    assert_int_equal (decode_raw (&r, NULL, &out, &err), 0);
    assert_true (json_object_is_type (out, json_type_double));
    assert_true (json_object_get_double (out) == 0.25);
    json_object_put (out);
}

static void
test_msgpack_empty_frame_answers_protocol (void **state)
{
    (void) state;
    expect_protocol ("", 0, NULL, "empty");
}

static void
test_msgpack_oversized_frame_answers_protocol (void **state)
{
    (void) state;
    vb_limits_t limits = { 16, 32, 1024 };
    json_object *in = json_object_new_string ("this string is longer than sixteen bytes");
    zframe_t *frame = vb_msgpack_encode (in);
    expect_protocol (zframe_data (frame), zframe_size (frame), &limits, "exceeds the 16-byte");
    zframe_destroy (&frame);
    json_object_put (in);

    /*  The client limit is 1 MiB: a 1 MiB + 1 frame is refused before it is looked at. */
    size_t size = VB_LIMIT_CLIENT_FRAME + 1;
    char *big = calloc (1, size);
    vb_limits_t client = vb_limits_client ();
    expect_protocol (big, size, &client, "exceeds the 1048576-byte limit");
    free (big);
}

static void
test_msgpack_truncated_frames_answer_protocol_at_every_length (void **state)
{
    (void) state;
    json_object *in = json_tokener_parse (
        "{\"id\": 18446744073709551615, \"op\": \"domain.start\", \"target\": {\"domain\": "
        "\"web\"}, \"args\": {\"paused\": true, \"n\": -70000, \"f\": 2.5, \"l\": [1,2,3]}}");
    zframe_t *frame = vb_msgpack_encode (in);
    size_t size = zframe_size (frame);
    for (size_t n = 1; n < size; n++) {
        /*  A copy of exactly N bytes, so ASan sees any read past the end. */
        unsigned char *prefix = malloc (n);
        memcpy (prefix, zframe_data (frame), n);
        /* "truncated ..." or "declares N entries but only M bytes remain" */
        expect_protocol (prefix, n, NULL, "byte");
        free (prefix);
    }
    zframe_destroy (&frame);
    json_object_put (in);
}

/*  N nested arrays around an int, as raw bytes. */
static void
nested_arrays (raw_t *r, int n)
{
    raw_init (r);
    for (int i = 0; i < n; i++)
        msgpack_pack_array (&r->pk, 1);
    msgpack_pack_int (&r->pk, 1);
}

static void
test_msgpack_depth_32_decodes_and_depth_33_answers_protocol (void **state)
{
    (void) state;
    vb_limits_t limits = vb_limits_client ();
    raw_t r;
    json_object *out = NULL;
    vb_error_t err = { 0 };
    nested_arrays (&r, 32);
    assert_int_equal (decode_raw (&r, &limits, &out, &err), 0);
    json_object_put (out);

    nested_arrays (&r, 33);
    expect_raw_protocol (&r, &limits, "nested deeper than the 32-level limit");

    /*  A deep map chain counts the same way. */
    raw_init (&r);
    for (int i = 0; i < 33; i++) {
        msgpack_pack_map (&r.pk, 1);
        raw_str (&r, "k");
    }
    msgpack_pack_nil (&r.pk);
    expect_raw_protocol (&r, &limits, "nested deeper");

    /*  100000 levels: refused without recursion, so no stack overflow. */
    size_t n = 100000;
    unsigned char *deep = malloc (n + 1);
    memset (deep, 0x91, n);
    deep[n] = 0x01;
    expect_protocol (deep, n + 1, &limits, "nested deeper");
    free (deep);
}

static void
test_msgpack_huge_declared_counts_answer_protocol (void **state)
{
    (void) state;
    const unsigned char array32[] = { 0xdd, 0xff, 0xff, 0xff, 0xff, 0x01 };
    expect_protocol (array32, sizeof array32, NULL, "declares 4294967295 elements");
    const unsigned char map32[] = { 0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'k', 0x01 };
    expect_protocol (map32, sizeof map32, NULL, "declares 2147483647 entries");
    const unsigned char array16[] = { 0xdc, 0x00, 0x04, 0x01, 0x02, 0x03 };
    expect_protocol (array16, sizeof array16, NULL, "declares 4 elements but only 3");
    /*  A fixmap of 2 entries needs 4 items; 3 bytes cannot hold them. */
    const unsigned char fixmap[] = { 0x82, 0xa1, 'a', 0x01 };
    expect_protocol (fixmap, sizeof fixmap, NULL, "declares 2 entries");
    /*  Nested: each count alone fits, together they cannot. */
    const unsigned char nested[] = { 0x93, 0x93, 0x01, 0x02, 0x03, 0x04 };
    expect_protocol (nested, sizeof nested, NULL, "declares 3 elements");
    const unsigned char str32[] = { 0xdb, 0x00, 0x00, 0x10, 0x00, 'a' };
    expect_protocol (str32, sizeof str32, NULL, "declares 4096 bytes but only 1 remain");
}

static void
test_msgpack_string_of_64k_plus_one_answers_protocol (void **state)
{
    (void) state;
    vb_limits_t limits = vb_limits_worker ();
    size_t n = VB_LIMIT_STRING;
    char *s = malloc (n + 2);
    memset (s, 'x', n + 1);
    s[n + 1] = '\0';

    raw_t r;
    json_object *out = NULL;
    vb_error_t err = { 0 };
    raw_init (&r);
    msgpack_pack_str (&r.pk, n);
    msgpack_pack_str_body (&r.pk, s, n);
    assert_int_equal (decode_raw (&r, &limits, &out, &err), 0);
    assert_int_equal (json_object_get_string_len (out), (int) n);
    json_object_put (out);

    raw_init (&r);
    msgpack_pack_str (&r.pk, n + 1);
    msgpack_pack_str_body (&r.pk, s, n + 1);
    expect_raw_protocol (&r, &limits, "string of 65537 bytes");

    raw_init (&r);
    msgpack_pack_map (&r.pk, 1);
    msgpack_pack_str (&r.pk, n + 1);
    msgpack_pack_str_body (&r.pk, s, n + 1);
    msgpack_pack_nil (&r.pk);
    expect_raw_protocol (&r, &limits, "map key of 65537 bytes");
    free (s);
}

static void
test_msgpack_bin_and_ext_answer_protocol (void **state)
{
    (void) state;
    raw_t r;
    raw_init (&r);
    msgpack_pack_bin (&r.pk, 3);
    msgpack_pack_bin_body (&r.pk, "abc", 3);
    expect_raw_protocol (&r, NULL, "bin");

    raw_init (&r);
    msgpack_pack_map (&r.pk, 1);
    raw_str (&r, "e");
    msgpack_pack_ext (&r.pk, 2, 7);
    msgpack_pack_ext_body (&r.pk, "xy", 2);
    expect_raw_protocol (&r, NULL, "ext");

    const unsigned char fixext[] = { 0x91, 0xd4, 0x01, 0x00 };
    expect_protocol (fixext, sizeof fixext, NULL, "ext");
    const unsigned char reserved[] = { 0xc1 };
    expect_protocol (reserved, sizeof reserved, NULL, "0xc1");
}

static void
test_msgpack_non_string_keys_answer_protocol (void **state)
{
    (void) state;
    raw_t r;
    raw_init (&r);
    msgpack_pack_map (&r.pk, 1);
    msgpack_pack_int (&r.pk, 1);
    raw_str (&r, "v");
    expect_raw_protocol (&r, NULL, "map key at byte 1 is not a string");

    raw_init (&r);
    msgpack_pack_map (&r.pk, 2);
    raw_str (&r, "ok");
    msgpack_pack_nil (&r.pk);
    msgpack_pack_array (&r.pk, 0);
    msgpack_pack_nil (&r.pk);
    expect_raw_protocol (&r, NULL, "not a string");

    const unsigned char nulkey[] = { 0x81, 0xa3, 'a', 0x00, 'b', 0x01 };
    expect_protocol (nulkey, sizeof nulkey, NULL, "NUL");
}

static void
test_msgpack_duplicate_keys_answer_protocol (void **state)
{
    (void) state;
    raw_t r;
    raw_init (&r);
    msgpack_pack_map (&r.pk, 2);
    raw_str (&r, "id");
    msgpack_pack_int (&r.pk, 1);
    raw_str (&r, "id");
    msgpack_pack_int (&r.pk, 2);
    expect_raw_protocol (&r, NULL, "the key 'id' twice");
}

static void
test_msgpack_trailing_bytes_answer_protocol (void **state)
{
    (void) state;
    const unsigned char two[] = { 0x80, 0x80 };
    expect_protocol (two, sizeof two, NULL, "1 trailing bytes");
    const unsigned char more[] = { 0x01, 0x02, 0x03 };
    expect_protocol (more, sizeof more, NULL, "2 trailing bytes");
}

static void
test_msgpack_non_finite_float_answers_protocol (void **state)
{
    (void) state;
    raw_t r;
    raw_init (&r);
    msgpack_pack_double (&r.pk, NAN);
    expect_raw_protocol (&r, NULL, "not finite");
    raw_init (&r);
    msgpack_pack_float (&r.pk, -INFINITY);
    expect_raw_protocol (&r, NULL, "not finite");
}

/*  xorshift64*: a fixed-seed generator so a failure reproduces. */
static uint64_t
rng_next (uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void
check_any_outcome (const unsigned char *buf, size_t len, const vb_limits_t *limits)
{
    json_object *out = NULL;
    vb_error_t err = { 0 };
    int rc = vb_msgpack_decode (buf, len, limits, &out, &err);
    if (rc < 0) {
        assert_int_equal (err.code, VB_ERR_PROTOCOL);
        assert_true (err.message[0] != '\0');
        assert_null (out);
    } else {
        /*  Random bytes may be valid msgpack (0x05 is the integer 5): it must then re-encode. */
        zframe_t *again = vb_msgpack_encode (out);
        assert_non_null (again);
        zframe_destroy (&again);
        json_object_put (out);
    }
}

static void
test_msgpack_random_and_mutated_bytes_never_crash (void **state)
{
    (void) state;
    uint64_t seed = 0x5eed1234abcdULL;
    vb_limits_t limits = { 4096, 8, 256 };
    unsigned char buf[512];
    for (int i = 0; i < 20000; i++) {
        size_t len = (size_t) (rng_next (&seed) % sizeof buf);
        for (size_t j = 0; j < len; j++)
            buf[j] = (unsigned char) rng_next (&seed);
        check_any_outcome (buf, len, &limits);
    }

    /*  Mutations of a valid message reach the deeper branches random bytes rarely do. */
    json_object *in = json_tokener_parse (
        "{\"id\": 5, \"op\": \"domain.list\", \"target\": {\"host\": \"h1\"},"
        " \"args\": {\"all\": true, \"groups\": [\"block\", \"state\"], \"n\": -3,"
        " \"x\": 1.25, \"deep\": [[[[{\"a\": null}]]]]}}");
    zframe_t *frame = vb_msgpack_encode (in);
    size_t size = zframe_size (frame);
    assert_true (size <= sizeof buf);
    for (int i = 0; i < 20000; i++) {
        memcpy (buf, zframe_data (frame), size);
        int flips = 1 + (int) (rng_next (&seed) % 4);
        for (int k = 0; k < flips; k++)
            buf[rng_next (&seed) % size] = (unsigned char) rng_next (&seed);
        size_t len = size - (size_t) (rng_next (&seed) % 3);
        check_any_outcome (buf, len, &limits);
    }
    zframe_destroy (&frame);
    json_object_put (in);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_msgpack_round_trip_every_type_is_equal),
        cmocka_unit_test (test_msgpack_empty_key_and_empty_string_decode),
        cmocka_unit_test (test_msgpack_nil_top_level_decodes_to_null),
        cmocka_unit_test (test_msgpack_string_with_nul_round_trips_with_length),
        cmocka_unit_test (test_msgpack_float32_decodes_as_double),
        cmocka_unit_test (test_msgpack_empty_frame_answers_protocol),
        cmocka_unit_test (test_msgpack_oversized_frame_answers_protocol),
        cmocka_unit_test (test_msgpack_truncated_frames_answer_protocol_at_every_length),
        cmocka_unit_test (test_msgpack_depth_32_decodes_and_depth_33_answers_protocol),
        cmocka_unit_test (test_msgpack_huge_declared_counts_answer_protocol),
        cmocka_unit_test (test_msgpack_string_of_64k_plus_one_answers_protocol),
        cmocka_unit_test (test_msgpack_bin_and_ext_answer_protocol),
        cmocka_unit_test (test_msgpack_non_string_keys_answer_protocol),
        cmocka_unit_test (test_msgpack_duplicate_keys_answer_protocol),
        cmocka_unit_test (test_msgpack_trailing_bytes_answer_protocol),
        cmocka_unit_test (test_msgpack_non_finite_float_answers_protocol),
        cmocka_unit_test (test_msgpack_random_and_mutated_bytes_never_crash),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
