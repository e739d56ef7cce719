/*  vb_registry — workers, their domains and the domain index (see vb_registry.h). */
#include "vb_registry.h"

#include <czmq.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "vb_json.h"
#include "vb_util.h"

struct _vb_registry_t {
    zhashx_t *workers;  /* worker id -> vb_reg_worker_t (owned) */
    zhashx_t *routes;   /* route hex -> worker id (owned string) */
    zhashx_t *domains;  /* lower-case uuid -> vb_reg_domain_t (owned) */
};

static void
s_worker_free (vb_reg_worker_t **self_p)
{
    vb_reg_worker_t *self = *self_p;
    if (!self)
        return;
    free (self->id);
    free (self->host);
    free (self->driver);
    json_object_put (self->version);
    free (self->route);
    free (self->route_key);
    free (self);
    *self_p = NULL;
}

static void
s_worker_destructor (void **item)
{
    s_worker_free ((vb_reg_worker_t **) item);
}

static void
s_domain_free (vb_reg_domain_t **self_p)
{
    vb_reg_domain_t *self = *self_p;
    if (!self)
        return;
    free (self->uuid);
    free (self->name);
    free (self->host);
    free (self->driver);
    free (self->worker);
    free (self);
    *self_p = NULL;
}

static void
s_domain_destructor (void **item)
{
    s_domain_free ((vb_reg_domain_t **) item);
}

static void
s_string_destructor (void **item)
{
    free (*item);
    *item = NULL;
}

static char *
s_hex (const void *data, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *bytes = data;
    char *out = malloc (len * 2 + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[len * 2] = '\0';
    return out;
}

static void
s_lower (char *text)
{
    for (; *text; text++)
        *text = (char) tolower ((unsigned char) *text);
}

vb_registry_t *
vb_registry_new (void)
{
    vb_registry_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->workers = zhashx_new ();
    self->routes = zhashx_new ();
    self->domains = zhashx_new ();
    if (!self->workers || !self->routes || !self->domains) {
        vb_registry_destroy (&self);
        return NULL;
    }
    zhashx_set_destructor (self->workers, s_worker_destructor);
    zhashx_set_destructor (self->routes, s_string_destructor);
    zhashx_set_destructor (self->domains, s_domain_destructor);
    return self;
}

void
vb_registry_destroy (vb_registry_t **self_p)
{
    vb_registry_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->workers);
    zhashx_destroy (&self->routes);
    zhashx_destroy (&self->domains);
    free (self);
    *self_p = NULL;
}

vb_reg_worker_t *
vb_registry_get (vb_registry_t *self, const char *id)
{
    if (!id)
        return NULL;
    return zhashx_lookup (self->workers, id);
}

vb_reg_worker_t *
vb_registry_by_route (vb_registry_t *self, const void *route, size_t route_len)
{
    char *key = s_hex (route, route_len);
    if (!key)
        return NULL;
    const char *id = zhashx_lookup (self->routes, key);
    free (key);
    return vb_registry_get (self, id);
}

void
vb_registry_touch (vb_reg_worker_t *worker, int64_t now)
{
    if (worker && now > worker->last_seen_ms)
        worker->last_seen_ms = now;
}

size_t
vb_registry_size (vb_registry_t *self)
{
    return zhashx_size (self->workers);
}

size_t
vb_reg_worker_load (const vb_reg_worker_t *worker)
{
    return worker->ndomains + worker->pending_defines;
}

void
vb_registry_remove (vb_registry_t *self, const char *id)
{
    vb_reg_worker_t *worker = vb_registry_get (self, id);
    if (!worker)
        return;
    /*  The routing index may already point at a newer worker that took this connection over. */
    const char *routed = zhashx_lookup (self->routes, worker->route_key);
    if (routed && streq (routed, worker->id))
        zhashx_delete (self->routes, worker->route_key);
    /*  Domain entries keep the owner id: they are tombstones from now on. */
    zhashx_delete (self->workers, worker->id);
}

/*  Remove every index entry owned by ID whose uuid is not in KEEP (may be NULL = remove all). */
static void
s_drop_owned (vb_registry_t *self, const char *id, zhashx_t *keep)
{
    zlistx_t *keys = zhashx_keys (self->domains);
    if (!keys)
        return;
    for (const char *uuid = zlistx_first (keys); uuid; uuid = zlistx_next (keys)) {
        vb_reg_domain_t *entry = zhashx_lookup (self->domains, uuid);
        if (entry && streq (entry->worker, id) && !(keep && zhashx_lookup (keep, uuid)))
            zhashx_delete (self->domains, uuid);
    }
    zlistx_destroy (&keys);
}

int
vb_registry_set_domains (vb_registry_t *self, const char *id, json_object *domains,
                         vb_error_t *err)
{
    vb_reg_worker_t *worker = vb_registry_get (self, id);
    if (!worker)
        return vb_error_set (err, VB_ERR_NO_WORKER, "worker '%s' is not registered",
                             id ? id : "(null)");
    if (!json_object_is_type (domains, json_type_array))
        return vb_error_set (err, VB_ERR_INVALID_ARG,
                             "the domain list of worker '%s' is not an array", id);
    zhashx_t *keep = zhashx_new ();
    if (!keep)
        return vb_error_set (err, VB_ERR_INTERNAL, "out of memory indexing worker '%s'", id);
    size_t count = 0;
    size_t n = json_object_array_length (domains);
    for (size_t i = 0; i < n; i++) {
        json_object *item = json_object_array_get_idx (domains, i);
        const char *name = vb_json_str (item, "name", NULL);
        const char *uuid = vb_json_str (item, "uuid", NULL);
        if (!name || !uuid || !vb_uuid_is_valid (uuid))
            continue;
        vb_reg_domain_t *entry = calloc (1, sizeof *entry);
        if (!entry)
            continue;
        entry->uuid = strdup (uuid);
        entry->name = strdup (name);
        entry->host = strdup (worker->host);
        entry->driver = strdup (worker->driver);
        entry->worker = strdup (worker->id);
        entry->state = (int) vb_json_int (item, "state", 0);
        if (!entry->uuid || !entry->name || !entry->host || !entry->driver || !entry->worker) {
            s_domain_free (&entry);
            continue;
        }
        s_lower (entry->uuid);
        if (zhashx_lookup (keep, entry->uuid)) {
            s_domain_free (&entry);
            continue;
        }
        zhashx_insert (keep, entry->uuid, entry);
        /*  Last claim wins: an adopting sibling takes the entry over from a dead owner. */
        zhashx_update (self->domains, entry->uuid, entry);
        count++;
    }
    s_drop_owned (self, worker->id, keep);
    zhashx_destroy (&keep);
    worker->ndomains = count;
    return 0;
}

vb_reg_worker_t *
vb_registry_ready (vb_registry_t *self, const void *route, size_t route_len, json_object *body,
                   int64_t now, vb_reg_ready_t *how_out, vb_error_t *err)
{
    const char *id = vb_json_str (body, "worker", NULL);
    const char *host = vb_json_str (body, "host", NULL);
    const char *driver = vb_json_str (body, "driver", NULL);
    json_object *domains = NULL;
    if (!id || !*id || !host || !*host || !driver || !*driver) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "READY lacks one of worker, host and driver");
        return NULL;
    }
    if (!json_object_object_get_ex (body, "domains", &domains)
        || !json_object_is_type (domains, json_type_array))
        domains = NULL;

    vb_reg_worker_t *fresh = calloc (1, sizeof *fresh);
    if (!fresh)
        goto nomem;
    fresh->id = strdup (id);
    fresh->host = strdup (host);
    fresh->driver = strdup (driver);
    json_object *version = NULL;
    if (json_object_object_get_ex (body, "version", &version))
        fresh->version = json_object_get (version);
    fresh->pid = vb_json_int (body, "pid", 0);
    fresh->route = malloc (route_len ? route_len : 1);
    fresh->route_key = s_hex (route, route_len);
    if (!fresh->id || !fresh->host || !fresh->driver || !fresh->route
        || !fresh->route_key)
        goto nomem;
    memcpy (fresh->route, route, route_len);
    fresh->route_len = route_len;
    fresh->registered_ms = now;
    fresh->last_seen_ms = now;

    vb_reg_ready_t how = VB_REG_NEW;
    vb_reg_worker_t *old = vb_registry_get (self, id);
    if (old) {
        how = old->pid == fresh->pid ? VB_REG_RECONNECT : VB_REG_RESTARTED;
        /*  Defines in flight are still counted until they are answered or time out. */
        fresh->pending_defines = old->pending_defines;
        vb_registry_remove (self, id);
    }
    /*  A different worker that held this connection is gone: the connection is not its any
     *  more. */
    const char *previous = zhashx_lookup (self->routes, fresh->route_key);
    if (previous) {
        char *previous_id = strdup (previous);
        if (previous_id) {
            vb_registry_remove (self, previous_id);
            free (previous_id);
        }
    }
    char *route_id = strdup (fresh->id);
    if (!route_id)
        goto nomem;
    zhashx_update (self->routes, fresh->route_key, route_id);
    zhashx_update (self->workers, fresh->id, fresh);
    vb_reg_worker_t *worker = fresh;
    fresh = NULL;
    if (domains)
        vb_registry_set_domains (self, worker->id, domains, NULL);
    else
        s_drop_owned (self, worker->id, NULL);
    if (how_out)
        *how_out = how;
    return worker;

nomem:
    s_worker_free (&fresh);
    vb_error_set (err, VB_ERR_INTERNAL, "out of memory registering worker '%s'", id);
    return NULL;
}

const char *
vb_registry_next_expired (vb_registry_t *self, int64_t now, int64_t timeout_ms)
{
    for (vb_reg_worker_t *worker = zhashx_first (self->workers); worker;
         worker = zhashx_next (self->workers))
        if (now - worker->last_seen_ms > timeout_ms)
            return worker->id;
    return NULL;
}

static int
s_worker_cmp (const void *a, const void *b)
{
    const vb_reg_worker_t *wa = *(vb_reg_worker_t *const *) a;
    const vb_reg_worker_t *wb = *(vb_reg_worker_t *const *) b;
    return strcmp (wa->id, wb->id);
}

vb_reg_worker_t **
vb_registry_select (vb_registry_t *self, const char *host, const char *driver, size_t *count)
{
    *count = 0;
    size_t size = zhashx_size (self->workers);
    if (size == 0)
        return NULL;
    vb_reg_worker_t **out = calloc (size, sizeof *out);
    if (!out)
        return NULL;
    size_t n = 0;
    for (vb_reg_worker_t *worker = zhashx_first (self->workers); worker;
         worker = zhashx_next (self->workers)) {
        if (host && !streq (host, worker->host))
            continue;
        if (driver && !streq (driver, worker->driver))
            continue;
        out[n++] = worker;
    }
    if (n == 0) {
        free (out);
        return NULL;
    }
    qsort (out, n, sizeof *out, s_worker_cmp);
    *count = n;
    return out;
}

bool
vb_registry_host_known (vb_registry_t *self, const char *host)
{
    for (vb_reg_worker_t *worker = zhashx_first (self->workers); worker;
         worker = zhashx_next (self->workers))
        if (streq (worker->host, host))
            return true;
    for (vb_reg_domain_t *entry = zhashx_first (self->domains); entry;
         entry = zhashx_next (self->domains))
        if (streq (entry->host, host))
            return true;
    return false;
}

const vb_reg_domain_t *
vb_registry_domain (vb_registry_t *self, const char *uuid)
{
    char key[37];
    if (!uuid || !vb_uuid_is_valid (uuid) || strlen (uuid) != 36)
        return NULL;
    memcpy (key, uuid, 37);
    s_lower (key);
    return zhashx_lookup (self->domains, key);
}

static int
s_host_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

/*  "a and c" / "a, b and c" from N sorted distinct strings, into BUF. */
static void
s_join (char *buf, size_t size, const char **items, size_t n)
{
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *sep = i == 0 ? "" : (i + 1 == n ? " and " : ", ");
        size_t used = strlen (buf);
        snprintf (buf + used, size - used, "%s%s", sep, items[i]);
    }
}

static int
s_ambiguous (const char *name, const vb_reg_domain_t **matches, size_t n, vb_error_t *err)
{
    const char **hosts = calloc (n, sizeof *hosts);
    const char **drivers = calloc (n, sizeof *drivers);
    if (!hosts || !drivers) {
        free (hosts);
        free (drivers);
        return vb_error_set (err, VB_ERR_AMBIGUOUS, "domain '%s' exists on several hosts; use "
                             "host/name", name);
    }
    for (size_t i = 0; i < n; i++) {
        hosts[i] = matches[i]->host;
        drivers[i] = matches[i]->driver;
    }
    qsort (hosts, n, sizeof *hosts, s_host_cmp);
    qsort (drivers, n, sizeof *drivers, s_host_cmp);
    size_t nhosts = 0, ndrivers = 0;
    for (size_t i = 0; i < n; i++) {
        if (nhosts == 0 || !streq (hosts[nhosts - 1], hosts[i]))
            hosts[nhosts++] = hosts[i];
        if (ndrivers == 0 || !streq (drivers[ndrivers - 1], drivers[i]))
            drivers[ndrivers++] = drivers[i];
    }
    char list[512];
    if (nhosts > 1) {
        s_join (list, sizeof list, hosts, nhosts);
        vb_error_set (err, VB_ERR_AMBIGUOUS, "domain '%s' exists on hosts %s; use host/name",
                      name, list);
    }
    else {
        s_join (list, sizeof list, drivers, ndrivers);
        vb_error_set (err, VB_ERR_AMBIGUOUS,
                      "domain '%s' exists on host %s under drivers %s; name the driver", name,
                      hosts[0], list);
    }
    free (hosts);
    free (drivers);
    return -1;
}

int
vb_registry_resolve (vb_registry_t *self, const vb_target_t *target, vb_route_t *out,
                     vb_error_t *err)
{
    const char *spec = target ? target->domain : NULL;
    if (!spec || !*spec)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "the request names no domain");
    const char *host = target->host;
    const char *name = spec;
    char host_buf[72];
    const char *slash = strchr (spec, '/');
    if (slash) {
        size_t host_len = (size_t) (slash - spec);
        if (host_len == 0 || host_len >= sizeof host_buf)
            return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s' is not a name, "
                                 "host/name or UUID", spec);
        memcpy (host_buf, spec, host_len);
        host_buf[host_len] = '\0';
        if (!vb_name_is_valid (host_buf))
            return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s' is not a name, "
                                 "host/name or UUID", spec);
        if (host && !streq (host, host_buf))
            return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s' names host '%s' but the "
                                 "request targets host '%s'", spec, host_buf, host);
        host = host_buf;
        name = slash + 1;
    }
    const char *driver = target->driver;
    const vb_reg_domain_t *found = NULL;

    if (vb_uuid_is_valid (name)) {
        found = vb_registry_domain (self, name);
        if (found && ((host && !streq (host, found->host))
                      || (driver && !streq (driver, found->driver))))
            found = NULL;
    }
    else if (!vb_name_is_valid (name))
        return vb_error_set (err, VB_ERR_INVALID_ARG, "domain '%s' is not a name, host/name or "
                             "UUID", spec);
    else {
        size_t cap = 8, n = 0;
        const vb_reg_domain_t **matches = malloc (cap * sizeof *matches);
        if (!matches)
            return vb_error_set (err, VB_ERR_INTERNAL, "out of memory resolving '%s'", spec);
        for (vb_reg_domain_t *entry = zhashx_first (self->domains); entry;
             entry = zhashx_next (self->domains)) {
            if (!streq (entry->name, name) || (host && !streq (host, entry->host))
                || (driver && !streq (driver, entry->driver)))
                continue;
            if (n == cap) {
                const vb_reg_domain_t **bigger = realloc (matches, 2 * cap * sizeof *matches);
                if (!bigger) {
                    free (matches);
                    return vb_error_set (err, VB_ERR_INTERNAL, "out of memory resolving '%s'",
                                         spec);
                }
                matches = bigger;
                cap *= 2;
            }
            matches[n++] = entry;
        }
        if (n > 1) {
            int rc = s_ambiguous (name, matches, n, err);
            free (matches);
            return rc;
        }
        found = n == 1 ? matches[0] : NULL;
        free (matches);
    }
    if (!found) {
        if (host)
            return vb_error_set (err, VB_ERR_NO_DOMAIN, "domain '%s' not found on host %s",
                                 name, host);
        return vb_error_set (err, VB_ERR_NO_DOMAIN, "domain '%s' not found on any host", name);
    }
    vb_reg_worker_t *owner = vb_registry_get (self, found->worker);
    out->domain = found;
    out->worker = owner;
    if (!owner)
        return vb_error_set (err, VB_ERR_NO_WORKER, "domain '%s' on host %s belongs to worker "
                             "%s, which is not connected", found->name, found->host,
                             found->worker);
    return 0;
}

vb_reg_worker_t *
vb_registry_place (vb_registry_t *self, const char *host, const char *driver, vb_error_t *err)
{
    size_t n = 0;
    vb_reg_worker_t **workers = vb_registry_select (self, host, driver, &n);
    vb_reg_worker_t *best = NULL;
    /*  Sorted by id, so the first of equal load is the lowest id. */
    for (size_t i = 0; i < n; i++)
        if (!best || vb_reg_worker_load (workers[i]) < vb_reg_worker_load (best))
            best = workers[i];
    free (workers);
    if (!best) {
        if (host)
            vb_error_set (err, VB_ERR_NO_WORKER, "no live %s worker on host %s to define the "
                          "domain", driver ? driver : "", host);
        else
            vb_error_set (err, VB_ERR_NO_WORKER, "no live %s worker to define the domain",
                          driver ? driver : "");
    }
    return best;
}
