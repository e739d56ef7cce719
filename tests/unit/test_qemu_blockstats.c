/*  Unit tests for qemu_blockstats: query-blockstats replies read without a JSON tree.
 *
 *  The oracle for real replies is json-c: every capture in tests/data/stats (QEMU 7.2, see the
 *  README there) and tests/data/qmp is read by both, and every field the module keeps must equal
 *  what json-c's tree holds. Hand-written texts cover what QEMU never sends: escapes, wrong
 *  types, malformed JSON, nesting and chain limits.
 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qemu_blockstats.h"
#include "vb_util.h"

#define STATS VB_TEST_DATA_DIR "/stats/"

static char *
slurp (const char *path)
{
    vb_error_t err = { 0 };
    char *text = vb_read_file (path, 1 << 24, NULL, &err);
    if (!text)
        fail_msg ("cannot read %s: %s", path, err.message);
    return text;
}

static qemu_blockstats_t *
parse_ok (const char *text)
{
    vb_error_t err = { 0 };
    qemu_blockstats_t *bs = qemu_blockstats_parse (text, strlen (text), &err);
    if (!bs)
        fail_msg ("'%s' was refused: %s", text, err.message);
    return bs;
}

static void
expect_refused (const char *text, const char *what)
{
    vb_error_t err = { 0 };
    qemu_blockstats_t *bs = qemu_blockstats_parse (text, strlen (text), &err);
    if (bs)
        fail_msg ("'%s' was accepted", text);
    assert_int_equal (err.code, VB_ERR_OPERATION_FAILED);
    if (!strstr (err.message, what) || !strstr (err.message, "at byte"))
        fail_msg ("'%s': expected an error naming '%s', got '%s'", text, what, err.message);
}

/* --- json-c as the oracle ------------------------------------------------------------------ */

static json_object *
member (json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (obj && json_object_is_type (obj, json_type_object))
        json_object_object_get_ex (obj, key, &v);
    return v;
}

static json_object *
object_member (json_object *obj, const char *key)
{
    json_object *v = member (obj, key);
    return v && json_object_is_type (v, json_type_object) ? v : NULL;
}

static uint64_t
u64_member (json_object *obj, const char *key)
{
    json_object *v = member (obj, key);
    if (!v || !json_object_is_type (v, json_type_int) || json_object_get_int64 (v) < 0)
        return 0;
    return json_object_get_uint64 (v);
}

static const char *
str_member (json_object *obj, const char *key)
{
    json_object *v = member (obj, key);
    return v && json_object_is_type (v, json_type_string) ? json_object_get_string (v) : NULL;
}

static void
assert_str (const char *got, const char *want)
{
    if (!want)
        assert_null (got);
    else
        assert_string_equal (got, want);
}

static void
assert_layer_matches (const qemu_blocklayer_t *layer, json_object *entry, size_t *depth)
{
    assert_str (layer->node_name, str_member (entry, "node-name"));
    json_object *stats = object_member (entry, "stats");
    for (size_t k = 0; k < QEMU_BS_NCOUNTERS; k++)
        assert_int_equal (layer->stats[k],
                          u64_member (stats, qemu_blockstats_counter_name ((qemu_bs_counter_t) k)));
    assert_int_equal (layer->storage_wr_highest_offset,
                      u64_member (object_member (object_member (entry, "parent"), "stats"),
                                  "wr_highest_offset"));
    json_object *below = object_member (entry, "backing");
    if (!below) {
        assert_null (layer->backing);
        return;
    }
    assert_non_null (layer->backing);
    (*depth)++;
    assert_layer_matches (layer->backing, below, depth);
}

/*  TEXT read by both; every kept field equal. */
static void
assert_matches_json_c (const char *text)
{
    json_object *tree = json_tokener_parse (text);
    assert_non_null (tree);
    json_object *ret = member (tree, "return");
    json_object *devices = ret ? ret : tree;
    assert_true (json_object_is_type (devices, json_type_array));
    qemu_blockstats_t *bs = parse_ok (text);
    assert_int_equal (bs->ndevs, json_object_array_length (devices));
    for (size_t i = 0; i < bs->ndevs; i++) {
        json_object *entry = json_object_array_get_idx (devices, i);
        size_t depth = 0;
        assert_str (bs->devs[i].qdev, str_member (entry, "qdev"));
        assert_layer_matches (&bs->devs[i].top, entry, &depth);
        assert_int_equal (bs->devs[i].depth, depth);
    }
    qemu_blockstats_destroy (&bs);
    assert_null (bs);
    json_object_put (tree);
}

static void
test_blockstats_captures_read_as_json_c_reads_them (void **state)
{
    (void) state;
    static const char *const files[] = {
        STATS "depth0/query-blockstats.json",    STATS "depth1/query-blockstats.json",
        STATS "depth2/query-blockstats.json",    STATS "depth3/query-blockstats.json",
        STATS "depth4/query-blockstats.json",    STATS "blockdev/query-blockstats.json",
        STATS "cdrom-empty/query-blockstats.json", STATS "raw-backing/query-blockstats.json",
        STATS "full/query-blockstats.json",      VB_TEST_DATA_DIR "/qmp/query-blockstats.json",
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *text = slurp (files[i]);
        assert_matches_json_c (text);
        free (text);
    }
}

static void
test_blockstats_depth4_capture_holds_the_chain_and_counters (void **state)
{
    (void) state;
    /*  Read by hand from tests/data/stats/depth4/query-blockstats.json. */
    char *text = slurp (STATS "depth4/query-blockstats.json");
    qemu_blockstats_t *bs = parse_ok (text);
    free (text);
    assert_int_equal (bs->ndevs, 1);
    const qemu_blockdev_t *vda = qemu_blockstats_by_node (bs, "vb-vda-format");
    assert_non_null (vda);
    assert_ptr_equal (vda, qemu_blockstats_by_qdev (bs, "/machine/peripheral/vda/virtio-backend"));
    assert_int_equal (vda->depth, 4);
    assert_int_equal (vda->top.stats[QEMU_BS_RD_OPERATIONS], 1);
    assert_int_equal (vda->top.stats[QEMU_BS_RD_BYTES], 512);
    assert_int_equal (vda->top.stats[QEMU_BS_WR_HIGHEST_OFFSET], 2162688);
    size_t layers = 0;
    for (const qemu_blocklayer_t *l = &vda->top; l; l = l->backing)
        layers++;
    assert_int_equal (layers, 5);
    assert_null (qemu_blockstats_by_node (bs, "vb-vdb-format"));
    assert_null (qemu_blockstats_by_node (bs, NULL));
    assert_null (qemu_blockstats_by_qdev (NULL, "x"));
    qemu_blockstats_destroy (&bs);
}

static void
test_blockstats_bare_array_and_reply_object_read_alike (void **state)
{
    (void) state;
    qemu_blockstats_t *a = parse_ok ("[{\"qdev\": \"q\", \"node-name\": \"n\", "
                                     "\"stats\": {\"wr_bytes\": 9}}]");
    qemu_blockstats_t *b = parse_ok ("{\"id\": \"x\", \"return\": [{\"qdev\": \"q\", "
                                     "\"node-name\": \"n\", \"stats\": {\"wr_bytes\": 9}}]}");
    assert_int_equal (a->ndevs, 1);
    assert_int_equal (b->ndevs, 1);
    assert_int_equal (b->devs[0].top.stats[QEMU_BS_WR_BYTES], 9);
    assert_string_equal (b->devs[0].qdev, "q");
    qemu_blockstats_destroy (&a);
    qemu_blockstats_destroy (&b);
    qemu_blockstats_t *empty = parse_ok (" [ ] \r\n");
    assert_int_equal (empty->ndevs, 0);
    qemu_blockstats_destroy (&empty);
    empty = parse_ok ("{\"return\": []}");
    assert_int_equal (empty->ndevs, 0);
    qemu_blockstats_destroy (&empty);
    qemu_blockstats_destroy (&empty);
    qemu_blockstats_destroy (NULL);
}

static void
test_blockstats_escapes_are_decoded (void **state)
{
    (void) state;
    qemu_blockstats_t *bs = parse_ok (
        "[{\"qdev\": \"a\\\"b\\\\c\\/d\\n\", \"node-name\": \"caf\\u00e9 \\ud83d\\ude00 \\u20ac\","
        " \"st\\u0061ts\": {\"rd\\u005foperations\": 5}}]");
    assert_string_equal (bs->devs[0].qdev, "a\"b\\c/d\n");
    assert_string_equal (bs->devs[0].top.node_name, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac");
    assert_int_equal (bs->devs[0].top.stats[QEMU_BS_RD_OPERATIONS], 5);
    qemu_blockstats_destroy (&bs);
    /*  Raw UTF-8 is kept as it is; a key longer than any domstats reads is only skipped. */
    bs = parse_ok ("[{\"node-name\": \"n\xc3\xa9\", \"a-very-long-key-that-is-not-read-at-all"
                   "-by-domstats\": {\"stats\": 1}}]");
    assert_string_equal (bs->devs[0].top.node_name, "n\xc3\xa9");
    qemu_blockstats_destroy (&bs);
}

static void
test_blockstats_wrong_types_read_as_absent (void **state)
{
    (void) state;
    qemu_blockstats_t *bs = parse_ok (
        "[{\"qdev\": 3, \"node-name\": null, \"stats\": {\"rd_operations\": -1, "
        "\"rd_bytes\": 1.5, \"wr_operations\": 1e3, \"wr_bytes\": \"7\", "
        "\"flush_operations\": 18446744073709551615, \"rd_total_time_ns\": 18446744073709551616, "
        "\"wr_total_time_ns\": true, \"flush_total_time_ns\": 0, \"wr_highest_offset\": [1]}, "
        "\"parent\": 4, \"backing\": \"no\"}, 7, \"x\", [], {}]");
    assert_int_equal (bs->ndevs, 2);   /* the two objects */
    const qemu_blockdev_t *d = &bs->devs[0];
    assert_null (d->qdev);
    assert_null (d->top.node_name);
    for (size_t k = 0; k < QEMU_BS_NCOUNTERS; k++)
        if (k != QEMU_BS_FLUSH_OPERATIONS && k != QEMU_BS_RD_TOTAL_TIME_NS)
            assert_int_equal (d->top.stats[k], 0);
    assert_true (d->top.stats[QEMU_BS_FLUSH_OPERATIONS] == UINT64_MAX);
    /*  beyond 64 bits: held at the maximum, as json-c reads it */
    assert_true (d->top.stats[QEMU_BS_RD_TOTAL_TIME_NS] == UINT64_MAX);
    assert_int_equal (d->top.storage_wr_highest_offset, 0);
    assert_null (d->top.backing);
    assert_int_equal (d->depth, 0);
    qemu_blockstats_destroy (&bs);
}

static void
test_blockstats_repeated_members_keep_the_last (void **state)
{
    (void) state;
    qemu_blockstats_t *bs = parse_ok (
        "[{\"node-name\": \"a\", \"node-name\": \"b\", \"stats\": {\"rd_bytes\": 1}, "
        "\"stats\": {\"wr_bytes\": 2}, \"backing\": {\"backing\": {\"node-name\": \"deep\"}}, "
        "\"backing\": {\"node-name\": \"one\", \"parent\": {\"stats\": {\"wr_highest_offset\": 3}}}}]");
    const qemu_blockdev_t *d = &bs->devs[0];
    assert_string_equal (d->top.node_name, "b");
    assert_int_equal (d->top.stats[QEMU_BS_RD_BYTES], 0);
    assert_int_equal (d->top.stats[QEMU_BS_WR_BYTES], 2);
    assert_int_equal (d->depth, 1);
    assert_string_equal (d->top.backing->node_name, "one");
    assert_int_equal (d->top.backing->storage_wr_highest_offset, 3);
    assert_null (d->top.backing->backing);
    qemu_blockstats_destroy (&bs);
}

static void
test_blockstats_malformed_text_is_refused_naming_the_fault (void **state)
{
    (void) state;
    expect_refused ("", "a value expected");
    expect_refused ("[{\"node-name\": \"a\"}", "',' or ']' expected");
    expect_refused ("[{\"node-name\": \"a\"}] x", "trailing data");
    expect_refused ("[{\"node-name\": \"a\tb\"}]", "control character");
    expect_refused ("[{\"node-name\": \"a\\qb\"}]", "unknown escape");
    expect_refused ("[{\"node-name\": \"a\\u12\"}]", "\\u escape");
    expect_refused ("[{\"node-name\": \"abc", "unterminated string");
    expect_refused ("[{node: 1}]", "a string expected");
    expect_refused ("[{\"a\" 1}]", "':' expected");
    expect_refused ("[{\"a\": 1,}]", "a string expected");
    expect_refused ("[1,]", "unexpected character");
    expect_refused ("[01]", "',' or ']' expected");
    expect_refused ("[-]", "malformed number");
    expect_refused ("[1.]", "malformed number");
    expect_refused ("[1e]", "malformed number");
    expect_refused ("[tru]", "unexpected character");
    expect_refused ("[nul]", "unexpected character");
    expect_refused ("[@]", "unexpected character");
    expect_refused ("42", "neither an array nor a reply object");
    expect_refused ("{\"error\": {\"class\": \"GenericError\"}}", "without \"return\"");
    expect_refused ("{\"return\": {}}", "not an array");
    vb_error_t err = { 0 };
    assert_null (qemu_blockstats_parse (NULL, 0, &err));
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    /*  The length is honoured: no NUL needed, nothing read past it. */
    static const char cut[] = "[{\"qdev\": \"q\"}]GARBAGE";
    qemu_blockstats_t *bs = qemu_blockstats_parse (cut, 15, &err);
    assert_non_null (bs);
    assert_string_equal (bs->devs[0].qdev, "q");
    qemu_blockstats_destroy (&bs);
}

/*  N nested arrays inside a member domstats does not read. */
static char *
nested (size_t n)
{
    char *text = malloc (2 * n + 64);
    assert_non_null (text);
    char *p = text + sprintf (text, "[{\"x\": ");
    for (size_t i = 0; i < n; i++)
        *p++ = '[';
    for (size_t i = 0; i < n; i++)
        *p++ = ']';
    strcpy (p, "}]");
    return text;
}

static void
test_blockstats_nesting_and_chain_limits (void **state)
{
    (void) state;
    /*  The entry's array and object count: 2 + N levels. */
    char *ok = nested (QEMU_BLOCKSTATS_MAX_NESTING - 2);
    qemu_blockstats_t *bs = parse_ok (ok);
    qemu_blockstats_destroy (&bs);
    free (ok);
    char *deep = nested (QEMU_BLOCKSTATS_MAX_NESTING - 1);
    expect_refused (deep, "nesting too deep");
    free (deep);

    /*  A chain longer than QEMU_BLOCKSTATS_MAX_LAYERS: the layers below the limit are left
     *  out, the text is still checked to its end. */
    size_t layers = QEMU_BLOCKSTATS_MAX_LAYERS + 10;
    size_t cap = layers * 64 + 64;
    char *chain = malloc (cap), *p = chain;
    assert_non_null (chain);
    p += sprintf (p, "[{\"node-name\": \"l0\"");
    for (size_t i = 1; i < layers; i++)
        p += sprintf (p, ", \"backing\": {\"node-name\": \"l%zu\"", i);
    for (size_t i = 1; i < layers; i++)
        *p++ = '}';
    strcpy (p, "}]");
    bs = parse_ok (chain);
    assert_int_equal (bs->devs[0].depth, QEMU_BLOCKSTATS_MAX_LAYERS - 1);
    const qemu_blocklayer_t *l = &bs->devs[0].top;
    while (l->backing)
        l = l->backing;
    char last[16];
    snprintf (last, sizeof last, "l%d", QEMU_BLOCKSTATS_MAX_LAYERS - 1);
    assert_string_equal (l->node_name, last);
    qemu_blockstats_destroy (&bs);
    strcpy (p, "}");   /* one '}' short of the end: truncated */
    chain[strlen (chain) - 2] = '\0';
    expect_refused (chain, "expected");
    free (chain);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_blockstats_captures_read_as_json_c_reads_them),
        cmocka_unit_test (test_blockstats_depth4_capture_holds_the_chain_and_counters),
        cmocka_unit_test (test_blockstats_bare_array_and_reply_object_read_alike),
        cmocka_unit_test (test_blockstats_escapes_are_decoded),
        cmocka_unit_test (test_blockstats_wrong_types_read_as_absent),
        cmocka_unit_test (test_blockstats_repeated_members_keep_the_last),
        cmocka_unit_test (test_blockstats_malformed_text_is_refused_naming_the_fault),
        cmocka_unit_test (test_blockstats_nesting_and_chain_limits),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
