/*  vb_json — typed reads from json-c objects, for validating message fields at the edge.
 *
 *  Each getter looks up KEY in OBJ (which must be an object) and checks the type. When the key is
 *  absent, REQUIRED decides: an error (INVALID_ARG "field 'deadline_ms' is missing") or success
 *  with the output untouched. A wrong type is always an error naming the field and the type wanted.
 *  Returns 0 on success, -1 with ERR.
 */
#ifndef VB_JSON_H
#define VB_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "vb_error.h"

int vb_json_get_string (json_object *obj, const char *key, bool required, const char **out,
                        vb_error_t *err);
int vb_json_get_uint64 (json_object *obj, const char *key, bool required, uint64_t *out,
                        vb_error_t *err);
int vb_json_get_int64 (json_object *obj, const char *key, bool required, int64_t *out,
                       vb_error_t *err);
int vb_json_get_bool (json_object *obj, const char *key, bool required, bool *out,
                      vb_error_t *err);
/*  OUT is borrowed from OBJ. */
int vb_json_get_object (json_object *obj, const char *key, bool required, json_object **out,
                        vb_error_t *err);
int vb_json_get_array (json_object *obj, const char *key, bool required, json_object **out,
                       vb_error_t *err);

/*  Shorthands that never fail: the value, or DEFLT when absent or of another type. */
const char *vb_json_str (json_object *obj, const char *key, const char *deflt);
int64_t vb_json_int (json_object *obj, const char *key, int64_t deflt);
uint64_t vb_json_uint (json_object *obj, const char *key, uint64_t deflt);
bool vb_json_bool (json_object *obj, const char *key, bool deflt);

#endif
