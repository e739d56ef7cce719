/*  vb_testcall — requests and reply checks for integration tests (see vb_testcall.h). */
#include "vb_testcall.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *
vb_testcall_domain_xml (const char *name)
{
    char *xml = NULL;
    if (asprintf (&xml, "<domain type='test'><name>%s</name><memory unit='MiB'>64</memory>"
                  "<vcpu>1</vcpu><os><type>hvm</type></os></domain>", name) < 0)
        return NULL;
    return xml;
}

vb_reply_t *
vb_testcall (vb_client_t *client, const char *op, const char *host, const char *domain,
             json_object *args, uint32_t deadline_ms, int64_t *elapsed_ms, vb_error_t *err)
{
    vb_target_t target = {.host = (char *) host, .domain = (char *) domain};
    int64_t start = s_now_ms ();
    vb_reply_t *r = vb_client_call (client, op, &target, args, deadline_ms, err);
    if (elapsed_ms)
        *elapsed_ms = s_now_ms () - start;
    return r;
}

uint64_t
vb_testcall_send (vb_client_t *client, const char *op, const char *host, const char *domain,
                  json_object *args, uint32_t deadline_ms)
{
    vb_target_t target = {.host = (char *) host, .domain = (char *) domain};
    vb_error_t err = {0};
    uint64_t id = 0;
    if (vb_client_send (client, op, &target, args, deadline_ms, &id, &err) < 0) {
        fprintf (stderr, "vb_testcall: cannot send %s: %s\n", op, err.message);
        return 0;
    }
    return id;
}

int
vb_testcall_define (vb_client_t *client, const char *host, const char *name, char uuid_out[37])
{
    char *xml = vb_testcall_domain_xml (name);
    json_object *args = json_object_new_object ();
    vb_error_t err = {0};
    int rc = -1;
    if (!xml || !args) {
        json_object_put (args);
        free (xml);
        return -1;
    }
    json_object_object_add (args, "xml", json_object_new_string (xml));
    free (xml);
    vb_reply_t *r = vb_testcall (client, "domain.define", host, NULL, args, 0, NULL, &err);
    char line[1024];
    if (!r || !r->ok) {
        fprintf (stderr, "vb_testcall: define %s on %s failed: %s\n", name,
                 host ? host : "(any)", vb_testcall_describe (r, &err, line, sizeof line));
        goto cleanup;
    }
    json_object *uuid = NULL;
    if (!json_object_object_get_ex (r->result, "uuid", &uuid)
        || !json_object_is_type (uuid, json_type_string)
        || json_object_get_string_len (uuid) != 36) {
        fprintf (stderr, "vb_testcall: define %s answered no uuid: %s\n", name,
                 vb_testcall_describe (r, &err, line, sizeof line));
        goto cleanup;
    }
    if (uuid_out)
        memcpy (uuid_out, json_object_get_string (uuid), 37);
    rc = 0;

cleanup:
    vb_reply_destroy (&r);
    return rc;
}

bool
vb_testcall_is_error (const vb_reply_t *r, vb_error_code_t code)
{
    return r && !r->ok && r->code == code;
}

static bool
s_field_is (json_object *obj, const char *key, const char *value)
{
    json_object *field = NULL;
    return json_object_object_get_ex (obj, key, &field)
           && json_object_is_type (field, json_type_string)
           && strcmp (json_object_get_string (field), value) == 0;
}

size_t
vb_testcall_count2 (json_object *result, const char *key1, const char *value1,
                    const char *key2, const char *value2)
{
    if (!json_object_is_type (result, json_type_array))
        return 0;
    size_t count = 0;
    for (size_t i = 0; i < json_object_array_length (result); i++) {
        json_object *entry = json_object_array_get_idx (result, i);
        if (!json_object_is_type (entry, json_type_object))
            continue;
        if (s_field_is (entry, key1, value1) && (!key2 || s_field_is (entry, key2, value2)))
            count++;
    }
    return count;
}

size_t
vb_testcall_count (json_object *result, const char *key, const char *value)
{
    return vb_testcall_count2 (result, key, value, NULL, NULL);
}

bool
vb_testcall_partial_names (const vb_reply_t *r, const char *host, const char *worker)
{
    if (!r)
        return false;
    for (size_t i = 0; i < r->partial_count; i++) {
        const vb_partial_t *p = &r->partial[i];
        if (host && p->host && strcmp (p->host, host) == 0)
            return true;
        if (worker && p->worker && strcmp (p->worker, worker) == 0)
            return true;
    }
    return false;
}

bool
vb_testcall_json_has_string (json_object *obj, const char *value)
{
    switch (json_object_get_type (obj)) {
    case json_type_string:
        return strcmp (json_object_get_string (obj), value) == 0;
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length (obj); i++)
            if (vb_testcall_json_has_string (json_object_array_get_idx (obj, i), value))
                return true;
        return false;
    case json_type_object: {
        json_object_object_foreach (obj, key, child) {
            (void) key;
            if (vb_testcall_json_has_string (child, value))
                return true;
        }
        return false;
    }
    default:
        return false;
    }
}

const char *
vb_testcall_describe (const vb_reply_t *r, const vb_error_t *err, char *buf, size_t size)
{
    if (!r) {
        snprintf (buf, size, "no reply: %s: %s", err ? vb_error_code_name (err->code) : "?",
                  err ? err->message : "");
        return buf;
    }
    const char *result = r->result ? json_object_to_json_string_ext (r->result,
                                                                    JSON_C_TO_STRING_PLAIN)
                                   : "null";
    int n;
    if (r->ok)
        n = snprintf (buf, size, "ok result=%.600s", result);
    else
        n = snprintf (buf, size, "error %s: %s", vb_error_code_name (r->code),
                      r->message ? r->message : "");
    for (size_t i = 0; i < r->partial_count && n > 0 && (size_t) n < size; i++)
        n += snprintf (buf + n, size - (size_t) n, " partial[%s/%s/%s %s]",
                       r->partial[i].host ? r->partial[i].host : "-",
                       r->partial[i].driver ? r->partial[i].driver : "-",
                       r->partial[i].worker ? r->partial[i].worker : "-",
                       vb_error_code_name (r->partial[i].code));
    return buf;
}

int
vb_testcall_hosts_count (vb_client_t *client, const char *host, const char *worker,
                         uint32_t deadline_ms, bool *in_partial)
{
    vb_error_t err = {0};
    vb_reply_t *r = vb_testcall (client, "hosts", NULL, NULL, NULL, deadline_ms, NULL, &err);
    int count = -1;
    if (r && r->ok) {
        count = (int) (worker ? vb_testcall_count2 (r->result, "host", host, "worker", worker)
                              : vb_testcall_count (r->result, "host", host));
        if (in_partial)
            *in_partial = vb_testcall_partial_names (r, host, worker);
    }
    vb_reply_destroy (&r);
    return count;
}

bool
vb_testcall_wait_ok (vb_client_t *client, const char *op, const char *host, const char *domain,
                     uint32_t deadline_ms, int interval_ms, int bound_ms)
{
    int64_t end = s_now_ms () + bound_ms;
    while (true) {
        vb_error_t err = {0};
        vb_reply_t *r = vb_testcall (client, op, host, domain, NULL, deadline_ms, NULL, &err);
        bool ok = r && r->ok;
        vb_reply_destroy (&r);
        if (ok)
            return true;
        int64_t left = end - s_now_ms ();
        if (left <= 0)
            return false;
        int pause = left < interval_ms ? (int) left : interval_ms;
        struct timespec ts = {pause / 1000, (long) (pause % 1000) * 1000000};
        nanosleep (&ts, NULL);
    }
}

bool
vb_testcall_hosts_listed (void *arg)
{
    const vb_testcall_hosts_t *want = arg;
    vb_error_t err = {0};
    vb_reply_t *r = vb_testcall (want->client, "hosts", NULL, NULL, NULL, want->deadline_ms,
                                 NULL, &err);
    bool listed = r && r->ok && json_object_is_type (r->result, json_type_array);
    for (size_t i = 0; listed && i < want->count; i++)
        listed = vb_testcall_count (r->result, "host", want->hosts[i]) > 0;
    if (listed && want->workers > 0)
        listed = json_object_array_length (r->result) == want->workers;
    vb_reply_destroy (&r);
    return listed;
}
