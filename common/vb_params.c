/*  vb_params — typed parameter lists (see vb_params.h). */
#include "vb_params.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _vb_params_t {
    vb_param_t *items;
    size_t count;
    size_t alloc;
    bool failed;
};

vb_params_t *
vb_params_new (void)
{
    return (vb_params_t *) calloc (1, sizeof (vb_params_t));
}

void
vb_params_destroy (vb_params_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vb_params_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++) {
        free (self->items[i].key);
        if (self->items[i].type == VB_PARAM_STRING)
            free (self->items[i].v.s);
    }
    free (self->items);
    free (self);
    *self_p = NULL;
}

/*  Reserve a slot with a formatted key; NULL (and the list failed) when that is impossible. */
static vb_param_t *
s_append (vb_params_t *self, vb_param_type_t type, const char *key_fmt, va_list ap)
{
    if (!self)
        return NULL;
    if (self->failed || !key_fmt)
        goto fail;
    if (self->count == self->alloc) {
        size_t n = self->alloc ? self->alloc * 2 : 16;
        vb_param_t *items = (vb_param_t *) realloc (self->items, n * sizeof (vb_param_t));
        if (!items)
            goto fail;
        self->items = items;
        self->alloc = n;
    }
    char *key = NULL;
    if (vasprintf (&key, key_fmt, ap) < 0 || !key || !*key) {
        if (key)
            free (key);
        goto fail;
    }
    vb_param_t *p = &self->items[self->count++];
    memset (p, 0, sizeof (*p));
    p->key = key;
    p->type = type;
    return p;
fail:
    self->failed = true;
    return NULL;
}

#define S_ADD(fn, ctype, ptype, field)                                          \
    int fn (vb_params_t *self, ctype value, const char *key_fmt, ...)           \
    {                                                                           \
        va_list ap;                                                             \
        va_start (ap, key_fmt);                                                 \
        vb_param_t *p = s_append (self, ptype, key_fmt, ap);                    \
        va_end (ap);                                                            \
        if (!p)                                                                 \
            return -1;                                                          \
        p->v.field = value;                                                     \
        return 0;                                                               \
    }

S_ADD (vb_params_add_int, int32_t, VB_PARAM_INT, i)
S_ADD (vb_params_add_uint, uint32_t, VB_PARAM_UINT, u)
S_ADD (vb_params_add_llong, int64_t, VB_PARAM_LLONG, i)
S_ADD (vb_params_add_ullong, uint64_t, VB_PARAM_ULLONG, u)
S_ADD (vb_params_add_bool, bool, VB_PARAM_BOOL, b)

int
vb_params_add_string (vb_params_t *self, const char *value, const char *key_fmt, ...)
{
    if (!self)
        return -1;
    char *copy = value ? strdup (value) : NULL;
    if (!copy) {
        self->failed = true;
        return -1;
    }
    va_list ap;
    va_start (ap, key_fmt);
    vb_param_t *p = s_append (self, VB_PARAM_STRING, key_fmt, ap);
    va_end (ap);
    if (!p) {
        free (copy);
        return -1;
    }
    p->v.s = copy;
    return 0;
}

bool
vb_params_failed (const vb_params_t *self)
{
    return !self || self->failed;
}

size_t
vb_params_count (const vb_params_t *self)
{
    return self ? self->count : 0;
}

const vb_param_t *
vb_params_at (const vb_params_t *self, size_t i)
{
    return self && i < self->count ? &self->items[i] : NULL;
}

const vb_param_t *
vb_params_find (const vb_params_t *self, const char *key)
{
    for (size_t i = 0; self && key && i < self->count; i++)
        if (strcmp (self->items[i].key, key) == 0)
            return &self->items[i];
    return NULL;
}

int
vb_params_set_uint (vb_params_t *self, const char *key, uint32_t value)
{
    vb_param_t *p = (vb_param_t *) vb_params_find (self, key);
    if (!p || p->type != VB_PARAM_UINT)
        return -1;
    p->v.u = value;
    return 0;
}

const char *
vb_param_type_name (vb_param_type_t type)
{
    switch (type) {
    case VB_PARAM_INT: return "int";
    case VB_PARAM_UINT: return "uint";
    case VB_PARAM_LLONG: return "llong";
    case VB_PARAM_ULLONG: return "ullong";
    case VB_PARAM_BOOL: return "bool";
    case VB_PARAM_STRING: return "string";
    }
    return "unknown";
}

json_object *
vb_params_to_json (const vb_params_t *self)
{
    if (vb_params_failed (self))
        return NULL;
    json_object *arr = json_object_new_array_ext ((int) self->count);
    if (!arr)
        return NULL;
    for (size_t i = 0; i < self->count; i++) {
        const vb_param_t *p = &self->items[i];
        json_object *v = NULL;
        switch (p->type) {
        case VB_PARAM_INT:
        case VB_PARAM_LLONG: v = json_object_new_int64 (p->v.i); break;
        case VB_PARAM_UINT:
        case VB_PARAM_ULLONG: v = json_object_new_uint64 (p->v.u); break;
        case VB_PARAM_BOOL: v = json_object_new_boolean (p->v.b); break;
        case VB_PARAM_STRING: v = json_object_new_string (p->v.s); break;
        }
        json_object *t = json_object_new_array_ext (3);
        bool ok = v && t && json_object_array_add (t, json_object_new_string (p->key)) == 0
                  && json_object_array_add (t, json_object_new_string (
                                                   vb_param_type_name (p->type))) == 0;
        if (ok && json_object_array_add (t, v) != 0)
            ok = false;            /* v still ours */
        else if (ok)
            v = NULL;              /* now owned by t */
        if (ok && json_object_array_add (arr, t) != 0)
            ok = false;
        else if (ok)
            t = NULL;
        if (!ok) {
            json_object_put (v);
            json_object_put (t);
            json_object_put (arr);
            return NULL;
        }
    }
    return arr;
}
