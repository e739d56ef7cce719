/*  vb_worker — the worker core: broker link, heartbeats, request dispatch, events.
 *
 *  Everything runs on one zloop owned by the worker; drivers add their own readers and timers to
 *  it. The broker link is a DEALER with ZMQ_IMMEDIATE and a zero send timeout: a message is only
 *  ever queued on a completed connection and a send never blocks. What the socket cannot take at
 *  once (its high-water mark is reached during an event burst) waits in the worker's own ordered
 *  out-queue, flushed on a short timer, so DOMAINS, EVENTs and REPLYs reach the broker in the
 *  order they were made (a define's DOMAINS before its reply, emitted events before the reply of
 *  the request that emitted them). Nothing is queued while the worker is not registered, and the
 *  out-queue is dropped whenever READY is sent again: queued replies are stale by then (the
 *  broker has answered TIMEOUT or WORKER_LOST), events are resent from the pending queue after
 *  READY, and READY carries the inventory. READY itself bypasses the out-queue and is retried on
 *  a short timer until a connection takes it.
 */
#include "vb_worker.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vb_auth.h"
#include "vb_event_journal.h"
#include "vb_json.h"
#include "vb_log.h"
#include "vb_proto.h"
#include "vb_util.h"

/*  Answered (origin, id) pairs remembered for idempotent retries. */
#define VB_WORKER_CACHE_MAX 1024
/*  How often READY is retried while no connection has taken it. */
#define VB_WORKER_READY_RETRY_MS 20
/*  The broker is presumed dead after this many silent heartbeat intervals. */
#define VB_WORKER_LIVENESS 3
/*  Messages waiting for the socket; beyond this a new message is dropped (events stay pending
 *  and go again after the next READY). */
#define VB_WORKER_OUTQ_MAX 262144
/*  How often the out-queue is retried while the socket is full. */
#define VB_WORKER_FLUSH_MS 1
/*  Longest time a journal record written for a sent event waits for its fdatasync. */
#define VB_WORKER_JOURNAL_SYNC_MS 20

/*  One entry of the idempotency cache. REPLY is NULL while the request is in flight. */
typedef struct {
    char *key;            /* "<origin>\n<id>" */
    json_object *reply;   /* the REPLY body sent the first time; owned */
} s_cache_entry_t;

/*  An event kept until the broker acknowledges it. The queue is ordered by wseq and mirrors the
 *  event journal (vb_event_journal), which keeps it across a restart. */
typedef struct {
    uint64_t wseq;
    json_object *body;    /* the EVENT body; owned */
} s_pending_event_t;

struct _vb_call_t {
    vb_worker_t *worker;
    char *op;
    char *domain;         /* NULL when the request has no target domain */
    json_object *args;    /* owned, always an object */
    uint64_t id;
    char *cache_key;
    int64_t deadline_at;  /* monotonic ms */
    void *handle;         /* in worker->calls */
};

struct _vb_worker_t {
    char *broker;
    char *host;
    char *id;
    char *driver_dir;
    int heartbeat_ms;
    const vb_driver_t *driver;
    void *driver_state;
    vb_limits_t limits;

    zloop_t *loop;
    zsock_t *dealer;
    vb_auth_keys_t *keys;    /* CURVE keys for the broker link; NULL = none */
    int heartbeat_timer;
    int ready_timer;         /* -1 when READY needs no retry */
    int stop_timer;          /* -1 unless vb_worker_stop() was called */
    bool ready_sent;         /* READY taken by a connection since the last (re)connect */
    bool ready_acked;        /* the broker sent something other than DISCONNECT since READY */
    int64_t ready_sent_at;   /* when the last READY left (monotonic ms) */
    zlistx_t *outq;          /* zmsg_t * the socket could not take yet, in order */
    int flush_timer;         /* -1 when the out-queue is empty */
    bool print_ready;        /* print the `ready ...` line once (vb_worker_main) */
    bool printed_ready;
    int64_t last_heard;      /* monotonic ms of the last message from the broker */
    int64_t last_tick;       /* monotonic ms of the last heartbeat tick */

    uint64_t next_wseq;
    zlistx_t *pending;       /* s_pending_event_t *, ascending wseq */
    vb_event_journal_t *journal;
    uint64_t unsent_from;    /* first pending wseq not sent yet (journal not synced); 0 = none */
    int event_timer;         /* -1 unless unsent events wait for the end of the loop turn */
    int journal_sync_fd;     /* timerfd that fires the journal's delayed fdatasync; -1 = none */
    bool journal_sync_armed; /* written journal records await their fdatasync */

    zhashx_t *cache;         /* key -> s_cache_entry_t * */
    zlistx_t *cache_order;   /* keys of answered entries, oldest first (borrowed from entries) */
    zlistx_t *calls;         /* vb_call_t * in flight */
};

static void s_call_free (vb_call_t **call_p);

/* --- small helpers ------------------------------------------------------------------------- */

static void
s_cache_entry_destroy (void **item)
{
    s_cache_entry_t *entry = (s_cache_entry_t *) *item;
    if (entry) {
        json_object_put (entry->reply);
        free (entry->key);
        free (entry);
        *item = NULL;
    }
}

static void
s_pending_destroy (void **item)
{
    s_pending_event_t *ev = (s_pending_event_t *) *item;
    if (ev) {
        json_object_put (ev->body);
        free (ev);
        *item = NULL;
    }
}

/*  An id goes into the ROUTER identity frame and into logs: printable, no spaces, 1..128 bytes
 *  (the broker's limit for READY). */
#define VB_WORKER_ID_MAX 128

static bool
s_id_is_valid (const char *id)
{
    size_t len = strlen (id);
    if (len == 0 || len > VB_WORKER_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char) id[i] <= 0x20 || (unsigned char) id[i] >= 0x7f)
            return false;
    return true;
}

static void
s_zmsg_destructor (void **item)
{
    zmsg_destroy ((zmsg_t **) item);
}

/*  Send MSG now if the socket takes it. Returns 0 (MSG consumed) or -1 (MSG still the caller's). */
static int
s_send_now (vb_worker_t *self, zmsg_t **msg_p)
{
    return zmsg_send (msg_p, self->dealer) == 0? 0: -1;
}

/*  Timers that end themselves are one-shot and re-armed: zloop restarts its timer scan when a
 *  handler adds a timer (zlistx_add_end resets the list cursor), so a lagging repeating timer
 *  can fire again in the same turn after zloop_timer_end(), before its zombie is reaped. */
static int
s_on_flush (zloop_t *loop, int timer_id, void *arg)
{
    (void) timer_id;
    vb_worker_t *self = (vb_worker_t *) arg;
    self->flush_timer = -1;
    zmsg_t *msg;
    while ((msg = (zmsg_t *) zlistx_first (self->outq))) {
        if (s_send_now (self, &msg) != 0) {
            self->flush_timer = zloop_timer (loop, VB_WORKER_FLUSH_MS, 1, s_on_flush, self);
            return 0;
        }
        zlistx_detach_cur (self->outq);
    }
    return 0;
}

static void
s_outq_clear (vb_worker_t *self)
{
    zlistx_purge (self->outq);
    if (self->flush_timer != -1) {
        zloop_timer_end (self->loop, self->flush_timer);
        self->flush_timer = -1;
    }
}

/*  Send a worker command in order after everything sent before it; BODY taken. Dropped when the
 *  worker is not registered or the out-queue is full. Returns 0 when sent or queued, -1 when
 *  dropped. */
static void s_events_flush (vb_worker_t *self);

static int
s_send (vb_worker_t *self, vb_wcmd_t cmd, json_object *body)
{
    if (cmd != VB_WCMD_EVENT && self->unsent_from)
        s_events_flush (self);
    if (!self->ready_sent) {
        vb_debug ("worker %s: not registered; %s dropped", self->id, vb_wcmd_name (cmd));
        json_object_put (body);
        return -1;
    }
    zmsg_t *msg = vb_wmsg_encode (cmd, body);
    if (!msg)
        return -1;
    if (zlistx_size (self->outq) == 0 && s_send_now (self, &msg) == 0)
        return 0;
    if (zlistx_size (self->outq) >= VB_WORKER_OUTQ_MAX || !zlistx_add_end (self->outq, msg)) {
        vb_warn ("worker %s: %zu messages wait for the broker; %s dropped", self->id,
                 zlistx_size (self->outq), vb_wcmd_name (cmd));
        zmsg_destroy (&msg);
        return -1;
    }
    if (self->flush_timer == -1)
        self->flush_timer = zloop_timer (self->loop, VB_WORKER_FLUSH_MS, 1, s_on_flush, self);
    return 0;
}

static json_object *
s_inventory (vb_worker_t *self)
{
    json_object *domains = NULL;
    if (self->driver->inventory)
        domains = self->driver->inventory (self->driver_state);
    if (!domains || !json_object_is_type (domains, json_type_array)) {
        json_object_put (domains);
        domains = json_object_new_array ();
    }
    return domains;
}

/* --- events -------------------------------------------------------------------------------- */

/*  Keep BODY (taken on success) as pending event WSEQ; JOURNAL: also append it to the journal
 *  (false for events loaded from it). */
static int
s_pending_append (vb_worker_t *self, uint64_t wseq, json_object *body, bool journal)
{
    if (journal) {
        vb_error_t err = { 0 };
        if (vb_event_journal_append (self->journal, wseq, body, &err) != 0) {
            vb_error_log ("worker %s: %s", self->id, err.message);
            return -1;
        }
    }
    s_pending_event_t *ev = calloc (1, sizeof *ev);
    if (!ev)
        return -1;
    ev->wseq = wseq;
    ev->body = body;
    if (!zlistx_add_end (self->pending, ev)) {
        free (ev);
        return -1;
    }
    return 0;
}

/*  Acks are cumulative: everything up to WSEQ is safe with the broker. An ack beyond what was
 *  sent (a confused broker) must not drop events that never left. */
static void
s_pending_ack (vb_worker_t *self, uint64_t wseq)
{
    if (self->unsent_from && wseq >= self->unsent_from)
        wseq = self->unsent_from - 1;
    s_pending_event_t *ev = (s_pending_event_t *) zlistx_first (self->pending);
    while (ev && ev->wseq <= wseq) {
        zlistx_delete (self->pending, zlistx_cursor (self->pending));
        ev = (s_pending_event_t *) zlistx_first (self->pending);
    }
    vb_error_t err = { 0 };
    if (vb_event_journal_ack (self->journal, wseq, &err) != 0)
        vb_warn ("worker %s: %s", self->id, err.message);
}

static int
s_on_journal_sync_due (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    vb_worker_t *self = (vb_worker_t *) arg;
    uint64_t expirations;
    if (read (item->fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        vb_warn ("worker %s: journal sync timer: %s", self->id, strerror (errno));
    self->journal_sync_armed = false;
    vb_error_t err = { 0 };
    if (vb_event_journal_sync (self->journal, &err) != 0)
        vb_error_log ("worker %s: %s", self->id, err.message);
    return 0;
}

/*  Put the journal in the file before any event it holds leaves the process: a kill -9 of the
 *  worker then loses nothing (the data is in the page cache). The fdatasync that guards against
 *  a power loss follows within VB_WORKER_JOURNAL_SYNC_MS instead of in front of every event:
 *  at 1,000 events/s a sync per event was most of the delivery latency, and an event the broker
 *  has acknowledged is safe on the broker's journal anyway. The delay is a timerfd on the loop,
 *  not a zloop timer: adding zloop timers from inside other handlers (this runs from the event
 *  flush timer and from the broker reader) made CZMQ 4.2's loop miss input now and then. A
 *  failing disk is logged and the events go anyway: delivering them now beats holding them
 *  hostage. */
static void
s_journal_sync (vb_worker_t *self)
{
    vb_error_t err = { 0 };
    if (vb_event_journal_write (self->journal, &err) != 0)
        vb_error_log ("worker %s: events are sent without being in the journal: %s", self->id,
                      err.message);
    if (!vb_event_journal_unsynced (self->journal) || self->journal_sync_armed)
        return;
    struct itimerspec when = {
        .it_value = { .tv_sec = 0, .tv_nsec = VB_WORKER_JOURNAL_SYNC_MS * 1000000L } };
    if (self->journal_sync_fd >= 0 && timerfd_settime (self->journal_sync_fd, 0, &when, NULL) == 0)
        self->journal_sync_armed = true;
    else if (vb_event_journal_sync (self->journal, &err) != 0)   /* no timer: sync now */
        vb_error_log ("worker %s: %s", self->id, err.message);
}

static void
s_pending_resend (vb_worker_t *self)
{
    s_journal_sync (self);
    self->unsent_from = 0;
    for (s_pending_event_t *ev = (s_pending_event_t *) zlistx_first (self->pending); ev;
         ev = (s_pending_event_t *) zlistx_next (self->pending))
        if (s_send (self, VB_WCMD_EVENT, json_object_get (ev->body)) != 0)
            break;   /* the out-queue is full: the rest goes after the next READY */
}

/*  Send the events emitted since the last flush, after one journal sync for all of them. Called
 *  at the end of the loop turn that emitted them, and before any other message so that the order
 *  of events and replies is the order they were made in. */
static void
s_events_flush (vb_worker_t *self)
{
    if (self->event_timer != -1) {
        zloop_timer_end (self->loop, self->event_timer);
        self->event_timer = -1;
    }
    if (!self->unsent_from)
        return;
    s_journal_sync (self);
    uint64_t from = self->unsent_from;
    self->unsent_from = 0;
    for (s_pending_event_t *ev = (s_pending_event_t *) zlistx_first (self->pending); ev;
         ev = (s_pending_event_t *) zlistx_next (self->pending))
        if (ev->wseq >= from && s_send (self, VB_WCMD_EVENT, json_object_get (ev->body)) != 0)
            break;   /* dropped or the out-queue is full: resent after the next READY */
}

static int
s_on_events_due (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    vb_worker_t *self = (vb_worker_t *) arg;
    self->event_timer = -1;
    s_events_flush (self);
    return 0;
}

void
vb_worker_emit_event (vb_worker_t *self, const char *domain, const char *uuid, const char *kind,
                      const char *event, const char *detail, json_object *extra)
{
    json_object *body = json_object_new_object ();
    uint64_t wseq = self->next_wseq++;
    json_object_object_add (body, "wseq", json_object_new_uint64 (wseq));
    json_object_object_add (body, "time_ns", json_object_new_uint64 (vb_wall_ns ()));
    json_object_object_add (body, "domain", json_object_new_string (domain? domain: ""));
    json_object_object_add (body, "uuid", json_object_new_string (uuid? uuid: ""));
    json_object_object_add (body, "kind", json_object_new_string (kind? kind: ""));
    json_object_object_add (body, "event", json_object_new_string (event? event: ""));
    json_object_object_add (body, "detail", json_object_new_string (detail? detail: ""));
    if (extra)
        json_object_object_add (body, "extra", extra);
    if (s_pending_append (self, wseq, body, true) != 0) {
        vb_error_log ("worker %s: event %" PRIu64 " could not be kept and is lost", self->id,
                      wseq);
        json_object_put (body);
        return;
    }
    if (!self->unsent_from)
        self->unsent_from = wseq;
    /*  zloop runs a zero-delay timer on its next turn: every event of this turn shares one
     *  fdatasync. */
    if (self->event_timer == -1)
        self->event_timer = zloop_timer (self->loop, 0, 1, s_on_events_due, self);
}

/* --- registration -------------------------------------------------------------------------- */

static int s_ready_retry (zloop_t *loop, int timer_id, void *arg);

static void
s_ready_timer_stop (vb_worker_t *self)
{
    if (self->ready_timer != -1) {
        zloop_timer_end (self->loop, self->ready_timer);
        self->ready_timer = -1;
    }
}

/*  Send READY ahead of anything queued before it; on success resend the unacknowledged events,
 *  else retry on a short timer. */
static void
s_send_ready (vb_worker_t *self)
{
    self->ready_sent = false;
    s_outq_clear (self);
    json_object *body = json_object_new_object ();
    json_object_object_add (body, "worker", json_object_new_string (self->id));
    json_object_object_add (body, "host", json_object_new_string (self->host));
    json_object_object_add (body, "driver", json_object_new_string (self->driver->name));
    json_object_object_add (body, "version", json_object_new_int (VB_PROTO_VERSION));
    json_object_object_add (body, "pid", json_object_new_int64 ((int64_t) getpid ()));
    json_object_object_add (body, "domains", s_inventory (self));
    zmsg_t *msg = vb_wmsg_encode (VB_WCMD_READY, body);
    if (!msg || s_send_now (self, &msg) != 0) {
        zmsg_destroy (&msg);
        if (self->ready_timer == -1) {
            int retry = self->heartbeat_ms < VB_WORKER_READY_RETRY_MS?
                        self->heartbeat_ms: VB_WORKER_READY_RETRY_MS;
            self->ready_timer = zloop_timer (self->loop, (size_t) retry, 1, s_ready_retry, self);
        }
        return;
    }
    self->ready_sent = true;
    self->ready_acked = false;
    self->ready_sent_at = vb_now_ms ();
    s_ready_timer_stop (self);
    vb_info ("worker %s: READY sent to %s", self->id, self->broker);
    s_pending_resend (self);
}

/*  The broker answered our READY with something other than DISCONNECT (it sends a heartbeat at
 *  once): it knows us, so requests can reach us. Only now is the worker ready for its users. */
static void
s_registered (vb_worker_t *self)
{
    if (self->print_ready && !self->printed_ready && self->ready_sent) {
        printf ("ready worker=%s host=%s driver=%s broker=%s\n", self->id, self->host,
                self->driver->name, self->broker);
        fflush (stdout);
        self->printed_ready = true;
    }
}

static int
s_ready_retry (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    vb_worker_t *self = (vb_worker_t *) arg;
    self->ready_timer = -1;   /* one-shot: s_send_ready re-arms it if READY fails again */
    if (!self->ready_sent)
        s_send_ready (self);
    return 0;
}

void
vb_worker_inventory_changed (vb_worker_t *self)
{
    json_object *body = json_object_new_object ();
    json_object_object_add (body, "domains", s_inventory (self));
    s_send (self, VB_WCMD_DOMAINS, body);   /* unregistered: the next READY carries it */
}

/* --- the broker link ----------------------------------------------------------------------- */

static int s_on_broker (zloop_t *loop, zsock_t *reader, void *arg);

static zsock_t *
s_dealer_new (const char *endpoint, const char *id, const vb_auth_keys_t *keys,
              vb_error_t *err)
{
    zsock_t *dealer = zsock_new (ZMQ_DEALER);
    if (!dealer) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot create a ZeroMQ socket: %s",
                      zmq_strerror (errno));
        return NULL;
    }
    zsock_set_identity (dealer, id);
    if (keys)
        vb_auth_keys_apply (keys, dealer);
    zsock_set_immediate (dealer, 1);
    zsock_set_sndtimeo (dealer, 0);
    zsock_set_linger (dealer, 0);
    if (zsock_connect (dealer, "%s", endpoint) != 0) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "cannot connect to broker endpoint '%s': %s",
                      endpoint, zmq_strerror (errno));
        zsock_destroy (&dealer);
        return NULL;
    }
    return dealer;
}

/*  The broker went silent: drop everything queued towards it and start a fresh connection. */
static void
s_reconnect (vb_worker_t *self)
{
    vb_error_t err = { 0 };
    zsock_t *dealer = s_dealer_new (self->broker, self->id, self->keys, &err);
    if (!dealer) {
        vb_warn ("worker %s: %s; keeping the old connection", self->id, err.message);
        return;
    }
    zloop_reader_end (self->loop, self->dealer);
    zsock_destroy (&self->dealer);
    self->dealer = dealer;
    zloop_reader (self->loop, self->dealer, s_on_broker, self);
    zloop_reader_set_tolerant (self->loop, self->dealer);
    self->last_heard = vb_now_ms ();
    s_send_ready (self);
}

static int
s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    vb_worker_t *self = (vb_worker_t *) arg;
    /*  After a long handler (a big burst of work) the loop could not listen: the broker's
     *  messages may be waiting unread and the broker may not have been asked (no heartbeats went
     *  out). Silence counts only from when this worker was listening again. */
    int64_t now = vb_now_ms ();
    if ((zsock_events (self->dealer) & ZMQ_POLLIN)
        || now - self->last_tick > 2 * (int64_t) self->heartbeat_ms)
        self->last_heard = now;
    self->last_tick = now;
    if (now - self->last_heard > (int64_t) VB_WORKER_LIVENESS * self->heartbeat_ms) {
        /*  Warn once when a registered link goes quiet, not on every retry while the
         *  broker stays away. */
        vb_log (self->ready_sent? VB_LOG_WARN: VB_LOG_DEBUG,
                "worker %s: broker %s silent for %d intervals; reconnecting", self->id,
                self->broker, VB_WORKER_LIVENESS);
        s_reconnect (self);
    }
    else if (self->ready_sent)   /* else READY is being retried */
        s_send (self, VB_WCMD_HEARTBEAT, NULL);
    if (self->driver->tick)
        self->driver->tick (self->driver_state);
    return 0;
}

/* --- requests ------------------------------------------------------------------------------ */

/*  Send a REPLY body (borrowed); dropped when the link is down. */
static void
s_send_reply (vb_worker_t *self, json_object *reply)
{
    s_send (self, VB_WCMD_REPLY, json_object_get (reply));
}

/*  Remember REPLY (taken) as the answer of KEY, evicting the oldest answers beyond the bound. */
static void
s_cache_store (vb_worker_t *self, const char *key, json_object *reply)
{
    s_cache_entry_t *entry = (s_cache_entry_t *) zhashx_lookup (self->cache, key);
    if (!entry) {
        json_object_put (reply);
        return;
    }
    entry->reply = reply;
    zlistx_add_end (self->cache_order, entry->key);
    while (zlistx_size (self->cache_order) > VB_WORKER_CACHE_MAX) {
        char *oldest = (char *) zlistx_first (self->cache_order);
        zlistx_delete (self->cache_order, zlistx_cursor (self->cache_order));
        zhashx_delete (self->cache, oldest);
    }
}

static void
s_call_finish (vb_call_t *call, vb_reply_t *reply)
{
    vb_worker_t *self = call->worker;
    json_object *body = reply? vb_reply_to_json (reply): NULL;
    vb_reply_destroy (&reply);
    if (body) {
        s_send_reply (self, body);
        s_cache_store (self, call->cache_key, body);
    }
    else {
        vb_error_log ("worker %s: out of memory; reply to %s dropped", self->id, call->op);
        zhashx_delete (self->cache, call->cache_key);
    }
    zlistx_delete (self->calls, call->handle);
}

void
vb_call_reply_ok (vb_call_t *call, json_object *result)
{
    if (!result)
        result = json_object_new_object ();
    s_call_finish (call, vb_reply_new_ok (call->id, result));
}

void
vb_call_reply_error (vb_call_t *call, vb_error_code_t code, const char *fmt, ...)
{
    char message[VB_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (message, sizeof message, fmt, ap);
    va_end (ap);
    s_call_finish (call, vb_reply_new_error (call->id, code, message));
}

void
vb_call_reply_err (vb_call_t *call, const vb_error_t *err)
{
    s_call_finish (call, vb_reply_new_error (call->id, err->code, err->message));
}

const char *
vb_call_op (const vb_call_t *call)
{
    return call->op;
}

const char *
vb_call_domain (const vb_call_t *call)
{
    return call->domain;
}

json_object *
vb_call_args (const vb_call_t *call)
{
    return call->args;
}

int64_t
vb_call_remaining_ms (const vb_call_t *call)
{
    int64_t left = call->deadline_at - vb_now_ms ();
    return left > 0? left: 0;
}

void
vb_call_domain_info_add_origin (const vb_call_t *call, json_object *info)
{
    json_object_object_add (info, "host", json_object_new_string (call->worker->host));
    json_object_object_add (info, "driver", json_object_new_string (call->worker->driver->name));
    json_object_object_add (info, "worker", json_object_new_string (call->worker->id));
}

vb_worker_t *
vb_call_worker (const vb_call_t *call)
{
    return call->worker;
}

static void
s_call_free (vb_call_t **call_p)
{
    vb_call_t *call = *call_p;
    if (call) {
        free (call->op);
        free (call->domain);
        json_object_put (call->args);
        free (call->cache_key);
        free (call);
        *call_p = NULL;
    }
}

static void
s_call_destructor (void **item)
{
    s_call_free ((vb_call_t **) item);
}

/*  The ops of the driver table. NEEDS_DOMAIN: the core refuses the request without a target
 *  domain, so drivers never see a NULL domain for these. */
typedef struct {
    const char *op;
    size_t offset;
    bool needs_domain;
    bool fanout;
} s_op_t;

static const s_op_t s_ops[] = {
    { "domain.define",   offsetof (vb_driver_t, define),    false, false },
    { "domain.undefine", offsetof (vb_driver_t, undefine),  true,  false },
    { "domain.start",    offsetof (vb_driver_t, start),     true,  false },
    { "domain.shutdown", offsetof (vb_driver_t, shutdown),  true,  false },
    { "domain.destroy",  offsetof (vb_driver_t, destroy),   true,  false },
    { "domain.suspend",  offsetof (vb_driver_t, suspend),   true,  false },
    { "domain.resume",   offsetof (vb_driver_t, resume),    true,  false },
    { "domain.reboot",   offsetof (vb_driver_t, reboot),    true,  false },
    { "domain.info",     offsetof (vb_driver_t, get_info),  true,  false },
    { "domain.xml",      offsetof (vb_driver_t, get_xml),   true,  false },
    { "domain.list",     offsetof (vb_driver_t, list),      false, true },
    { "list",            offsetof (vb_driver_t, list),      false, true },
    { "domain.stats",    offsetof (vb_driver_t, get_stats), false, true },
    { "stats",           offsetof (vb_driver_t, get_stats), false, true },
};

static vb_driver_op_fn
s_lookup_op (const vb_driver_t *driver, const char *op, const s_op_t **entry_out)
{
    *entry_out = NULL;
    for (size_t i = 0; i < sizeof s_ops / sizeof s_ops[0]; i++)
        if (strcmp (s_ops[i].op, op) == 0) {
            *entry_out = &s_ops[i];
            return *(const vb_driver_op_fn *) ((const char *) driver + s_ops[i].offset);
        }
    if (driver->extra_ops)
        for (const struct vb_driver_extra_op *x = driver->extra_ops; x->op; x++)
            if (strcmp (x->op, op) == 0)
                return x->fn;
    return NULL;
}

static void
s_on_request (vb_worker_t *self, json_object *body)
{
    int64_t received = vb_now_ms ();
    vb_error_t err = { 0 };
    char *origin = NULL;
    char *key = NULL;
    vb_request_t *request = vb_request_from_json (body, &origin, &err);
    if (!request) {
        /*  The broker validated it; a request we still cannot read is answered when it has an
         *  id the broker can match, and otherwise only logged. */
        uint64_t id = vb_json_uint (body, "id", 0);
        vb_warn ("worker %s: unreadable REQUEST: %s", self->id, err.message);
        if (json_object_object_get_ex (body, "id", NULL)) {
            vb_reply_t *reply = vb_reply_new_from_error (id, &err);
            json_object *rbody = reply? vb_reply_to_json (reply): NULL;
            if (rbody)
                s_send_reply (self, rbody);
            json_object_put (rbody);
            vb_reply_destroy (&reply);
        }
        goto cleanup;
    }
    if (asprintf (&key, "%s\n%" PRIu64, origin? origin: "", request->id) < 0) {
        key = NULL;
        goto cleanup;
    }
    s_cache_entry_t *entry = (s_cache_entry_t *) zhashx_lookup (self->cache, key);
    if (entry) {
        if (entry->reply) {
            vb_debug ("worker %s: repeated request %" PRIu64 " answered from the cache",
                      self->id, request->id);
            s_send_reply (self, entry->reply);
        }
        goto cleanup;   /* in flight: its answer is on the way */
    }

    vb_call_t *call = calloc (1, sizeof *call);
    entry = calloc (1, sizeof *entry);
    if (!call || !entry) {
        free (call);
        free (entry);
        goto cleanup;
    }
    entry->key = key;
    key = NULL;
    zhashx_insert (self->cache, entry->key, entry);

    const s_op_t *known = NULL;
    vb_driver_op_fn fn = s_lookup_op (self->driver, request->op, &known);
    uint32_t budget = request->deadline_ms;
    if (budget == 0)
        budget = known && known->fanout? VB_DEADLINE_FANOUT_MS: VB_DEADLINE_SINGLE_MS;

    call->worker = self;
    call->id = request->id;
    call->op = request->op;
    request->op = NULL;
    call->domain = request->target.domain;
    request->target.domain = NULL;
    call->args = request->args? request->args: json_object_new_object ();
    request->args = NULL;
    call->cache_key = strdup (entry->key);
    call->deadline_at = received + budget;
    call->handle = zlistx_add_end (self->calls, call);
    if (!call->cache_key || !call->handle) {
        zhashx_delete (self->cache, entry->key);
        if (call->handle)
            zlistx_delete (self->calls, call->handle);
        else
            s_call_free (&call);
        goto cleanup;
    }

    if (!fn)
        vb_call_reply_error (call, VB_ERR_UNSUPPORTED,
                             "operation '%s' is not supported by the %s driver", call->op,
                             self->driver->name);
    else if (known && known->needs_domain && (!call->domain || !*call->domain))
        vb_call_reply_error (call, VB_ERR_INVALID_ARG,
                             "operation '%s' needs a target domain", call->op);
    else
        fn (self->driver_state, call);

cleanup:
    free (key);
    free (origin);
    vb_request_destroy (&request);
}

/*  Messages handled per wake-up of the broker link; the rest waits for the next loop turn. */
#define VB_WORKER_READ_BATCH 256

/*  Handle one message from the broker. *READIED: READY was already sent in this batch. */
static void
s_on_broker_message (vb_worker_t *self, zmsg_t *msg)
{
    vb_error_t err = { 0 };
    vb_wmsg_t *wmsg = vb_wmsg_decode (msg, &self->limits, &err);
    if (!wmsg) {
        vb_warn ("worker %s: malformed message from the broker ignored: %s", self->id,
                 err.message);
        return;
    }
    vb_debug ("worker %s: %s from the broker", self->id, vb_wcmd_name (wmsg->cmd));
    if (wmsg->cmd != VB_WCMD_DISCONNECT) {
        self->ready_acked = true;
        s_registered (self);
    }
    switch (wmsg->cmd) {
        case VB_WCMD_HEARTBEAT:
            break;
        case VB_WCMD_DISCONNECT:
            /*  A restarted broker answers every message that was queued before our READY with
             *  a DISCONNECT; those arrive before its acknowledgment of the READY (a heartbeat)
             *  and are stale. Answering each would resend the whole pending queue once per
             *  stale DISCONNECT, so while a READY is unacknowledged and younger than an
             *  interval, DISCONNECTs are ignored; after that (a READY lost on the way) one is
             *  answered again. */
            if (self->ready_sent && !self->ready_acked
                && vb_now_ms () - self->ready_sent_at < self->heartbeat_ms)
                break;
            vb_info ("worker %s: the broker does not know us (%s); sending READY", self->id,
                     vb_json_str (wmsg->body, "reason", "no reason given"));
            s_send_ready (self);
            break;
        case VB_WCMD_EVENT_ACK:
            s_pending_ack (self, vb_json_uint (wmsg->body, "wseq", 0));
            break;
        case VB_WCMD_REQUEST:
            s_on_request (self, wmsg->body);
            break;
        default:
            vb_warn ("worker %s: unexpected %s from the broker ignored", self->id,
                     vb_wcmd_name (wmsg->cmd));
            break;
    }
    vb_wmsg_destroy (&wmsg);
}

static int
s_on_broker (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    vb_worker_t *self = (vb_worker_t *) arg;
    /*  Readable is checked before every receive, the first included: zloop may call a reader
     *  with nothing to read (seen after SIGSTOP and SIGCONT during an event burst), and
     *  zmsg_recv would then block the worker for good. */
    for (int i = 0; i < VB_WORKER_READ_BATCH && (zsock_events (self->dealer) & ZMQ_POLLIN);
         i++) {
        zmsg_t *msg = zmsg_recv (self->dealer);
        if (!msg)
            break;   /* interrupted; zloop sees zsys_interrupted */
        self->last_heard = vb_now_ms ();
        s_on_broker_message (self, msg);
        zmsg_destroy (&msg);
    }
    return 0;
}

/* --- lifecycle ----------------------------------------------------------------------------- */

/*  Open the event journal and take back what it holds: wseq continues after the highest ever
 *  used, and the unacknowledged events become pending again (sent after READY). Before the
 *  driver opens, since a driver reattaching to its domains may emit events at once. */
static int
s_journal_open (vb_worker_t *self, vb_error_t *err)
{
    char *path = vb_event_journal_path (self->driver_dir, self->id);
    if (!path) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory while opening the event journal");
        return -1;
    }
    self->journal = vb_event_journal_open (path, err);
    free (path);
    if (!self->journal)
        return -1;
    self->next_wseq = vb_event_journal_high_wseq (self->journal) + 1;
    json_object *loaded = vb_event_journal_take_loaded (self->journal);
    size_t n = loaded? json_object_array_length (loaded): 0;
    for (size_t i = 0; i < n; i++) {
        json_object *body = json_object_get (json_object_array_get_idx (loaded, i));
        if (s_pending_append (self, vb_json_uint (body, "wseq", 0), body, false) != 0) {
            json_object_put (body);
            json_object_put (loaded);
            vb_error_set (err, VB_ERR_INTERNAL, "out of memory while loading the event journal");
            return -1;
        }
    }
    json_object_put (loaded);
    if (n)
        vb_info ("worker %s: %zu unacknowledged events from the journal will be resent",
                 self->id, n);
    return 0;
}

static vb_worker_t *
s_worker_new (const vb_worker_config_t *config, const vb_driver_t *driver, bool print_ready,
              vb_error_t *err)
{
    vb_worker_t *self = NULL;
    char hostbuf[256];
    char resolved[PATH_MAX];
    const char *host = config->host;

    if (!driver || !driver->name || !driver->open) {
        vb_error_set (err, VB_ERR_INTERNAL, "the worker was given an incomplete driver table");
        goto fail;
    }
    if (!host) {
        if (gethostname (hostbuf, sizeof hostbuf) != 0) {
            vb_error_set (err, VB_ERR_INTERNAL, "cannot read the host name: %s",
                          strerror (errno));
            goto fail;
        }
        hostbuf[sizeof hostbuf - 1] = '\0';
        host = hostbuf;
    }
    if (!vb_name_is_valid (host)) {
        vb_error_set (err, VB_ERR_INVALID_ARG,
                      "host name '%s' is not valid: use 1-64 of A-Z a-z 0-9 _ . - +", host);
        goto fail;
    }
    if (config->id && !s_id_is_valid (config->id)) {
        vb_error_set (err, VB_ERR_INVALID_ARG,
                      "worker id '%s' is not valid: use 1-%d printable characters, no spaces",
                      config->id, VB_WORKER_ID_MAX);
        goto fail;
    }
    if (config->heartbeat_ms < 0 || config->heartbeat_ms > 3600000) {
        vb_error_set (err, VB_ERR_INVALID_ARG,
                      "heartbeat interval %d ms is out of range 1..3600000", config->heartbeat_ms);
        goto fail;
    }

    self = calloc (1, sizeof *self);
    if (!self)
        goto oom;
    self->driver = driver;
    self->heartbeat_ms = config->heartbeat_ms? config->heartbeat_ms: VB_HEARTBEAT_DEFAULT_MS;
    self->limits = vb_limits_worker ();
    self->ready_timer = -1;
    self->stop_timer = -1;
    self->heartbeat_timer = -1;
    self->flush_timer = -1;
    self->event_timer = -1;
    self->journal_sync_fd = -1;
    self->print_ready = print_ready;
    self->next_wseq = 1;
    self->broker = strdup (config->broker? config->broker: VB_WORKER_DEFAULT_BROKER);
    self->host = strdup (host);
    if (asprintf (&self->driver_dir, "%s/%s/%s",
                  config->state_dir? config->state_dir: VB_WORKER_DEFAULT_STATE_DIR,
                  self->host? self->host: "", driver->name) < 0)
        self->driver_dir = NULL;
    self->pending = zlistx_new ();
    self->outq = zlistx_new ();
    self->cache = zhashx_new ();
    self->cache_order = zlistx_new ();
    self->calls = zlistx_new ();
    self->loop = zloop_new ();
    if (!self->broker || !self->host || !self->driver_dir || !self->pending || !self->outq
        || !self->cache
        || !self->cache_order || !self->calls || !self->loop)
        goto oom;
    zlistx_set_destructor (self->pending, s_pending_destroy);
    zlistx_set_destructor (self->outq, s_zmsg_destructor);
    zhashx_set_destructor (self->cache, s_cache_entry_destroy);
    zlistx_set_destructor (self->calls, s_call_destructor);

    if (vb_mkdir_p (self->driver_dir, 0700, err) != 0)
        goto fail;
    if (!realpath (self->driver_dir, resolved)) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot resolve state directory %s: %s",
                      self->driver_dir, strerror (errno));
        goto fail;
    }
    if (config->id)
        self->id = strdup (config->id);
    else {
        char hex[17];
        snprintf (hex, sizeof hex, "%016" PRIx64, vb_hash64 (resolved, strlen (resolved)));
        if (asprintf (&self->id, "%s-%s-%.8s", self->host, driver->name, hex) < 0)
            self->id = NULL;
    }
    if (!self->id)
        goto oom;
    if (s_journal_open (self, err) != 0)
        goto fail;

    if (config->key_file
        && !(self->keys = vb_auth_keys_new (config->key_file, config->server_key, err)))
        goto fail;
    self->dealer = s_dealer_new (self->broker, self->id, self->keys, err);
    if (!self->dealer)
        goto fail;

    vb_driver_config_t dconfig = {
        .host = self->host,
        .worker_id = self->id,
        .state_dir = self->driver_dir,
        .heartbeat_ms = self->heartbeat_ms,
    };
    self->driver_state = driver->open (self, &dconfig, err);
    if (!self->driver_state) {
        if (err && err->code == VB_OK)
            vb_error_set (err, VB_ERR_INTERNAL, "the %s driver failed to open", driver->name);
        goto fail;
    }

    self->journal_sync_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    zmq_pollitem_t sync_item = { .fd = self->journal_sync_fd, .events = ZMQ_POLLIN };
    if (self->journal_sync_fd < 0
        || zloop_poller (self->loop, &sync_item, s_on_journal_sync_due, self) != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot create the journal sync timer: %s",
                      strerror (errno));
        goto fail;
    }
    zloop_reader (self->loop, self->dealer, s_on_broker, self);
    /*  A poll error on the link must not silently unregister it: the liveness check recreates
     *  the socket instead. */
    zloop_reader_set_tolerant (self->loop, self->dealer);
    self->heartbeat_timer = zloop_timer (self->loop, (size_t) self->heartbeat_ms, 0,
                                         s_on_heartbeat, self);
    self->last_heard = self->last_tick = vb_now_ms ();
    s_send_ready (self);
    return self;

oom:
    vb_error_set (err, VB_ERR_INTERNAL, "out of memory while creating the worker");
fail:
    vb_worker_destroy (&self);
    return NULL;
}

vb_worker_t *
vb_worker_new (const vb_worker_config_t *config, const vb_driver_t *driver, vb_error_t *err)
{
    return s_worker_new (config, driver, false, err);
}

void
vb_worker_destroy (vb_worker_t **self_p)
{
    vb_worker_t *self = *self_p;
    if (!self)
        return;
    /*  The driver closes first, with the loop still alive so it can end its timers; calls it
     *  still held are freed below without an answer (the broker answers them WORKER_LOST). */
    if (self->driver_state && self->driver->close)
        self->driver->close (self->driver_state);
    zlistx_destroy (&self->calls);
    if (self->journal) {
        /*  Events emitted but not sent yet are kept for the next start. */
        vb_error_t err = { 0 };
        if (vb_event_journal_sync (self->journal, &err) != 0)
            vb_warn ("worker %s: %s", self->id, err.message);
        vb_event_journal_destroy (&self->journal);
    }
    zloop_destroy (&self->loop);
    if (self->journal_sync_fd >= 0)
        close (self->journal_sync_fd);
    zsock_destroy (&self->dealer);
    vb_auth_keys_destroy (&self->keys);
    zlistx_destroy (&self->cache_order);
    zhashx_destroy (&self->cache);
    zlistx_destroy (&self->pending);
    zlistx_destroy (&self->outq);
    free (self->broker);
    free (self->host);
    free (self->id);
    free (self->driver_dir);
    free (self);
    *self_p = NULL;
}

int
vb_worker_run (vb_worker_t *self)
{
    zloop_start (self->loop);
    return 0;
}

static int
s_on_stop (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    ((vb_worker_t *) arg)->stop_timer = -1;
    return -1;
}

void
vb_worker_stop (vb_worker_t *self)
{
    /*  A handler cannot leave zloop_start() except by returning -1 itself; a one-shot timer
     *  does that on the next turn, whoever called us. */
    if (self->stop_timer == -1)
        self->stop_timer = zloop_timer (self->loop, 1, 1, s_on_stop, self);
}

zloop_t *
vb_worker_loop (vb_worker_t *self)
{
    return self->loop;
}

const char *
vb_worker_id (const vb_worker_t *self)
{
    return self->id;
}

const char *
vb_worker_host (const vb_worker_t *self)
{
    return self->host;
}

const char *
vb_worker_driver_name (const vb_worker_t *self)
{
    return self->driver->name;
}

/* --- the process --------------------------------------------------------------------------- */

static void
s_usage (FILE *out, const char *program, const vb_driver_t *driver)
{
    fprintf (out,
             "usage: %s [--broker EP] [--host NAME] [--state-dir DIR] [--id ID]\n"
             "       %*s [--heartbeat-ms N] [--log-level LEVEL] [--key FILE] "
             "[--server-key FILE]\n"
             "       %*s [--help] [--version]\n"
             "\n", program, (int) strlen (program), "", (int) strlen (program), "");
    if (driver->help)
        fprintf (out, "%s\n\n", driver->help);
    fprintf (out,
             "  --broker EP         broker worker endpoint (default %s)\n"
             "  --host NAME         host name announced to the broker (default: the hostname)\n"
             "  --state-dir DIR     state root; this driver keeps <DIR>/<host>/%s (default %s)\n"
             "  --id ID             stable worker id (default <host>-%s-<hash of the state dir>)\n"
             "  --heartbeat-ms N    heartbeat interval in milliseconds (default %d)\n"
             "  --log-level LEVEL   error | warn | info | debug (default warn)\n"
             "  --key FILE          this worker's CurveZMQ secret certificate (for a broker\n"
             "                      with --keys)\n"
             "  --server-key FILE   the broker's public certificate (default: the broker-key\n"
             "                      recorded in --key's certificate)\n"
             "\n"
             "Once registered with the broker it prints one line on stdout:\n"
             "  ready worker=ID host=HOST driver=%s broker=EP\n"
             "SIGTERM or SIGINT stops it; the domains it manages are left as they are.\n",
             VB_WORKER_DEFAULT_BROKER, driver->name, VB_WORKER_DEFAULT_STATE_DIR, driver->name,
             VB_HEARTBEAT_DEFAULT_MS, driver->name);
}

int
vb_worker_main (int argc, char **argv, const vb_driver_t *driver)
{
    static const struct option options[] = {
        { "broker", required_argument, NULL, 'b' },
        { "host", required_argument, NULL, 'H' },
        { "state-dir", required_argument, NULL, 's' },
        { "id", required_argument, NULL, 'i' },
        { "heartbeat-ms", required_argument, NULL, 't' },
        { "log-level", required_argument, NULL, 'l' },
        { "key", required_argument, NULL, 'k' },
        { "server-key", required_argument, NULL, 'K' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    char program[64];
    snprintf (program, sizeof program, "virtbus-%s", driver->name);
    vb_worker_config_t config = { .state_dir = VB_WORKER_DEFAULT_STATE_DIR };
    vb_log_level_t level = VB_LOG_WARN;
    vb_log_init (program, level);

    opterr = 0;
    int c;
    while ((c = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (c) {
            case 'b': config.broker = optarg; break;
            case 'H': config.host = optarg; break;
            case 's': config.state_dir = optarg; break;
            case 'i': config.id = optarg; break;
            case 'k': config.key_file = optarg; break;
            case 'K': config.server_key = optarg; break;
            case 't': {
                char *end = NULL;
                errno = 0;
                long ms = strtol (optarg, &end, 10);
                if (errno || !end || *end || ms < 1 || ms > 3600000) {
                    fprintf (stderr, "%s: --heartbeat-ms '%s' is not a number of "
                             "milliseconds in 1..3600000\n", program, optarg);
                    return 2;
                }
                config.heartbeat_ms = (int) ms;
                break;
            }
            case 'l':
                if (vb_log_level_parse (optarg, &level) != 0) {
                    fprintf (stderr, "%s: --log-level '%s' is not one of error, warn, info, "
                             "debug\n", program, optarg);
                    return 2;
                }
                vb_log_init (program, level);
                break;
            case 'h':
                s_usage (stdout, program, driver);
                return 0;
            case 'V':
                printf ("%s %s\n", program, VB_VERSION);
                return 0;
            default:
                if (optopt)
                    fprintf (stderr, "%s: option '-%c' is unknown or lacks its value; "
                             "see --help\n", program, optopt);
                else
                    fprintf (stderr, "%s: option '%s' is unknown or lacks its value; "
                             "see --help\n", program, argv[optind - 1]);
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "%s: unexpected argument '%s'; see --help\n", program, argv[optind]);
        return 2;
    }

    /*  CZMQ's default handler turns SIGINT/SIGTERM into zsys_interrupted, which ends
     *  zloop_start(); installed here so a signal during start-up is not lost either. */
    zsys_init ();

    vb_error_t err = { 0 };
    vb_worker_t *worker = s_worker_new (&config, driver, true, &err);
    if (!worker) {
        fprintf (stderr, "%s: %s\n", program, err.message);
        return 1;
    }
    vb_worker_run (worker);
    vb_info ("worker %s: stopping", worker->id);
    vb_worker_destroy (&worker);
    return 0;
}
