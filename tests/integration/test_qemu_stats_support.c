/*  test_qemu_stats_support — see test_qemu_stats_support.h. */
#include "test_qemu_stats_support.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <cmocka.h>
#include <json-c/json.h>

#include "test_qemu_support.h"
#include "vb_testcall.h"

void
qs_stats_clear (qs_stats_t *stats)
{
    for (size_t i = 0; i < stats->ndoms; i++) {
        qs_dom_t *d = &stats->doms[i];
        free (d->name);
        for (size_t k = 0; k < d->nkeys; k++) {
            free (d->keys[k]);
            free (d->values[k]);
        }
    }
    free (stats->doms);
    stats->doms = NULL;
    stats->ndoms = 0;
}

void
qs_parse (const char *text, qs_stats_t *stats)
{
    memset (stats, 0, sizeof *stats);
    char *copy = strdup (text), *save = NULL;
    assert_non_null (copy);
    qs_dom_t *cur = NULL;
    for (char *line = strtok_r (copy, "\n", &save); line; line = strtok_r (NULL, "\n", &save)) {
        size_t len = strlen (line);
        if (strncmp (line, "Domain: '", 9) == 0 && len > 10 && line[len - 1] == '\'') {
            stats->doms = realloc (stats->doms, (stats->ndoms + 1) * sizeof *stats->doms);
            assert_non_null (stats->doms);
            cur = &stats->doms[stats->ndoms++];
            memset (cur, 0, sizeof *cur);
            cur->name = strndup (line + 9, len - 10);
            continue;
        }
        char *eq = strchr (line, '=');
        if (!cur || strncmp (line, "  ", 2) != 0 || !eq || eq == line + 2)
            fail_msg ("not a virsh domstats line: '%s'", line);
        for (char *c = line + 2; c < eq; c++)
            if (!isalnum ((unsigned char) *c) && *c != '.' && *c != '_' && *c != '-')
                fail_msg ("bad key in domstats line: '%s'", line);
        assert_true (cur->nkeys < QS_MAX_KEYS);
        cur->keys[cur->nkeys] = strndup (line + 2, (size_t) (eq - line - 2));
        cur->values[cur->nkeys] = strdup (eq + 1);
        cur->nkeys++;
    }
    free (copy);
    /*  strtok_r skips empty lines: check the separators separately. Between two domains there
     *  is exactly one blank line, and none inside a domain. */
    for (const char *p = strstr (text, "\n\n"); p; p = strstr (p + 1, "\n\n"))
        if (p[2] != '\0' && strncmp (p + 2, "Domain: '", 9) != 0)
            fail_msg ("a blank line inside a domain's stats: ...%.40s", p);
}

const qs_dom_t *
qs_dom (const qs_stats_t *stats, const char *name)
{
    for (size_t i = 0; i < stats->ndoms; i++)
        if (strcmp (stats->doms[i].name, name) == 0)
            return &stats->doms[i];
    return NULL;
}

const char *
qs_get (const qs_dom_t *dom, const char *key)
{
    for (size_t k = 0; dom && k < dom->nkeys; k++)
        if (strcmp (dom->keys[k], key) == 0)
            return dom->values[k];
    return NULL;
}

uint64_t
qs_u64 (const qs_dom_t *dom, const char *key)
{
    const char *v = qs_get (dom, key);
    if (!v)
        fail_msg ("domain '%s' has no %s", dom ? dom->name : "?", key);
    char *end = NULL;
    unsigned long long n = strtoull (v, &end, 10);
    if (!*v || *end)
        fail_msg ("domain '%s': %s=%s is not a number", dom->name, key, v);
    return (uint64_t) n;
}

void
qs_domstats (vb_testenv_t *env, vb_testrun_t *run, qs_stats_t *stats, int deadline_ms, ...)
{
    const char *args[32];
    size_t n = 0;
    char deadline[16];
    snprintf (deadline, sizeof deadline, "%d", deadline_ms);
    if (deadline_ms > 0) {
        args[n++] = "--deadline";
        args[n++] = deadline;
    }
    args[n++] = "domstats";
    va_list ap;
    va_start (ap, deadline_ms);
    const char *a;
    while ((a = va_arg (ap, const char *)) && n < 30)
        args[n++] = a;
    va_end (ap);
    args[n] = NULL;
    /*  vb_testenv_vbsh takes a fixed list: pass up to 12 arguments. */
    assert_true (n <= 12);
    const char *x[12] = {NULL};
    for (size_t i = 0; i < n; i++)
        x[i] = args[i];
    int rc = vb_testenv_vbsh (env, run, x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], x[8],
                              x[9], x[10], x[11], (char *) NULL);
    if (rc != 0 || run->exit_code != 0)
        fail_msg ("vbsh domstats failed (exit %d): %s%s", run->exit_code, run->out, run->err);
    qs_parse (run->out, stats);
}

void
qs_start_paused (vb_client_t *client, const char *domain)
{
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "paused", json_object_new_boolean (1));
    vb_error_t err = {0};
    char buf[1024];
    vb_reply_t *r = vb_testcall (client, "domain.start", NULL, domain, args, 20000, NULL, &err);
    if (!r || !r->ok)
        fail_msg ("start --paused %s: %s", domain, vb_testcall_describe (r, &err, buf,
                                                                         sizeof buf));
    vb_reply_destroy (&r);
}

uint64_t
qs_virtual_size (const char *path)
{
    char *argv[] = {"/usr/bin/qemu-img", "info", "-U", "--output=json", (char *) path, NULL};
    vb_testrun_t run;
    vb_testrun (&run, 30000, argv);
    if (run.exit_code != 0)
        fail_msg ("qemu-img info %s: %s", path, run.err);
    json_object *info = json_tokener_parse (run.out);
    json_object *vs = NULL;
    if (!info || !json_object_object_get_ex (info, "virtual-size", &vs))
        fail_msg ("qemu-img info %s: no virtual-size in %s", path, run.out);
    uint64_t size = (uint64_t) json_object_get_int64 (vs);
    json_object_put (info);
    vb_testrun_clear (&run);
    return size;
}

void
qs_make_chain (const char *dir, const char *name, size_t nlayers, char **paths)
{
    for (size_t d = 0; d < nlayers; d++)
        assert_true (asprintf (&paths[d], "%s/%s-%zu.qcow2", dir, name, d) > 0);
    for (size_t i = nlayers; i-- > 0;) {
        char *cmd = NULL;
        if (i + 1 < nlayers)
            assert_true (asprintf (&cmd, "qemu-img create -q -f qcow2 -F qcow2 -b %s %s %zuM",
                                   paths[i + 1], paths[i], 64 + 16 * i) > 0);
        else
            assert_true (asprintf (&cmd, "qemu-img create -q -f qcow2 %s %zuM", paths[i],
                                   64 + 16 * i) > 0);
        qt_sh (cmd);
        free (cmd);
        if (i > 0) {
            assert_true (asprintf (&cmd, "qemu-io -f qcow2 -c 'write -P 0x%02zx %zuM %zuM' %s "
                                   ">/dev/null", i, i, i, paths[i]) > 0);
            qt_sh (cmd);
            free (cmd);
        }
    }
}
