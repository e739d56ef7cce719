/*  vbsh_list — fan-out commands: hosts, list, domstats. Each goes to every matching worker at
 *  once; workers that did not answer are named in the reply's `partial` list, printed as
 *  warnings on stderr, and the command still succeeds with what the others answered.
 */
#include <stdlib.h>
#include <string.h>

#include "vb_json.h"
#include "vbsh.h"
#include "vbsh_format.h"

/*  --json for fan-out commands: the whole reply (id, ok, result, partial), so scripts see which
 *  workers are missing. */
static void
s_print_reply_json (vbsh_ctx_t *ctx, vb_reply_t *reply)
{
    json_object *j = vb_reply_to_json (reply);
    vbsh_print_json (ctx, j);
    json_object_put (j);
}

static int
s_run_hosts (vbsh_ctx_t *ctx, const char *cmd, vbsh_args_t *args)
{
    (void) cmd;
    (void) args;
    vb_error_t err = { 0 };
    vb_reply_t *reply = vbsh_call (ctx, VBSH_OP_HOSTS, NULL, NULL, NULL);
    int rc;
    if (!reply)
        return 1;
    if (ctx->json) {
        s_print_reply_json (ctx, reply);
        rc = 0;
    } else {
        rc = vbsh_print_text (ctx, vbsh_format_hosts (reply->result, &err), &err);
    }
    vb_reply_destroy (&reply);
    return rc;
}

static int
s_run_list (vbsh_ctx_t *ctx, const char *cmd, vbsh_args_t *args)
{
    (void) cmd;
    vb_error_t err = { 0 };
    vbsh_list_opts_t o = {
        .all = vbsh_flag (args, "all"),
        .inactive = vbsh_flag (args, "inactive"),
        .name = vbsh_flag (args, "name"),
        .uuid = vbsh_flag (args, "uuid"),
        .state_running = vbsh_flag (args, "state-running"),
        .state_paused = vbsh_flag (args, "state-paused"),
        .state_shutoff = vbsh_flag (args, "state-shutoff"),
    };
    json_object *jargs = json_object_new_object ();
    if (!jargs)
        return vbsh_error (ctx, "out of memory");
    /* Ask for everything and filter here, exactly as virsh's flags combine. */
    json_object_object_add (jargs, "all", json_object_new_boolean (1));
    vb_reply_t *reply = vbsh_call (ctx, VBSH_OP_LIST, NULL, jargs, "Failed to list domains");
    int rc;
    if (!reply)
        return 1;
    if (ctx->json) {
        s_print_reply_json (ctx, reply);
        rc = 0;
    } else {
        rc = vbsh_print_text (ctx, vbsh_format_list (reply->result, &o, &err), &err);
    }
    vb_reply_destroy (&reply);
    return rc;
}

static const char *const s_groups[] = { "state", "cpu-total", "balloon", "vcpu", "interface",
                                        "block" };
static const char *const s_filters[] = { "list-active", "list-inactive", "list-running",
                                         "list-paused", "list-shutoff" };

static int
s_run_domstats (vbsh_ctx_t *ctx, const char *cmd, vbsh_args_t *args)
{
    (void) cmd;
    vb_error_t err = { 0 };
    json_object *jargs = json_object_new_object ();
    json_object *groups = json_object_new_array ();
    int rc = 0;

    if (!jargs || !groups) {
        json_object_put (jargs);
        json_object_put (groups);
        return vbsh_error (ctx, "out of memory");
    }
    for (size_t i = 0; i < sizeof s_groups / sizeof s_groups[0]; i++)
        if (vbsh_flag (args, s_groups[i]))
            json_object_array_add (groups, json_object_new_string (s_groups[i]));
    json_object_object_add (jargs, "groups", groups);
    json_object_object_add (jargs, "backing",
                            json_object_new_boolean (vbsh_flag (args, "backing")));
    json_object_object_add (jargs, "nowait",
                            json_object_new_boolean (vbsh_flag (args, "nowait")));
    json_object_object_add (jargs, "enforce",
                            json_object_new_boolean (vbsh_flag (args, "enforce")));
    for (size_t i = 0; i < sizeof s_filters / sizeof s_filters[0]; i++)
        if (vbsh_flag (args, s_filters[i])) {
            char key[32];
            snprintf (key, sizeof key, "%s", s_filters[i]);
            key[4] = '_';  /* "list-active" -> "list_active" */
            json_object_object_add (jargs, key, json_object_new_boolean (1));
        }
    if (args->argc > 0) {
        json_object *doms = json_object_new_array ();
        for (size_t i = 0; doms && i < args->argc; i++)
            json_object_array_add (doms, json_object_new_string (args->argv[i]));
        json_object_object_add (jargs, "domains", doms);
    }

    vb_reply_t *reply = vbsh_call (ctx, VBSH_OP_STATS, NULL, jargs, NULL);
    if (!reply)
        return 1;
    json_object *records = reply->result;
    if (!records || !json_object_is_type (records, json_type_array)) {
        rc = vbsh_error (ctx, "the broker's stats answer is not a list of records");
        goto cleanup;
    }
    for (size_t i = 0; i < json_object_array_length (records); i++) {
        char *w = vbsh_format_domstats_warning (json_object_array_get_idx (records, i));
        if (w) {
            fflush (ctx->out);
            fputs (w, ctx->err);
            free (w);
        }
    }
    if (ctx->json)
        s_print_reply_json (ctx, reply);
    else
        rc = vbsh_print_text (ctx, vbsh_format_domstats (records, args->argv, args->argc, &err),
                              &err);
cleanup:
    vb_reply_destroy (&reply);
    return rc;
}

static const vbsh_opt_def_t s_opts_hosts[] = {
    { NULL, 0, NULL },
};

static const vbsh_opt_def_t s_opts_list[] = {
    { "inactive", VBSH_OPT_BOOL, "list inactive domains" },
    { "all", VBSH_OPT_BOOL, "list inactive & active domains" },
    { "state-running", VBSH_OPT_BOOL, "list domains in running state" },
    { "state-paused", VBSH_OPT_BOOL, "list domains in paused state" },
    { "state-shutoff", VBSH_OPT_BOOL, "list domains in shutoff state" },
    { "uuid", VBSH_OPT_BOOL, "list uuid's only" },
    { "name", VBSH_OPT_BOOL, "list domain names only" },
    { NULL, 0, NULL },
};

static const vbsh_opt_def_t s_opts_domstats[] = {
    { "state", VBSH_OPT_BOOL, "report domain state" },
    { "cpu-total", VBSH_OPT_BOOL, "report domain physical cpu usage" },
    { "balloon", VBSH_OPT_BOOL, "report domain balloon statistics" },
    { "vcpu", VBSH_OPT_BOOL, "report domain virtual cpu information" },
    { "interface", VBSH_OPT_BOOL, "report domain network interface information" },
    { "block", VBSH_OPT_BOOL, "report domain block device statistics" },
    { "list-active", VBSH_OPT_BOOL, "list only active domains" },
    { "list-inactive", VBSH_OPT_BOOL, "list only inactive domains" },
    { "list-running", VBSH_OPT_BOOL, "list only running domains" },
    { "list-paused", VBSH_OPT_BOOL, "list only paused domains" },
    { "list-shutoff", VBSH_OPT_BOOL, "list only shutoff domains" },
    { "raw", VBSH_OPT_BOOL, "do not pretty-print the fields (no effect, as in virsh)" },
    { "enforce", VBSH_OPT_BOOL, "enforce requested stats parameters" },
    { "backing", VBSH_OPT_BOOL, "add backing chain information to block stats" },
    { "nowait", VBSH_OPT_BOOL, "report only stats that are accessible instantly" },
    { "domain", VBSH_OPT_ARGV, "list of domains to get stats for" },
    { NULL, 0, NULL },
};

const vbsh_cmd_t vbsh_list_cmds[] = {
    { "hosts", s_opts_hosts, s_run_hosts, "list the workers serving each host" },
    { "list", s_opts_list, s_run_list, "list domains" },
    { "domstats", s_opts_domstats, s_run_domstats,
      "get statistics about one or multiple domains" },
    { NULL, NULL, NULL, NULL },
};
