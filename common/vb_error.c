/*  vb_error — the closed set of error codes and the error object (see vb_error.h). */
#include "vb_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/*  Wire names, indexed by vb_error_code_t. docs/protocol.md lists the same set. */
static const char *const vb_error_code_names[] = {
    [VB_OK] = "OK",
    [VB_ERR_PROTOCOL] = "PROTOCOL",
    [VB_ERR_INVALID_ARG] = "INVALID_ARG",
    [VB_ERR_INVALID_XML] = "INVALID_XML",
    [VB_ERR_UNSUPPORTED] = "UNSUPPORTED",
    [VB_ERR_NO_DOMAIN] = "NO_DOMAIN",
    [VB_ERR_NO_HOST] = "NO_HOST",
    [VB_ERR_NO_WORKER] = "NO_WORKER",
    [VB_ERR_AMBIGUOUS] = "AMBIGUOUS",
    [VB_ERR_OPERATION_INVALID] = "OPERATION_INVALID",
    [VB_ERR_OPERATION_FAILED] = "OPERATION_FAILED",
    [VB_ERR_TIMEOUT] = "TIMEOUT",
    [VB_ERR_WORKER_LOST] = "WORKER_LOST",
    [VB_ERR_BUSY] = "BUSY",
    [VB_ERR_DENIED] = "DENIED",
    [VB_ERR_HYPERVISOR_UNAVAILABLE] = "HYPERVISOR_UNAVAILABLE",
    [VB_ERR_INTERNAL] = "INTERNAL",
};

_Static_assert (sizeof (vb_error_code_names) / sizeof (vb_error_code_names[0]) == VB_ERR_LAST,
                "vb_error_code_names[] must name every code of vb_error_code_t");

const char *
vb_error_code_name (vb_error_code_t code)
{
    if ((int) code < 0 || code >= VB_ERR_LAST || !vb_error_code_names[code])
        return "INTERNAL";
    return vb_error_code_names[code];
}

int
vb_error_code_from_name (const char *name, vb_error_code_t *code)
{
    if (!name)
        return -1;
    /*  "OK" is not an error code on the wire: start after VB_OK. */
    for (int i = VB_OK + 1; i < VB_ERR_LAST; i++) {
        if (strcmp (name, vb_error_code_names[i]) == 0) {
            if (code)
                *code = (vb_error_code_t) i;
            return 0;
        }
    }
    return -1;
}

int
vb_error_set (vb_error_t *err, vb_error_code_t code, const char *fmt, ...)
{
    if (!err)
        return -1;
    err->code = code;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (err->message, sizeof err->message, fmt, ap);
    va_end (ap);
    return -1;
}

int
vb_error_copy (vb_error_t *dst, const vb_error_t *src)
{
    if (!dst)
        return -1;
    if (!src) {
        dst->code = VB_ERR_INTERNAL;
        snprintf (dst->message, sizeof dst->message, "an error was reported without details");
        return -1;
    }
    if (dst != src) {
        dst->code = src->code;
        snprintf (dst->message, sizeof dst->message, "%s", src->message);
    }
    return -1;
}

void
vb_error_clear (vb_error_t *err)
{
    if (!err)
        return;
    err->code = VB_OK;
    err->message[0] = '\0';
}
