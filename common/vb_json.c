/*  vb_json — typed reads from json-c objects (see vb_json.h). */
#include "vb_json.h"

#include <stdint.h>

static const char *
vb_json_type_word (json_object *value)
{
    switch (json_object_get_type (value)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_double:
        return "a float";
    case json_type_int:
        return "an integer";
    case json_type_object:
        return "a map";
    case json_type_array:
        return "an array";
    case json_type_string:
        return "a string";
    }
    return "an unknown type";
}

/*  Look KEY up. Returns 1 with *VALUE when present, 0 when absent and optional, -1 with ERR. */
static int
vb_json_lookup (json_object *obj, const char *key, bool required, json_object **value,
                vb_error_t *err)
{
    if (!json_object_is_type (obj, json_type_object))
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "cannot read field '%s': the enclosing value is %s, not a map", key,
                             vb_json_type_word (obj));
    if (!json_object_object_get_ex (obj, key, value)) {
        if (required)
            return vb_error_set (err, VB_ERR_INVALID_ARG, "field '%s' is missing", key);
        return 0;
    }
    return 1;
}

static int
vb_json_wrong_type (const char *key, const char *wanted, json_object *value, vb_error_t *err)
{
    return vb_error_set (err, VB_ERR_INVALID_ARG, "field '%s' must be %s, not %s", key, wanted,
                         vb_json_type_word (value));
}

int
vb_json_get_string (json_object *obj, const char *key, bool required, const char **out,
                    vb_error_t *err)
{
    json_object *v = NULL;
    int found = vb_json_lookup (obj, key, required, &v, err);
    if (found <= 0)
        return found;
    if (!json_object_is_type (v, json_type_string))
        return vb_json_wrong_type (key, "a string", v, err);
    if (out)
        *out = json_object_get_string (v);
    return 0;
}

/*  json-c keeps integers as int64 or uint64 internally; read both without clamping. A value
 *  above INT64_MAX reads back as INT64_MAX from get_int64, and exactly from get_uint64. */
static bool
vb_json_int_is_negative (json_object *v)
{
    return json_object_get_int64 (v) < 0;
}

int
vb_json_get_uint64 (json_object *obj, const char *key, bool required, uint64_t *out,
                    vb_error_t *err)
{
    json_object *v = NULL;
    int found = vb_json_lookup (obj, key, required, &v, err);
    if (found <= 0)
        return found;
    if (!json_object_is_type (v, json_type_int))
        return vb_json_wrong_type (key, "a non-negative integer", v, err);
    if (vb_json_int_is_negative (v))
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "field '%s' must be a non-negative integer, not %lld", key,
                             (long long) json_object_get_int64 (v));
    if (out)
        *out = json_object_get_uint64 (v);
    return 0;
}

int
vb_json_get_int64 (json_object *obj, const char *key, bool required, int64_t *out,
                   vb_error_t *err)
{
    json_object *v = NULL;
    int found = vb_json_lookup (obj, key, required, &v, err);
    if (found <= 0)
        return found;
    if (!json_object_is_type (v, json_type_int))
        return vb_json_wrong_type (key, "an integer", v, err);
    int64_t i = json_object_get_int64 (v);
    if (i == INT64_MAX && json_object_get_uint64 (v) > (uint64_t) INT64_MAX)
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "field '%s' is %llu, beyond the signed 64-bit range", key,
                             (unsigned long long) json_object_get_uint64 (v));
    if (out)
        *out = i;
    return 0;
}

int
vb_json_get_bool (json_object *obj, const char *key, bool required, bool *out, vb_error_t *err)
{
    json_object *v = NULL;
    int found = vb_json_lookup (obj, key, required, &v, err);
    if (found <= 0)
        return found;
    if (!json_object_is_type (v, json_type_boolean))
        return vb_json_wrong_type (key, "a boolean", v, err);
    if (out)
        *out = json_object_get_boolean (v);
    return 0;
}

int
vb_json_get_object (json_object *obj, const char *key, bool required, json_object **out,
                    vb_error_t *err)
{
    json_object *v = NULL;
    int found = vb_json_lookup (obj, key, required, &v, err);
    if (found <= 0)
        return found;
    if (!json_object_is_type (v, json_type_object))
        return vb_json_wrong_type (key, "a map", v, err);
    if (out)
        *out = v;
    return 0;
}

int
vb_json_get_array (json_object *obj, const char *key, bool required, json_object **out,
                   vb_error_t *err)
{
    json_object *v = NULL;
    int found = vb_json_lookup (obj, key, required, &v, err);
    if (found <= 0)
        return found;
    if (!json_object_is_type (v, json_type_array))
        return vb_json_wrong_type (key, "an array", v, err);
    if (out)
        *out = v;
    return 0;
}

const char *
vb_json_str (json_object *obj, const char *key, const char *deflt)
{
    const char *s = deflt;
    if (vb_json_get_string (obj, key, false, &s, NULL) < 0)
        return deflt;
    return s;
}

int64_t
vb_json_int (json_object *obj, const char *key, int64_t deflt)
{
    int64_t i = deflt;
    if (vb_json_get_int64 (obj, key, false, &i, NULL) < 0)
        return deflt;
    return i;
}

uint64_t
vb_json_uint (json_object *obj, const char *key, uint64_t deflt)
{
    uint64_t u = deflt;
    if (vb_json_get_uint64 (obj, key, false, &u, NULL) < 0)
        return deflt;
    return u;
}

bool
vb_json_bool (json_object *obj, const char *key, bool deflt)
{
    bool b = deflt;
    if (vb_json_get_bool (obj, key, false, &b, NULL) < 0)
        return deflt;
    return b;
}
