/*  vbsh — the virtbus shell: virsh's commands, flags and text output against a virtbus broker.
 *
 *      vbsh [-c EP] [-k KEYFILE] [--server-key FILE] [--json] [--deadline MS] COMMAND [ARGS...]
 *
 *  Like virsh in one-shot mode, a failure prints `error: <message>` on stderr and exits 1, and
 *  every command's text output is followed by one empty line (virsh's vshCommandRun prints "\n"
 *  after each command unless -q). -q/--quiet suppresses that line, as in virsh.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vbsh.h"
#include "vbsh_format.h"

static const vbsh_cmd_t *s_families[] = { vbsh_domain_cmds, vbsh_list_cmds, vbsh_event_cmds,
                                           vbsh_block_cmds };

const char *
vbsh_arg (const vbsh_args_t *args, const char *name)
{
    for (size_t i = 0; args->defs[i].name; i++)
        if (strcmp (args->defs[i].name, name) == 0)
            return args->values[i];
    return NULL;
}

bool
vbsh_flag (const vbsh_args_t *args, const char *name)
{
    return vbsh_arg (args, name) != NULL;
}

int
vbsh_error (vbsh_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;
    fflush (ctx->out);
    fputs ("error: ", ctx->err);
    va_start (ap, fmt);
    vfprintf (ctx->err, fmt, ap);
    va_end (ap);
    fputc ('\n', ctx->err);
    fflush (ctx->err);
    return 1;
}

vb_client_t *
vbsh_client (vbsh_ctx_t *ctx)
{
    vb_error_t err = { 0 };
    if (!ctx->client) {
        ctx->client = vb_client_new_keyed (ctx->endpoint, ctx->key_file, ctx->server_key,
                                           &err);
        if (!ctx->client)
            vbsh_error (ctx, "%s", err.message);
    }
    return ctx->client;
}

vb_reply_t *
vbsh_call (vbsh_ctx_t *ctx, const char *op, const vb_target_t *target, json_object *args,
           const char *failed_line)
{
    vb_error_t err = { 0 };
    vb_client_t *client = vbsh_client (ctx);
    if (!client) {
        json_object_put (args);
        return NULL;
    }
    vb_reply_t *reply = vb_client_call (client, op, target, args, ctx->deadline_ms, &err);
    if (reply) {
        for (size_t i = 0; i < reply->partial_count; i++) {
            char *w = vbsh_format_partial_warning (&reply->partial[i]);
            if (w) {
                fflush (ctx->out);
                fputs (w, ctx->err);
                free (w);
            }
        }
        if (reply->ok)
            return reply;
        vb_error_set (&err, reply->code, "%s", reply->message);
        vb_reply_destroy (&reply);
    }
    if (failed_line)
        vbsh_error (ctx, "%s", failed_line);
    vbsh_error (ctx, "%s", err.message);
    return NULL;
}

void
vbsh_print_json (vbsh_ctx_t *ctx, json_object *obj)
{
    fprintf (ctx->out, "%s\n",
             json_object_to_json_string_ext (obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED
                                                      | JSON_C_TO_STRING_NOSLASHESCAPE));
}

int
vbsh_print_text (vbsh_ctx_t *ctx, char *text, const vb_error_t *err)
{
    if (!text)
        return vbsh_error (ctx, "%s", err && err->message[0] ? err->message : "out of memory");
    fputs (text, ctx->out);
    free (text);
    return 0;
}

/* --- Option parsing ---------------------------------------------------------------------- */

static const vbsh_cmd_t *
s_find_cmd (const char *name)
{
    for (size_t f = 0; f < sizeof s_families / sizeof s_families[0]; f++)
        for (const vbsh_cmd_t *c = s_families[f]; c->name; c++)
            if (strcmp (c->name, name) == 0)
                return c;
    return NULL;
}

static int
s_find_opt (const vbsh_opt_def_t *defs, const char *name, size_t len)
{
    for (int i = 0; defs[i].name; i++)
        if (strlen (defs[i].name) == len && strncmp (defs[i].name, name, len) == 0)
            return i;
    return -1;
}

/*  Parse ARGV (after the command name) into ARGS, virsh style. Returns 0 or 1 (reported). */
static int
s_parse_args (vbsh_ctx_t *ctx, const vbsh_cmd_t *cmd, int argc, char **argv, vbsh_args_t *args)
{
    const vbsh_opt_def_t *defs = cmd->opts;
    bool no_more_opts = false;

    memset (args, 0, sizeof *args);
    args->defs = defs;
    args->argv = calloc ((size_t) argc + 1, sizeof *args->argv);
    if (!args->argv)
        return vbsh_error (ctx, "out of memory parsing arguments");

    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!no_more_opts && strcmp (a, "--") == 0) {
            no_more_opts = true;
            continue;
        }
        if (!no_more_opts && strncmp (a, "--", 2) == 0) {
            const char *name = a + 2;
            const char *eq = strchr (name, '=');
            size_t len = eq ? (size_t) (eq - name) : strlen (name);
            if (len == 4 && strncmp (name, "json", 4) == 0 && s_find_opt (defs, "json", 4) < 0) {
                ctx->json = true;
                continue;
            }
            int k = s_find_opt (defs, name, len);
            if (k < 0 || defs[k].type == VBSH_OPT_ARGV)
                return vbsh_error (ctx, "command '%s' doesn't support option --%.*s", cmd->name,
                                   (int) len, name);
            if (defs[k].type == VBSH_OPT_BOOL) {
                if (eq)
                    return vbsh_error (ctx, "option --%s takes no value", defs[k].name);
                args->values[k] = "";
                continue;
            }
            const char *value = eq ? eq + 1 : NULL;
            if (!value) {
                if (i + 1 >= argc)
                    return vbsh_error (ctx, "expected syntax: --%s <%s>", defs[k].name,
                                       "string");
                value = argv[++i];
            }
            args->values[k] = value;
            if (defs[k].type == VBSH_OPT_MULTI)
                args->argv[args->argc++] = value;
            continue;
        }
        /* A positional: the first unset DATA option, else the ARGV list. */
        int k;
        for (k = 0; defs[k].name; k++)
            if (defs[k].type == VBSH_OPT_DATA && !args->values[k])
                break;
        if (defs[k].name) {
            args->values[k] = a;
            continue;
        }
        for (k = 0; defs[k].name; k++)
            if (defs[k].type == VBSH_OPT_ARGV)
                break;
        if (!defs[k].name)
            return vbsh_error (ctx, "unexpected data '%s'", a);
        args->argv[args->argc++] = a;
    }
    for (int k = 0; defs[k].name; k++)
        if (defs[k].type == VBSH_OPT_DATA && !args->values[k])
            return vbsh_error (ctx, "command '%s' requires <%s> option", cmd->name,
                               defs[k].name);
    return 0;
}

static void
s_usage (FILE *f)
{
    fprintf (f,
             "Usage: vbsh [-c EP] [-k KEYFILE] [--json] [--deadline MS] [-q] COMMAND [ARGS...]\n"
             "\n"
             "  -c, --connect EP   broker client endpoint (default $VIRTBUS_BROKER, else %s)\n"
             "  -k, --key FILE     this client's secret certificate (default $VIRTBUS_KEY)\n"
             "  --server-key FILE  the broker's public certificate (default $VIRTBUS_SERVER_KEY,\n"
             "                     else the broker-key recorded in the client's certificate)\n"
             "  --json             print results as JSON\n"
             "  --deadline MS      request deadline in milliseconds (default: the broker's)\n"
             "  -q, --quiet        no empty line after the command's output\n"
             "  -h, --help         this help\n"
             "  -v, --version      print the version\n"
             "\n"
             "Commands:\n",
             VB_CLIENT_DEFAULT_ENDPOINT);
    for (size_t fam = 0; fam < sizeof s_families / sizeof s_families[0]; fam++)
        for (const vbsh_cmd_t *c = s_families[fam]; c->name; c++)
            fprintf (f, "  %-12s %s\n", c->name, c->help);
}

static void
s_cmd_help (FILE *f, const vbsh_cmd_t *cmd)
{
    fprintf (f, "Usage: vbsh %s", cmd->name);
    for (size_t i = 0; cmd->opts[i].name; i++) {
        const vbsh_opt_def_t *o = &cmd->opts[i];
        if (o->type == VBSH_OPT_BOOL)
            fprintf (f, " [--%s]", o->name);
        else if (o->type == VBSH_OPT_STRING)
            fprintf (f, " [--%s <string>]", o->name);
        else if (o->type == VBSH_OPT_MULTI)
            fprintf (f, " [--%s <string>]...", o->name);
        else if (o->type == VBSH_OPT_DATA)
            fprintf (f, " <%s>", o->name);
        else
            fprintf (f, " [<%s>]...", o->name);
    }
    fprintf (f, "\n\n  %s\n\n", cmd->help);
    for (size_t i = 0; cmd->opts[i].name; i++)
        fprintf (f, "  %-18s %s\n", cmd->opts[i].name, cmd->opts[i].help);
}

int
main (int argc, char **argv)
{
    vbsh_ctx_t ctx = { .out = stdout, .err = stderr };
    bool quiet = false;
    int i, rc = 1;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp (a, "-h") == 0 || strcmp (a, "--help") == 0) {
            s_usage (stdout);
            return 0;
        }
        if (strcmp (a, "-v") == 0 || strcmp (a, "--version") == 0) {
            printf ("vbsh %s\n", VB_VERSION);
            return 0;
        }
        if (strcmp (a, "--json") == 0)
            ctx.json = true;
        else if (strcmp (a, "-q") == 0 || strcmp (a, "--quiet") == 0)
            quiet = true;
        else if (strcmp (a, "-c") == 0 || strcmp (a, "--connect") == 0) {
            if (++i >= argc)
                return vbsh_error (&ctx, "option %s needs an endpoint", a);
            ctx.endpoint = argv[i];
        } else if (strncmp (a, "--connect=", 10) == 0)
            ctx.endpoint = a + 10;
        else if (strcmp (a, "-k") == 0 || strcmp (a, "--key") == 0) {
            if (++i >= argc)
                return vbsh_error (&ctx, "option %s needs a key file", a);
            ctx.key_file = argv[i];
        } else if (strncmp (a, "--key=", 6) == 0)
            ctx.key_file = a + 6;
        else if (strcmp (a, "--server-key") == 0) {
            if (++i >= argc)
                return vbsh_error (&ctx, "option %s needs a certificate file", a);
            ctx.server_key = argv[i];
        } else if (strncmp (a, "--server-key=", 13) == 0)
            ctx.server_key = a + 13;
        else if (strcmp (a, "--deadline") == 0 || strncmp (a, "--deadline=", 11) == 0) {
            const char *v = a[10] == '=' ? a + 11 : (++i < argc ? argv[i] : NULL);
            char *end = NULL;
            errno = 0;
            unsigned long ms = v ? strtoul (v, &end, 10) : 0;
            if (!v || !*v || *end || errno || ms < 1 || ms > 3600000 || v[0] == '-')
                return vbsh_error (&ctx, "--deadline needs a number of milliseconds in "
                                         "1..3600000, not '%s'", v ? v : "");
            ctx.deadline_ms = (uint32_t) ms;
        } else if (a[0] == '-')
            return vbsh_error (&ctx, "unsupported option '%s'. See --help.", a);
        else
            break;
    }
    if (i >= argc) {
        s_usage (stderr);
        return 1;
    }
    if (strcmp (argv[i], "help") == 0) {
        const vbsh_cmd_t *c = i + 1 < argc ? s_find_cmd (argv[i + 1]) : NULL;
        if (i + 1 < argc && !c)
            return vbsh_error (&ctx, "command '%s' doesn't exist", argv[i + 1]);
        if (c)
            s_cmd_help (stdout, c);
        else
            s_usage (stdout);
        return 0;
    }
    const vbsh_cmd_t *cmd = s_find_cmd (argv[i]);
    if (!cmd)
        return vbsh_error (&ctx, "unknown command: '%s'", argv[i]);
    for (int k = i + 1; k < argc; k++)
        if (strcmp (argv[k], "--help") == 0) {
            s_cmd_help (stdout, cmd);
            return 0;
        }

    vbsh_args_t args;
    if (s_parse_args (&ctx, cmd, argc - i - 1, argv + i + 1, &args) == 0) {
        rc = cmd->run (&ctx, cmd->name, &args);
        /* virsh ends every command's output with an empty line (vshCommandRun), even a failed
         * one's, but not a command line it could not parse; JSON output stays a single
         * document for scripts. */
        if (!quiet && !ctx.json)
            fputc ('\n', ctx.out);
    }
    free (args.argv);
    vb_client_destroy (&ctx.client);
    fflush (ctx.out);
    return rc;
}
