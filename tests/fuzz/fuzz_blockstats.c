/*  libFuzzer harness for qemu_blockstats, with json-c as the oracle.
 *
 *  Any input must be answered without a crash, leak or sanitizer report. When both
 *  qemu_blockstats and json-c (strict) read an input, every field qemu_blockstats keeps must
 *  equal what json-c's tree holds (the rules of qemu_blockstats.h: wrong types, negative and
 *  fractional numbers read as absent, entries that are not objects skipped, the last of
 *  repeated members wins), as far as the chain limit.
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qemu_blockstats.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static json_object *
s_member (json_object *obj, const char *key, json_type type)
{
    json_object *v = NULL;
    if (!obj || !json_object_is_type (obj, json_type_object)
        || !json_object_object_get_ex (obj, key, &v) || !json_object_is_type (v, type))
        return NULL;
    return v;
}

static uint64_t
s_u64 (json_object *obj, const char *key)
{
    json_object *v = s_member (obj, key, json_type_int);
    return v && json_object_get_int64 (v) >= 0 ? json_object_get_uint64 (v) : 0;
}

static void
s_check_str (const char *got, json_object *want)
{
    /*  json-c keeps strings with embedded NULs; compare up to the first one, as C strings. */
    if ((got == NULL) != (want == NULL) || (got && strcmp (got, json_object_get_string (want))))
        abort ();
}

static void
s_check_layer (const qemu_blocklayer_t *layer, json_object *entry, size_t depth)
{
    s_check_str (layer->node_name, s_member (entry, "node-name", json_type_string));
    json_object *stats = s_member (entry, "stats", json_type_object);
    for (size_t k = 0; k < QEMU_BS_NCOUNTERS; k++)
        if (layer->stats[k] != s_u64 (stats, qemu_blockstats_counter_name ((qemu_bs_counter_t) k)))
            abort ();
    json_object *parent = s_member (s_member (entry, "parent", json_type_object), "stats",
                                    json_type_object);
    if (layer->storage_wr_highest_offset != s_u64 (parent, "wr_highest_offset"))
        abort ();
    json_object *below = s_member (entry, "backing", json_type_object);
    if (depth + 1 >= QEMU_BLOCKSTATS_MAX_LAYERS) {
        if (layer->backing)
            abort ();
        return;
    }
    if ((below == NULL) != (layer->backing == NULL))
        abort ();
    if (below)
        s_check_layer (layer->backing, below, depth + 1);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    vb_error_t err = { 0 };
    qemu_blockstats_t *bs = qemu_blockstats_parse ((const char *) data, size, &err);
    if (!bs) {
        if (err.code != VB_ERR_OPERATION_FAILED && err.code != VB_ERR_INTERNAL)
            abort ();
        return 0;
    }
    json_tokener *tok = json_tokener_new_ex (2 * QEMU_BLOCKSTATS_MAX_NESTING);
    json_tokener_set_flags (tok, JSON_TOKENER_STRICT);
    json_object *tree = json_tokener_parse_ex (tok, (const char *) data, (int) size);
    bool whole = tree && json_tokener_get_error (tok) == json_tokener_success
                 && json_tokener_get_parse_end (tok) == size;
    if (whole) {
        json_object *devices = json_object_is_type (tree, json_type_array)
                               ? tree : s_member (tree, "return", json_type_array);
        size_t n = 0;
        for (size_t i = 0; devices && i < json_object_array_length (devices); i++) {
            json_object *entry = json_object_array_get_idx (devices, i);
            if (!json_object_is_type (entry, json_type_object))
                continue;
            if (n >= bs->ndevs)
                abort ();
            s_check_str (bs->devs[n].qdev, s_member (entry, "qdev", json_type_string));
            s_check_layer (&bs->devs[n].top, entry, 0);
            n++;
        }
        if (devices && n != bs->ndevs)
            abort ();
    }
    json_object_put (tree);
    json_tokener_free (tok);
    qemu_blockstats_destroy (&bs);
    return 0;
}
