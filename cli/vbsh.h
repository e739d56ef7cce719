/*  vbsh — internal interface between vbsh's main (option parsing, dispatch, output policy) and
 *  its command families (vbsh_domain.c, vbsh_list.c, vbsh_event.c).
 *
 *  A command declares its options; main parses them into a vbsh_args_t and calls the command,
 *  which talks to the broker through the context's client and prints through vbsh_print_*.
 *  Commands return 0 on success and 1 on failure (the process exit status), having reported the
 *  failure with vbsh_error() — `error: <message>` on stderr, as virsh does.
 */
#ifndef VBSH_H
#define VBSH_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vb_client.h"

/*  Op names on the wire (docs/protocol.md). */
#define VBSH_OP_HOSTS "hosts"
#define VBSH_OP_LIST "domain.list"
#define VBSH_OP_DEFINE "domain.define"
#define VBSH_OP_INFO "domain.info"
#define VBSH_OP_XML "domain.xml"
#define VBSH_OP_STATS "domain.stats"

#define VBSH_MAX_OPTS 40

typedef enum {
    VBSH_OPT_BOOL,     /* --flag */
    VBSH_OPT_STRING,   /* --name VALUE or --name=VALUE */
    VBSH_OPT_DATA,     /* positional (also accepted as --name VALUE), required */
    VBSH_OPT_ARGV,     /* the remaining positionals (zero or more) */
    VBSH_OPT_MULTI,    /* --name VALUE, repeatable: every value is appended to argv (a command
                          has either one MULTI option or an ARGV list, not both) */
} vbsh_opt_type_t;

typedef struct {
    const char *name;
    vbsh_opt_type_t type;
    const char *help;
} vbsh_opt_def_t;

typedef struct {
    const vbsh_opt_def_t *defs;   /* ended by {NULL} */
    const char *values[VBSH_MAX_OPTS];  /* per def: the value ("" for a set bool), NULL unset */
    const char **argv;            /* VBSH_OPT_ARGV values, or the VBSH_OPT_MULTI values */
    size_t argc;
} vbsh_args_t;

typedef struct {
    const char *endpoint;   /* NULL = $VIRTBUS_BROKER or the default */
    const char *key_file;   /* -k: secret certificate; NULL = $VIRTBUS_KEY or none */
    const char *server_key; /* --server-key: broker certificate; NULL = $VIRTBUS_SERVER_KEY */
    bool json;
    uint32_t deadline_ms;   /* 0 = the broker's default */
    vb_client_t *client;    /* connected on first use */
    FILE *out;
    FILE *err;
} vbsh_ctx_t;

typedef struct {
    const char *name;
    const vbsh_opt_def_t *opts;
    int (*run) (vbsh_ctx_t *ctx, const char *cmd, vbsh_args_t *args);
    const char *help;
} vbsh_cmd_t;

/*  Option lookup: the value given for NAME (bools: "" when set), or NULL. */
const char *vbsh_arg (const vbsh_args_t *args, const char *name);
bool vbsh_flag (const vbsh_args_t *args, const char *name);

/*  The client, connected on first use. NULL after reporting the error. */
vb_client_t *vbsh_client (vbsh_ctx_t *ctx);

/*  `error: <message>` on stderr. Returns 1 (the exit status). */
int vbsh_error (vbsh_ctx_t *ctx, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

/*  Call OP and wait. Returns the reply when it is ok; otherwise reports `error: <message>`
 *  (preceded by FAILED_LINE as virsh's first error line, when not NULL) and returns NULL.
 *  ARGS taken. Partial entries are reported as warnings on stderr. */
vb_reply_t *vbsh_call (vbsh_ctx_t *ctx, const char *op, const vb_target_t *target,
                       json_object *args, const char *failed_line);

/*  Print JSON pretty-printed with a newline (--json). */
void vbsh_print_json (vbsh_ctx_t *ctx, json_object *obj);

/*  Print TEXT (taken, may be NULL: then OOM is reported) to stdout. Returns 0 or 1. */
int vbsh_print_text (vbsh_ctx_t *ctx, char *text, const vb_error_t *err);

/* Command families. */
extern const vbsh_cmd_t vbsh_domain_cmds[];
extern const vbsh_cmd_t vbsh_list_cmds[];
extern const vbsh_cmd_t vbsh_event_cmds[];
extern const vbsh_cmd_t vbsh_block_cmds[];

#endif
