/*  vb_msgpack — the msgpack <-> json-c codec of vb_proto.h.
 *
 *  Decoding happens in two passes. The first walks the raw bytes with our own validator and
 *  checks every limit (frame size, nesting depth, string length, declared container counts
 *  against the bytes that remain, no bin/ext, string keys, exactly one value using every byte)
 *  before msgpack-c allocates anything, because msgpack_unpack trusts a declared count and
 *  would allocate for four billion elements on the word of a 5-byte header. Only a frame that
 *  passes is unpacked and converted to json-c.
 */
#include <math.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vb_proto.h"

vb_limits_t
vb_limits_client (void)
{
    vb_limits_t limits = { VB_LIMIT_CLIENT_FRAME, VB_LIMIT_DEPTH, VB_LIMIT_STRING };
    return limits;
}

vb_limits_t
vb_limits_worker (void)
{
    vb_limits_t limits = { VB_LIMIT_WORKER_FRAME, VB_LIMIT_DEPTH, VB_LIMIT_STRING };
    return limits;
}

/* ---------------------------------------------------------------------------------------------
 *  Validator
 */

/*  One open container: how many items (a map counts keys and values) are still to come. */
typedef struct {
    uint64_t left;
    bool is_map;
} vb_mp_level_t;

static uint64_t
vb_mp_be (const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static const char *
vb_mp_container_word (bool is_map)
{
    return is_map ? "map" : "array";
}

static int
vb_mp_validate (const uint8_t *p, size_t size, const vb_limits_t *limits, vb_error_t *err)
{
    int rc = -1;
    /*  Depth can exceed neither the limit nor the number of bytes (each level costs one). */
    size_t cap = (size_t) limits->max_depth < size ? (size_t) limits->max_depth : size;
    vb_mp_level_t *stack = calloc (cap + 2, sizeof *stack);
    if (!stack) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory validating a %zu-byte frame", size);
        goto cleanup;
    }

    /*  stack[0] is a virtual one-element array holding the top-level value. */
    size_t sp = 1;
    stack[0].left = 1;
    stack[0].is_map = false;
    uint64_t pending = 1; /* items still owed by every open container; each needs >= 1 byte */
    size_t pos = 0;

    while (sp > 0) {
        vb_mp_level_t *top = &stack[sp - 1];
        if (top->left == 0) {
            sp--;
            continue;
        }
        bool is_key = top->is_map && top->left % 2 == 0;
        top->left--;
        pending--;

        if (pos >= size) {
            vb_error_set (err, VB_ERR_PROTOCOL,
                          "msgpack frame is truncated: it ends after %zu bytes inside a value",
                          size);
            goto cleanup;
        }
        size_t at = pos;
        uint8_t b = p[pos++];
        size_t rem = size - pos;
        size_t need = 0;      /* fixed payload bytes of a scalar */
        size_t hdr = 0;       /* length bytes of a str/array/map header */
        int kind = 0;         /* 0 scalar, 1 str, 2 array, 3 map */
        uint64_t count = 0;

        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            need = 0;
        } else if (b >= 0x80 && b <= 0x8f) {
            kind = 3;
            count = b & 0x0f;
        } else if (b >= 0x90 && b <= 0x9f) {
            kind = 2;
            count = b & 0x0f;
        } else if (b >= 0xa0 && b <= 0xbf) {
            kind = 1;
            count = b & 0x1f;
        } else {
            switch (b) {
            case 0xc1:
                vb_error_set (err, VB_ERR_PROTOCOL,
                              "msgpack frame uses the reserved type byte 0xc1 at byte %zu", at);
                goto cleanup;
            case 0xc4: case 0xc5: case 0xc6:
                vb_error_set (err, VB_ERR_PROTOCOL,
                              "msgpack bin values are not allowed (byte %zu); send strings", at);
                goto cleanup;
            case 0xc7: case 0xc8: case 0xc9:
            case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
                vb_error_set (err, VB_ERR_PROTOCOL,
                              "msgpack ext values are not allowed (byte %zu)", at);
                goto cleanup;
            case 0xca: need = 4; break;
            case 0xcb: need = 8; break;
            case 0xcc: case 0xd0: need = 1; break;
            case 0xcd: case 0xd1: need = 2; break;
            case 0xce: case 0xd2: need = 4; break;
            case 0xcf: case 0xd3: need = 8; break;
            case 0xd9: kind = 1; hdr = 1; break;
            case 0xda: kind = 1; hdr = 2; break;
            case 0xdb: kind = 1; hdr = 4; break;
            case 0xdc: kind = 2; hdr = 2; break;
            case 0xdd: kind = 2; hdr = 4; break;
            case 0xde: kind = 3; hdr = 2; break;
            case 0xdf: kind = 3; hdr = 4; break;
            default:
                vb_error_set (err, VB_ERR_PROTOCOL, "msgpack type byte 0x%02x at byte %zu is "
                              "not understood", b, at);
                goto cleanup;
            }
        }

        if (is_key && kind != 1) {
            vb_error_set (err, VB_ERR_PROTOCOL,
                          "map key at byte %zu is not a string; only string keys are allowed",
                          at);
            goto cleanup;
        }
        if (hdr > 0) {
            if (rem < hdr) {
                vb_error_set (err, VB_ERR_PROTOCOL,
                              "msgpack frame is truncated inside the header at byte %zu", at);
                goto cleanup;
            }
            count = vb_mp_be (p + pos, hdr);
            pos += hdr;
            rem -= hdr;
        }

        if (kind == 0) {
            if (rem < need) {
                vb_error_set (err, VB_ERR_PROTOCOL,
                              "msgpack frame is truncated inside the number at byte %zu", at);
                goto cleanup;
            }
            pos += need;
        } else if (kind == 1) {
            if (count > limits->max_string) {
                vb_error_set (err, VB_ERR_PROTOCOL,
                              "%s of %llu bytes at byte %zu exceeds the %zu-byte limit",
                              is_key ? "map key" : "string", (unsigned long long) count, at,
                              limits->max_string);
                goto cleanup;
            }
            if (count > rem) {
                vb_error_set (err, VB_ERR_PROTOCOL,
                              "string at byte %zu declares %llu bytes but only %zu remain", at,
                              (unsigned long long) count, rem);
                goto cleanup;
            }
            if (is_key && memchr (p + pos, '\0', (size_t) count)) {
                vb_error_set (err, VB_ERR_PROTOCOL,
                              "map key at byte %zu contains a NUL byte", at);
                goto cleanup;
            }
            pos += (size_t) count;
        } else {
            bool is_map = kind == 3;
            uint64_t items = is_map ? count * 2 : count; /* count < 2^32: no overflow */
            if (items > rem || pending + items > rem) {
                vb_error_set (err, VB_ERR_PROTOCOL,
                              "%s at byte %zu declares %llu %s but only %zu bytes remain",
                              vb_mp_container_word (is_map), at, (unsigned long long) count,
                              is_map ? "entries" : "elements", rem);
                goto cleanup;
            }
            /*  sp - 1 open levels exist; this container is level sp (top-level map = 1). */
            if (sp > limits->max_depth) {
                vb_error_set (err, VB_ERR_PROTOCOL,
                              "%s at byte %zu is nested deeper than the %u-level limit",
                              vb_mp_container_word (is_map), at, limits->max_depth);
                goto cleanup;
            }
            stack[sp].left = items;
            stack[sp].is_map = is_map;
            sp++;
            pending += items;
        }
    }
    if (pos != size) {
        vb_error_set (err, VB_ERR_PROTOCOL,
                      "msgpack frame has %zu trailing bytes after its value", size - pos);
        goto cleanup;
    }
    rc = 0;

cleanup:
    free (stack);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 *  msgpack object -> json-c (input already validated: depth bounded, keys are strings)
 */

static int
vb_mp_to_json (const msgpack_object *o, json_object **out, vb_error_t *err)
{
    json_object *j = NULL;
    *out = NULL;

    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        return 0;
    case MSGPACK_OBJECT_BOOLEAN:
        j = json_object_new_boolean (o->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        j = o->via.u64 > (uint64_t) INT64_MAX ? json_object_new_uint64 (o->via.u64)
                                              : json_object_new_int64 ((int64_t) o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        j = json_object_new_int64 (o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        if (!isfinite (o->via.f64))
            return vb_error_set (err, VB_ERR_PROTOCOL,
                                 "msgpack float is not finite (NaN or infinity)");
        j = json_object_new_double (o->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        /*  msgpack-c leaves ptr NULL for an empty string. */
        j = json_object_new_string_len (o->via.str.size ? o->via.str.ptr : "",
                                        (int) o->via.str.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        j = json_object_new_array_ext ((int) o->via.array.size);
        if (!j)
            break;
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            json_object *item = NULL;
            if (vb_mp_to_json (&o->via.array.ptr[i], &item, err) < 0
                || json_object_array_add (j, item) < 0) {
                json_object_put (item);
                json_object_put (j);
                if (err && err->code == VB_OK)
                    vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding an array");
                return -1;
            }
        }
        break;
    case MSGPACK_OBJECT_MAP:
        j = json_object_new_object ();
        if (!j)
            break;
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR) {
                json_object_put (j);
                return vb_error_set (err, VB_ERR_PROTOCOL, "map key is not a string");
            }
            char *key = kv->key.via.str.size ? strndup (kv->key.via.str.ptr, kv->key.via.str.size)
                                             : strdup ("");
            json_object *val = NULL;
            if (!key) {
                json_object_put (j);
                return vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding a map");
            }
            if (json_object_object_get_ex (j, key, NULL)) {
                vb_error_set (err, VB_ERR_PROTOCOL, "map has the key '%.64s' twice", key);
                free (key);
                json_object_put (j);
                return -1;
            }
            if (vb_mp_to_json (&kv->val, &val, err) < 0) {
                free (key);
                json_object_put (j);
                return -1;
            }
            int added = json_object_object_add (j, key, val);
            free (key);
            if (added < 0) {
                json_object_put (val);
                json_object_put (j);
                return vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding a map");
            }
        }
        break;
    default:
        /*  bin and ext never get past the validator; refuse them here as well. */
        return vb_error_set (err, VB_ERR_PROTOCOL, "msgpack bin and ext values are not allowed");
    }
    if (!j)
        return vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding a msgpack value");
    *out = j;
    return 0;
}

int
vb_msgpack_decode (const void *data, size_t size, const vb_limits_t *limits, json_object **out,
                   vb_error_t *err)
{
    vb_limits_t deflt = vb_limits_worker ();
    if (!limits)
        limits = &deflt;
    if (out)
        *out = NULL;
    if (!data || size == 0)
        return vb_error_set (err, VB_ERR_PROTOCOL, "msgpack frame is empty");
    if (size > limits->max_frame)
        return vb_error_set (err, VB_ERR_PROTOCOL,
                             "msgpack frame of %zu bytes exceeds the %zu-byte limit", size,
                             limits->max_frame);
    if (vb_mp_validate (data, size, limits, err) < 0)
        return -1;

    int rc = -1;
    msgpack_zone zone;
    if (!msgpack_zone_init (&zone, 4096))
        return vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding a msgpack frame");
    msgpack_object obj;
    size_t off = 0;
    msgpack_unpack_return ret = msgpack_unpack (data, size, &off, &zone, &obj);
    if (ret == MSGPACK_UNPACK_NOMEM_ERROR) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory decoding a msgpack frame");
        goto cleanup;
    }
    if (ret != MSGPACK_UNPACK_SUCCESS || off != size) {
        vb_error_set (err, VB_ERR_PROTOCOL, "msgpack frame of %zu bytes does not decode", size);
        goto cleanup;
    }
    json_object *j = NULL;
    if (vb_mp_to_json (&obj, &j, err) < 0)
        goto cleanup;
    if (out)
        *out = j;
    else
        json_object_put (j);
    rc = 0;

cleanup:
    msgpack_zone_destroy (&zone);
    return rc;
}

/* ---------------------------------------------------------------------------------------------
 *  json-c -> msgpack
 */

static int
vb_mp_pack (msgpack_packer *pk, json_object *obj)
{
    switch (json_object_get_type (obj)) {
    case json_type_null:
        return msgpack_pack_nil (pk);
    case json_type_boolean:
        return json_object_get_boolean (obj) ? msgpack_pack_true (pk) : msgpack_pack_false (pk);
    case json_type_double:
        return msgpack_pack_double (pk, json_object_get_double (obj));
    case json_type_int: {
        int64_t i = json_object_get_int64 (obj);
        if (i < 0)
            return msgpack_pack_int64 (pk, i);
        return msgpack_pack_uint64 (pk, json_object_get_uint64 (obj));
    }
    case json_type_string: {
        size_t len = (size_t) json_object_get_string_len (obj);
        if (msgpack_pack_str (pk, len) < 0)
            return -1;
        return msgpack_pack_str_body (pk, json_object_get_string (obj), len);
    }
    case json_type_array: {
        size_t n = json_object_array_length (obj);
        if (msgpack_pack_array (pk, n) < 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (vb_mp_pack (pk, json_object_array_get_idx (obj, i)) < 0)
                return -1;
        return 0;
    }
    case json_type_object: {
        size_t n = (size_t) json_object_object_length (obj);
        if (msgpack_pack_map (pk, n) < 0)
            return -1;
        json_object_object_foreach (obj, key, val) {
            size_t len = strlen (key);
            if (msgpack_pack_str (pk, len) < 0 || msgpack_pack_str_body (pk, key, len) < 0
                || vb_mp_pack (pk, val) < 0)
                return -1;
        }
        return 0;
    }
    }
    return -1;
}

zframe_t *
vb_msgpack_encode (json_object *obj)
{
    zframe_t *frame = NULL;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    if (vb_mp_pack (&pk, obj) == 0)
        frame = zframe_new (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return frame;
}
