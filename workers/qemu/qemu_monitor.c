/*  qemu_monitor — QMP client on a zloop. See qemu_monitor.h for the contract.
 *
 *  Deadlines use one timerfd per monitor, registered as a poller, rather than zloop timers:
 *  zloop defers the removal of a cancelled timer to the end of the loop iteration, so a timer
 *  cancelled from another handler (a monitor destroyed from a callback) could still fire with a
 *  freed argument. Pollers are safe: cancelling one makes zloop rebuild its poll set before it
 *  looks at another poller.
 */
#include "qemu_monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "vb_json.h"
#include "vb_log.h"
#include "vb_util.h"

#define READ_CHUNK      65536
/*  Bytes read per wake-up, so that one chatty QEMU cannot starve the others on the loop. */
#define READ_PER_EVENT  (1024 * 1024)
#define MIN_MAX_LINE    4096
#define JSON_MAX_DEPTH  1024            /* query-blockstats nests one level per backing layer */
#define COMMAND_NAME_MAX 128

typedef enum {
    STATE_GREETING,     /* connected, waiting for the QMP greeting */
    STATE_CAPABILITIES, /* qmp_capabilities sent, waiting for its reply */
    STATE_READY,
    STATE_CLOSED
} monitor_state_t;

typedef struct _pending_t pending_t;
struct _pending_t {
    pending_t *prev, *next;
    bool caps;                  /* the internal qmp_capabilities of the handshake */
    char *command;              /* for error sentences */
    int deadline_ms;            /* as given, for the TIMEOUT sentence */
    int64_t deadline_ns;        /* CLOCK_MONOTONIC */
    qemu_monitor_reply_fn *fn;  /* NULL for qmp_capabilities, for a raw command, and for a
                                   command whose deadline passed: its reply, still owed by QEMU,
                                   is discarded */
    qemu_monitor_raw_fn *raw_fn;  /* a raw command's (qemu_monitor_command_raw), else NULL */
    void *cb_data;
};

struct _qemu_monitor_t {
    zloop_t *loop;                      /* borrowed */
    char *name;                         /* socket path, for sentences */
    qemu_monitor_callbacks_t callbacks;
    void *user_data;
    int fd;                             /* QMP socket, -1 once closed */
    int timer_fd;                       /* deadlines, -1 once closed */
    bool want_write;                    /* poller registered with POLLOUT */
    monitor_state_t state;
    int busy;                           /* depth of handlers of this monitor on the stack */
    bool destroyed;                     /* destroy called while busy: free on unwind */

    char *rbuf;                         /* bytes read, not yet consumed as lines */
    size_t rlen, rcap;
    size_t scanned;                     /* rbuf[0..scanned) holds no newline */
    size_t max_line;
    json_tokener *tok;

    char *wbuf;                         /* bytes to send; wbuf[woff..wlen) unsent */
    size_t wlen, wcap, woff;
    char *early;                        /* commands issued before the greeting, sent after it */
    size_t elen, ecap;

    pending_t *head, *tail;             /* commands QEMU owes a reply, in issue order */
    size_t npending;
    int64_t handshake_deadline_ns;
    int64_t armed_ns;                   /* what timer_fd is set to, 0 = disarmed */

    int version[3];                     /* QEMU major, minor, micro; -1 until the greeting */
};

static void s_close (qemu_monitor_t *self, vb_error_code_t code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

/*  --- Small helpers ------------------------------------------------------------------------ */

static bool
s_alive (const qemu_monitor_t *self)
{
    return !self->destroyed && self->state != STATE_CLOSED;
}

static int
s_buf_append (char **buf, size_t *len, size_t *cap, const char *data, size_t size)
{
    if (size == 0)
        return 0;
    if (*len + size > *cap) {
        size_t cap2 = *cap ? *cap : 256;
        while (cap2 < *len + size)
            cap2 *= 2;
        char *buf2 = realloc (*buf, cap2);
        if (!buf2)
            return -1;
        *buf = buf2;
        *cap = cap2;
    }
    memcpy (*buf + *len, data, size);
    *len += size;
    return 0;
}

static void
s_pending_unlink (qemu_monitor_t *self, pending_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        self->head = p->next;
    if (p->next)
        p->next->prev = p->prev;
    else
        self->tail = p->prev;
    p->prev = p->next = NULL;
    self->npending--;
}

static void
s_pending_free (pending_t **p_p)
{
    if (*p_p) {
        free ((*p_p)->command);
        free (*p_p);
        *p_p = NULL;
    }
}

/*  Does a caller still await P's reply? */
static bool
s_awaited (const pending_t *p)
{
    return p->fn || p->raw_fn;
}

/*  Hand P's caller an error (P's callback is then spent). */
static void
s_pending_error (qemu_monitor_t *self, pending_t *p, const char *qmp_class,
                 const vb_error_t *err)
{
    qemu_monitor_reply_fn *fn = p->fn;
    qemu_monitor_raw_fn *raw_fn = p->raw_fn;
    void *cb_data = p->cb_data;
    p->fn = NULL;
    p->raw_fn = NULL;
    p->cb_data = NULL;
    /*  (the callback may destroy the monitor, and P with it) */
    if (fn)
        fn (self, NULL, qmp_class, err, cb_data);
    else if (raw_fn)
        raw_fn (self, NULL, 0, qmp_class, err, cb_data);
}

/*  Arm the timerfd for the earliest deadline (pending commands and the handshake). */
static void
s_rearm (qemu_monitor_t *self)
{
    if (self->timer_fd < 0)
        return;
    int64_t earliest = 0;
    if (self->state == STATE_GREETING || self->state == STATE_CAPABILITIES)
        earliest = self->handshake_deadline_ns;
    for (pending_t *p = self->head; p; p = p->next)
        if (s_awaited (p) && (earliest == 0 || p->deadline_ns < earliest))
            earliest = p->deadline_ns;
    if (earliest == self->armed_ns)
        return;
    struct itimerspec its = { { 0, 0 }, { 0, 0 } };
    if (earliest > 0) {
        its.it_value.tv_sec = earliest / 1000000000;
        its.it_value.tv_nsec = earliest % 1000000000;
        if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
            its.it_value.tv_nsec = 1;   /* all zero would disarm */
    }
    if (timerfd_settime (self->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
        self->armed_ns = earliest;
    else
        vb_warn ("QEMU monitor %s: cannot arm its deadline timer: %s", self->name,
                 strerror (errno));
}

/*  Call P's callback (if any) with an error, then free P. P is already unlinked. */
static void
s_pending_fail (qemu_monitor_t *self, pending_t *p, vb_error_code_t code, const char *fmt,
                const char *reason)
{
    if (s_awaited (p)) {
        vb_error_t err;
        vb_error_set (&err, code, fmt, self->name, p->command, reason);
        s_pending_error (self, p, NULL, &err);
    }
    s_pending_free (&p);
}

/*  --- Poller registration -------------------------------------------------------------- */

static int s_socket_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg);
static int s_timer_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static int
s_register_socket (qemu_monitor_t *self, bool want_write)
{
    zmq_pollitem_t item = { NULL, self->fd, ZMQ_POLLIN, 0 };
    zloop_poller_end (self->loop, &item);
    if (want_write)
        item.events |= ZMQ_POLLOUT;
    if (zloop_poller (self->loop, &item, s_socket_ready, self) != 0)
        return -1;
    /*  We handle POLLERR/POLLHUP ourselves by reading; zloop must not drop the poller. */
    zloop_poller_set_tolerant (self->loop, &item);
    self->want_write = want_write;
    return 0;
}

static void
s_unregister (qemu_monitor_t *self)
{
    if (self->fd >= 0) {
        zmq_pollitem_t item = { NULL, self->fd, ZMQ_POLLIN, 0 };
        zloop_poller_end (self->loop, &item);
        close (self->fd);
        self->fd = -1;
    }
    if (self->timer_fd >= 0) {
        zmq_pollitem_t item = { NULL, self->timer_fd, ZMQ_POLLIN, 0 };
        zloop_poller_end (self->loop, &item);
        close (self->timer_fd);
        self->timer_fd = -1;
    }
}

/*  --- Closing ---------------------------------------------------------------------------- */

/*  Close the monitor by itself: fail every pending command with CODE, then report to `closed`.
 *  Callbacks may destroy the monitor; then the remaining commands are failed by destroy. */
static void
s_close (qemu_monitor_t *self, vb_error_code_t code, const char *fmt, ...)
{
    if (!s_alive (self))
        return;
    vb_error_t reason;
    reason.code = code;
    va_list args;
    va_start (args, fmt);
    vsnprintf (reason.message, sizeof reason.message, fmt, args);
    va_end (args);

    self->state = STATE_CLOSED;
    s_unregister (self);
    vb_info ("%s", reason.message);
    pending_t *p;
    while (!self->destroyed && (p = self->head)) {
        s_pending_unlink (self, p);
        s_pending_fail (self, p, code, "QEMU monitor %s closed before answering '%s': %s",
                        reason.message);
    }
    if (!self->destroyed && self->callbacks.closed)
        self->callbacks.closed (self, &reason, self->user_data);
}

/*  --- Writing ---------------------------------------------------------------------------- */

static void
s_flush (qemu_monitor_t *self)
{
    while (self->woff < self->wlen) {
        ssize_t n = send (self->fd, self->wbuf + self->woff, self->wlen - self->woff,
                          MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            s_close (self, VB_ERR_HYPERVISOR_UNAVAILABLE,
                     "QEMU monitor %s failed: cannot write to its socket: %s", self->name,
                     strerror (errno));
            return;
        }
        self->woff += (size_t) n;
    }
    if (self->woff == self->wlen)
        self->woff = self->wlen = 0;
    bool want_write = self->wlen > 0;
    if (want_write != self->want_write && s_register_socket (self, want_write) != 0)
        s_close (self, VB_ERR_INTERNAL, "QEMU monitor %s failed: the event loop refused its "
                 "socket", self->name);
}

/*  Send what can be sent without running any callback: a write error is left for the poller to
 *  find again and report, because callbacks must not run inside qemu_monitor_command. */
static void
s_write_now (qemu_monitor_t *self)
{
    while (self->woff < self->wlen) {
        ssize_t n = send (self->fd, self->wbuf + self->woff, self->wlen - self->woff,
                          MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        self->woff += (size_t) n;
    }
    if (self->woff == self->wlen)
        self->woff = self->wlen = 0;
    else if (!self->want_write && s_register_socket (self, true) != 0)
        vb_warn ("QEMU monitor %s: the event loop refused its socket", self->name);
}

/*  Serialise one command, as short as QMP allows: QEMU 7.2 reads its monitor one byte per
 *  main-loop iteration (~10 us of its CPU per byte here, docs/performance.md), so the command
 *  carries no "id" (replies come back in the order of the commands) and no line end (QEMU's
 *  JSON streamer acts on the closing brace). Returns a new string or NULL. */
static char *
s_command_line (const char *command, json_object *args, size_t *len)
{
    json_object *msg = json_object_new_object ();
    if (!msg)
        return NULL;
    json_object_object_add (msg, "execute", json_object_new_string (command));
    if (args)
        json_object_object_add (msg, "arguments", json_object_get (args));
    const char *text = json_object_to_json_string_ext (msg, JSON_C_TO_STRING_PLAIN
                                                            | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *line = text ? strdup (text) : NULL;
    if (line)
        *len = strlen (line);
    json_object_put (msg);
    return line;
}

/*  --- Reading and dispatch --------------------------------------------------------------- */

static void
s_on_greeting (qemu_monitor_t *self, json_object *msg)
{
    json_object *qmp = NULL, *version = NULL, *qemu = NULL;
    if (!json_object_object_get_ex (msg, "QMP", &qmp)
    ||  !json_object_is_type (qmp, json_type_object)) {
        s_close (self, VB_ERR_OPERATION_FAILED, "QEMU monitor %s failed: its first message is "
                 "not a QMP greeting", self->name);
        return;
    }
    if (json_object_object_get_ex (qmp, "version", &version)
    &&  json_object_object_get_ex (version, "qemu", &qemu)
    &&  json_object_is_type (qemu, json_type_object)) {
        self->version[0] = (int) vb_json_int (qemu, "major", -1);
        self->version[1] = (int) vb_json_int (qemu, "minor", -1);
        self->version[2] = (int) vb_json_int (qemu, "micro", -1);
    }
    else
        self->version[0] = self->version[1] = self->version[2] = 0;

    /*  qmp_capabilities goes first; commands issued meanwhile follow it in the same write. */
    size_t len = 0;
    char *line = s_command_line ("qmp_capabilities", NULL, &len);
    if (!line
    ||  s_buf_append (&self->wbuf, &self->wlen, &self->wcap, line, len) != 0
    ||  s_buf_append (&self->wbuf, &self->wlen, &self->wcap, self->early, self->elen) != 0) {
        free (line);
        s_close (self, VB_ERR_INTERNAL, "QEMU monitor %s failed: out of memory", self->name);
        return;
    }
    free (line);
    free (self->early);
    self->early = NULL;
    self->elen = self->ecap = 0;
    self->state = STATE_CAPABILITIES;
    s_flush (self);
}

static void
s_on_event (qemu_monitor_t *self, json_object *msg, json_object *name)
{
    if (!json_object_is_type (name, json_type_string)) {
        vb_warn ("QEMU monitor %s sent an event without a name; ignored", self->name);
        return;
    }
    json_object *data = NULL, *ts = NULL;
    if (!json_object_object_get_ex (msg, "data", &data))
        data = NULL;
    int64_t timestamp_us = -1;
    if (json_object_object_get_ex (msg, "timestamp", &ts)
    &&  json_object_is_type (ts, json_type_object)) {
        int64_t sec = vb_json_int (ts, "seconds", -1);
        int64_t usec = vb_json_int (ts, "microseconds", -1);
        if (sec >= 0 && usec >= 0)
            timestamp_us = sec * 1000000 + usec;
    }
    if (self->callbacks.event)
        self->callbacks.event (self, json_object_get_string (name), data, timestamp_us,
                               self->user_data);
}

static void
s_on_reply (qemu_monitor_t *self, json_object *msg)
{
    json_object *ret = NULL, *error = NULL;
    bool has_return = json_object_object_get_ex (msg, "return", &ret);
    bool has_error = json_object_object_get_ex (msg, "error", &error);
    if (!has_return && !has_error) {
        vb_warn ("QEMU monitor %s sent an object that is neither a reply nor an event; ignored",
                 self->name);
        return;
    }
    /*  Without out-of-band execution (never negotiated) QEMU answers in the order it was asked:
     *  a reply belongs to the oldest command it still owes one. */
    pending_t *p = self->head;
    if (!p) {
        vb_warn ("QEMU monitor %s sent a reply to no command; ignored", self->name);
        return;
    }
    s_pending_unlink (self, p);
    s_rearm (self);

    if (!p->caps && !s_awaited (p)) {
        /*  The late answer to a command whose deadline passed. */
        vb_debug ("QEMU monitor %s: discarded the late reply to '%s'", self->name, p->command);
        s_pending_free (&p);
        return;
    }
    if (p->caps) {
        /*  The qmp_capabilities reply ends the handshake. */
        s_pending_free (&p);
        if (has_error) {
            s_close (self, VB_ERR_OPERATION_FAILED, "QEMU monitor %s failed: QEMU refused "
                     "qmp_capabilities: %s", self->name,
                     vb_json_str (error, "desc", "no description"));
            return;
        }
        self->state = STATE_READY;
        s_rearm (self);
        if (self->callbacks.ready)
            self->callbacks.ready (self, self->user_data);
        return;
    }
    if (has_return && p->raw_fn) {
        /*  (a reply s_on_raw_line did not recognise: "return" not its first member) */
        const char *text = ret ? json_object_to_json_string_ext (ret, JSON_C_TO_STRING_PLAIN)
                               : "null";
        p->raw_fn (self, text, strlen (text), NULL, NULL, p->cb_data);
    }
    else if (has_return) {
        /*  json-c represents a JSON null as NULL; the header promises a value. */
        json_object *empty = ret ? NULL : json_object_new_object ();
        p->fn (self, ret ? ret : empty, NULL, NULL, p->cb_data);
        json_object_put (empty);
    }
    else {
        const char *qmp_class = vb_json_str (error, "class", "GenericError");
        const char *desc = vb_json_str (error, "desc", "no description");
        vb_error_t err;
        if (strcmp (qmp_class, "CommandNotFound") == 0)
            vb_error_set (&err, VB_ERR_UNSUPPORTED, "QEMU at %s does not support the command "
                          "'%s': %s", self->name, p->command, desc);
        else
            vb_error_set (&err, VB_ERR_OPERATION_FAILED, "QEMU at %s failed the command '%s': "
                          "%s (%s)", self->name, p->command, desc, qmp_class);
        s_pending_error (self, p, qmp_class, &err);
    }
    s_pending_free (&p);
}

/*  A successful reply to a raw command, recognised without parsing: with no id sent, QEMU
 *  writes it as `{"return": VALUE}` (events begin `{"timestamp"`, errors `{"error"`). Returns
 *  true when LINE (trimmed, LEN > 0) was one and went, whole, to the command. */
static bool
s_on_raw_line (qemu_monitor_t *self, const char *line, size_t len)
{
    static const char prefix[] = "{\"return\":";
    pending_t *p = self->head;
    if (self->state != STATE_READY || !p || !p->raw_fn || len < sizeof prefix
        || memcmp (line, prefix, sizeof prefix - 1) != 0)
        return false;
    s_pending_unlink (self, p);
    s_rearm (self);
    p->raw_fn (self, line, len, NULL, NULL, p->cb_data);
    s_pending_free (&p);
    return true;
}

/*  One complete line (without its newline). */
static void
s_on_line (qemu_monitor_t *self, const char *line, size_t len)
{
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
        len--;
    while (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
        line++;
        len--;
    }
    if (len == 0 || s_on_raw_line (self, line, len))
        return;
    json_tokener_reset (self->tok);
    json_object *msg = json_tokener_parse_ex (self->tok, line, (int) len);
    enum json_tokener_error jerr = json_tokener_get_error (self->tok);
    if (!msg || jerr != json_tokener_success
    ||  json_tokener_get_parse_end (self->tok) != len
    ||  !json_object_is_type (msg, json_type_object)) {
        json_object_put (msg);
        s_close (self, VB_ERR_OPERATION_FAILED, "QEMU monitor %s failed: it sent a line that is "
                 "not one JSON object (%s)", self->name,
                 jerr == json_tokener_success ? (msg ? "not an object or trailing data"
                                                     : "empty or truncated")
                                              : json_tokener_error_desc (jerr));
        return;
    }
    if (self->state == STATE_GREETING)
        s_on_greeting (self, msg);
    else {
        json_object *name = NULL;
        if (json_object_object_get_ex (msg, "event", &name))
            s_on_event (self, msg, name);
        else
            s_on_reply (self, msg);
    }
    json_object_put (msg);
}

/*  Split the read buffer into lines and dispatch them while the monitor stays alive. */
static void
s_consume_lines (qemu_monitor_t *self)
{
    size_t start = 0;
    while (s_alive (self)) {
        char *nl = memchr (self->rbuf + start + self->scanned, '\n',
                           self->rlen - start - self->scanned);
        if (!nl) {
            self->scanned = self->rlen - start;
            break;
        }
        size_t len = (size_t) (nl - (self->rbuf + start));
        if (len > self->max_line) {
            s_close (self, VB_ERR_OPERATION_FAILED, "QEMU monitor %s failed: it sent a line of "
                     "%zu bytes, more than the limit of %zu", self->name, len, self->max_line);
            return;
        }
        size_t line_start = start;
        start += len + 1;
        self->scanned = 0;
        s_on_line (self, self->rbuf + line_start, len);
    }
    if (!s_alive (self))
        return;
    if (start > 0) {
        memmove (self->rbuf, self->rbuf + start, self->rlen - start);
        self->rlen -= start;
    }
    if (self->rlen > self->max_line)
        s_close (self, VB_ERR_OPERATION_FAILED, "QEMU monitor %s failed: it sent a line longer "
                 "than the limit of %zu bytes", self->name, self->max_line);
}

static void
s_read (qemu_monitor_t *self)
{
    size_t total = 0;
    while (s_alive (self) && total < READ_PER_EVENT) {
        if (self->rcap - self->rlen < READ_CHUNK) {
            size_t cap2 = self->rcap ? self->rcap * 2 : READ_CHUNK * 2;
            char *buf2 = realloc (self->rbuf, cap2);
            if (!buf2) {
                s_close (self, VB_ERR_INTERNAL, "QEMU monitor %s failed: out of memory",
                         self->name);
                return;
            }
            self->rbuf = buf2;
            self->rcap = cap2;
        }
        ssize_t n = recv (self->fd, self->rbuf + self->rlen, self->rcap - self->rlen,
                          MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            s_close (self, VB_ERR_HYPERVISOR_UNAVAILABLE, "QEMU monitor %s failed: cannot read "
                     "its socket: %s", self->name, strerror (errno));
            return;
        }
        if (n == 0) {
            s_close (self, VB_ERR_HYPERVISOR_UNAVAILABLE, "QEMU monitor %s closed the "
                     "connection (end of file)", self->name);
            return;
        }
        self->rlen += (size_t) n;
        total += (size_t) n;
        s_consume_lines (self);
    }
}

/*  --- Loop handlers ------------------------------------------------------------------- */

static void s_free (qemu_monitor_t *self);

static int
s_socket_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    qemu_monitor_t *self = arg;
    self->busy++;
    if (s_alive (self) && (item->revents & ZMQ_POLLOUT))
        s_flush (self);
    if (s_alive (self) && (item->revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
        s_read (self);
    if (--self->busy == 0 && self->destroyed)
        s_free (self);
    return 0;
}

static int
s_timer_ready (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void) loop;
    (void) item;
    qemu_monitor_t *self = arg;
    self->busy++;
    uint64_t expirations;
    if (read (self->timer_fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        vb_warn ("QEMU monitor %s: reading its deadline timer failed: %s", self->name,
                 strerror (errno));
    self->armed_ns = 0;
    int64_t now = vb_now_ns ();
    if ((self->state == STATE_GREETING || self->state == STATE_CAPABILITIES)
    &&  now >= self->handshake_deadline_ns)
        s_close (self, VB_ERR_TIMEOUT, "QEMU monitor %s failed: no QMP greeting and "
                 "capabilities within the handshake timeout", self->name);
    while (s_alive (self)) {
        pending_t *p = self->head;
        while (p && !(s_awaited (p) && p->deadline_ns <= now))
            p = p->next;
        if (!p)
            break;
        /*  QEMU still owes the reply: the entry stays in line, without a callback, so that the
         *  replies behind it keep their places. */
        vb_error_t err;
        vb_error_set (&err, VB_ERR_TIMEOUT, "QEMU monitor %s did not answer '%s' in time: no "
                      "reply within %d ms", self->name, p->command, p->deadline_ms);
        s_pending_error (self, p, NULL, &err);
    }
    if (s_alive (self))
        s_rearm (self);
    if (--self->busy == 0 && self->destroyed)
        s_free (self);
    return 0;
}

/*  --- Life cycle --------------------------------------------------------------------- */

static void
s_free (qemu_monitor_t *self)
{
    s_unregister (self);
    json_tokener_free (self->tok);
    free (self->rbuf);
    free (self->wbuf);
    free (self->early);
    free (self->name);
    free (self);
}

qemu_monitor_t *
qemu_monitor_new_fd (zloop_t *loop, int fd, const char *name,
                     const qemu_monitor_callbacks_t *callbacks, void *user_data,
                     vb_error_t *err)
{
    qemu_monitor_t *self = NULL;
    if (!loop || fd < 0 || !name) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "a QEMU monitor needs a loop, a socket and a "
                      "name");
        goto fail;
    }
    int flags = fcntl (fd, F_GETFL);
    if (flags < 0 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) < 0
    ||  fcntl (fd, F_SETFD, FD_CLOEXEC) < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot make the socket of QEMU monitor %s "
                      "non-blocking: %s", name, strerror (errno));
        goto fail;
    }
    self = calloc (1, sizeof *self);
    if (self)
        self->fd = self->timer_fd = -1;
    if (!self || !(self->name = strdup (name))
    ||  !(self->tok = json_tokener_new_ex (JSON_MAX_DEPTH))) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory creating QEMU monitor %s", name);
        goto fail;
    }
    json_tokener_set_flags (self->tok, JSON_TOKENER_STRICT);
    self->loop = loop;
    self->fd = fd;
    fd = -1;
    if (callbacks)
        self->callbacks = *callbacks;
    self->user_data = user_data;
    self->state = STATE_GREETING;
    self->max_line = QEMU_MONITOR_MAX_LINE_DEFAULT;
    self->version[0] = self->version[1] = self->version[2] = -1;
    self->handshake_deadline_ns = vb_now_ns ()
                                  + (int64_t) QEMU_MONITOR_HANDSHAKE_TIMEOUT_MS_DEFAULT * 1000000;

    self->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (self->timer_fd < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot create the deadline timer of QEMU monitor "
                      "%s: %s", name, strerror (errno));
        goto fail;
    }
    zmq_pollitem_t titem = { NULL, self->timer_fd, ZMQ_POLLIN, 0 };
    if (zloop_poller (loop, &titem, s_timer_ready, self) != 0
    ||  s_register_socket (self, false) != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "the event loop refused QEMU monitor %s", name);
        goto fail;
    }
    /*  The handshake needs a pending entry so that its reply is matched like any other. */
    pending_t *caps = calloc (1, sizeof *caps);
    if (!caps || !(caps->command = strdup ("qmp_capabilities"))) {
        free (caps);
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory creating QEMU monitor %s", name);
        goto fail;
    }
    caps->caps = true;
    self->head = self->tail = caps;
    self->npending = 1;
    s_rearm (self);
    return self;

fail:
    if (fd >= 0)
        close (fd);
    if (self) {
        if (self->head)
            s_pending_free (&self->head);
        s_free (self);
    }
    return NULL;
}

qemu_monitor_t *
qemu_monitor_new (zloop_t *loop, const char *path, const qemu_monitor_callbacks_t *callbacks,
                  void *user_data, vb_error_t *err)
{
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (!path || strlen (path) >= sizeof addr.sun_path) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "the QEMU monitor path '%s' is too long for a "
                      "unix socket", path ? path : "(null)");
        return NULL;
    }
    strcpy (addr.sun_path, path);
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "cannot create a socket for QEMU monitor %s: %s",
                      path, strerror (errno));
        return NULL;
    }
    /*  A unix stream connect completes or fails at once, also non-blocking (EAGAIN means the
     *  listen queue is full; QEMU takes one client at a time). */
    int rc;
    do
        rc = connect (fd, (struct sockaddr *) &addr, sizeof addr);
    while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        vb_error_set (err, VB_ERR_HYPERVISOR_UNAVAILABLE, "cannot connect to QEMU monitor %s: "
                      "%s", path, strerror (errno));
        close (fd);
        return NULL;
    }
    return qemu_monitor_new_fd (loop, fd, path, callbacks, user_data, err);
}

void
qemu_monitor_destroy (qemu_monitor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    qemu_monitor_t *self = *self_p;
    *self_p = NULL;
    if (self->destroyed)
        return;
    self->destroyed = true;
    self->state = STATE_CLOSED;
    s_unregister (self);
    /*  Callbacks run from here may not reach the monitor any more: it is destroyed. */
    self->busy++;
    pending_t *p;
    while ((p = self->head)) {
        s_pending_unlink (self, p);
        s_pending_fail (self, p, VB_ERR_HYPERVISOR_UNAVAILABLE,
                        "QEMU monitor %s was closed before answering '%s'%s", "");
    }
    if (--self->busy == 0)
        s_free (self);
}

/*  --- Commands ----------------------------------------------------------------------- */

static bool
s_command_name_ok (const char *command)
{
    size_t len = command ? strlen (command) : 0;
    if (len == 0 || len > COMMAND_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = command[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/*  A command whose reply goes to REPLY_FN (parsed) or RAW_FN (text); exactly one is set. */
static int
s_command (qemu_monitor_t *self, const char *command, json_object **args_p, int deadline_ms,
           qemu_monitor_reply_fn *reply_fn, qemu_monitor_raw_fn *raw_fn, void *cb_data,
           vb_error_t *err)
{
    json_object *args = args_p ? *args_p : NULL;
    if (args_p)
        *args_p = NULL;
    int rc = -1;
    pending_t *p = NULL;
    char *line = NULL;
    size_t len = 0;

    if (!self || (!reply_fn && !raw_fn)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "a QEMU monitor command needs a monitor and a "
                      "reply callback");
        goto cleanup;
    }
    if (!s_command_name_ok (command)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "'%s' is not a QMP command name",
                      command ? command : "(null)");
        goto cleanup;
    }
    if (args && !json_object_is_type (args, json_type_object)) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "the arguments of QMP command '%s' are not a "
                      "JSON object", command);
        goto cleanup;
    }
    if (deadline_ms <= 0) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "the deadline of QMP command '%s' is %d ms; it "
                      "must be positive", command, deadline_ms);
        goto cleanup;
    }
    if (!s_alive (self)) {
        vb_error_set (err, VB_ERR_HYPERVISOR_UNAVAILABLE, "QEMU monitor %s is closed; cannot "
                      "send '%s'", self->name, command);
        goto cleanup;
    }
    if (self->npending >= QEMU_MONITOR_MAX_PENDING) {
        vb_error_set (err, VB_ERR_BUSY, "QEMU monitor %s has %zu commands in flight; '%s' was "
                      "not sent", self->name, self->npending, command);
        goto cleanup;
    }
    p = calloc (1, sizeof *p);
    if (!p || !(p->command = strdup (command))
    ||  !(line = s_command_line (command, args, &len))) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory sending '%s' to QEMU monitor %s",
                      command, self->name);
        goto cleanup;
    }
    int append_rc = self->state == STATE_GREETING
                    ? s_buf_append (&self->early, &self->elen, &self->ecap, line, len)
                    : s_buf_append (&self->wbuf, &self->wlen, &self->wcap, line, len);
    if (append_rc != 0) {
        vb_error_set (err, VB_ERR_INTERNAL, "out of memory sending '%s' to QEMU monitor %s",
                      command, self->name);
        goto cleanup;
    }
    p->deadline_ms = deadline_ms;
    p->deadline_ns = vb_now_ns () + (int64_t) deadline_ms * 1000000;
    p->fn = reply_fn;
    p->raw_fn = raw_fn;
    p->cb_data = cb_data;
    p->prev = self->tail;
    if (self->tail)
        self->tail->next = p;
    else
        self->head = p;
    self->tail = p;
    self->npending++;
    p = NULL;
    s_rearm (self);
    if (self->state != STATE_GREETING)
        s_write_now (self);
    rc = 0;

cleanup:
    json_object_put (args);
    free (line);
    if (p)
        s_pending_free (&p);
    return rc;
}

int
qemu_monitor_command (qemu_monitor_t *self, const char *command, json_object **args_p,
                      int deadline_ms, qemu_monitor_reply_fn *reply_fn, void *cb_data,
                      vb_error_t *err)
{
    return s_command (self, command, args_p, deadline_ms, reply_fn, NULL, cb_data, err);
}

int
qemu_monitor_command_raw (qemu_monitor_t *self, const char *command, int deadline_ms,
                          qemu_monitor_raw_fn *reply_fn, void *cb_data, vb_error_t *err)
{
    if (!reply_fn) {
        vb_error_set (err, VB_ERR_INVALID_ARG, "a QEMU monitor command needs a monitor and a "
                      "reply callback");
        return -1;
    }
    return s_command (self, command, NULL, deadline_ms, NULL, reply_fn, cb_data, err);
}

/*  --- Settings and state ------------------------------------------------------------- */

void
qemu_monitor_set_max_line (qemu_monitor_t *self, size_t max_line)
{
    /*  json-c takes lengths as int. */
    if (max_line > (size_t) INT32_MAX / 2)
        max_line = (size_t) INT32_MAX / 2;
    self->max_line = max_line < MIN_MAX_LINE ? MIN_MAX_LINE : max_line;
}

void
qemu_monitor_set_handshake_timeout (qemu_monitor_t *self, int timeout_ms)
{
    if (self->state != STATE_GREETING && self->state != STATE_CAPABILITIES)
        return;
    self->handshake_deadline_ns = vb_now_ns () + (int64_t) (timeout_ms > 0 ? timeout_ms : 1)
                                                 * 1000000;
    s_rearm (self);
}

bool
qemu_monitor_is_ready (const qemu_monitor_t *self)
{
    return self->state == STATE_READY;
}

bool
qemu_monitor_is_closed (const qemu_monitor_t *self)
{
    return self->state == STATE_CLOSED;
}

size_t
qemu_monitor_pending (const qemu_monitor_t *self)
{
    size_t n = 0;
    for (const pending_t *p = self->head; p; p = p->next)
        if (s_awaited (p))
            n++;
    return n;
}

const char *
qemu_monitor_name (const qemu_monitor_t *self)
{
    return self->name;
}

int
qemu_monitor_qemu_version (const qemu_monitor_t *self, int *major, int *minor, int *micro)
{
    if (self->version[0] < 0)
        return -1;
    if (major)
        *major = self->version[0];
    if (minor)
        *minor = self->version[1];
    if (micro)
        *micro = self->version[2];
    return 0;
}
