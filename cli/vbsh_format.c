/*  vbsh_format — virsh-compatible text for vbsh (see vbsh_format.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vb_domstate.h"
#include "vb_json.h"
#include "vbsh_format.h"

/* --- A string builder on open_memstream ------------------------------------------------- */

typedef struct {
    FILE *f;
    char *buf;
    size_t len;
} s_out_t;

static int
s_out_open (s_out_t *out, vb_error_t *err)
{
    out->buf = NULL;
    out->len = 0;
    out->f = open_memstream (&out->buf, &out->len);
    if (!out->f)
        return vb_error_set (err, VB_ERR_INTERNAL, "out of memory formatting output");
    return 0;
}

/*  Close and return the text (caller frees), or NULL when FAILED (the text is dropped). */
static char *
s_out_close (s_out_t *out, bool failed, vb_error_t *err)
{
    if (fclose (out->f) != 0 && !failed) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory formatting output");
        failed = true;
    }
    if (failed) {
        free (out->buf);
        return NULL;
    }
    return out->buf;
}

static const char *
s_str (json_object *obj, const char *key)
{
    return vb_json_str (obj, key, "");
}

/* --- vsh-table --------------------------------------------------------------------------- */

/*  Display width of a UTF-8 string: one column per code point (virsh counts wide characters
 *  twice; names here are ASCII by vb_name_is_valid). */
static size_t
s_width (const char *s)
{
    size_t w = 0;
    for (; s && *s; s++)
        if (((unsigned char) *s & 0xC0) != 0x80)
            w++;
    return w;
}

static void
s_table_row (FILE *f, const char *const *cells, size_t ncols, const size_t *maxw)
{
    for (size_t i = 0; i < ncols; i++) {
        const char *c = cells[i] ? cells[i] : "";
        fprintf (f, " %s", c);
        if (i < ncols - 1)
            for (size_t j = s_width (c); j < maxw[i] + 2; j++)
                fputc (' ', f);
    }
    fputc ('\n', f);
}

char *
vbsh_format_table (const char *const *header, size_t ncols, const char *const *cells,
                   size_t nrows, vb_error_t *err)
{
    s_out_t out;
    size_t *maxw = NULL;

    if (!header || ncols == 0 || (nrows > 0 && !cells)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "a table needs a header and its cells");
        return NULL;
    }
    maxw = calloc (ncols, sizeof *maxw);
    if (!maxw) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory formatting a table");
        return NULL;
    }
    for (size_t i = 0; i < ncols; i++)
        maxw[i] = s_width (header[i]);
    for (size_t r = 0; r < nrows; r++)
        for (size_t i = 0; i < ncols; i++) {
            size_t w = s_width (cells[r * ncols + i]);
            if (w > maxw[i])
                maxw[i] = w;
        }
    if (s_out_open (&out, err) != 0) {
        free (maxw);
        return NULL;
    }
    s_table_row (out.f, header, ncols, maxw);
    for (size_t i = 0; i < ncols; i++)
        for (size_t j = 0; j < maxw[i] + 3; j++)
            fputc ('-', out.f);
    fputc ('\n', out.f);
    for (size_t r = 0; r < nrows; r++)
        s_table_row (out.f, cells + r * ncols, ncols, maxw);
    free (maxw);
    return s_out_close (&out, false, err);
}

/* --- list -------------------------------------------------------------------------------- */

static int64_t
s_dom_id (json_object *dom)
{
    return vb_json_int (dom, "id", -1);
}

static bool
s_dom_active (json_object *dom)
{
    int64_t state = vb_json_int (dom, "state", VB_STATE_NOSTATE);
    return s_dom_id (dom) >= 0 || (state != VB_STATE_SHUTOFF && state != VB_STATE_NOSTATE);
}

static int
s_list_cmp (const void *a, const void *b)
{
    json_object *da = *(json_object *const *) a;
    json_object *db = *(json_object *const *) b;
    bool aa = s_dom_active (da), ab = s_dom_active (db);
    int c;

    if (aa != ab)
        return aa ? -1 : 1;
    if (aa) {
        int64_t ia = s_dom_id (da), ib = s_dom_id (db);
        if (ia != ib)
            return ia < ib ? -1 : 1;
    } else if ((c = strcasecmp (s_str (da, "name"), s_str (db, "name"))) != 0) {
        return c;
    }
    if ((c = strcmp (s_str (da, "host"), s_str (db, "host"))) != 0)
        return c;
    return strcmp (s_str (da, "name"), s_str (db, "name"));
}

static bool
s_list_wanted (json_object *dom, const vbsh_list_opts_t *o)
{
    bool want_active = true, want_inactive = false;
    if (o->inactive || o->state_shutoff) {
        want_active = false;
        want_inactive = true;
    }
    if (o->all)
        want_active = want_inactive = true;
    bool active = s_dom_active (dom);
    if (active ? !want_active : !want_inactive)
        return false;
    if (o->state_running || o->state_paused || o->state_shutoff) {
        int64_t state = vb_json_int (dom, "state", VB_STATE_NOSTATE);
        if (!((o->state_running && state == VB_STATE_RUNNING)
              || (o->state_paused && state == VB_STATE_PAUSED)
              || (o->state_shutoff && state == VB_STATE_SHUTOFF)))
            return false;
    }
    return true;
}

char *
vbsh_format_list (json_object *domains, const vbsh_list_opts_t *opts, vb_error_t *err)
{
    json_object **doms = NULL;
    char (*ids)[24] = NULL;
    const char **cells = NULL;
    char *text = NULL;
    size_t n = 0;
    bool multi_host = false;
    const char *first_host = NULL;
    static const vbsh_list_opts_t defaults = { 0 };

    if (!opts)
        opts = &defaults;
    if (!domains || !json_object_is_type (domains, json_type_array)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "the domain list is not an array");
        return NULL;
    }
    size_t total = json_object_array_length (domains);
    doms = calloc (total + 1, sizeof *doms);
    ids = calloc (total + 1, sizeof *ids);
    cells = calloc ((total + 1) * 4, sizeof *cells);
    if (!doms || !ids || !cells) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory formatting the domain list");
        goto cleanup;
    }
    for (size_t i = 0; i < total; i++) {
        json_object *dom = json_object_array_get_idx (domains, i);
        if (!dom || !json_object_is_type (dom, json_type_object)) {
            vb_error_set (err, VB_ERR_INVALID_ARG, "entry %zu of the domain list is not an object",
                          i);
            goto cleanup;
        }
        const char *host = vb_json_str (dom, "host", NULL);
        if (host) {
            if (!first_host)
                first_host = host;
            else if (strcmp (first_host, host) != 0)
                multi_host = true;
        }
        if (s_list_wanted (dom, opts))
            doms[n++] = dom;
    }
    qsort (doms, n, sizeof *doms, s_list_cmp);

    if (opts->name || opts->uuid) {
        s_out_t out;
        if (s_out_open (&out, err) != 0)
            goto cleanup;
        for (size_t i = 0; i < n; i++) {
            const char *sep = "";
            if (opts->uuid) {
                fprintf (out.f, "%s", s_str (doms[i], "uuid"));
                sep = " ";
            }
            if (opts->name)
                fprintf (out.f, "%s%s", sep, s_str (doms[i], "name"));
            fputc ('\n', out.f);
        }
        text = s_out_close (&out, false, err);
        goto cleanup;
    }

    size_t ncols = multi_host ? 4 : 3;
    const char *header[] = { "Id", "Name", "State", "Host" };
    for (size_t i = 0; i < n; i++) {
        int64_t id = s_dom_id (doms[i]);
        if (id >= 0)
            snprintf (ids[i], sizeof ids[i], "%" PRId64, id);
        else
            snprintf (ids[i], sizeof ids[i], "-");
        cells[i * ncols + 0] = ids[i];
        cells[i * ncols + 1] = s_str (doms[i], "name");
        cells[i * ncols + 2] = vb_state_name ((int) vb_json_int (doms[i], "state", 0));
        if (multi_host)
            cells[i * ncols + 3] = s_str (doms[i], "host");
    }
    text = vbsh_format_table (header, ncols, cells, n, err);

cleanup:
    free (doms);
    free (ids);
    free (cells);
    return text;
}

/* --- hosts ------------------------------------------------------------------------------- */

static int
s_hosts_cmp (const void *a, const void *b)
{
    json_object *ha = *(json_object *const *) a;
    json_object *hb = *(json_object *const *) b;
    int c;
    if ((c = strcmp (s_str (ha, "host"), s_str (hb, "host"))) != 0)
        return c;
    if ((c = strcmp (s_str (ha, "driver"), s_str (hb, "driver"))) != 0)
        return c;
    return strcmp (s_str (ha, "worker"), s_str (hb, "worker"));
}

char *
vbsh_format_hosts (json_object *hosts, vb_error_t *err)
{
    json_object **rows = NULL;
    char (*nums)[3][32] = NULL;
    const char **cells = NULL;
    char *text = NULL;
    static const char *header[] = { "Host", "Driver", "Worker", "Domains", "Load", "Heartbeat" };
    const size_t ncols = 6;

    if (!hosts || !json_object_is_type (hosts, json_type_array)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "the host list is not an array");
        return NULL;
    }
    size_t n = json_object_array_length (hosts);
    rows = calloc (n + 1, sizeof *rows);
    nums = calloc (n + 1, sizeof *nums);
    cells = calloc ((n + 1) * ncols, sizeof *cells);
    if (!rows || !nums || !cells) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory formatting the host list");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        rows[i] = json_object_array_get_idx (hosts, i);
        if (!rows[i] || !json_object_is_type (rows[i], json_type_object)) {
            vb_error_set (err, VB_ERR_INVALID_ARG, "entry %zu of the host list is not an object",
                          i);
            goto cleanup;
        }
    }
    qsort (rows, n, sizeof *rows, s_hosts_cmp);
    for (size_t i = 0; i < n; i++) {
        json_object *h = rows[i], *doms = NULL;
        int64_t ndoms = 0;
        if (json_object_object_get_ex (h, "domains", &doms)
            && json_object_is_type (doms, json_type_array))
            ndoms = (int64_t) json_object_array_length (doms);
        else
            ndoms = vb_json_int (h, "domains", 0);
        int64_t age = vb_json_int (h, "heartbeat_age_ms", -1);
        snprintf (nums[i][0], sizeof nums[i][0], "%" PRId64, ndoms);
        snprintf (nums[i][1], sizeof nums[i][1], "%" PRId64, vb_json_int (h, "load", ndoms));
        if (age >= 0)
            snprintf (nums[i][2], sizeof nums[i][2], "%" PRId64 " ms ago", age);
        else
            snprintf (nums[i][2], sizeof nums[i][2], "-");
        cells[i * ncols + 0] = s_str (h, "host");
        cells[i * ncols + 1] = s_str (h, "driver");
        cells[i * ncols + 2] = s_str (h, "worker");
        cells[i * ncols + 3] = nums[i][0];
        cells[i * ncols + 4] = nums[i][1];
        cells[i * ncols + 5] = nums[i][2];
    }
    text = vbsh_format_table (header, ncols, cells, n, err);

cleanup:
    free (rows);
    free (nums);
    free (cells);
    return text;
}

/* --- dominfo, domstate ------------------------------------------------------------------- */

char *
vbsh_format_dominfo (json_object *info, vb_error_t *err)
{
    s_out_t out;

    if (!info || !json_object_is_type (info, json_type_object)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "the domain info is not an object");
        return NULL;
    }
    if (s_out_open (&out, err) != 0)
        return NULL;
    FILE *f = out.f;
    int64_t id = vb_json_int (info, "id", -1);
    if (id < 0)
        fprintf (f, "%-15s %s\n", "Id:", "-");
    else
        fprintf (f, "%-15s %" PRId64 "\n", "Id:", id);
    fprintf (f, "%-15s %s\n", "Name:", s_str (info, "name"));
    if (vb_json_str (info, "uuid", NULL))
        fprintf (f, "%-15s %s\n", "UUID:", s_str (info, "uuid"));
    if (vb_json_str (info, "os_type", NULL))
        fprintf (f, "%-15s %s\n", "OS Type:", s_str (info, "os_type"));
    fprintf (f, "%-15s %s\n", "State:", vb_state_name ((int) vb_json_int (info, "state", 0)));
    fprintf (f, "%-15s %d\n", "CPU(s):", (int) vb_json_int (info, "vcpus", 0));
    uint64_t cpu = vb_json_uint (info, "cpu_time_ns", 0);
    if (cpu != 0)
        fprintf (f, "%-15s %.1lfs\n", "CPU time:", (double) cpu / 1000000000.0);
    fprintf (f, "%-15s %" PRIu64 " KiB\n", "Max memory:", vb_json_uint (info, "max_mem_kib", 0));
    fprintf (f, "%-15s %" PRIu64 " KiB\n", "Used memory:", vb_json_uint (info, "memory_kib", 0));
    fprintf (f, "%-15s %s\n", "Persistent:",
             vb_json_bool (info, "persistent", true) ? "yes" : "no");
    fprintf (f, "%-15s %s\n", "Autostart:",
             vb_json_bool (info, "autostart", false) ? "enable" : "disable");
    fprintf (f, "%-15s %s\n", "Managed save:",
             vb_json_bool (info, "managed_save", false) ? "yes" : "no");
    /* virsh prints the host's security model; virtbus has none, which virsh shows as "none". */
    fprintf (f, "%-15s %s\n", "Security model:", vb_json_str (info, "security_model", "none"));
    fprintf (f, "%-15s %s\n", "Security DOI:", vb_json_str (info, "security_doi", "0"));
    return s_out_close (&out, false, err);
}

char *
vbsh_format_domstate (json_object *info, bool reason, vb_error_t *err)
{
    char *text = NULL;
    int rc;

    if (!info || !json_object_is_type (info, json_type_object)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "the domain info is not an object");
        return NULL;
    }
    int state = (int) vb_json_int (info, "state", 0);
    if (reason)
        rc = asprintf (&text, "%s (%s)\n", vb_state_name (state),
                       vb_state_reason_name (state, (int) vb_json_int (info, "reason", 0)));
    else
        rc = asprintf (&text, "%s\n", vb_state_name (state));
    if (rc < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory formatting the domain state");
        return NULL;
    }
    return text;
}

/* --- domstats ---------------------------------------------------------------------------- */

/*  Print one typed value as vshGetTypedParamValue does. -1 with ERR for an unknown type or a
 *  value of the wrong JSON type. */
static int
s_print_typed (FILE *f, const char *key, const char *type, json_object *v, vb_error_t *err)
{
    json_type jt = json_object_get_type (v);
    bool num = jt == json_type_int || jt == json_type_double;

    if (strcmp (type, "int") == 0 && jt == json_type_int)
        fprintf (f, "%d", (int) json_object_get_int64 (v));
    else if (strcmp (type, "uint") == 0 && jt == json_type_int)
        fprintf (f, "%u", (unsigned) json_object_get_uint64 (v));
    else if (strcmp (type, "llong") == 0 && jt == json_type_int)
        fprintf (f, "%lld", (long long) json_object_get_int64 (v));
    else if (strcmp (type, "ullong") == 0 && jt == json_type_int)
        fprintf (f, "%llu", (unsigned long long) json_object_get_uint64 (v));
    else if (strcmp (type, "double") == 0 && num)
        fprintf (f, "%f", json_object_get_double (v));
    else if (strcmp (type, "bool") == 0 && jt == json_type_boolean)
        fputs (json_object_get_boolean (v) ? "yes" : "no", f);
    else if (strcmp (type, "string") == 0 && jt == json_type_string)
        fputs (json_object_get_string (v), f);
    else
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "stats parameter '%s' has type '%s' with a %s value", key, type,
                             json_type_to_name (jt));
    return 0;
}

static int
s_print_record (FILE *f, json_object *record, vb_error_t *err)
{
    json_object *params = NULL;

    if (!record || !json_object_is_type (record, json_type_object))
        return vb_error_set (err, VB_ERR_INVALID_ARG, "a stats record is not an object");
    fprintf (f, "Domain: '%s'\n", s_str (record, "name"));
    if (!json_object_object_get_ex (record, "params", &params) || !params)
        return 0;
    if (!json_object_is_type (params, json_type_array))
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "the params of domain '%s' are not an array", s_str (record, "name"));
    size_t n = json_object_array_length (params);
    for (size_t i = 0; i < n; i++) {
        json_object *p = json_object_array_get_idx (params, i);
        json_object *key, *type;
        if (!p || !json_object_is_type (p, json_type_array) || json_object_array_length (p) != 3
            || !json_object_is_type ((key = json_object_array_get_idx (p, 0)), json_type_string)
            || !json_object_is_type ((type = json_object_array_get_idx (p, 1)), json_type_string))
            return vb_error_set (err, VB_ERR_INVALID_ARG,
                                 "parameter %zu of domain '%s' is not a [key, type, value] triple",
                                 i, s_str (record, "name"));
        fprintf (f, "  %s=", json_object_get_string (key));
        if (s_print_typed (f, json_object_get_string (key), json_object_get_string (type),
                           json_object_array_get_idx (p, 2), err) != 0)
            return -1;
        fputc ('\n', f);
    }
    return 0;
}

char *
vbsh_format_domstats_record (json_object *record, vb_error_t *err)
{
    s_out_t out;
    if (s_out_open (&out, err) != 0)
        return NULL;
    int rc = s_print_record (out.f, record, err);
    return s_out_close (&out, rc != 0, err);
}

typedef struct {
    size_t index;
    size_t rank;     /* argument position, or nnames for unmatched records */
    const char *host;
    const char *name;
} s_order_t;

static int
s_order_cmp (const void *a, const void *b)
{
    const s_order_t *oa = a, *ob = b;
    int c;
    if (oa->rank != ob->rank)
        return oa->rank < ob->rank ? -1 : 1;
    if ((c = strcmp (oa->host, ob->host)) != 0)
        return c;
    if ((c = strcmp (oa->name, ob->name)) != 0)
        return c;
    return oa->index < ob->index ? -1 : oa->index > ob->index;
}

static bool
s_record_matches (json_object *record, const char *arg)
{
    const char *name = s_str (record, "name"), *host = s_str (record, "host");
    const char *slash = strchr (arg, '/');
    if (slash)
        return strncmp (arg, host, (size_t) (slash - arg)) == 0 && host[slash - arg] == '\0'
               && strcmp (slash + 1, name) == 0;
    return strcmp (arg, name) == 0 || strcasecmp (arg, s_str (record, "uuid")) == 0;
}

size_t *
vbsh_domstats_order (json_object *records, const char *const *names, size_t nnames)
{
    size_t n = json_object_array_length (records);
    s_order_t *ord = calloc (n + 1, sizeof *ord);
    size_t *idx = calloc (n + 1, sizeof *idx);
    if (!ord || !idx) {
        free (ord);
        free (idx);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx (records, i);
        ord[i].index = i;
        ord[i].rank = nnames;
        ord[i].host = s_str (r, "host");
        ord[i].name = s_str (r, "name");
        for (size_t k = 0; k < nnames; k++)
            if (s_record_matches (r, names[k])) {
                ord[i].rank = k;
                break;
            }
    }
    qsort (ord, n, sizeof *ord, s_order_cmp);
    for (size_t i = 0; i < n; i++)
        idx[i] = ord[i].index;
    free (ord);
    return idx;
}

char *
vbsh_format_domstats (json_object *records, const char *const *names, size_t nnames,
                      vb_error_t *err)
{
    s_out_t out;
    size_t *idx = NULL;
    int rc = 0;

    if (!records || !json_object_is_type (records, json_type_array)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "the stats result is not an array of records");
        return NULL;
    }
    idx = vbsh_domstats_order (records, names, nnames);
    if (!idx) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory ordering stats records");
        return NULL;
    }
    if (s_out_open (&out, err) != 0) {
        free (idx);
        return NULL;
    }
    size_t n = json_object_array_length (records);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (i > 0)
            fputc ('\n', out.f);
        rc = s_print_record (out.f, json_object_array_get_idx (records, idx[i]), err);
    }
    free (idx);
    return s_out_close (&out, rc != 0, err);
}

char *
vbsh_format_domstats_warning (json_object *record)
{
    const char *status = vb_json_str (record, "status", "ok");
    char *text = NULL;
    char age[64] = "";

    if (strcmp (status, "ok") == 0)
        return NULL;
    if (vb_json_int (record, "age_ms", -1) >= 0)
        snprintf (age, sizeof age, "; its stats are from a sample %" PRId64 " ms old",
                  vb_json_int (record, "age_ms", -1));
    if (asprintf (&text, "warning: domain '%s' on host %s (driver %s, worker %s): status %s%s\n",
                  s_str (record, "name"), s_str (record, "host"), s_str (record, "driver"),
                  s_str (record, "worker"), status, age) < 0)
        return NULL;
    return text;
}

char *
vbsh_format_partial_warning (const vb_partial_t *p)
{
    char *text = NULL;
    if (!p)
        return NULL;
    const char *why = p->message ? p->message : vb_error_code_name (p->code);
    if (asprintf (&text, "warning: host %s (driver %s, worker %s) did not answer: %s\n",
                  p->host ? p->host : "?", p->driver ? p->driver : "?",
                  p->worker ? p->worker : "?", why) < 0)
        return NULL;
    return text;
}

/* --- events ------------------------------------------------------------------------------ */

void
vbsh_format_timestamp (uint64_t time_ns, char out[32])
{
    time_t secs = (time_t) (time_ns / 1000000000ull);
    unsigned ms = (unsigned) ((time_ns / 1000000ull) % 1000);
    struct tm tm;
    out[0] = '\0';
    if (!gmtime_r (&secs, &tm) || strftime (out, 20, "%Y-%m-%d %H:%M:%S", &tm) != 19)
        return;
    snprintf (out + 19, 13, ".%03u+0000", ms % 1000);
}

/*  virDomainBlockJobType as virsh prints it, from our wire names. */
static const char *
s_block_job_type (const char *type)
{
    static const struct { const char *wire, *text; } map[] = {
        { "pull", "Block Pull" },     { "stream", "Block Pull" },
        { "copy", "Block Copy" },     { "mirror", "Block Copy" },
        { "commit", "Block Commit" }, { "active-commit", "Active Block Commit" },
        { "active_commit", "Active Block Commit" },
        { "backup", "Backup" },
    };
    for (size_t i = 0; type && i < sizeof map / sizeof map[0]; i++)
        if (strcmp (type, map[i].wire) == 0)
            return map[i].text;
    return "Unknown job";
}

static const char *
s_block_job_status (const char *status)
{
    static const char *known[] = { "completed", "failed", "canceled", "ready" };
    for (size_t i = 0; status && i < sizeof known / sizeof known[0]; i++)
        if (strcmp (status, known[i]) == 0)
            return known[i];
    if (status && strcmp (status, "cancelled") == 0)
        return "canceled";
    return "unknown";
}

char *
vbsh_format_event (const vb_event_t *ev, bool timestamp, vb_error_t *err)
{
    s_out_t out;
    char ts[32];

    if (!ev || !ev->kind) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "an event without a kind cannot be printed");
        return NULL;
    }
    if (s_out_open (&out, err) != 0)
        return NULL;
    FILE *f = out.f;
    const char *dom = ev->domain ? ev->domain : "";

    if (strcmp (ev->kind, "gap") == 0) {
        fprintf (f, "warning: events %" PRIu64 "..%" PRIu64
                 " were lost: the broker no longer holds them\n",
                 vb_json_uint (ev->extra, "from", 0), vb_json_uint (ev->extra, "to", 0));
        return s_out_close (&out, false, err);
    }
    if (timestamp) {
        vbsh_format_timestamp (ev->time_ns, ts);
        fprintf (f, "%s: ", ts);
    }
    if (strcmp (ev->kind, "lifecycle") == 0) {
        fprintf (f, "event 'lifecycle' for domain '%s': %s %s\n", dom,
                 vb_lifecycle_virsh_event (ev->event),
                 vb_lifecycle_virsh_detail (ev->event, ev->detail));
    } else if (strcmp (ev->kind, "block-job") == 0 || strcmp (ev->kind, "block-job-2") == 0) {
        const char *disk = vb_json_str (ev->extra, "disk", NULL);
        if (!disk)
            disk = vb_json_str (ev->extra, "path", "");
        const char *type = vb_json_str (ev->extra, "job", NULL);
        if (!type)
            type = vb_json_str (ev->extra, "type", NULL);
        fprintf (f, "event '%s' for domain '%s': %s for %s %s\n", ev->kind, dom,
                 s_block_job_type (type), disk, s_block_job_status (ev->event));
    } else {
        /* reboot, control-error, pm-wakeup ...: virsh's generic line. */
        fprintf (f, "event '%s' for domain '%s'\n", ev->kind, dom);
    }
    return s_out_close (&out, false, err);
}
