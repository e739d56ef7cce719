/*  vbsh_event — `vbsh event`: wait for domain events, printed as `virsh event` prints them
 *  (tools/virsh-domain-event.c): one line per event, `--timestamp` prefix, one-shot unless
 *  --loop, `event loop timed out` when --timeout hits, then `events received: N`; like virsh the
 *  command fails (exit 1) when no event arrived.
 *
 *  Filtering: --host H subscribes to the topic prefix "H/"; --domain D (name, host/name or UUID)
 *  is matched exactly on each event, because a topic prefix "h/d/web" would also match "web2".
 *  Gaps the client library could not fill are reported as warnings on stderr.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "vb_util.h"
#include "vbsh.h"
#include "vbsh_format.h"

/*  Set by SIGINT/SIGTERM; the one piece of mutable global state, as signals need it. */
static volatile sig_atomic_t s_interrupted;

static void
s_on_signal (int sig)
{
    (void) sig;
    s_interrupted = 1;
}

static bool
s_event_matches (const vb_event_t *ev, const char *event_name, const char *domain)
{
    if (strcmp (ev->kind, "gap") == 0)
        return true;
    if (event_name && strcmp (event_name, ev->kind) != 0
        && !(strcmp (event_name, "block-job-2") == 0 && strcmp (ev->kind, "block-job") == 0))
        return false;
    if (domain) {
        const char *slash = strchr (domain, '/');
        const char *name = ev->domain ? ev->domain : "";
        if (slash) {
            const char *host = ev->host ? ev->host : "";
            size_t hl = (size_t) (slash - domain);
            if (strncmp (domain, host, hl) != 0 || host[hl] != '\0' || strcmp (slash + 1, name))
                return false;
        } else if (strcmp (domain, name) != 0
                   && !(ev->uuid && strcasecmp (domain, ev->uuid) == 0)) {
            return false;
        }
    }
    return true;
}

static int
s_parse_number (vbsh_ctx_t *ctx, const char *opt, const char *value, uint64_t max,
                uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    if (!value)
        return 0;
    unsigned long long v = strtoull (value, &end, 10);
    if (!*value || *end || errno || value[0] == '-' || v > max)
        return vbsh_error (ctx, "Numeric value '%s' for <%s> option is malformed or out of range",
                           value, opt);
    *out = v;
    return 0;
}

static int
s_run_event (vbsh_ctx_t *ctx, const char *cmd, vbsh_args_t *args)
{
    (void) cmd;
    vb_error_t err = { 0 };
    const char *event_name = vbsh_arg (args, "event");
    const char *domain = vbsh_arg (args, "domain");
    const char *host = vbsh_arg (args, "host");
    bool loop = vbsh_flag (args, "loop");
    bool timestamp = vbsh_flag (args, "timestamp");
    uint64_t count_max = 0, timeout_s = 0, since = 0;
    vb_subscriber_t *sub = NULL;
    char *prefix = NULL;
    uint64_t received = 0;
    int rc = 1;

    if (vbsh_flag (args, "all") && event_name)
        return vbsh_error (ctx, "Options --all and --event are mutually exclusive");
    if (s_parse_number (ctx, "count", vbsh_arg (args, "count"), UINT32_MAX, &count_max)
        || s_parse_number (ctx, "timeout", vbsh_arg (args, "timeout"), INT32_MAX / 1000,
                           &timeout_s)
        || s_parse_number (ctx, "since", vbsh_arg (args, "since"), UINT64_MAX, &since))
        return 1;
    if (vbsh_arg (args, "timeout") && timeout_s == 0)
        return vbsh_error (ctx, "invalid timeout");
    if (count_max > 0)
        loop = true;  /* --count N: stop after N events */
    else if (loop)
        count_max = UINT64_MAX;
    else
        count_max = 1;

    /* Subscribe as narrowly as the topic allows: host/ from --host or a host/name domain. */
    const char *slash = domain ? strchr (domain, '/') : NULL;
    if (host && slash && (strncmp (host, domain, (size_t) (slash - domain)) != 0
                          || host[slash - domain] != '\0'))
        return vbsh_error (ctx, "domain '%s' is not on host '%s'", domain, host);
    if (host) {
        if (asprintf (&prefix, "%s/", host) < 0)
            prefix = NULL;
    } else if (slash) {
        if (asprintf (&prefix, "%.*s/", (int) (slash - domain), domain) < 0)
            prefix = NULL;
    } else {
        prefix = strdup ("");
    }
    if (!prefix)
        return vbsh_error (ctx, "out of memory");

    vb_client_t *client = vbsh_client (ctx);
    if (!client)
        goto cleanup;
    sub = vb_subscriber_new (client, prefix, since, &err);
    if (!sub) {
        vbsh_error (ctx, "%s", err.message);
        goto cleanup;
    }

    struct sigaction sa = { 0 };
    sa.sa_handler = s_on_signal;
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);

    int64_t deadline = timeout_s ? vb_now_ms () + (int64_t) timeout_s * 1000 : -1;
    bool timed_out = false;
    while (!s_interrupted && received < count_max) {
        int wait = 200;  /* short slices so a signal is noticed promptly */
        if (deadline >= 0) {
            int64_t left = deadline - vb_now_ms ();
            if (left <= 0) {
                timed_out = true;
                break;
            }
            if (left < wait)
                wait = (int) left;
        }
        vb_error_t one = { 0 };
        vb_event_t *ev = vb_subscriber_recv (sub, wait, &one);
        if (!ev)
            continue;
        if (s_event_matches (ev, event_name, domain)) {
            bool gap = strcmp (ev->kind, "gap") == 0;
            if (ctx->json && !gap) {
                json_object *j = vb_event_to_json (ev);
                fprintf (ctx->out, "%s\n",
                         json_object_to_json_string_ext (j, JSON_C_TO_STRING_PLAIN
                                                                | JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put (j);
            } else {
                vb_error_t ferr = { 0 };
                char *line = vbsh_format_event (ev, timestamp, &ferr);
                if (line) {
                    fflush (ctx->out);
                    fputs (line, gap ? ctx->err : ctx->out);
                    free (line);
                }
            }
            fflush (ctx->out);
            if (!gap)
                received++;
        }
        vb_event_destroy (&ev);
    }
    if (!ctx->json) {
        if (s_interrupted)
            fprintf (ctx->out, "event loop interrupted\n");
        else if (timed_out)
            fprintf (ctx->out, "event loop timed out\n");
        fprintf (ctx->out, "events received: %llu\n", (unsigned long long) received);
    }
    rc = received > 0 ? 0 : 1;

cleanup:
    vb_subscriber_destroy (&sub);
    free (prefix);
    return rc;
}

static const vbsh_opt_def_t s_opts_event[] = {
    { "domain", VBSH_OPT_STRING, "filter by domain name, host/name or UUID" },
    { "host", VBSH_OPT_STRING, "filter by host" },
    { "event", VBSH_OPT_STRING, "which event type to wait for (lifecycle, reboot, block-job)" },
    { "all", VBSH_OPT_BOOL, "wait for all events instead of just one type (the default)" },
    { "loop", VBSH_OPT_BOOL, "loop until timeout or interrupt, rather than one-shot" },
    { "count", VBSH_OPT_STRING, "stop after this many events (implies --loop)" },
    { "timeout", VBSH_OPT_STRING, "timeout seconds" },
    { "timestamp", VBSH_OPT_BOOL, "show timestamp for each printed event" },
    { "since", VBSH_OPT_STRING, "first replay every retained event after this seq" },
    { NULL, 0, NULL },
};

const vbsh_cmd_t vbsh_event_cmds[] = {
    { "event", s_opts_event, s_run_event, "wait for domain events to occur" },
    { NULL, NULL, NULL, NULL },
};
