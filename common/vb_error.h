/*  vb_error — the closed set of error codes and the error object every module fills.
 *
 *  An error is a code from the protocol's closed set plus one complete sentence a user can act
 *  on ("domain 'web' is already running on host a"). Codes travel on the wire as their names
 *  (docs/protocol.md is the authority); the enum values are internal and may be renumbered.
 */
#ifndef VB_ERROR_H
#define VB_ERROR_H

#include <stdbool.h>
#include <stddef.h>

/*  Error codes. The NAMES are wire-visible: adding one means adding it to docs/protocol.md first,
 *  renaming one breaks every deployed peer. Keep vb_error_code_names[] in step (checked at
 *  compile time in vb_error.c). */
typedef enum {
    VB_OK = 0,
    VB_ERR_PROTOCOL,               /* malformed frame, message or unknown protocol version */
    VB_ERR_INVALID_ARG,            /* a field has the wrong type or an impossible value */
    VB_ERR_INVALID_XML,            /* a domain definition does not parse or validate */
    VB_ERR_UNSUPPORTED,            /* the driver or broker does not implement this */
    VB_ERR_NO_DOMAIN,              /* no such domain */
    VB_ERR_NO_HOST,                /* no such host */
    VB_ERR_NO_WORKER,              /* no live worker can take the request */
    VB_ERR_AMBIGUOUS,              /* a bare domain name matches on several hosts */
    VB_ERR_OPERATION_INVALID,      /* wrong state for the operation (start a running domain) */
    VB_ERR_OPERATION_FAILED,       /* the hypervisor refused; its message attached */
    VB_ERR_TIMEOUT,                /* the deadline passed: the outcome is unknown */
    VB_ERR_WORKER_LOST,            /* the worker died with the request in flight */
    VB_ERR_BUSY,                   /* a bounded queue is full */
    VB_ERR_DENIED,                 /* the caller's key may not do this */
    VB_ERR_HYPERVISOR_UNAVAILABLE, /* the hypervisor cannot be reached on this host */
    VB_ERR_INTERNAL,               /* a bug or resource exhaustion in virtbus itself */
    VB_ERR_LAST
} vb_error_code_t;

#define VB_ERROR_MESSAGE_MAX 1024

/*  An error: a code and a complete sentence. Zero-initialised means "no error" (VB_OK, ""). */
typedef struct {
    vb_error_code_t code;
    char message[VB_ERROR_MESSAGE_MAX];
} vb_error_t;

/*  The wire name of CODE ("NO_DOMAIN"); "INTERNAL" for an out-of-range value. */
const char *vb_error_code_name (vb_error_code_t code);

/*  Look up a wire name. Returns 0 and sets *CODE, or -1 for a name outside the closed set. */
int vb_error_code_from_name (const char *name, vb_error_code_t *code);

/*  Fill ERR (may be NULL: then nothing happens) with CODE and a printf-formatted sentence.
 *  Always returns -1 so error paths can `return vb_error_set (err, ...);`. */
int vb_error_set (vb_error_t *err, vb_error_code_t code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  Copy SRC into DST (DST may be NULL). Returns -1. */
int vb_error_copy (vb_error_t *dst, const vb_error_t *src);

/*  Reset ERR to "no error". */
void vb_error_clear (vb_error_t *err);

#endif
