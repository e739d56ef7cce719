/*  qemu_domain — the QEMU driver's files in the state directory (see qemu_domain.h).
 */
#include "qemu_domain.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_json.h"
#include "vb_util.h"

/*  A status file is small: the definition is at most VB_DOMXML_MAX_BYTES (1 MiB), JSON-escaped. */
#define QEMU_STATUS_MAX_BYTES (4u * 1024 * 1024)

char *
qemu_domain_path (const char *dir, const char *uuid, const char *suffix)
{
    char *path = NULL;
    if (asprintf (&path, "%s/%s%s", dir, uuid, suffix) < 0)
        return NULL;
    return path;
}

char *
qemu_domain_run_path (const char *dir, const char *uuid, const char *suffix)
{
    char *path = NULL;
    if (asprintf (&path, "%s/run/%s%s", dir, uuid, suffix) < 0)
        return NULL;
    return path;
}

int
qemu_status_write (const char *path, const qemu_status_t *status, vb_error_t *err)
{
    json_object *obj = json_object_new_object ();
    json_object_object_add (obj, "pid", json_object_new_int64 (status->pid));
    json_object_object_add (obj, "start_ticks", json_object_new_uint64 (status->start_ticks));
    json_object_object_add (obj, "monitor",
                            json_object_new_string (status->monitor? status->monitor: ""));
    json_object_object_add (obj, "start_time_ns", json_object_new_uint64 (status->start_time_ns));
    json_object_object_add (obj, "state", json_object_new_int (status->state));
    json_object_object_add (obj, "reason", json_object_new_int (status->reason));
    json_object_object_add (obj, "xml", json_object_new_string (status->xml? status->xml: ""));
    const char *text = json_object_to_json_string_ext (obj, JSON_C_TO_STRING_PLAIN);
    int rc = vb_write_file_atomic (path, text, strlen (text), err);
    json_object_put (obj);
    return rc;
}

int
qemu_status_read (const char *path, qemu_status_t *status, vb_error_t *err)
{
    memset (status, 0, sizeof *status);
    vb_error_t inner = { 0 };
    int rc = -1;
    json_object *obj = NULL;
    char *text = vb_read_file (path, QEMU_STATUS_MAX_BYTES, NULL, &inner);
    if (!text) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "cannot read status file %s: %s", path,
                      inner.message);
        goto cleanup;
    }
    obj = json_tokener_parse (text);
    int64_t pid = 0, state = 0, reason = 0;
    uint64_t ticks = 0, start = 0;
    const char *monitor = NULL, *xml = NULL;
    if (!obj || !json_object_is_type (obj, json_type_object)
        || vb_json_get_int64 (obj, "pid", true, &pid, &inner) != 0
        || vb_json_get_uint64 (obj, "start_ticks", true, &ticks, &inner) != 0
        || vb_json_get_string (obj, "monitor", true, &monitor, &inner) != 0
        || vb_json_get_uint64 (obj, "start_time_ns", false, &start, &inner) != 0
        || vb_json_get_int64 (obj, "state", true, &state, &inner) != 0
        || vb_json_get_int64 (obj, "reason", false, &reason, &inner) != 0
        || vb_json_get_string (obj, "xml", true, &xml, &inner) != 0) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "status file %s is not valid: %s", path,
                      obj? inner.message: "not a JSON object");
        goto cleanup;
    }
    if (pid <= 1 || pid > 0x7fffffff || state < 0 || state > 7 || !*xml) {
        vb_error_set (err, VB_ERR_OPERATION_FAILED, "status file %s is not valid: pid %lld, "
                      "state %lld", path, (long long) pid, (long long) state);
        goto cleanup;
    }
    status->pid = (pid_t) pid;
    status->start_ticks = ticks;
    status->monitor = strdup (monitor);
    status->start_time_ns = start;
    status->state = (int) state;
    status->reason = (int) reason;
    status->xml = strdup (xml);
    if (!status->monitor || !status->xml) {
        qemu_status_clear (status);
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory while reading %s", path);
        goto cleanup;
    }
    rc = 0;
cleanup:
    json_object_put (obj);
    free (text);
    return rc;
}

void
qemu_status_clear (qemu_status_t *status)
{
    free (status->monitor);
    free (status->xml);
    memset (status, 0, sizeof *status);
}
