/*  Helpers for the LXC worker's end-to-end tests (see test_lxc_support.h). */
#include "test_lxc_support.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "vb_testcall.h"

char *
lt_domain_xml (const char *name, unsigned memory_mib, const char *script,
               const char *extra_devices)
{
    char *xml = NULL;
    if (asprintf (&xml,
                  "<domain type='lxc'>\n"
                  "  <name>%s</name>\n"
                  "  <memory unit='MiB'>%u</memory>\n"
                  "  <os>\n"
                  "    <type>exe</type>\n"
                  "    <init>/bin/sh</init>\n"
                  "    <initarg>-c</initarg>\n"
                  "    <initarg>%s</initarg>\n"
                  "  </os>\n"
                  "  <devices>\n"
                  "    <console type='pty'/>\n"
                  "%s"
                  "  </devices>\n"
                  "</domain>\n", name, memory_mib, script, extra_devices) < 0)
        fail_msg ("out of memory");
    return xml;
}

void
lt_sh (const char *cmd)
{
    int rc = system (cmd);
    if (rc != 0)
        fail_msg ("command failed (%d): %s", rc, cmd);
}

json_object *
lt_call_ok (vb_client_t *client, const char *op, const char *domain, json_object *args)
{
    vb_error_t err = { 0 };
    char buf[512];
    vb_reply_t *r = vb_testcall (client, op, NULL, domain, args, 15000, NULL, &err);
    if (!r || !r->ok)
        fail_msg ("%s %s: %s", op, domain? domain: "",
                  vb_testcall_describe (r, &err, buf, sizeof buf));
    json_object *result = r->result? json_object_get (r->result): NULL;
    vb_reply_destroy (&r);
    return result;
}

int
lt_state (vb_client_t *client, const char *domain, pid_t *id_out)
{
    vb_error_t err = { 0 };
    vb_reply_t *r = vb_testcall (client, "domain.info", NULL, domain, NULL, 5000, NULL, &err);
    int state = -1;
    if (r && r->ok && r->result) {
        json_object *v;
        if (json_object_object_get_ex (r->result, "state", &v))
            state = json_object_get_int (v);
        if (id_out && json_object_object_get_ex (r->result, "id", &v))
            *id_out = (pid_t) json_object_get_int (v);
    }
    vb_reply_destroy (&r);
    return state;
}

uint64_t
lt_stat (vb_client_t *client, const char *domain, const char *group, const char *key)
{
    json_object *args = json_object_new_object ();
    json_object *groups = json_object_new_array ();
    json_object *doms = json_object_new_array ();
    json_object_array_add (groups, json_object_new_string (group));
    json_object_array_add (doms, json_object_new_string (domain));
    json_object_object_add (args, "groups", groups);
    json_object_object_add (args, "domains", doms);
    json_object *records = lt_call_ok (client, "domain.stats", NULL, args);
    json_object *record = records? json_object_array_get_idx (records, 0): NULL;
    json_object *params = NULL;
    if (!record || !json_object_object_get_ex (record, "params", &params))
        fail_msg ("no stats record for %s", domain);
    for (size_t i = 0; i < json_object_array_length (params); i++) {
        json_object *p = json_object_array_get_idx (params, i);
        if (strcmp (json_object_get_string (json_object_array_get_idx (p, 0)), key) == 0) {
            uint64_t v = json_object_get_uint64 (json_object_array_get_idx (p, 2));
            json_object_put (records);
            return v;
        }
    }
    fail_msg ("no parameter %s in %s", key,
              json_object_to_json_string_ext (records, JSON_C_TO_STRING_PLAIN));
    return 0;
}

const char *
lt_state_dir (vb_testenv_t *env)
{
    static char path[1024];
    snprintf (path, sizeof path, "%s/state-h1-default/h1/lxc", vb_testenv_dir (env));
    return path;
}

void
lt_cleanup (vb_testenv_t *env, const char *loop)
{
    char cmd[4096];
    snprintf (cmd, sizeof cmd,
              "d=%s/containers; [ -d \"$d\" ] && for c in $(ls \"$d\"); do "
              "lxc-stop -k -P \"$d\" -n \"$c\" >/dev/null 2>&1; done; true",
              lt_state_dir (env));
    if (system (cmd) != 0)
        fprintf (stderr, "teardown: %s failed\n", cmd);
    if (loop && *loop) {
        snprintf (cmd, sizeof cmd, "losetup -d %s", loop);
        if (system (cmd) != 0)
            fprintf (stderr, "teardown: %s failed\n", cmd);
    }
}

bool
lt_alive (pid_t pid)
{
    return pid > 0 && (kill (pid, 0) == 0 || errno == EPERM);
}
