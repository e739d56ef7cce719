/*  vb_client — requests to a virtbus broker and gap-free event subscriptions (see vb_client.h).
 *
 *  Subscriber bookkeeping: `last` is the highest seq handed to (or known to be covered for) the
 *  caller. Live events arrive on the SUB into `inbox`; each is checked against `last`: a
 *  duplicate is dropped, the next seq is delivered, a jump asks the broker for events.replay
 *  (since last, same prefix) and delivers what the ring still holds, plus an explicit gap event
 *  for what it no longer holds. With a prefix filter seq jumps are normal (other topics), and the
 *  replay then simply returns nothing for them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vb_auth.h"
#include "vb_client.h"
#include "vb_json.h"
#include "vb_util.h"

#define VB_CLIENT_LINGER_MS 200
#define VB_CLIENT_INFO_DEADLINE_MS 2000
#define VB_SUB_SYNC_INTERVAL_MS 100
#define VB_SUB_SYNC_TRIES 50
#define VB_SUB_REPLAY_DEADLINE_MS 1000
#define VB_SUB_IDLE_CHECK_MS 1000
#define VB_SUB_REPLAY_RETRY_MS 100
#define VB_SUB_REPLAY_PAGES 1000
#define VB_SUB_REPLAY_PAGE 1000   /* events per events.replay answer */
#define VB_SUB_IDLE_MIN_BUDGET_MS 200

/*  Queue bounds of the client's sockets: a client that stops reading stalls itself, never the
 *  broker. Replies are capped by libzmq before allocation at the broker's reply limit + slack. */
#define VB_CLIENT_HWM 1000
/*  How long a failed first send waits for the monitor to explain it. */
#define VB_CLIENT_AUTH_WAIT_MS 500
#define VB_CLIENT_MAX_MSG ((int64_t) VB_LIMIT_WORKER_FRAME + (1 << 20))

/*  Handshake outcomes watched on the dealer's monitor. */
#define VB_CLIENT_MONITOR_EVENTS (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL \
                                  | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL \
                                  | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH \
                                  | ZMQ_EVENT_HANDSHAKE_SUCCEEDED \
                                  | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED)

struct _vb_client_t {
    char *endpoint;
    zsock_t *dealer;
    zsock_t *monitor;       /* PAIR receiving the dealer's handshake events */
    vb_auth_keys_t *keys;   /* NULL: no CURVE */
    bool connected;         /* a TCP connection is up whose handshake has not finished */
    bool handshake_ok;      /* some handshake with the broker has succeeded */
    uint64_t next_id;
    char *events_endpoint;  /* cached answer of broker.info */
};

struct _vb_subscriber_t {
    vb_client_t *client;   /* borrowed */
    zsock_t *sub;
    char *prefix;
    char *sync_topic;      /* "!sync/<token>" */
    uint64_t last;         /* highest seq delivered or covered; 0 = no baseline yet */
    bool have_baseline;
    uint64_t replayed;
    zlistx_t *inbox;       /* live events not yet checked (vb_event_t *) */
    zlistx_t *ready;       /* events to hand out, in order (vb_event_t *) */
    int64_t last_activity_ms;
    int64_t retry_at_ms;   /* when a failed replay may be tried again; 0 = no wait */
};

static void
s_event_free (void **item)
{
    vb_event_destroy ((vb_event_t **) item);
}

static bool
s_endpoint_is_valid (const char *ep)
{
    static const char *schemes[] = { "tcp://", "ipc://", "inproc://" };
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t n = strlen (schemes[i]);
        if (strncmp (ep, schemes[i], n) == 0 && ep[n] != '\0')
            return true;
    }
    return false;
}

/*  Watch the dealer's handshakes through a monitor PAIR, set up before it connects so no
 *  event is missed. */
static int
s_monitor_start (vb_client_t *self)
{
    /*  Not named after SELF's address: a client freed a moment ago may have had it, and ZeroMQ
     *  unbinds its monitor endpoint only later, in its reaper thread (EADDRINUSE, seen in
     *  tests). A count never repeats within the process. */
    static _Atomic unsigned long long monitors;
    char ep[64];
    snprintf (ep, sizeof ep, "inproc://vb-client-monitor-%llu", ++monitors);
    if (zmq_socket_monitor (zsock_resolve (self->dealer), ep, VB_CLIENT_MONITOR_EVENTS) != 0)
        return -1;
    self->monitor = zsock_new (ZMQ_PAIR);
    if (!self->monitor || zsock_connect (self->monitor, "%s", ep) != 0)
        return -1;
    return 0;
}

vb_client_t *
vb_client_new (const char *endpoint, vb_error_t *err)
{
    return vb_client_new_keyed (endpoint, NULL, NULL, err);
}

vb_client_t *
vb_client_new_keyed (const char *endpoint, const char *key_file, const char *server_key_file,
                     vb_error_t *err)
{
    vb_client_t *self = NULL;

    if (!endpoint || !*endpoint)
        endpoint = getenv ("VIRTBUS_BROKER");
    if (!endpoint || !*endpoint)
        endpoint = VB_CLIENT_DEFAULT_ENDPOINT;
    if (!key_file || !*key_file)
        key_file = getenv ("VIRTBUS_KEY");
    if (!server_key_file || !*server_key_file)
        server_key_file = getenv ("VIRTBUS_SERVER_KEY");
    if (server_key_file && !*server_key_file)
        server_key_file = NULL;
    if (!s_endpoint_is_valid (endpoint)) {
        vb_error_set (err, VB_ERR_INVALID_ARG,
                      "broker endpoint '%s' is malformed; expected tcp://HOST:PORT or ipc://PATH",
                      endpoint);
        return NULL;
    }
    self = calloc (1, sizeof *self);
    if (!self)
        goto nomem;
    if (key_file && *key_file) {
        self->keys = vb_auth_keys_new (key_file, server_key_file, err);
        if (!self->keys) {
            vb_client_destroy (&self);
            return NULL;
        }
    }
    self->endpoint = strdup (endpoint);
    self->dealer = zsock_new (ZMQ_DEALER);
    if (!self->endpoint || !self->dealer)
        goto nomem;
    zsock_set_linger (self->dealer, VB_CLIENT_LINGER_MS);
    zsock_set_sndtimeo (self->dealer, 0);
    zsock_set_sndhwm (self->dealer, VB_CLIENT_HWM);
    zsock_set_rcvhwm (self->dealer, VB_CLIENT_HWM);
    zsock_set_maxmsgsize (self->dealer, VB_CLIENT_MAX_MSG);
    if (self->keys)
        vb_auth_keys_apply (self->keys, self->dealer);
    if (s_monitor_start (self) != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot monitor the connection to broker '%s': %s",
                      endpoint, zmq_strerror (zmq_errno ()));
        vb_client_destroy (&self);
        return NULL;
    }
    if (zsock_connect (self->dealer, "%s", endpoint) != 0) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "cannot connect to broker endpoint '%s': %s",
                      endpoint, zmq_strerror (zmq_errno ()));
        vb_client_destroy (&self);
        return NULL;
    }
    return self;

nomem:
    vb_error_set (err, VB_ERR_INTERNAL, "out of memory creating a client for '%s'", endpoint);
    vb_client_destroy (&self);
    return NULL;
}

void
vb_client_destroy (vb_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vb_client_t *self = *self_p;
    if (self->dealer && self->monitor)
        zmq_socket_monitor (zsock_resolve (self->dealer), NULL, 0);
    zsock_destroy (&self->monitor);
    zsock_destroy (&self->dealer);
    vb_auth_keys_destroy (&self->keys);
    free (self->endpoint);
    free (self->events_endpoint);
    free (self);
    *self_p = NULL;
}

const char *
vb_client_endpoint (const vb_client_t *self)
{
    return self ? self->endpoint : NULL;
}

zsock_t *
vb_client_socket (vb_client_t *self)
{
    return self ? self->dealer : NULL;
}

static int s_wait_reply (vb_client_t *self, int64_t timeout_ms, vb_error_t *err);

int
vb_client_send (vb_client_t *self, const char *op, const vb_target_t *target, json_object *args,
                uint32_t deadline_ms, uint64_t *id_out, vb_error_t *err)
{
    vb_request_t *req = NULL;
    zframe_t *body = NULL;
    zmsg_t *msg = NULL;
    int rc = -1;
    uint64_t id;

    if (!self || !op || !*op) {
        json_object_put (args);
        return vb_error_set (err, VB_ERR_INVALID_ARG, "a request needs a client and an op");
    }
    id = ++self->next_id;
    req = vb_request_new (id, op, target, args, deadline_ms);
    if (!req) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory building request '%s'", op);
        goto cleanup;
    }
    body = vb_request_encode (req);
    if (body)
        msg = vb_client_msg_new (&body);
    if (!msg) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory encoding request '%s'", op);
        goto cleanup;
    }
    if (zmsg_send (&msg, self->dealer) != 0) {
        /*  A refused handshake drops the connection's queue, so the send fails: say why, once
         *  the monitor has had a moment to report it, rather than "queue full". */
        if (!self->handshake_ok && s_wait_reply (self, VB_CLIENT_AUTH_WAIT_MS, err) == -2)
            goto cleanup;
        vb_error_set (err, VB_ERR_BUSY,
                      "cannot queue request '%s' to broker at %s: the send queue is full", op,
                      self->endpoint);
        goto cleanup;
    }
    if (id_out)
        *id_out = id;
    rc = 0;

cleanup:
    zframe_destroy (&body);
    zmsg_destroy (&msg);
    vb_request_destroy (&req);
    return rc;
}

/*  Read one message from the dealer (it must be readable) and decode it. NULL with ERR
 *  (PROTOCOL) when it is not a valid reply. */
static vb_reply_t *
s_read_reply (vb_client_t *self, vb_error_t *err)
{
    zmsg_t *msg = zmsg_recv (self->dealer);
    vb_reply_t *reply = NULL;

    if (!msg) {
        vb_error_set (err, VB_ERR_PROTOCOL, "receiving from broker at %s failed: %s",
                      self->endpoint, zmq_strerror (zmq_errno ()));
        return NULL;
    }
    vb_limits_t limits = vb_limits_worker ();
    zframe_t *body = vb_client_msg_body (msg, err);
    if (body)
        reply = vb_reply_decode (body, &limits, err);
    zmsg_destroy (&msg);
    return reply;
}

/*  Wait up to TIMEOUT_MS (-1 forever) for the dealer to become readable. 1 readable, 0 timeout,
 *  -1 interrupted. */
static int
s_wait_readable (zsock_t *sock, int64_t timeout_ms)
{
    zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
    long tmo = timeout_ms < 0 ? -1 : (long) timeout_ms;
    int rc = zmq_poll (&item, 1, tmo);
    if (rc < 0)
        return -1;  /* interrupted (EINTR) or the context is terminating */
    return rc > 0 ? 1 : 0;
}

/*  Read the monitor's pending events. Returns -1 with ERR (DENIED, "authentication failed:
 *  ...") when a handshake failed, else 0. A keyed connection the broker closes before the
 *  handshake completes counts as failed: that is how a broker answers a client that does not
 *  know its real public key. */
static int
s_check_monitor (vb_client_t *self, vb_error_t *err)
{
    int rc = 0;
    while (rc == 0 && self->monitor && (zsock_events (self->monitor) & ZMQ_POLLIN)) {
        zmsg_t *msg = zmsg_recv (self->monitor);
        zframe_t *head = msg ? zmsg_first (msg) : NULL;
        if (!head || zframe_size (head) < 6) {
            zmsg_destroy (&msg);
            break;
        }
        uint16_t event;
        uint32_t value;
        memcpy (&event, zframe_data (head), 2);
        memcpy (&value, zframe_data (head) + 2, 4);
        zmsg_destroy (&msg);
        const char *why = NULL;
        if (event == ZMQ_EVENT_CONNECTED)
            self->connected = true;
        else if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            self->connected = false;
            self->handshake_ok = true;
        }
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            why = "the broker refused this client's key";
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
            why = self->keys ? "the broker does not speak CURVE, or not with these keys"
                             : "the broker requires a key (vbsh -k KEYFILE or $VIRTBUS_KEY)";
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
            why = self->keys ? "the handshake with the broker failed (wrong server key?)"
                             : "the broker requires a key (vbsh -k KEYFILE or $VIRTBUS_KEY)";
        else if (event == ZMQ_EVENT_DISCONNECTED && self->connected && self->keys)
            why = "the broker closed the connection during the handshake (wrong server key?)";
        if (event == ZMQ_EVENT_DISCONNECTED)
            self->connected = false;
        if (why) {
            vb_error_set (err, VB_ERR_DENIED, "authentication failed: %s at %s", why,
                          self->endpoint);
            rc = -1;
        }
    }
    return rc;
}

/*  Wait up to TIMEOUT_MS (-1 forever) for a reply, watching the handshake meanwhile. 1
 *  readable, 0 timeout, -1 interrupted, -2 authentication failed (ERR set). */
static int
s_wait_reply (vb_client_t *self, int64_t timeout_ms, vb_error_t *err)
{
    int64_t deadline = timeout_ms < 0 ? -1 : vb_now_ms () + timeout_ms;
    for (;;) {
        if (s_check_monitor (self, err) != 0)
            return -2;
        zmq_pollitem_t items[2] = {
            { zsock_resolve (self->dealer), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->monitor), 0, ZMQ_POLLIN, 0 },
        };
        long left = -1;
        if (deadline >= 0) {
            left = (long) (deadline - vb_now_ms ());
            if (left < 0)
                left = 0;
        }
        int rc = zmq_poll (items, 2, left);
        if (rc < 0)
            return -1;
        if (items[0].revents & ZMQ_POLLIN)
            return 1;
        if (rc == 0 || (deadline >= 0 && vb_now_ms () >= deadline)) {
            if (s_check_monitor (self, err) != 0)
                return -2;
            return 0;
        }
    }
}

/*  Wait for the reply to ID until WAIT_MS passed. */
static vb_reply_t *
s_wait_for (vb_client_t *self, uint64_t id, int64_t wait_ms, vb_error_t *err)
{
    int64_t deadline = vb_now_ms () + wait_ms;
    vb_error_t bad = { 0 };

    for (;;) {
        int64_t left = deadline - vb_now_ms ();
        if (left < 0)
            left = 0;
        int rc = s_wait_reply (self, left, err);
        if (rc == -2)
            return NULL;
        if (rc < 0) {
            vb_error_set (err, VB_ERR_TIMEOUT, "interrupted while waiting for broker at %s",
                          self->endpoint);
            return NULL;
        }
        if (rc == 0)
            break;
        vb_error_t one = { 0 };
        vb_reply_t *reply = s_read_reply (self, &one);
        if (!reply) {
            vb_error_copy (&bad, &one);
            continue;
        }
        if (reply->id == id)
            return reply;
        vb_reply_destroy (&reply);  /* a late answer to an earlier call */
    }
    if (bad.code != VB_OK)
        vb_error_copy (err, &bad);
    else
        vb_error_set (err, VB_ERR_TIMEOUT, "no answer from broker at %s within %" PRId64 " ms",
                      self->endpoint, wait_ms);
    return NULL;
}

vb_reply_t *
vb_client_call (vb_client_t *self, const char *op, const vb_target_t *target, json_object *args,
                uint32_t deadline_ms, vb_error_t *err)
{
    uint64_t id = 0;
    if (vb_client_send (self, op, target, args, deadline_ms, &id, err) != 0)
        return NULL;
    int64_t wait = (int64_t) (deadline_ms ? deadline_ms : VB_DEADLINE_SINGLE_MS)
                   + VB_CLIENT_GRACE_MS;
    return s_wait_for (self, id, wait, err);
}

vb_reply_t *
vb_client_recv (vb_client_t *self, int timeout_ms, vb_error_t *err)
{
    if (!self) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "no client to receive from");
        return NULL;
    }
    int64_t deadline = timeout_ms < 0 ? -1 : vb_now_ms () + timeout_ms;
    vb_error_t bad = { 0 };
    for (;;) {
        int64_t left = -1;
        if (deadline >= 0) {
            left = deadline - vb_now_ms ();
            if (left < 0)
                left = 0;
        }
        int rc = s_wait_reply (self, left, err);
        if (rc == -2)
            return NULL;
        if (rc <= 0)
            break;
        vb_error_t one = { 0 };
        vb_reply_t *reply = s_read_reply (self, &one);
        if (reply)
            return reply;
        vb_error_copy (&bad, &one);
    }
    if (bad.code != VB_OK)
        vb_error_copy (err, &bad);
    else
        vb_error_set (err, VB_ERR_TIMEOUT, "no answer from broker at %s within %d ms",
                      self->endpoint, timeout_ms);
    return NULL;
}

const char *
vb_client_events_endpoint (vb_client_t *self, vb_error_t *err)
{
    if (!self) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "no client to ask for the events endpoint");
        return NULL;
    }
    if (self->events_endpoint)
        return self->events_endpoint;

    vb_reply_t *reply = vb_client_call (self, "broker.info", NULL, NULL,
                                        VB_CLIENT_INFO_DEADLINE_MS, err);
    if (!reply)
        return NULL;
    if (!reply->ok) {
        vb_error_set (err, reply->code, "%s", reply->message);
    } else {
        const char *ep = vb_json_str (reply->result, "events", NULL);
        if (!ep)
            ep = vb_json_str (reply->result, "events_endpoint", NULL);
        if (!ep || !s_endpoint_is_valid (ep))
            vb_error_set (err, VB_ERR_PROTOCOL,
                          "broker at %s answered broker.info without a valid 'events' endpoint",
                          self->endpoint);
        else if (!(self->events_endpoint = strdup (ep)))
            vb_error_set (err, VB_ERR_INTERNAL, "out of memory caching the events endpoint");
    }
    vb_reply_destroy (&reply);
    return self->events_endpoint;
}

/* --- Subscriptions ----------------------------------------------------------------------- */

static bool
s_is_control_topic (zmsg_t *msg)
{
    zframe_t *topic = zmsg_first (msg);
    return topic && zframe_size (topic) > 0 && zframe_data (topic)[0] == '!';
}

static bool
s_is_sync (vb_subscriber_t *self, zmsg_t *msg)
{
    zframe_t *topic = zmsg_first (msg);
    return topic && zframe_streq (topic, self->sync_topic);
}

/*  Read every message waiting on the SUB into the inbox. Returns whether our sync marker was
 *  among them. */
static bool
s_drain_sub (vb_subscriber_t *self)
{
    bool synced = false;
    vb_limits_t limits = vb_limits_worker ();

    while (zsock_events (self->sub) & ZMQ_POLLIN) {
        zmsg_t *msg = zmsg_recv (self->sub);
        if (!msg)
            break;
        if (s_is_sync (self, msg))
            synced = true;
        else if (!s_is_control_topic (msg)) {
            /* A malformed publication cannot be delivered; seq checking will report what it
             * hid as soon as the next good event arrives. */
            vb_error_t err = { 0 };
            vb_event_t *ev = vb_event_decode (msg, &limits, &err);
            if (ev) {
                if (!zlistx_add_end (self->inbox, ev))
                    vb_event_destroy (&ev);
                self->last_activity_ms = vb_now_ms ();
            }
        }
        zmsg_destroy (&msg);
    }
    return synced;
}

static int
s_deliver (vb_subscriber_t *self, vb_event_t *ev, bool replayed)
{
    if (!zlistx_add_end (self->ready, ev)) {
        vb_event_destroy (&ev);
        return -1;
    }
    self->last = ev->seq;
    self->have_baseline = true;
    if (replayed)
        self->replayed++;
    return 0;
}

static int
s_deliver_gap (vb_subscriber_t *self, uint64_t from, uint64_t to)
{
    vb_event_t *gap = vb_event_new ();
    json_object *extra = json_object_new_object ();
    if (!gap || !extra)
        goto fail;
    json_object_object_add (extra, "from", json_object_new_uint64 (from));
    json_object_object_add (extra, "to", json_object_new_uint64 (to));
    gap->extra = extra;
    extra = NULL;
    gap->kind = strdup ("gap");
    gap->event = strdup ("gap");
    if (!gap->kind || !gap->event)
        goto fail;
    if (!zlistx_add_end (self->ready, gap))
        goto fail;
    /* The gap itself carries no seq of its own; the covered range moves on past it. */
    self->last = to;
    self->have_baseline = true;
    return 0;
fail:
    json_object_put (extra);
    vb_event_destroy (&gap);
    return -1;
}

/*  Ask the broker for every retained event after self->last matching the prefix and deliver
 *  them (plus a gap event for what the ring no longer holds). Returns 0; -1 with ERR when the
 *  broker could not be asked (TIMEOUT: try again later). A broker that answers with an error
 *  cannot fill the range: that is reported as a gap up to UPTO (when > 0). */
static int
s_replay (vb_subscriber_t *self, uint64_t upto, int64_t budget_ms, vb_error_t *err)
{
    for (int page = 0; page < VB_SUB_REPLAY_PAGES; page++) {
        json_object *args = json_object_new_object ();
        if (!args)
            return vb_error_set (err, VB_ERR_INTERNAL, "out of memory asking for a replay");
        json_object_object_add (args, "since", json_object_new_uint64 (self->last));
        json_object_object_add (args, "prefix", json_object_new_string (self->prefix));
        json_object_object_add (args, "limit", json_object_new_uint64 (VB_SUB_REPLAY_PAGE));
        uint32_t deadline = VB_SUB_REPLAY_DEADLINE_MS;
        if (budget_ms >= 0 && budget_ms < deadline)
            deadline = budget_ms > 50 ? (uint32_t) budget_ms : 50;
        uint64_t id = 0;
        if (vb_client_send (self->client, "events.replay", NULL, args, deadline, &id, err) != 0)
            return -1;
        /* Bounded by the caller's budget, not the full grace: a dead broker must not stretch
         * a recv() far past its timeout. */
        int64_t wait = (int64_t) deadline + VB_CLIENT_GRACE_MS;
        if (budget_ms >= 0 && budget_ms + 50 < wait)
            wait = budget_ms + 50;
        vb_reply_t *reply = s_wait_for (self->client, id, wait, err);
        if (!reply)
            return -1;
        if (!reply->ok) {
            uint64_t from = self->last + 1;
            vb_reply_destroy (&reply);
            if (upto >= from)
                return s_deliver_gap (self, from, upto);
            return 0;
        }

        json_object *result = reply->result;
        json_object *events = NULL;
        uint64_t first_seq = 0, last_seq = 0;
        bool more = false;
        if (result && json_object_is_type (result, json_type_array)) {
            events = result;
        } else if (result && json_object_is_type (result, json_type_object)) {
            json_object_object_get_ex (result, "events", &events);
            first_seq = vb_json_uint (result, "first_seq", 0);
            last_seq = vb_json_uint (result, "last_seq", 0);
            more = vb_json_bool (result, "more", false);
        }
        if (!events || !json_object_is_type (events, json_type_array)) {
            vb_reply_destroy (&reply);
            return vb_error_set (err, VB_ERR_PROTOCOL,
                                 "broker at %s answered events.replay without an event list",
                                 vb_client_endpoint (self->client));
        }
        if (first_seq > self->last + 1)
            s_deliver_gap (self, self->last + 1, first_seq - 1);

        size_t n = json_object_array_length (events);
        uint64_t before = self->last;
        for (size_t i = 0; i < n; i++) {
            vb_error_t one = { 0 };
            vb_event_t *ev = vb_event_from_json (json_object_array_get_idx (events, i), &one);
            if (!ev)
                continue;
            if (ev->seq <= self->last) {
                vb_event_destroy (&ev);
                continue;
            }
            s_deliver (self, ev, true);
        }
        /* A full page may have stopped short of the ring's end: ask again from where it
         * stopped. A shorter page went through the whole ring, so everything up to its end
         * that matches our prefix was in it. */
        if (n >= VB_SUB_REPLAY_PAGE)
            more = true;
        else if (last_seq > self->last) {
            self->last = last_seq;
            self->have_baseline = true;
        }
        vb_reply_destroy (&reply);
        if (!more || self->last == before)
            break;
    }
    return 0;
}

/*  Move inbox events to ready in seq order, replaying where seq jumps. Stops (returns -1) when a
 *  replay could not be done now; the jumping event stays first in the inbox. */
static int
s_process_inbox (vb_subscriber_t *self, int64_t budget_ms)
{
    vb_event_t *ev;
    while ((ev = zlistx_first (self->inbox))) {
        if (self->have_baseline && ev->seq <= self->last) {
            zlistx_delete (self->inbox, NULL);
            continue;
        }
        if (self->have_baseline && ev->seq > self->last + 1) {
            vb_error_t err = { 0 };
            if (s_replay (self, ev->seq - 1, budget_ms, &err) != 0)
                return -1;
            if (ev->seq <= self->last) {
                zlistx_delete (self->inbox, NULL);
                continue;
            }
        }
        ev = zlistx_detach (self->inbox, NULL);
        s_deliver (self, ev, false);
    }
    return 0;
}

vb_subscriber_t *
vb_subscriber_new (vb_client_t *client, const char *prefix, uint64_t since_seq, vb_error_t *err)
{
    vb_subscriber_t *self = NULL;
    zuuid_t *token = NULL;
    bool synced = false;

    const char *ep = vb_client_events_endpoint (client, err);
    if (!ep)
        return NULL;
    if (!prefix)
        prefix = "";
    if (prefix[0] == '!') {
        vb_error_set (err, VB_ERR_INVALID_ARG,
                      "event prefix '%s' is invalid: topics starting with '!' are reserved",
                      prefix);
        return NULL;
    }
    self = calloc (1, sizeof *self);
    token = zuuid_new ();
    if (!self || !token)
        goto nomem;
    self->client = client;
    self->prefix = strdup (prefix);
    self->inbox = zlistx_new ();
    self->ready = zlistx_new ();
    self->sub = zsock_new (ZMQ_SUB);
    if (!self->prefix || !self->inbox || !self->ready || !self->sub)
        goto nomem;
    zlistx_set_destructor (self->inbox, s_event_free);
    zlistx_set_destructor (self->ready, s_event_free);
    if (asprintf (&self->sync_topic, "!sync/%s", zuuid_str (token)) < 0) {
        self->sync_topic = NULL;
        goto nomem;
    }
    zsock_set_linger (self->sub, VB_CLIENT_LINGER_MS);
    zsock_set_rcvhwm (self->sub, 100000);
    zsock_set_maxmsgsize (self->sub, VB_CLIENT_MAX_MSG);
    if (client->keys)
        vb_auth_keys_apply (client->keys, self->sub);
    zsock_set_subscribe (self->sub, self->prefix);
    zsock_set_subscribe (self->sub, self->sync_topic);
    if (zsock_connect (self->sub, "%s", ep) != 0) {
        vb_error_set (err, VB_ERR_PROTOCOL, "cannot connect to the events endpoint '%s': %s", ep,
                      zmq_strerror (zmq_errno ()));
        goto fail;
    }
    if (since_seq > 0) {
        self->last = since_seq;
        self->have_baseline = true;
    }

    /* A SUB misses what is published before its subscription reaches the publisher; the broker
     * publishes our marker on request, and once we see it everything later reaches us. */
    for (int i = 0; i < VB_SUB_SYNC_TRIES && !synced; i++) {
        json_object *args = json_object_new_object ();
        if (!args)
            goto nomem;
        json_object_object_add (args, "token", json_object_new_string (zuuid_str (token)));
        if (vb_client_send (client, "events.sync", NULL, args, VB_CLIENT_INFO_DEADLINE_MS, NULL,
                            err) != 0)
            goto fail;
        int64_t until = vb_now_ms () + VB_SUB_SYNC_INTERVAL_MS;
        while (!synced) {
            int64_t left = until - vb_now_ms ();
            if (left <= 0)
                break;
            zmq_pollitem_t items[2] = {
                { zsock_resolve (self->sub), 0, ZMQ_POLLIN, 0 },
                { zsock_resolve (vb_client_socket (client)), 0, ZMQ_POLLIN, 0 },
            };
            if (zmq_poll (items, 2, (long) left) < 0)
                break;
            if (items[0].revents & ZMQ_POLLIN)
                synced = s_drain_sub (self);
            if (items[1].revents & ZMQ_POLLIN) {
                vb_error_t one = { 0 };
                vb_reply_t *reply = s_read_reply (client, &one);
                if (reply && !reply->ok) {
                    vb_error_set (err, reply->code, "%s", reply->message);
                    vb_reply_destroy (&reply);
                    goto fail;
                }
                vb_reply_destroy (&reply);
            }
        }
    }
    if (!synced) {
        vb_error_set (err, VB_ERR_TIMEOUT,
                      "no synchronisation marker from the events endpoint %s within %d ms", ep,
                      VB_SUB_SYNC_TRIES * VB_SUB_SYNC_INTERVAL_MS);
        goto fail;
    }
    if (since_seq > 0 && s_replay (self, 0, -1, err) != 0)
        goto fail;
    self->last_activity_ms = vb_now_ms ();
    zuuid_destroy (&token);
    return self;

nomem:
    vb_error_set (err, VB_ERR_INTERNAL, "out of memory creating a subscriber");
fail:
    zuuid_destroy (&token);
    vb_subscriber_destroy (&self);
    return NULL;
}

void
vb_subscriber_destroy (vb_subscriber_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    vb_subscriber_t *self = *self_p;
    zsock_destroy (&self->sub);
    zlistx_destroy (&self->inbox);
    zlistx_destroy (&self->ready);
    free (self->prefix);
    free (self->sync_topic);
    free (self);
    *self_p = NULL;
}

vb_event_t *
vb_subscriber_recv (vb_subscriber_t *self, int timeout_ms, vb_error_t *err)
{
    if (!self) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "no subscriber to receive from");
        return NULL;
    }
    int64_t deadline = timeout_ms < 0 ? -1 : vb_now_ms () + timeout_ms;

    for (;;) {
        vb_event_t *ev = zlistx_first (self->ready);
        if (ev)
            return zlistx_detach (self->ready, NULL);

        int64_t now = vb_now_ms ();
        int64_t left = deadline < 0 ? -1 : deadline - now;
        if (deadline >= 0 && left <= 0)
            break;

        s_drain_sub (self);
        if (zlistx_size (self->inbox) > 0 && now >= self->retry_at_ms) {
            if (s_process_inbox (self, left) != 0)
                self->retry_at_ms = vb_now_ms () + VB_SUB_REPLAY_RETRY_MS;
            else
                self->retry_at_ms = 0;
            continue;
        }

        /* Idle for a while: ask the ring whether something passed us by (a publication lost
         * while the SUB was reconnecting to a restarted broker leaves no jump to notice). */
        if (self->have_baseline && zlistx_size (self->inbox) == 0
            && now - self->last_activity_ms >= VB_SUB_IDLE_CHECK_MS
            && (left < 0 || left >= VB_SUB_IDLE_MIN_BUDGET_MS)) {
            vb_error_t one = { 0 };
            self->last_activity_ms = now;
            s_replay (self, 0, left, &one);
            continue;
        }

        int64_t wait = VB_SUB_IDLE_CHECK_MS;
        if (self->have_baseline)
            wait = self->last_activity_ms + VB_SUB_IDLE_CHECK_MS - now;
        if (zlistx_size (self->inbox) > 0)
            wait = self->retry_at_ms - now;
        if (wait < 1)
            wait = left >= 0 ? left : 1;  /* an idle check is due but the budget is too short */
        if (left >= 0 && left < wait)
            wait = left;
        if (s_wait_readable (self->sub, wait) < 0)
            break;
    }
    vb_error_set (err, VB_ERR_TIMEOUT, "no event within %d ms", timeout_ms);
    return NULL;
}

uint64_t
vb_subscriber_replayed (const vb_subscriber_t *self)
{
    return self ? self->replayed : 0;
}

zsock_t *
vb_subscriber_socket (vb_subscriber_t *self)
{
    return self ? self->sub : NULL;
}
