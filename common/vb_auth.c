/*  vb_auth — CurveZMQ keys, roles and the broker's authenticator (see vb_auth.h).
 *
 *  The authenticator is our own ZAP handler rather than CZMQ's zauth: zauth keeps one
 *  certificate store for every ZAP domain, and virtbus needs one per endpoint (workers/ for the
 *  worker endpoint, clients/ for the client and event endpoints) plus a role on each accepted
 *  connection. The handler is small: one REP socket on inproc://zeromq.zap.01 in an actor.
 */
#include "vb_auth.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vb_log.h"
#include "vb_util.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define Z85_KEY_LEN 40

/* --- Roles ---------------------------------------------------------------------------------- */

static const char *const s_role_names[] = { "none", "read-only", "admin" };
_Static_assert (sizeof s_role_names / sizeof s_role_names[0] == VB_AUTH_ROLE_LAST,
                "s_role_names must name every role");

/*  What a read-only key may do: the ops that change nothing. */
static const char *const s_read_only_ops[] = {
    "hosts", "broker.info", "domain.list", "domain.info", "domain.xml", "domain.stats", NULL
};

const char *
vb_auth_role_name (vb_auth_role_t role)
{
    return role >= 0 && role < VB_AUTH_ROLE_LAST ? s_role_names[role] : "none";
}

int
vb_auth_role_parse (const char *text, vb_auth_role_t *role)
{
    if (!text)
        return -1;
    for (int i = VB_AUTH_ROLE_READ_ONLY; i < VB_AUTH_ROLE_LAST; i++)
        if (streq (text, s_role_names[i])) {
            *role = (vb_auth_role_t) i;
            return 0;
        }
    return -1;
}

bool
vb_auth_role_allows (vb_auth_role_t role, const char *op)
{
    if (role == VB_AUTH_ROLE_ADMIN)
        return true;
    if (role != VB_AUTH_ROLE_READ_ONLY || !op)
        return false;
    if (strncmp (op, "events.", 7) == 0)
        return true;
    for (size_t i = 0; s_read_only_ops[i]; i++)
        if (streq (op, s_read_only_ops[i]))
            return true;
    return false;
}

int
vb_auth_check (const char *name, vb_auth_role_t role, const char *op, vb_error_t *err)
{
    if (vb_auth_role_allows (role, op))
        return 0;
    if (role == VB_AUTH_ROLE_READ_ONLY)
        return vb_error_set (err, VB_ERR_DENIED, "key '%s' is read-only: %s needs an admin key",
                             name ? name : "?", op ? op : "?");
    return vb_error_set (err, VB_ERR_DENIED, "key '%s' has no role that allows %s",
                         name ? name : "?", op ? op : "?");
}

int
vb_auth_peer (zframe_t *frame, const char **name, vb_auth_role_t *role)
{
    if (!frame)
        return -1;
    const char *user = zframe_meta (frame, "User-Id");
    const char *role_text = zframe_meta (frame, VB_AUTH_PROP_ROLE);
    if (!user || !*user)
        return -1;
    *name = user;
    if (vb_auth_role_parse (role_text, role) != 0)
        *role = VB_AUTH_ROLE_NONE;
    return 0;
}

/* --- Certificates --------------------------------------------------------------------------- */

/*  Decode a Z85 key; false when TEXT is not 40 valid characters. */
static bool
s_z85_key (const char *text, byte key[32])
{
    return text && strlen (text) == Z85_KEY_LEN && zmq_z85_decode (key, text) != NULL;
}

zcert_t *
vb_auth_cert_load (const char *path, bool need_secret, vb_error_t *err)
{
    struct stat st;
    zconfig_t *root = NULL;
    zcert_t *cert = NULL;
    byte public_key[32] = { 0 }, secret_key[32] = { 0 };

    if (stat (path, &st) != 0) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "cannot read the certificate %s: %s", path,
                      strerror (errno));
        goto cleanup;
    }
    if (!S_ISREG (st.st_mode) || st.st_size > VB_AUTH_CERT_MAX) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "certificate %s is not a regular file of at most "
                      "%d bytes", path, VB_AUTH_CERT_MAX);
        goto cleanup;
    }
    /*  Read here and parse from memory: zconfig_load leaks its file handle when the text does
     *  not parse (CZMQ 4.2.1), and malformed certificates are expected input. */
    vb_error_t read_err = { 0 };
    size_t len = 0;
    char *text = vb_read_file (path, VB_AUTH_CERT_MAX, &len, &read_err);
    zchunk_t *chunk = text ? zchunk_new (text, len) : NULL;
    root = chunk ? zconfig_chunk_load (chunk) : NULL;
    zchunk_destroy (&chunk);
    free (text);
    if (!root) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "certificate %s is not a ZPL file", path);
        goto cleanup;
    }
    if (!s_z85_key (zconfig_get (root, "/curve/public-key", NULL), public_key)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "certificate %s has no valid curve/public-key "
                      "(40 Z85 characters)", path);
        goto cleanup;
    }
    if (need_secret && !s_z85_key (zconfig_get (root, "/curve/secret-key", NULL), secret_key)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "certificate %s has no valid curve/secret-key; "
                      "use the NAME_secret file of the keypair", path);
        goto cleanup;
    }
    cert = zcert_new_from (public_key, secret_key);
    if (!cert) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory loading certificate %s", path);
        goto cleanup;
    }
    zconfig_t *meta = zconfig_locate (root, "/metadata");
    for (zconfig_t *item = meta ? zconfig_child (meta) : NULL; item; item = zconfig_next (item))
        if (zconfig_name (item) && zconfig_value (item))
            zcert_set_meta (cert, zconfig_name (item), "%s", zconfig_value (item));

cleanup:
    zconfig_destroy (&root);
    return cert;
}

/*  Create PATH exclusively with MODE (refusing to replace a key), then close it: zcert_save
 *  then writes into the file with the mode already right. */
static int
s_create_exclusive (const char *path, mode_t mode, vb_error_t *err)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return vb_error_set (err, VB_ERR_INVALID_ARG, "cannot create %s: %s%s", path,
                             strerror (errno), errno == EEXIST ? " (keys are never "
                             "overwritten; remove it first)" : "");
    close (fd);
    return 0;
}

int
vb_auth_keygen (const char *dir, const char *name, const char *role, const char *broker_cert,
                vb_error_t *err)
{
    zcert_t *cert = NULL, *broker = NULL;
    char *public_path = NULL, *secret_path = NULL;
    vb_auth_role_t parsed;
    int rc = -1;

    if (!vb_name_is_valid (name)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "key name '%s' is not valid: use 1-64 characters "
                      "of A-Z a-z 0-9 _ . - +, not starting with '.' or '-'", name);
        goto cleanup;
    }
    if (strlen (name) >= 7 && streq (name + strlen (name) - 7, "_secret")) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "key name '%s' must not end in _secret", name);
        goto cleanup;
    }
    if (role && vb_auth_role_parse (role, &parsed) != 0) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "role '%s' is not read-only or admin", role);
        goto cleanup;
    }
    if (broker_cert && !(broker = vb_auth_cert_load (broker_cert, false, err)))
        goto cleanup;
    if (vb_mkdir_p (dir, 0755, err) != 0)
        goto cleanup;
    if (asprintf (&public_path, "%s/%s", dir, name) < 0
        || asprintf (&secret_path, "%s/%s_secret", dir, name) < 0) {
        public_path = secret_path = NULL;
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory generating key '%s'", name);
        goto cleanup;
    }
    cert = zcert_new ();
    if (!cert) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot generate a CURVE keypair");
        goto cleanup;
    }
    zcert_set_meta (cert, "name", "%s", name);
    if (role)
        zcert_set_meta (cert, VB_AUTH_META_ROLE, "%s", role);
    if (broker)
        zcert_set_meta (cert, VB_AUTH_META_BROKER_KEY, "%s", zcert_public_txt (broker));
    if (s_create_exclusive (secret_path, 0600, err) != 0)
        goto cleanup;
    if (s_create_exclusive (public_path, 0644, err) != 0) {
        unlink (secret_path);
        goto cleanup;
    }
    if (zcert_save (cert, public_path) != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot write the keypair %s: %s", public_path,
                      strerror (errno));
        unlink (secret_path);
        unlink (public_path);
        goto cleanup;
    }
    rc = 0;

cleanup:
    zcert_destroy (&cert);
    zcert_destroy (&broker);
    free (public_path);
    free (secret_path);
    return rc;
}

/* --- Allowed-key directories ---------------------------------------------------------------- */

typedef struct {
    char *name;
    vb_auth_role_t role;
} s_entry_t;

struct _vb_auth_dir_t {
    char *path;
    bool need_role;
    struct timespec mtime;   /* of the directory at the last read */
    zhashx_t *keys;          /* public Z85 -> s_entry_t (owned) */
    zlistx_t *problems;      /* char * (owned) */
};

static void
s_entry_free (void **item)
{
    s_entry_t *entry = *item;
    if (entry) {
        free (entry->name);
        free (entry);
        *item = NULL;
    }
}

static bool
s_skip_name (const char *name)
{
    size_t len = strlen (name);
    return name[0] == '.' || name[len - 1] == '~'
           || (len >= 7 && streq (name + len - 7, "_secret"));
}

static int
s_compare_str (const void *a, const void *b)
{
    return strcmp (a, b);
}

/*  Add a problem sentence to LIST (best effort: a problem list is diagnostics). */
static void
s_problem (zlistx_t *list, const vb_error_t *err)
{
    char *copy = strdup (err->message);
    if (copy && !zlistx_add_end (list, copy))
        free (copy);
}

/*  Read the directory into fresh tables and swap them in. */
static int
s_dir_read (vb_auth_dir_t *self, vb_error_t *err)
{
    zhashx_t *keys = zhashx_new ();
    zlistx_t *problems = zlistx_new ();
    zlistx_t *names = zlistx_new ();
    DIR *dir = NULL;
    struct stat st;
    int rc = -1;

    if (!keys || !problems || !names) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading %s", self->path);
        goto cleanup;
    }
    zhashx_set_destructor (keys, s_entry_free);
    zlistx_set_destructor (problems, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_destructor (names, (zlistx_destructor_fn *) zstr_free);
    zlistx_set_comparator (names, s_compare_str);
    if (stat (self->path, &st) != 0 || !S_ISDIR (st.st_mode) || !(dir = opendir (self->path))) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "cannot read the key directory %s: %s",
                      self->path, errno ? strerror (errno) : "not a directory");
        goto cleanup;
    }
    struct dirent *de;
    while ((de = readdir (dir))) {
        if (s_skip_name (de->d_name))
            continue;
        char *copy = strdup (de->d_name);
        if (!copy || !zlistx_add_end (names, copy)) {
            free (copy);
            vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading %s", self->path);
            goto cleanup;
        }
    }
    zlistx_sort (names);
    for (const char *name = zlistx_first (names); name; name = zlistx_next (names)) {
        vb_error_t one = { 0 };
        char path[PATH_MAX];
        snprintf (path, sizeof path, "%s/%s", self->path, name);
        struct stat fst;
        if (stat (path, &fst) == 0 && S_ISDIR (fst.st_mode))
            continue;
        zcert_t *cert = vb_auth_cert_load (path, false, &one);
        vb_auth_role_t role = VB_AUTH_ROLE_NONE;
        if (cert && !vb_name_is_valid (name))
            vb_error_set (&one, VB_ERR_INVALID_ARG, "certificate %s is ignored: its file name "
                          "is not a valid key name", path);
        else if (cert && self->need_role
                 && vb_auth_role_parse (zcert_meta (cert, VB_AUTH_META_ROLE), &role) != 0)
            vb_error_set (&one, VB_ERR_INVALID_ARG, "certificate %s is ignored: its metadata "
                          "needs role = \"read-only\" or \"admin\"", path);
        else if (cert && zhashx_lookup (keys, zcert_public_txt (cert)))
            vb_error_set (&one, VB_ERR_INVALID_ARG, "certificate %s is ignored: its public key "
                          "is already allowed under another name", path);
        else if (cert) {
            s_entry_t *entry = calloc (1, sizeof *entry);
            if (entry)
                entry->name = strdup (name);
            if (!entry || !entry->name) {
                s_entry_free ((void **) &entry);
                vb_error_set (&one, VB_ERR_INTERNAL, "out of memory loading %s", path);
            }
            else {
                entry->role = role;
                zhashx_insert (keys, zcert_public_txt (cert), entry);
            }
        }
        zcert_destroy (&cert);
        if (one.code != VB_OK)
            s_problem (problems, &one);
    }
    zhashx_destroy (&self->keys);
    zlistx_destroy (&self->problems);
    self->keys = keys;
    self->problems = problems;
    keys = NULL;
    problems = NULL;
    self->mtime = st.st_mtim;
    rc = 0;

cleanup:
    if (dir)
        closedir (dir);
    zhashx_destroy (&keys);
    zlistx_destroy (&problems);
    zlistx_destroy (&names);
    return rc;
}

vb_auth_dir_t *
vb_auth_dir_new (const char *path, bool need_role, vb_error_t *err)
{
    vb_auth_dir_t *self = calloc (1, sizeof *self);
    if (!self || !(self->path = strdup (path))) {
        free (self);
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory reading %s", path);
        return NULL;
    }
    self->need_role = need_role;
    errno = 0;
    if (s_dir_read (self, err) != 0)
        vb_auth_dir_destroy (&self);
    return self;
}

void
vb_auth_dir_destroy (vb_auth_dir_t **self_p)
{
    vb_auth_dir_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy (&self->keys);
    zlistx_destroy (&self->problems);
    free (self->path);
    free (self);
    *self_p = NULL;
}

int
vb_auth_dir_refresh (vb_auth_dir_t *self)
{
    struct stat st;
    if (stat (self->path, &st) != 0)
        return -1;
    if (st.st_mtim.tv_sec == self->mtime.tv_sec && st.st_mtim.tv_nsec == self->mtime.tv_nsec)
        return 0;
    vb_error_t err = { 0 };
    errno = 0;
    if (s_dir_read (self, &err) != 0) {
        vb_warn ("%s; keeping the keys read before", err.message);
        return -1;
    }
    vb_info ("key directory %s re-read: %zu key(s)", self->path, zhashx_size (self->keys));
    for (const char *p = zlistx_first (self->problems); p; p = zlistx_next (self->problems))
        vb_warn ("%s", p);
    return 0;
}

int
vb_auth_dir_lookup (vb_auth_dir_t *self, const char *public_txt, const char **name,
                    vb_auth_role_t *role)
{
    s_entry_t *entry = public_txt ? zhashx_lookup (self->keys, public_txt) : NULL;
    if (!entry)
        return -1;
    *name = entry->name;
    *role = entry->role;
    return 0;
}

size_t
vb_auth_dir_size (const vb_auth_dir_t *self)
{
    return zhashx_size (self->keys);
}

zlistx_t *
vb_auth_dir_problems (vb_auth_dir_t *self)
{
    return self->problems;
}

/* --- Peer keys ------------------------------------------------------------------------------ */

struct _vb_auth_keys_t {
    zcert_t *cert;
    char server_key[Z85_KEY_LEN + 1];
};

vb_auth_keys_t *
vb_auth_keys_new (const char *secret_file, const char *server_cert, vb_error_t *err)
{
    vb_auth_keys_t *self = calloc (1, sizeof *self);
    zcert_t *server = NULL;
    byte key[32];
    if (!self) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory loading keys");
        return NULL;
    }
    self->cert = vb_auth_cert_load (secret_file, true, err);
    if (!self->cert)
        goto fail;
    if (server_cert) {
        server = vb_auth_cert_load (server_cert, false, err);
        if (!server)
            goto fail;
        snprintf (self->server_key, sizeof self->server_key, "%s", zcert_public_txt (server));
    }
    else {
        const char *meta = zcert_meta (self->cert, VB_AUTH_META_BROKER_KEY);
        if (!s_z85_key (meta, key)) {
            vb_error_set (err, VB_ERR_INVALID_ARG, "the broker's public key is not known: give "
                          "its certificate (--server-key FILE or $VIRTBUS_SERVER_KEY) or issue "
                          "%s with virtbusd keygen --broker-cert", secret_file);
            goto fail;
        }
        snprintf (self->server_key, sizeof self->server_key, "%s", meta);
    }
    zcert_destroy (&server);
    return self;

fail:
    zcert_destroy (&server);
    vb_auth_keys_destroy (&self);
    return NULL;
}

void
vb_auth_keys_destroy (vb_auth_keys_t **self_p)
{
    vb_auth_keys_t *self = *self_p;
    if (!self)
        return;
    zcert_destroy (&self->cert);
    free (self);
    *self_p = NULL;
}

void
vb_auth_keys_apply (const vb_auth_keys_t *self, zsock_t *sock)
{
    zcert_apply (self->cert, sock);
    zsock_set_curve_serverkey (sock, self->server_key);
}

const char *
vb_auth_keys_public (const vb_auth_keys_t *self)
{
    return zcert_public_txt (self->cert);
}

/* --- The authenticator ---------------------------------------------------------------------- */

/*  What the actor owns; created by vb_auth_server_new, used only by the actor thread while it
 *  runs. */
typedef struct {
    vb_auth_dir_t *workers;
    vb_auth_dir_t *clients;
    int bind_rc;              /* set by the actor before it signals */
} s_zap_state_t;

struct _vb_auth_server_t {
    zcert_t *cert;
    s_zap_state_t *state;
    zactor_t *actor;
};

/*  One ZMTP metadata property: name length (1 byte), name, value length (4 bytes, network
 *  order), value. */
static int
s_add_property (zframe_t *frame, const char *name, const char *value)
{
    size_t nlen = strlen (name), vlen = strlen (value);
    size_t old = zframe_size (frame);
    byte *buf = malloc (old + 1 + nlen + 4 + vlen);
    if (!buf)
        return -1;
    memcpy (buf, zframe_data (frame), old);
    byte *p = buf + old;
    *p++ = (byte) nlen;
    memcpy (p, name, nlen);
    p += nlen;
    *p++ = (byte) (vlen >> 24);
    *p++ = (byte) (vlen >> 16);
    *p++ = (byte) (vlen >> 8);
    *p++ = (byte) vlen;
    memcpy (p, value, vlen);
    zframe_reset (frame, buf, old + 1 + nlen + 4 + vlen);
    free (buf);
    return 0;
}

/*  Answer one ZAP request (RFC 27) read from SOCK. */
static void
s_zap_handle (s_zap_state_t *state, zsock_t *sock)
{
    zmsg_t *request = zmsg_recv (sock);
    if (!request)
        return;
    char *version = zmsg_popstr (request);
    char *request_id = zmsg_popstr (request);
    char *domain = zmsg_popstr (request);
    char *address = zmsg_popstr (request);
    zframe_t *identity = zmsg_pop (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *key = zmsg_pop (request);
    const char *status = "400", *text = "unknown key", *user = "";
    vb_auth_role_t role = VB_AUTH_ROLE_NONE;
    char key_txt[Z85_KEY_LEN + 1] = "";

    vb_auth_dir_t *dir = NULL;
    if (domain && streq (domain, VB_AUTH_DOMAIN_WORKERS))
        dir = state->workers;
    else if (domain && (streq (domain, VB_AUTH_DOMAIN_CLIENTS)
                        || streq (domain, VB_AUTH_DOMAIN_EVENTS)))
        dir = state->clients;
    if (!version || !streq (version, "1.0") || !request_id) {
        status = "500";
        text = "malformed ZAP request";
    }
    else if (!dir || !mechanism || !streq (mechanism, "CURVE") || !key
             || zframe_size (key) != 32) {
        text = "only CURVE keys are accepted here";
    }
    else {
        zmq_z85_encode (key_txt, zframe_data (key), 32);
        vb_auth_dir_refresh (dir);
        const char *name = NULL;
        if (vb_auth_dir_lookup (dir, key_txt, &name, &role) == 0) {
            status = "200";
            text = "OK";
            user = name;
        }
    }
    if (streq (status, "200"))
        vb_debug ("key '%s' from %s accepted on %s", user, address ? address : "?", domain);
    else
        vb_warn ("connection from %s refused on %s: %s%s%s", address ? address : "?",
                 domain ? domain : "?", text, key_txt[0] ? " " : "", key_txt);

    zmsg_t *reply = zmsg_new ();
    zframe_t *meta = zframe_new (NULL, 0);
    if (reply && meta && streq (status, "200"))
        s_add_property (meta, VB_AUTH_PROP_ROLE, vb_auth_role_name (role));
    if (reply && meta) {
        zmsg_addstr (reply, "1.0");
        zmsg_addstr (reply, request_id ? request_id : "");
        zmsg_addstr (reply, status);
        zmsg_addstr (reply, text);
        zmsg_addstr (reply, user);
        zmsg_append (reply, &meta);
        zmsg_send (&reply, sock);
    }
    zframe_destroy (&meta);
    zmsg_destroy (&reply);
    zstr_free (&version);
    zstr_free (&request_id);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&mechanism);
    zframe_destroy (&identity);
    zframe_destroy (&key);
    zmsg_destroy (&request);
}

static void
s_zap_actor (zsock_t *pipe, void *arg)
{
    s_zap_state_t *state = arg;
    zsock_t *handler = zsock_new (ZMQ_REP);
    state->bind_rc = handler ? zsock_bind (handler, ZAP_ENDPOINT) : -1;
    zsock_signal (pipe, 0);
    if (state->bind_rc != 0) {
        zsock_destroy (&handler);
        return;
    }
    zpoller_t *poller = zpoller_new (pipe, handler, NULL);
    while (poller) {
        zsock_t *which = zpoller_wait (poller, -1);
        if (which == handler)
            s_zap_handle (state, handler);
        else if (which == pipe) {
            char *command = zstr_recv (pipe);
            bool term = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (term)
                break;
        }
        else if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&handler);
}

static void
s_state_free (s_zap_state_t **state_p)
{
    s_zap_state_t *state = *state_p;
    if (!state)
        return;
    vb_auth_dir_destroy (&state->workers);
    vb_auth_dir_destroy (&state->clients);
    free (state);
    *state_p = NULL;
}

/*  Load one allowed-key directory and log what it left out. */
static vb_auth_dir_t *
s_load_dir (const char *keys_dir, const char *sub, bool need_role, vb_error_t *err)
{
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%s", keys_dir, sub);
    vb_auth_dir_t *dir = vb_auth_dir_new (path, need_role, err);
    if (!dir)
        return NULL;
    zlistx_t *problems = vb_auth_dir_problems (dir);
    for (const char *p = zlistx_first (problems); p; p = zlistx_next (problems))
        vb_warn ("%s", p);
    vb_info ("%zu %s key(s) allowed from %s", vb_auth_dir_size (dir), sub, path);
    return dir;
}

vb_auth_server_t *
vb_auth_server_new (const char *keys_dir, vb_error_t *err)
{
    vb_auth_server_t *self = calloc (1, sizeof *self);
    char path[PATH_MAX];
    if (!self || !(self->state = calloc (1, sizeof *self->state))) {
        free (self);
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory starting the authenticator");
        return NULL;
    }
    snprintf (path, sizeof path, "%s/broker_secret", keys_dir);
    self->cert = vb_auth_cert_load (path, true, err);
    if (!self->cert)
        goto fail;
    self->state->workers = s_load_dir (keys_dir, "workers", false, err);
    if (!self->state->workers)
        goto fail;
    self->state->clients = s_load_dir (keys_dir, "clients", true, err);
    if (!self->state->clients)
        goto fail;
    self->actor = zactor_new (s_zap_actor, self->state);
    if (!self->actor || self->state->bind_rc != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot start the ZAP handler on %s (is another "
                      "authenticator running in this process?)", ZAP_ENDPOINT);
        goto fail;
    }
    return self;

fail:
    vb_auth_server_destroy (&self);
    return NULL;
}

void
vb_auth_server_destroy (vb_auth_server_t **self_p)
{
    vb_auth_server_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->actor);
    s_state_free (&self->state);
    zcert_destroy (&self->cert);
    free (self);
    *self_p = NULL;
}

void
vb_auth_server_apply (const vb_auth_server_t *self, zsock_t *sock, const char *domain)
{
    zcert_apply (self->cert, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, domain);
}

const char *
vb_auth_server_public (const vb_auth_server_t *self)
{
    return zcert_public_txt (self->cert);
}
