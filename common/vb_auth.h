/*  vb_auth — CurveZMQ keys, roles and the broker's authenticator.
 *
 *  A virtbus cluster with keys has one broker keypair, a directory of allowed worker public
 *  certificates and a directory of allowed client public certificates, each a CZMQ zcert (ZPL
 *  text: NAME holds the public key and metadata, NAME_secret adds the secret key). The broker's
 *  key directory (`virtbusd --keys DIR`) is laid out as
 *
 *      DIR/broker_secret      the broker's keypair (DIR/broker, its public half, goes to peers)
 *      DIR/workers/NAME       public certificates of the workers allowed to register
 *      DIR/clients/NAME       public certificates of the clients allowed to connect, each with
 *                             metadata `role = "read-only"` or `role = "admin"`
 *
 *  The broker runs one ZAP handler (vb_auth_server, an actor bound to inproc://zeromq.zap.01)
 *  and gives each of its sockets its own ZAP domain: the worker endpoint accepts only keys from
 *  workers/, the client and event endpoints only keys from clients/, so a client key cannot
 *  register as a worker nor a worker key subscribe to events. A directory is re-read when its
 *  modification time changes, so adding or removing a file takes effect for the next handshake.
 *  An accepted connection carries the key's name as ZMQ "User-Id" and its role as the "Role"
 *  property on every frame it delivers; the broker reads them with vb_auth_peer() and checks
 *  each request with vb_auth_check().
 *
 *  Peers (vbsh, vb_client, workers) load their own secret certificate and the broker's public
 *  key with vb_auth_keys_new() and apply them to a socket before it connects. The broker's key
 *  comes from a named public certificate (--server-key FILE) or, failing that, from the
 *  "broker-key" metadata of the peer's own certificate (written by `virtbusd keygen
 *  --broker-cert FILE`).
 */
#ifndef VB_AUTH_H
#define VB_AUTH_H

#include <czmq.h>
#include <stdbool.h>

#include "vb_error.h"

/*  ZAP domains of the broker's endpoints. Wire-visible only inside one process. */
#define VB_AUTH_DOMAIN_CLIENTS "virtbus-clients"
#define VB_AUTH_DOMAIN_WORKERS "virtbus-workers"
#define VB_AUTH_DOMAIN_EVENTS "virtbus-events"

/*  Connection properties set by the authenticator (besides libzmq's "User-Id"). */
#define VB_AUTH_PROP_ROLE "Role"

/*  Certificate metadata names. Changing one breaks every certificate already issued. */
#define VB_AUTH_META_ROLE "role"
#define VB_AUTH_META_BROKER_KEY "broker-key"

/*  Largest certificate file read (they are a few hundred bytes). */
#define VB_AUTH_CERT_MAX 65536

/* --- Roles ---------------------------------------------------------------------------------- */

typedef enum {
    VB_AUTH_ROLE_NONE = 0,      /* no key (authentication off) or an unknown role */
    VB_AUTH_ROLE_READ_ONLY,     /* hosts, list, info, xml, stats, events, broker.info */
    VB_AUTH_ROLE_ADMIN,         /* everything */
    VB_AUTH_ROLE_LAST
} vb_auth_role_t;

/*  "read-only" / "admin" / "none". */
const char *vb_auth_role_name (vb_auth_role_t role);

/*  Parse a role name. 0 and *ROLE, or -1 for anything but "read-only" and "admin". */
int vb_auth_role_parse (const char *text, vb_auth_role_t *role);

/*  May ROLE issue OP? A read-only key may issue only the ops that change nothing. */
bool vb_auth_role_allows (vb_auth_role_t role, const char *op);

/*  Check a request of OP by the key named NAME (may be NULL) with ROLE. 0, or -1 with ERR =
 *  DENIED ("key 'alice' is read-only: domain.destroy needs an admin key"). */
int vb_auth_check (const char *name, vb_auth_role_t role, const char *op, vb_error_t *err);

/*  The key name and role of the peer that sent FRAME (a frame as received, not a copy): 0, or
 *  -1 when the frame carries no authenticated identity (authentication off). *NAME is borrowed
 *  from the frame. */
int vb_auth_peer (zframe_t *frame, const char **name, vb_auth_role_t *role);

/* --- Certificates --------------------------------------------------------------------------- */

/*  Write a new keypair DIR/NAME and DIR/NAME_secret (mode 0600) with metadata name = NAME,
 *  role = ROLE (NULL: none; else "read-only" or "admin") and, when BROKER_CERT (a public
 *  certificate file, may be NULL) is given, broker-key = that certificate's public key. DIR is
 *  created if missing. Refuses to overwrite an existing file. 0, or -1 with ERR. */
int vb_auth_keygen (const char *dir, const char *name, const char *role,
                    const char *broker_cert, vb_error_t *err);

/*  Read a certificate file strictly: a public key of 40 valid Z85 characters (and, when
 *  NEED_SECRET, a secret key too). Returns a new zcert (caller owns) or NULL with ERR
 *  (INVALID_ARG naming the file and what is wrong). */
zcert_t *vb_auth_cert_load (const char *path, bool need_secret, vb_error_t *err);

/* --- Allowed-key directories ---------------------------------------------------------------- */

typedef struct _vb_auth_dir_t vb_auth_dir_t;

/*  Load every certificate in directory PATH (not recursive; names starting with '.' and ending
 *  in "_secret" or '~' are skipped). With NEED_ROLE each must carry a valid role. A file that is
 *  malformed is left out and described in vb_auth_dir_problems(). NULL with ERR when PATH
 *  cannot be read. */
vb_auth_dir_t *vb_auth_dir_new (const char *path, bool need_role, vb_error_t *err);
void vb_auth_dir_destroy (vb_auth_dir_t **self_p);

/*  Re-read the directory if its modification time changed since the last read. 0 or -1. */
int vb_auth_dir_refresh (vb_auth_dir_t *self);

/*  Look up a public key (40 Z85 characters): 0 with *NAME (borrowed) and *ROLE, or -1. */
int vb_auth_dir_lookup (vb_auth_dir_t *self, const char *public_txt, const char **name,
                        vb_auth_role_t *role);

size_t vb_auth_dir_size (const vb_auth_dir_t *self);

/*  One sentence per file left out by the last read ("certificate /k/clients/bob has no valid
 *  role ..."), in file name order. Borrowed; never NULL. */
zlistx_t *vb_auth_dir_problems (vb_auth_dir_t *self);

/* --- Peer keys (clients and workers) -------------------------------------------------------- */

typedef struct _vb_auth_keys_t vb_auth_keys_t;

/*  Load the peer's own keypair from SECRET_FILE and the broker's public key from SERVER_CERT (a
 *  public certificate; NULL = the "broker-key" metadata of SECRET_FILE). NULL with ERR
 *  (INVALID_ARG) when a file is missing or malformed or no broker key is known. */
vb_auth_keys_t *vb_auth_keys_new (const char *secret_file, const char *server_cert,
                                  vb_error_t *err);
void vb_auth_keys_destroy (vb_auth_keys_t **self_p);

/*  Make SOCK (not yet connected) a CURVE client with these keys. */
void vb_auth_keys_apply (const vb_auth_keys_t *self, zsock_t *sock);

/*  The peer's public key in Z85 (borrowed). */
const char *vb_auth_keys_public (const vb_auth_keys_t *self);

/* --- The broker's authenticator --------------------------------------------------------------- */

typedef struct _vb_auth_server_t vb_auth_server_t;

/*  Load the broker's keypair and both allowed-key directories from KEYS_DIR (layout above) and
 *  start the ZAP handler. One per process (ZAP is per context). Problems with single certificates
 *  are logged as warnings; NULL with ERR when the broker keypair or a directory is missing or
 *  the handler cannot start. */
vb_auth_server_t *vb_auth_server_new (const char *keys_dir, vb_error_t *err);
void vb_auth_server_destroy (vb_auth_server_t **self_p);

/*  Make SOCK (not yet bound) a CURVE server in ZAP domain DOMAIN (VB_AUTH_DOMAIN_*). */
void vb_auth_server_apply (const vb_auth_server_t *self, zsock_t *sock, const char *domain);

/*  The broker's public key in Z85 (borrowed). */
const char *vb_auth_server_public (const vb_auth_server_t *self);

#endif
