/*  vbsh_domain — commands on one domain: define, undefine, start, shutdown, destroy, suspend,
 *  resume, reboot, dominfo, domstate, domuuid, domname, dumpxml. Messages are virsh 9.0's
 *  (tools/virsh-domain.c, tools/virsh-domain-monitor.c).
 */
#include <stdlib.h>
#include <string.h>

#include "vb_json.h"
#include "vb_util.h"
#include "vbsh.h"
#include "vbsh_format.h"

/*  The broker's client frame limit bounds a definition. */
#define VBSH_MAX_XML_FILE ((1u << 20) - 4096)

/*  State changes: op, success line, failure line (virsh's, %s = the domain as given). */
typedef struct {
    const char *cmd;
    const char *op;
    const char *done;
    const char *failed;
} s_lifecycle_t;

static const s_lifecycle_t s_lifecycle[] = {
    { "undefine", "domain.undefine", "Domain '%s' has been undefined\n",
      "Failed to undefine domain '%s'" },
    { "start", "domain.start", "Domain '%s' started\n", "Failed to start domain '%s'" },
    { "shutdown", "domain.shutdown", "Domain '%s' is being shutdown\n",
      "Failed to shutdown domain '%s'" },
    { "destroy", "domain.destroy", "Domain '%s' destroyed\n", "Failed to destroy domain '%s'" },
    { "suspend", "domain.suspend", "Domain '%s' suspended\n", "Failed to suspend domain '%s'" },
    { "resume", "domain.resume", "Domain '%s' resumed\n", "Failed to resume domain '%s'" },
    { "reboot", "domain.reboot", "Domain '%s' is being rebooted\n",
      "Failed to reboot domain '%s'" },
    { NULL, NULL, NULL, NULL },
};

static int
s_run_lifecycle (vbsh_ctx_t *ctx, const char *cmd, vbsh_args_t *args)
{
    const s_lifecycle_t *l = s_lifecycle;
    while (l->cmd && strcmp (l->cmd, cmd) != 0)
        l++;
    if (!l->cmd)
        return vbsh_error (ctx, "command '%s' has no operation", cmd);

    const char *dom = vbsh_arg (args, "domain");
    json_object *jargs = json_object_new_object ();
    if (!jargs)
        return vbsh_error (ctx, "out of memory");
    if (vbsh_flag (args, "paused"))
        json_object_object_add (jargs, "paused", json_object_new_boolean (1));

    char *failed = NULL;
    if (asprintf (&failed, l->failed, dom) < 0)
        failed = NULL;
    vb_target_t target = { .domain = (char *) dom };
    vb_reply_t *reply = vbsh_call (ctx, l->op, &target, jargs, failed);
    free (failed);
    if (!reply)
        return 1;
    if (ctx->json) {
        vbsh_print_json (ctx, reply->result);
    } else {
        /* virsh names the domain as given, except start, which prints the domain's own name. */
        const char *name = dom;
        if (strcmp (cmd, "start") == 0)
            name = vb_json_str (reply->result, "name", dom);
        fprintf (ctx->out, l->done, name);
    }
    vb_reply_destroy (&reply);
    return 0;
}

static int
s_run_define (vbsh_ctx_t *ctx, const char *cmd, vbsh_args_t *args)
{
    (void) cmd;
    vb_error_t err = { 0 };
    const char *file = vbsh_arg (args, "file");
    char *xml = vb_read_file (file, VBSH_MAX_XML_FILE, NULL, &err);
    if (!xml)
        return vbsh_error (ctx, "%s", err.message);

    json_object *jargs = json_object_new_object ();
    if (!jargs) {
        free (xml);
        return vbsh_error (ctx, "out of memory");
    }
    json_object_object_add (jargs, "xml", json_object_new_string (xml));
    free (xml);

    char *failed = NULL;
    if (asprintf (&failed, "Failed to define domain from %s", file) < 0)
        failed = NULL;
    vb_target_t target = {
        .host = (char *) vbsh_arg (args, "host"),
        .driver = (char *) vbsh_arg (args, "driver"),
    };
    vb_reply_t *reply = vbsh_call (ctx, VBSH_OP_DEFINE, &target, jargs, failed);
    free (failed);
    if (!reply)
        return 1;
    if (ctx->json)
        vbsh_print_json (ctx, reply->result);
    else
        fprintf (ctx->out, "Domain '%s' defined from %s\n",
                 vb_json_str (reply->result, "name", "?"), file);
    vb_reply_destroy (&reply);
    return 0;
}

/*  dominfo, domstate, domuuid, domname: all answered from domain.info. */
static int
s_run_info (vbsh_ctx_t *ctx, const char *cmd, vbsh_args_t *args)
{
    vb_error_t err = { 0 };
    const char *dom = vbsh_arg (args, "domain");
    vb_target_t target = { .domain = (char *) dom };
    vb_reply_t *reply = vbsh_call (ctx, VBSH_OP_INFO, &target, NULL, NULL);
    int rc = 0;

    if (!reply)
        return 1;
    if (ctx->json) {
        vbsh_print_json (ctx, reply->result);
    } else if (!reply->result || !json_object_is_type (reply->result, json_type_object)) {
        rc = vbsh_error (ctx, "the broker's answer about domain '%s' is not a domain info", dom);
    } else if (strcmp (cmd, "dominfo") == 0) {
        rc = vbsh_print_text (ctx, vbsh_format_dominfo (reply->result, &err), &err);
    } else if (strcmp (cmd, "domstate") == 0) {
        rc = vbsh_print_text (ctx,
                              vbsh_format_domstate (reply->result, vbsh_flag (args, "reason"),
                                                    &err),
                              &err);
    } else if (strcmp (cmd, "domuuid") == 0) {
        fprintf (ctx->out, "%s\n", vb_json_str (reply->result, "uuid", ""));
    } else {
        fprintf (ctx->out, "%s\n", vb_json_str (reply->result, "name", ""));
    }
    vb_reply_destroy (&reply);
    return rc;
}

static int
s_run_dumpxml (vbsh_ctx_t *ctx, const char *cmd, vbsh_args_t *args)
{
    (void) cmd;
    const char *dom = vbsh_arg (args, "domain");
    json_object *jargs = json_object_new_object ();
    if (!jargs)
        return vbsh_error (ctx, "out of memory");
    if (vbsh_flag (args, "inactive"))
        json_object_object_add (jargs, "inactive", json_object_new_boolean (1));
    vb_target_t target = { .domain = (char *) dom };
    vb_reply_t *reply = vbsh_call (ctx, VBSH_OP_XML, &target, jargs, NULL);
    int rc = 0;

    if (!reply)
        return 1;
    const char *xml = vb_json_str (reply->result, "xml", NULL);
    if (ctx->json) {
        vbsh_print_json (ctx, reply->result);
    } else if (!xml) {
        rc = vbsh_error (ctx, "the broker's answer about domain '%s' carries no XML", dom);
    } else {
        size_t n = strlen (xml);
        fputs (xml, ctx->out);
        if (n == 0 || xml[n - 1] != '\n')
            fputc ('\n', ctx->out);
    }
    vb_reply_destroy (&reply);
    return rc;
}

static const vbsh_opt_def_t s_opts_domain[] = {
    { "domain", VBSH_OPT_DATA, "domain name, host/name or UUID" },
    { NULL, 0, NULL },
};

static const vbsh_opt_def_t s_opts_start[] = {
    { "domain", VBSH_OPT_DATA, "domain name, host/name or UUID" },
    { "paused", VBSH_OPT_BOOL, "leave the guest paused after creation" },
    { NULL, 0, NULL },
};

static const vbsh_opt_def_t s_opts_define[] = {
    { "file", VBSH_OPT_DATA, "file containing an XML domain description" },
    { "host", VBSH_OPT_STRING, "define on this host (default: the least loaded worker)" },
    { "driver", VBSH_OPT_STRING, "define with this driver (qemu, lxc, xen, test)" },
    { NULL, 0, NULL },
};

static const vbsh_opt_def_t s_opts_domstate[] = {
    { "domain", VBSH_OPT_DATA, "domain name, host/name or UUID" },
    { "reason", VBSH_OPT_BOOL, "also print reason for the state" },
    { NULL, 0, NULL },
};

static const vbsh_opt_def_t s_opts_domname[] = {
    { "domain", VBSH_OPT_DATA, "domain UUID" },
    { NULL, 0, NULL },
};

static const vbsh_opt_def_t s_opts_dumpxml[] = {
    { "domain", VBSH_OPT_DATA, "domain name, host/name or UUID" },
    { "inactive", VBSH_OPT_BOOL, "show inactive defined XML" },
    { NULL, 0, NULL },
};

const vbsh_cmd_t vbsh_domain_cmds[] = {
    { "define", s_opts_define, s_run_define, "define (but don't start) a domain from an XML file" },
    { "undefine", s_opts_domain, s_run_lifecycle, "undefine a domain" },
    { "start", s_opts_start, s_run_lifecycle, "start a (previously defined) inactive domain" },
    { "shutdown", s_opts_domain, s_run_lifecycle, "gracefully shutdown a domain" },
    { "destroy", s_opts_domain, s_run_lifecycle, "destroy (stop) a domain" },
    { "suspend", s_opts_domain, s_run_lifecycle, "suspend a domain" },
    { "resume", s_opts_domain, s_run_lifecycle, "resume a domain" },
    { "reboot", s_opts_domain, s_run_lifecycle, "reboot a domain" },
    { "dominfo", s_opts_domain, s_run_info, "domain information" },
    { "domstate", s_opts_domstate, s_run_info, "domain state" },
    { "domuuid", s_opts_domain, s_run_info, "convert a domain name or id to domain UUID" },
    { "domname", s_opts_domname, s_run_info, "convert a domain id or UUID to domain name" },
    { "dumpxml", s_opts_dumpxml, s_run_dumpxml, "domain information in XML" },
    { NULL, NULL, NULL, NULL },
};
