/*  vb_params — a typed parameter list, libvirt's virTypedParameter array in virtbus form.
 *
 *  Stats records (domstats, issue 4) are ordered lists of (key, type, value) with libvirt's key
 *  names and types; order matters because virsh prints them in list order. Drivers build a list
 *  with the add functions and turn it into the wire form with vb_params_to_json():
 *  [[key, type, value], ...], type one of "int", "uint", "llong", "ullong", "bool", "string"
 *  (the names cli/vbsh_format.c prints).
 *
 *  Keys are printf formats, so callers write vb_params_add_ullong (p, v, "block.%zu.rd.reqs", i).
 *  An add that fails (out of memory, a key that does not format) marks the list failed and
 *  returns -1; later adds are then ignored, so a builder may add everything and check
 *  vb_params_failed() once at the end.
 */
#ifndef VB_PARAMS_H
#define VB_PARAMS_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    VB_PARAM_INT = 1,     /* int32 */
    VB_PARAM_UINT = 2,    /* uint32 */
    VB_PARAM_LLONG = 3,   /* int64 */
    VB_PARAM_ULLONG = 4,  /* uint64 */
    VB_PARAM_BOOL = 6,
    VB_PARAM_STRING = 7,
} vb_param_type_t;        /* libvirt's VIR_TYPED_PARAM_* numbers */

typedef struct {
    char *key;
    vb_param_type_t type;
    union {
        int64_t i;        /* INT, LLONG */
        uint64_t u;       /* UINT, ULLONG */
        bool b;
        char *s;
    } v;
} vb_param_t;

typedef struct _vb_params_t vb_params_t;

/*  A new empty list, or NULL when out of memory. */
vb_params_t *vb_params_new (void);

/*  Free the list and set *SELF_P to NULL. Safe on NULL. */
void vb_params_destroy (vb_params_t **self_p);

/*  Append one parameter; KEY_FMT is a printf format for the key. STRING copies VALUE (NULL is
 *  refused). Return 0, or -1 when the list is (now) failed. */
int vb_params_add_int (vb_params_t *self, int32_t value, const char *key_fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
int vb_params_add_uint (vb_params_t *self, uint32_t value, const char *key_fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
int vb_params_add_llong (vb_params_t *self, int64_t value, const char *key_fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
int vb_params_add_ullong (vb_params_t *self, uint64_t value, const char *key_fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
int vb_params_add_bool (vb_params_t *self, bool value, const char *key_fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
int vb_params_add_string (vb_params_t *self, const char *value, const char *key_fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  True once an add has failed; the list then holds what was added before. */
bool vb_params_failed (const vb_params_t *self);

/*  Number of parameters; the I-th (borrowed, NULL out of range); the first with KEY (NULL when
 *  none). */
size_t vb_params_count (const vb_params_t *self);
const vb_param_t *vb_params_at (const vb_params_t *self, size_t i);
const vb_param_t *vb_params_find (const vb_params_t *self, const char *key);

/*  Replace the value of the first UINT parameter KEY (for counts known only at the end, such as
 *  block.count, which libvirt emits first). Returns 0, or -1 when there is no such parameter. */
int vb_params_set_uint (vb_params_t *self, const char *key, uint32_t value);

/*  "int", "uint", "llong", "ullong", "bool", "string"; "unknown" otherwise. */
const char *vb_param_type_name (vb_param_type_t type);

/*  The wire form [[key, type, value], ...]: a new json array (caller puts it), or NULL when out
 *  of memory or the list is failed. */
json_object *vb_params_to_json (const vb_params_t *self);

#endif
