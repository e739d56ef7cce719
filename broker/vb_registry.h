/*  vb_registry — the broker's knowledge of workers and of the domains they own.
 *
 *  Plain data, no sockets: the broker feeds it what workers say (READY, DOMAINS, any traffic as
 *  a sign of life) and asks it where a request must go. Workers are keyed by their stable worker
 *  id from READY, never by the ZeroMQ routing id (a reconnecting worker may come back under a
 *  new connection); a second index maps routing ids to worker ids.
 *
 *  The domain index maps each domain UUID to its name, host, driver and owning worker id. It is
 *  rebuilt from inventories only. When a worker is removed (dead), its domains stay in the index
 *  as tombstones — the owner id then names a worker that is not registered — so a request for
 *  such a domain answers NO_WORKER ("its worker is gone") rather than NO_DOMAIN. A tombstone
 *  lasts until another worker claims the UUID or the same worker re-registers without it.
 *
 *  Load of a worker = owned domains + defines routed to it and not yet answered; placement picks
 *  the least loaded live worker, ties broken by the lowest worker id (strcmp).
 */
#ifndef VB_REGISTRY_H
#define VB_REGISTRY_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"
#include "vb_proto.h"

typedef struct _vb_registry_t vb_registry_t;

/*  A registered (live) worker. Owned by the registry; callers read fields and may change only
 *  last_seen_ms (through vb_registry_touch) and pending_defines. */
typedef struct {
    char *id;                  /* stable worker id from READY */
    char *host;
    char *driver;
    json_object *version;      /* as READY sent it (the worker's protocol version); may be NULL */
    int64_t pid;
    void *route;               /* ZeroMQ routing id bytes */
    size_t route_len;
    char *route_key;           /* hex of route, the routing index key */
    int64_t registered_ms;
    int64_t last_seen_ms;      /* monotonic ms of the last message from it */
    size_t ndomains;           /* domains in its last inventory */
    unsigned pending_defines;  /* defines routed to it, not yet answered */
} vb_reg_worker_t;

/*  One entry of the domain index. Owned by the registry. */
typedef struct {
    char *uuid;    /* lower case */
    char *name;
    char *host;
    char *driver;
    char *worker;  /* owner's worker id; not registered = tombstone */
    int state;
} vb_reg_domain_t;

/*  What READY did. */
typedef enum {
    VB_REG_NEW = 0,     /* a worker id the registry did not know */
    VB_REG_RECONNECT,   /* known id, same pid: the same process came back (new socket) */
    VB_REG_RESTARTED,   /* known id, other pid: a new process; the old one's work is lost */
} vb_reg_ready_t;

vb_registry_t *vb_registry_new (void);
void vb_registry_destroy (vb_registry_t **self_p);

/* --- Workers ------------------------------------------------------------------------------ */

/*  Register or replace a worker from a READY body (validated by vb_wmsg_decode: worker, host,
 *  driver, version, pid, domains) received from routing id ROUTE (ROUTE_LEN bytes) at NOW.
 *  Another worker registered under the same routing id is removed (its domains become
 *  tombstones). Returns the record (borrowed), *HOW_OUT (may be NULL) telling what happened,
 *  or NULL with ERR (INVALID_ARG for a missing field, INTERNAL on allocation failure). */
vb_reg_worker_t *vb_registry_ready (vb_registry_t *self, const void *route, size_t route_len,
                                    json_object *body, int64_t now, vb_reg_ready_t *how_out,
                                    vb_error_t *err);

/*  Replace the owned set of worker ID with DOMAINS (array of {name, uuid, state}, borrowed).
 *  Entries that are not valid are skipped with no error. Returns 0, or -1 with ERR (NO_WORKER
 *  for an unknown id, INVALID_ARG when DOMAINS is not an array). */
int vb_registry_set_domains (vb_registry_t *self, const char *id, json_object *domains,
                             vb_error_t *err);

/*  Lookups: NULL when not registered. */
vb_reg_worker_t *vb_registry_get (vb_registry_t *self, const char *id);
vb_reg_worker_t *vb_registry_by_route (vb_registry_t *self, const void *route, size_t route_len);

/*  Record a sign of life. */
void vb_registry_touch (vb_reg_worker_t *worker, int64_t now);

/*  Remove worker ID (dead or gone); its domains become tombstones. No-op for an unknown id. */
void vb_registry_remove (vb_registry_t *self, const char *id);

/*  The id of one registered worker silent for more than TIMEOUT_MS at NOW (borrowed; remove it
 *  before asking again), or NULL when none. */
const char *vb_registry_next_expired (vb_registry_t *self, int64_t now, int64_t timeout_ms);

/*  Live workers matching HOST and DRIVER (NULL = any), sorted by worker id. Returns a new array
 *  of borrowed records (caller frees the array only; valid until the registry changes) and its
 *  length in *COUNT; NULL with *COUNT = 0 when none match. */
vb_reg_worker_t **vb_registry_select (vb_registry_t *self, const char *host, const char *driver,
                                      size_t *count);

size_t vb_registry_size (vb_registry_t *self);

/*  Is HOST known at all (a live worker or a tombstone on it)? */
bool vb_registry_host_known (vb_registry_t *self, const char *host);

/*  Load used for placement and shown by "hosts". */
size_t vb_reg_worker_load (const vb_reg_worker_t *worker);

/* --- Routing ------------------------------------------------------------------------------ */

/*  Where a domain-targeted request goes. */
typedef struct {
    const vb_reg_domain_t *domain;  /* the index entry (borrowed) */
    vb_reg_worker_t *worker;        /* its live owner (borrowed) */
} vb_route_t;

/*  Resolve TARGET->domain (a name, "host/name" or a UUID), narrowed by TARGET->host and
 *  TARGET->driver when set. Returns 0 and fills OUT, or -1 with ERR:
 *    INVALID_ARG  no or malformed domain;
 *    NO_DOMAIN    no such domain ("domain 'vm9' not found on any host");
 *    AMBIGUOUS    a bare name on several hosts ("domain 'web' exists on hosts a and c; use
 *                 host/name");
 *    NO_WORKER    known only from a worker that is gone (a tombstone); OUT->domain is then
 *                 set (and OUT->worker NULL) so the caller can name the host and worker. */
int vb_registry_resolve (vb_registry_t *self, const vb_target_t *target, vb_route_t *out,
                         vb_error_t *err);

/*  Pick the worker for a new domain of DRIVER (required) on HOST (NULL = any): the least loaded
 *  live one, ties -> lowest worker id. Returns it (borrowed), or NULL with ERR = NO_WORKER. The
 *  caller counts the define in pending_defines. */
vb_reg_worker_t *vb_registry_place (vb_registry_t *self, const char *host, const char *driver,
                                    vb_error_t *err);

/*  Index entry for UUID (any case), or NULL. */
const vb_reg_domain_t *vb_registry_domain (vb_registry_t *self, const char *uuid);

#endif
