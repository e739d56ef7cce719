/*  Unit tests for qemu_monitor: a fake QMP server on a unix socket in a temporary directory replays
 *  replies and events captured from this machine's QEMU 7.2 (tests/data/qmp, see its README).
 *  The test drives the server side by hand and runs the zloop until a condition holds, with a
 *  bound on every wait.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/sockios.h>
#include <unistd.h>

#include <cmocka.h>

#include "qemu_monitor.h"
#include "vb_json.h"
#include "vb_util.h"

#define WAIT_MS 5000
#define MAX_RECORDS 64

typedef struct fixture fixture_t;

typedef struct {
    fixture_t *fx;
    int tag;
} cmd_ctx_t;

typedef struct {
    int tag;
    vb_error_code_t code;
    char message[VB_ERROR_MESSAGE_MAX];
    char qmp_class[64];
    json_object *result;        /* a reference, or NULL */
    char *raw;                  /* a raw command's text (copy), or NULL */
    int64_t at_ns;
} reply_rec_t;

typedef struct {
    char name[64];
    json_object *data;
    int64_t timestamp_us;
} event_rec_t;

struct fixture {
    char dir[64];
    char path[96];
    int listen_fd;
    int server_fd;
    zloop_t *loop;
    bool own_loop;
    qemu_monitor_t *mon;
    char sbuf[1 << 16];         /* bytes the monitor sent, not yet taken as lines */
    size_t slen;
    cmd_ctx_t ctx[MAX_RECORDS];
    reply_rec_t replies[MAX_RECORDS];
    size_t nreplies;
    event_rec_t events[MAX_RECORDS];
    size_t nevents;
    int ready;
    int closed;
    vb_error_t close_reason;
    bool destroy_in_reply;      /* the next reply callback destroys the monitor */
};

/*  --- Fixture files ------------------------------------------------------------------ */

static char *
fixture_file (const char *name)
{
    char path[512];
    snprintf (path, sizeof path, "%s/qmp/%s", VB_TEST_DATA_DIR, name);
    vb_error_t err = { 0 };
    char *text = vb_read_file (path, 1 << 24, NULL, &err);
    if (!text)
        fail_msg ("cannot read fixture %s: %s", path, err.message);
    return text;
}

/*  The captured reply NAME as QEMU sends it to virtbus's commands, which carry no "id": the
 *  capture's `"id": "vb-N"` member (echoed from the capture's command) taken out, every other
 *  byte as captured. */
static char *
fixture_reply (const char *name)
{
    char *text = fixture_file (name);
    json_object *obj = json_tokener_parse (text);
    json_object *old = NULL;
    assert_non_null (obj);
    assert_true (json_object_object_get_ex (obj, "id", &old));
    char needle[64], first[64];
    snprintf (needle, sizeof needle, ", \"id\": \"%s\"", json_object_get_string (old));
    snprintf (first, sizeof first, "\"id\": \"%s\", ", json_object_get_string (old));
    json_object_put (obj);
    char *at = strstr (text, needle);
    if (!at && (at = strstr (text, first)))
        strcpy (needle, first);   /* the error replies name the id first */
    assert_non_null (at);
    memmove (at, at + strlen (needle), strlen (at + strlen (needle)) + 1);
    return text;
}

/*  --- Callbacks that record --------------------------------------------------------- */

/*  A new record of the outcome of CTX's command. */
static reply_rec_t *
record (cmd_ctx_t *ctx, const char *qmp_class, const vb_error_t *err)
{
    fixture_t *fx = ctx->fx;
    assert_true (fx->nreplies < MAX_RECORDS);
    reply_rec_t *rec = &fx->replies[fx->nreplies++];
    rec->tag = ctx->tag;
    rec->code = err ? err->code : VB_OK;
    snprintf (rec->message, sizeof rec->message, "%s", err ? err->message : "");
    snprintf (rec->qmp_class, sizeof rec->qmp_class, "%s", qmp_class ? qmp_class : "");
    rec->at_ns = vb_now_ns ();
    return rec;
}

static void
on_reply (qemu_monitor_t *mon, json_object *result, const char *qmp_class,
          const vb_error_t *err, void *cb_data)
{
    cmd_ctx_t *ctx = cb_data;
    fixture_t *fx = ctx->fx;
    reply_rec_t *rec = record (ctx, qmp_class, err);
    rec->result = result ? json_object_get (result) : NULL;
    /*  Exactly one of result and err. */
    assert_true ((result != NULL) != (err != NULL));
    if (fx->destroy_in_reply && mon == fx->mon) {
        fx->destroy_in_reply = false;
        qemu_monitor_destroy (&fx->mon);
    }
}

static void
on_raw (qemu_monitor_t *mon, const char *text, size_t len, const char *qmp_class,
        const vb_error_t *err, void *cb_data)
{
    (void) mon;
    reply_rec_t *rec = record ((cmd_ctx_t *) cb_data, qmp_class, err);
    rec->raw = text ? strndup (text, len) : NULL;
    assert_true ((text != NULL) != (err != NULL));
}

static void
on_ready (qemu_monitor_t *mon, void *user_data)
{
    fixture_t *fx = user_data;
    assert_ptr_equal (mon, fx->mon);
    fx->ready++;
}

static void
on_event (qemu_monitor_t *mon, const char *name, json_object *data, int64_t timestamp_us,
          void *user_data)
{
    (void) mon;
    fixture_t *fx = user_data;
    assert_true (fx->nevents < MAX_RECORDS);
    event_rec_t *rec = &fx->events[fx->nevents++];
    snprintf (rec->name, sizeof rec->name, "%s", name);
    rec->data = data ? json_object_get (data) : NULL;
    rec->timestamp_us = timestamp_us;
}

static void
on_closed (qemu_monitor_t *mon, const vb_error_t *reason, void *user_data)
{
    fixture_t *fx = user_data;
    assert_ptr_equal (mon, fx->mon);
    fx->closed++;
    fx->close_reason = *reason;
}

static const qemu_monitor_callbacks_t callbacks = { on_ready, on_event, on_closed };

/*  --- Fixture set-up ----------------------------------------------------------------- */

static fixture_t *
fixture_new (zloop_t *loop)
{
    fixture_t *fx = calloc (1, sizeof *fx);
    assert_non_null (fx);
    snprintf (fx->dir, sizeof fx->dir, "/tmp/vb-qmp-test-XXXXXX");
    assert_non_null (mkdtemp (fx->dir));
    snprintf (fx->path, sizeof fx->path, "%s/qmp.sock", fx->dir);
    fx->listen_fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fx->listen_fd >= 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf (addr.sun_path, sizeof addr.sun_path, "%s", fx->path);
    assert_int_equal (bind (fx->listen_fd, (struct sockaddr *) &addr, sizeof addr), 0);
    assert_int_equal (listen (fx->listen_fd, 4), 0);
    fx->own_loop = loop == NULL;
    fx->loop = loop ? loop : zloop_new ();
    assert_non_null (fx->loop);
    for (int i = 0; i < MAX_RECORDS; i++)
        fx->ctx[i] = (cmd_ctx_t) { fx, i };

    vb_error_t err = { 0 };
    fx->mon = qemu_monitor_new (fx->loop, fx->path, &callbacks, fx, &err);
    assert_non_null (fx->mon);
    fx->server_fd = accept4 (fx->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    assert_true (fx->server_fd >= 0);
    return fx;
}

static void
fixture_destroy (fixture_t **fx_p)
{
    fixture_t *fx = *fx_p;
    qemu_monitor_destroy (&fx->mon);
    for (size_t i = 0; i < fx->nreplies; i++) {
        json_object_put (fx->replies[i].result);
        free (fx->replies[i].raw);
    }
    for (size_t i = 0; i < fx->nevents; i++)
        json_object_put (fx->events[i].data);
    if (fx->server_fd >= 0)
        close (fx->server_fd);
    close (fx->listen_fd);
    unlink (fx->path);
    rmdir (fx->dir);
    if (fx->own_loop)
        zloop_destroy (&fx->loop);
    free (fx);
    *fx_p = NULL;
}

/*  --- Running the loop until something holds ------------------------------------------ */

typedef bool (predicate_fn) (fixture_t *fx, size_t arg);

typedef struct {
    predicate_fn *pred;
    fixture_t *fx;
    size_t arg;
    int64_t until_ns;
    bool held;
} wait_t;

static int
s_wait_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    wait_t *w = arg;
    w->held = w->pred (w->fx, w->arg);
    return w->held || vb_now_ns () >= w->until_ns ? -1 : 0;
}

/*  Run FX's loop until PRED holds or TIMEOUT_MS pass; returns whether PRED held. The check timer
 *  has delay 0, so every loop iteration checks (a busy wait, bounded by the timeout). */
static bool
run_until (fixture_t *fx, predicate_fn *pred, size_t arg, int timeout_ms)
{
    wait_t w = { pred, fx, arg, vb_now_ns () + (int64_t) timeout_ms * 1000000, false };
    if (pred (fx, arg))
        return true;
    int id = zloop_timer (fx->loop, 0, 0, s_wait_tick, &w);
    assert_true (id >= 0);
    zloop_start (fx->loop);
    zloop_timer_end (fx->loop, id);
    return w.held;
}

static bool
have_replies (fixture_t *fx, size_t n)
{
    return fx->nreplies >= n;
}

static bool
is_ready (fixture_t *fx, size_t n)
{
    (void) n;
    return fx->ready > 0;
}

static bool
is_closed (fixture_t *fx, size_t n)
{
    (void) n;
    return fx->closed > 0;
}

static bool
never (fixture_t *fx, size_t n)
{
    (void) fx;
    (void) n;
    return false;
}

/*  The monitor has read everything the server wrote (nothing left in the socket's queue). */
static bool
server_drained (fixture_t *fx, size_t n)
{
    (void) n;
    int queued = -1;
    assert_int_equal (ioctl (fx->server_fd, SIOCOUTQ, &queued), 0);
    return queued == 0;
}

/*  Length of the first complete JSON object in BUF — where QEMU's JSON streamer ends a
 *  command: at the brace that closes it — or 0 while it is incomplete. */
static size_t
object_end (const char *buf, size_t len)
{
    int depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < len; i++) {
        char c = buf[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
        }
        else if (c == '"')
            in_string = true;
        else if (c == '{' || c == '[')
            depth++;
        else if ((c == '}' || c == ']') && --depth == 0)
            return i + 1;
    }
    return 0;
}

/*  The server has received at least N complete commands. */
static bool
server_has_commands (fixture_t *fx, size_t n)
{
    for (;;) {
        ssize_t got = recv (fx->server_fd, fx->sbuf + fx->slen, sizeof fx->sbuf - fx->slen - 1,
                            MSG_DONTWAIT);
        if (got <= 0)
            break;
        fx->slen += (size_t) got;
    }
    size_t count = 0, at = 0, end;
    while ((end = object_end (fx->sbuf + at, fx->slen - at)) > 0) {
        count++;
        at += end;
    }
    return count >= n;
}

/*  --- Server side -------------------------------------------------------------------- */

static void
server_send (fixture_t *fx, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send (fx->server_fd, data, len, MSG_NOSIGNAL);
        assert_true (n > 0);
        data += n;
        len -= (size_t) n;
    }
}

static void
server_send_str (fixture_t *fx, const char *text)
{
    server_send (fx, text, strlen (text));
}

/*  Send TEXT one byte at a time, letting the monitor read each byte on its own. */
static void
server_send_bytewise (fixture_t *fx, const char *text)
{
    for (size_t i = 0; text[i]; i++) {
        server_send (fx, text + i, 1);
        assert_true (run_until (fx, server_drained, 0, WAIT_MS));
    }
}

/*  Send fixture NAME: a reply (REPLY true, its id taken out) or a greeting or event as captured. */
static void
server_send_fixture (fixture_t *fx, const char *name, bool reply)
{
    char *line = reply ? fixture_reply (name) : fixture_file (name);
    server_send_str (fx, line);
    free (line);
}

/*  Take the next command the monitor sent; returns the parsed object (caller puts it). Every
 *  byte belongs to a command: nothing (no line end, no space) comes between them. */
static json_object *
server_take_command (fixture_t *fx)
{
    assert_true (run_until (fx, server_has_commands, 1, WAIT_MS));
    assert_int_equal (fx->sbuf[0], '{');
    size_t used = object_end (fx->sbuf, fx->slen);
    char saved = fx->sbuf[used];
    fx->sbuf[used] = '\0';
    json_object *cmd = json_tokener_parse (fx->sbuf);
    assert_non_null (cmd);
    fx->sbuf[used] = saved;
    memmove (fx->sbuf, fx->sbuf + used, fx->slen - used);
    fx->slen -= used;
    return cmd;
}

/*  Take the next command and check its name; it carries no "id" (replies match by order). */
static void
server_expect (fixture_t *fx, const char *command)
{
    json_object *cmd = server_take_command (fx);
    assert_string_equal (vb_json_str (cmd, "execute", ""), command);
    assert_false (json_object_object_get_ex (cmd, "id", NULL));
    json_object_put (cmd);
}

static void
handshake (fixture_t *fx)
{
    server_send_fixture (fx, "greeting.json", false);
    server_expect (fx, "qmp_capabilities");
    server_send_fixture (fx, "qmp_capabilities.json", true);
    assert_true (run_until (fx, is_ready, 0, WAIT_MS));
}

static void
issue (fixture_t *fx, const char *command, json_object *args, int deadline_ms, int tag)
{
    vb_error_t err = { 0 };
    int rc = qemu_monitor_command (fx->mon, command, &args, deadline_ms, on_reply,
                                   &fx->ctx[tag], &err);
    if (rc != 0)
        fail_msg ("qemu_monitor_command %s: %s", command, err.message);
    assert_null (args);
}

static void
issue_raw (fixture_t *fx, const char *command, int deadline_ms, int tag)
{
    vb_error_t err = { 0 };
    if (qemu_monitor_command_raw (fx->mon, command, deadline_ms, on_raw, &fx->ctx[tag], &err)
        != 0)
        fail_msg ("qemu_monitor_command_raw %s: %s", command, err.message);
}

static reply_rec_t *
reply_for (fixture_t *fx, int tag)
{
    reply_rec_t *found = NULL;
    for (size_t i = 0; i < fx->nreplies; i++)
        if (fx->replies[i].tag == tag) {
            assert_null (found);    /* every callback exactly once */
            found = &fx->replies[i];
        }
    assert_non_null (found);
    return found;
}

/*  --- Tests -------------------------------------------------------------------------- */

static void
test_qemu_monitor_greeting_then_capabilities_makes_it_ready (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    assert_false (qemu_monitor_is_ready (fx->mon));
    assert_int_equal (qemu_monitor_qemu_version (fx->mon, NULL, NULL, NULL), -1);

    server_send_fixture (fx, "greeting.json", false);
    json_object *cmd = server_take_command (fx);
    assert_string_equal (vb_json_str (cmd, "execute", ""), "qmp_capabilities");
    assert_false (json_object_object_get_ex (cmd, "arguments", NULL));
    char *reply = fixture_reply ("qmp_capabilities.json");
    json_object_put (cmd);
    assert_false (qemu_monitor_is_ready (fx->mon));
    server_send_str (fx, reply);
    free (reply);
    assert_true (run_until (fx, is_ready, 0, WAIT_MS));

    assert_int_equal (fx->ready, 1);
    assert_true (qemu_monitor_is_ready (fx->mon));
    int major, minor, micro;
    assert_int_equal (qemu_monitor_qemu_version (fx->mon, &major, &minor, &micro), 0);
    assert_int_equal (major, 7);
    assert_int_equal (minor, 2);
    assert_int_equal (micro, 22);
    assert_int_equal (qemu_monitor_pending (fx->mon), 0);
    assert_string_equal (qemu_monitor_name (fx->mon), fx->path);
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_commands_before_greeting_are_sent_after_capabilities (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    json_object *args = json_object_new_object ();
    json_object_object_add (args, "flat", json_object_new_boolean (true));
    issue (fx, "query-named-block-nodes", args, WAIT_MS, 1);
    assert_int_equal (qemu_monitor_pending (fx->mon), 1);
    /*  Nothing may reach QEMU before its greeting. */
    assert_false (run_until (fx, server_has_commands, 1, 50));

    server_send_fixture (fx, "greeting.json", false);
    server_expect (fx, "qmp_capabilities");
    json_object *cmd = server_take_command (fx);
    assert_string_equal (vb_json_str (cmd, "execute", ""), "query-named-block-nodes");
    json_object *got_args = NULL;
    assert_true (json_object_object_get_ex (cmd, "arguments", &got_args));
    assert_true (vb_json_bool (got_args, "flat", false));
    json_object_put (cmd);

    server_send_fixture (fx, "qmp_capabilities.json", true);
    server_send_fixture (fx, "query-named-block-nodes.json", true);
    assert_true (run_until (fx, have_replies, 1, WAIT_MS));
    assert_int_equal (fx->ready, 1);
    reply_rec_t *r = reply_for (fx, 1);
    assert_int_equal (r->code, VB_OK);
    assert_true (json_object_is_type (r->result, json_type_array));
    /*  The capture holds the raw disk and the three layers of the qcow2 chain, two nodes each. */
    assert_int_equal (json_object_array_length (r->result), 8);
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_pipelined_replies_match_in_order_of_issue (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    handshake (fx);
    issue (fx, "query-status", NULL, WAIT_MS, 1);
    issue (fx, "query-block", NULL, WAIT_MS, 2);
    issue (fx, "query-blockstats", NULL, WAIT_MS, 3);
    assert_int_equal (qemu_monitor_pending (fx->mon), 3);

    /*  All three arrive before any reply: they are pipelined. */
    server_expect (fx, "query-status");
    server_expect (fx, "query-block");
    server_expect (fx, "query-blockstats");

    /*  QEMU answers in order; an event may come between replies. The first reply alone is
     *  delivered to the first command only. */
    server_send_fixture (fx, "query-status-prelaunch.json", true);
    assert_true (run_until (fx, have_replies, 1, WAIT_MS));
    assert_int_equal (fx->nreplies, 1);
    assert_int_equal (fx->replies[0].tag, 1);
    assert_int_equal (qemu_monitor_pending (fx->mon), 2);
    server_send_fixture (fx, "query-block.json", true);
    server_send_fixture (fx, "event-stop-STOP.json", false);
    server_send_fixture (fx, "query-blockstats.json", true);
    assert_true (run_until (fx, have_replies, 3, WAIT_MS));
    assert_int_equal (fx->nreplies, 3);
    assert_int_equal (fx->replies[1].tag, 2);
    assert_int_equal (fx->replies[2].tag, 3);
    assert_int_equal (fx->nevents, 1);

    reply_rec_t *status = reply_for (fx, 1);
    assert_int_equal (status->code, VB_OK);
    assert_string_equal (vb_json_str (status->result, "status", ""), "prelaunch");
    assert_false (vb_json_bool (status->result, "running", true));

    reply_rec_t *block = reply_for (fx, 2);
    assert_int_equal (json_object_array_length (block->result), 2);
    json_object *vda = json_object_array_get_idx (block->result, 0);
    assert_string_equal (vb_json_str (vda, "qdev", ""), "/machine/peripheral/vda/virtio-backend");

    reply_rec_t *stats = reply_for (fx, 3);
    assert_int_equal (json_object_array_length (stats->result), 2);
    json_object *vda_stats = json_object_array_get_idx (stats->result, 0);
    json_object *backing = NULL;
    assert_true (json_object_object_get_ex (vda_stats, "backing", &backing));
    assert_string_equal (vb_json_str (backing, "node-name", ""), "mid-fmt");
    assert_int_equal (qemu_monitor_pending (fx->mon), 0);
    fixture_destroy (&fx);
}

/*  A raw command's reply reaches it as QEMU's text, in order among parsed ones; errors and
 *  deadlines as for any command. */
static void
test_qemu_monitor_raw_command_gets_the_reply_text (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    handshake (fx);
    issue_raw (fx, "query-blockstats", WAIT_MS, 1);
    issue (fx, "query-status", NULL, WAIT_MS, 2);
    issue_raw (fx, "no-such-command", WAIT_MS, 3);
    issue_raw (fx, "query-blockstats", WAIT_MS, 4);
    issue_raw (fx, "query-blockstats", 50, 5);
    assert_int_equal (qemu_monitor_pending (fx->mon), 5);
    server_expect (fx, "query-blockstats");
    server_expect (fx, "query-status");
    server_expect (fx, "no-such-command");
    server_expect (fx, "query-blockstats");
    server_expect (fx, "query-blockstats");

    char *reply = fixture_reply ("query-blockstats.json");
    server_send_fixture (fx, "event-stop-STOP.json", false);
    server_send_str (fx, reply);
    server_send_fixture (fx, "query-status-paused.json", true);
    server_send_fixture (fx, "error-command-not-found.json", true);
    /*  Should QEMU put "return" second, the value alone comes, serialised again. */
    server_send_str (fx, "{\"x\": 1, \"return\": [5, {\"a\": \"b\"}]}\r\n");
    assert_true (run_until (fx, have_replies, 5, WAIT_MS));
    assert_int_equal (fx->nevents, 1);

    reply_rec_t *r1 = reply_for (fx, 1);
    assert_int_equal (r1->code, VB_OK);
    reply[strcspn (reply, "\r\n")] = '\0';
    assert_string_equal (r1->raw, reply);   /* the whole line, byte for byte */
    assert_null (r1->result);
    reply_rec_t *r2 = reply_for (fx, 2);
    assert_string_equal (vb_json_str (r2->result, "status", ""), "paused");
    reply_rec_t *r3 = reply_for (fx, 3);
    assert_int_equal (r3->code, VB_ERR_UNSUPPORTED);
    assert_string_equal (r3->qmp_class, "CommandNotFound");
    assert_null (r3->raw);
    assert_string_equal (reply_for (fx, 4)->raw, "[5,{\"a\":\"b\"}]");
    reply_rec_t *r5 = reply_for (fx, 5);
    assert_int_equal (r5->code, VB_ERR_TIMEOUT);
    assert_non_null (strstr (r5->message, "query-blockstats"));
    free (reply);

    vb_error_t err = { 0 };
    assert_int_equal (qemu_monitor_command_raw (fx->mon, "query-blockstats", WAIT_MS, NULL,
                                                NULL, &err), -1);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_events_between_replies_go_to_event_callback (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    handshake (fx);
    issue (fx, "cont", NULL, WAIT_MS, 1);
    issue (fx, "stop", NULL, WAIT_MS, 2);
    server_expect (fx, "cont");
    server_expect (fx, "stop");

    /*  As QEMU sent them in the capture: each event just before the reply it belongs to, here all
     *  in one write. */
    char *ev1 = fixture_file ("event-cont-RESUME.json");
    char *r1 = fixture_reply ("cont.json");
    char *ev2 = fixture_file ("event-stop-STOP.json");
    char *r2 = fixture_reply ("stop.json");
    char *all = NULL;
    assert_true (asprintf (&all, "%s%s%s%s", ev1, r1, ev2, r2) > 0);
    server_send_str (fx, all);
    free (ev1);
    free (r1);
    free (ev2);
    free (r2);
    free (all);

    assert_true (run_until (fx, have_replies, 2, WAIT_MS));
    assert_int_equal (fx->nevents, 2);
    assert_string_equal (fx->events[0].name, "RESUME");
    assert_int_equal (fx->events[0].timestamp_us, 1795634708840712LL);
    assert_null (fx->events[0].data);
    assert_string_equal (fx->events[1].name, "STOP");
    assert_int_equal (fx->events[1].timestamp_us, 1795634708850442LL);
    assert_int_equal (reply_for (fx, 1)->code, VB_OK);
    assert_int_equal (reply_for (fx, 2)->code, VB_OK);
    assert_int_equal (json_object_object_length (reply_for (fx, 1)->result), 0);
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_event_with_data_passes_data (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    handshake (fx);
    server_send_fixture (fx, "event-system_reset-RESET.json", false);
    server_send_fixture (fx, "event-quit-SHUTDOWN.json", false);
    assert_false (run_until (fx, never, 0, 50));
    assert_int_equal (fx->nevents, 2);
    assert_string_equal (fx->events[0].name, "RESET");
    assert_string_equal (vb_json_str (fx->events[0].data, "reason", ""), "host-qmp-system-reset");
    assert_string_equal (fx->events[1].name, "SHUTDOWN");
    assert_false (vb_json_bool (fx->events[1].data, "guest", true));
    assert_string_equal (vb_json_str (fx->events[1].data, "reason", ""), "host-qmp-quit");
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_byte_by_byte_reads_reassemble_lines (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    char *text = fixture_file ("greeting.json");
    server_send_bytewise (fx, text);
    free (text);
    server_expect (fx, "qmp_capabilities");
    text = fixture_reply ("qmp_capabilities.json");
    server_send_bytewise (fx, text);
    free (text);
    assert_int_equal (fx->ready, 1);

    issue (fx, "query-blockstats", NULL, WAIT_MS, 1);
    server_expect (fx, "query-blockstats");
    char *ev = fixture_file ("event-system_powerdown-POWERDOWN.json");
    char *reply = fixture_reply ("query-blockstats.json");
    text = NULL;
    assert_true (asprintf (&text, "%s%s", ev, reply) > 0);
    size_t len = strlen (text);
    assert_true (len > 5000);
    /*  Everything but the final newline: nothing may be delivered for the unfinished line. */
    char last[2] = { text[len - 1], '\0' };
    assert_int_equal (last[0], '\n');
    text[len - 1] = '\0';
    server_send_bytewise (fx, text);
    assert_int_equal (fx->nevents, 1);
    assert_string_equal (fx->events[0].name, "POWERDOWN");
    assert_int_equal (fx->nreplies, 0);
    server_send_bytewise (fx, last);
    assert_int_equal (fx->nreplies, 1);
    reply_rec_t *r = reply_for (fx, 1);
    assert_int_equal (r->code, VB_OK);
    assert_int_equal (json_object_array_length (r->result), 2);
    free (ev);
    free (reply);
    free (text);
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_deadline_answers_timeout_and_monitor_stays_usable (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    handshake (fx);
    int64_t t0 = vb_now_ns ();
    issue (fx, "query-status", NULL, 50, 1);
    issue (fx, "query-kvm", NULL, 100, 2);
    issue (fx, "query-block", NULL, WAIT_MS, 3);
    server_expect (fx, "query-status");
    server_expect (fx, "query-kvm");
    server_expect (fx, "query-block");

    assert_true (run_until (fx, have_replies, 2, WAIT_MS));
    reply_rec_t *r1 = reply_for (fx, 1);
    reply_rec_t *r2 = reply_for (fx, 2);
    assert_int_equal (r1->code, VB_ERR_TIMEOUT);
    assert_int_equal (r2->code, VB_ERR_TIMEOUT);
    assert_non_null (strstr (r1->message, "query-status"));
    assert_non_null (strstr (r1->message, fx->path));
    assert_true (r1->at_ns - t0 >= 50 * 1000000LL);
    assert_true (r2->at_ns - t0 >= 100 * 1000000LL);
    assert_true (r1->at_ns <= r2->at_ns);
    /*  Bounded: well before the third command's deadline. */
    assert_true (r2->at_ns - t0 < 2000 * 1000000LL);
    assert_false (qemu_monitor_is_closed (fx->mon));
    assert_int_equal (qemu_monitor_pending (fx->mon), 1);

    /*  Late replies to the timed-out commands are discarded in their places: the third reply,
     *  not the first, answers the third command. The monitor keeps serving. */
    server_send_fixture (fx, "query-status-running.json", true);
    server_send_fixture (fx, "query-kvm.json", true);
    assert_false (run_until (fx, have_replies, 3, 100));
    assert_int_equal (qemu_monitor_pending (fx->mon), 1);
    server_send_fixture (fx, "query-block.json", true);
    assert_true (run_until (fx, have_replies, 3, WAIT_MS));
    reply_rec_t *r3 = reply_for (fx, 3);
    assert_int_equal (r3->code, VB_OK);
    assert_true (json_object_is_type (r3->result, json_type_array));
    assert_int_equal (json_object_array_length (r3->result), 2);
    issue (fx, "query-kvm", NULL, WAIT_MS, 4);
    server_expect (fx, "query-kvm");
    server_send_fixture (fx, "query-kvm.json", true);
    assert_true (run_until (fx, have_replies, 4, WAIT_MS));
    reply_rec_t *r4 = reply_for (fx, 4);
    assert_int_equal (r4->code, VB_OK);
    assert_true (vb_json_bool (r4->result, "enabled", false));
    assert_int_equal (fx->nreplies, 4);
    assert_int_equal (fx->closed, 0);
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_eof_fails_pending_commands_and_reports_close_once (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    handshake (fx);
    issue (fx, "quit", NULL, WAIT_MS, 1);
    issue (fx, "query-status", NULL, WAIT_MS, 2);
    issue (fx, "query-block", NULL, WAIT_MS, 3);
    server_expect (fx, "quit");
    /*  As in the capture: the SHUTDOWN event, the reply to quit, then end of file. */
    server_send_fixture (fx, "event-quit-SHUTDOWN.json", false);
    server_send_fixture (fx, "quit.json", true);
    close (fx->server_fd);
    fx->server_fd = -1;

    assert_true (run_until (fx, is_closed, 0, WAIT_MS));
    assert_int_equal (fx->nreplies, 3);
    assert_int_equal (reply_for (fx, 1)->code, VB_OK);
    assert_int_equal (reply_for (fx, 2)->code, VB_ERR_HYPERVISOR_UNAVAILABLE);
    assert_int_equal (reply_for (fx, 3)->code, VB_ERR_HYPERVISOR_UNAVAILABLE);
    assert_non_null (strstr (reply_for (fx, 2)->message, "query-status"));
    assert_int_equal (fx->nevents, 1);
    assert_string_equal (fx->events[0].name, "SHUTDOWN");
    assert_int_equal (fx->close_reason.code, VB_ERR_HYPERVISOR_UNAVAILABLE);
    assert_non_null (strstr (fx->close_reason.message, fx->path));
    assert_true (qemu_monitor_is_closed (fx->mon));
    assert_false (qemu_monitor_is_ready (fx->mon));

    vb_error_t err = { 0 };
    json_object *args = json_object_new_object ();
    assert_int_equal (qemu_monitor_command (fx->mon, "query-status", &args, WAIT_MS, on_reply,
                                            &fx->ctx[4], &err), -1);
    assert_null (args);
    assert_int_equal (err.code, VB_ERR_HYPERVISOR_UNAVAILABLE);
    assert_false (run_until (fx, never, 0, 50));
    assert_int_equal (fx->closed, 1);
    assert_int_equal (fx->nreplies, 3);
    fixture_destroy (&fx);
}

static void
check_bad_line_closes (const char *line)
{
    fixture_t *fx = fixture_new (NULL);
    handshake (fx);
    issue (fx, "query-status", NULL, WAIT_MS, 1);
    server_send_str (fx, line);
    assert_true (run_until (fx, is_closed, 0, WAIT_MS));
    assert_int_equal (fx->closed, 1);
    assert_int_equal (fx->close_reason.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (fx->close_reason.message, "not one JSON object"));
    assert_int_equal (fx->nreplies, 1);
    assert_int_equal (reply_for (fx, 1)->code, VB_ERR_OPERATION_FAILED);
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_garbage_line_closes_with_operation_failed (void **state)
{
    (void) state;
    check_bad_line_closes ("this is not json\r\n");
    check_bad_line_closes ("[1, 2]\r\n");
    check_bad_line_closes ("42\r\n");
    check_bad_line_closes ("{\"return\": {}} trailing\r\n");
    check_bad_line_closes ("{\"return\": \r\n");
    check_bad_line_closes ("{\"return\": 'single quoted'}\r\n");
    check_bad_line_closes ("{\"return\": {}, \"id\": \"vb-1\"\x01}\r\n");
}

static void
test_qemu_monitor_oversized_line_closes_with_operation_failed (void **state)
{
    (void) state;
    /*  Without a newline: the monitor must not buffer without bound. */
    fixture_t *fx = fixture_new (NULL);
    qemu_monitor_set_max_line (fx->mon, 4096);
    handshake (fx);
    issue (fx, "query-status", NULL, WAIT_MS, 1);
    size_t big = 64 * 1024;
    char *junk = malloc (big);
    memset (junk, 'x', big);
    server_send (fx, junk, big);
    assert_true (run_until (fx, is_closed, 0, WAIT_MS));
    assert_int_equal (fx->close_reason.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (fx->close_reason.message, "4096"));
    assert_int_equal (reply_for (fx, 1)->code, VB_ERR_OPERATION_FAILED);
    fixture_destroy (&fx);

    /*  A complete line over the limit, arriving in one read. */
    fx = fixture_new (NULL);
    qemu_monitor_set_max_line (fx->mon, 4096);
    handshake (fx);
    issue (fx, "query-blockstats", NULL, WAIT_MS, 1);
    server_expect (fx, "query-blockstats");
    server_send_fixture (fx, "query-blockstats.json", true);    /* 5812 bytes */
    assert_true (run_until (fx, is_closed, 0, WAIT_MS));
    assert_int_equal (fx->close_reason.code, VB_ERR_OPERATION_FAILED);
    assert_int_equal (reply_for (fx, 1)->code, VB_ERR_OPERATION_FAILED);
    fixture_destroy (&fx);

    /*  The same reply under a limit it fits. */
    fx = fixture_new (NULL);
    qemu_monitor_set_max_line (fx->mon, 8192);
    handshake (fx);
    issue (fx, "query-blockstats", NULL, WAIT_MS, 1);
    server_expect (fx, "query-blockstats");
    server_send_fixture (fx, "query-blockstats.json", true);
    assert_true (run_until (fx, have_replies, 1, WAIT_MS));
    assert_int_equal (reply_for (fx, 1)->code, VB_OK);
    assert_int_equal (fx->closed, 0);
    fixture_destroy (&fx);
    free (junk);
}

static void
test_qemu_monitor_qmp_errors_map_to_codes (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    handshake (fx);
    issue (fx, "no-such-command", NULL, WAIT_MS, 1);
    issue (fx, "blockdev-del", NULL, WAIT_MS, 2);
    server_expect (fx, "no-such-command");
    server_expect (fx, "blockdev-del");
    server_send_fixture (fx, "error-command-not-found.json", true);
    server_send_fixture (fx, "error-missing-argument.json", true);
    assert_true (run_until (fx, have_replies, 2, WAIT_MS));
    reply_rec_t *r1 = reply_for (fx, 1);
    assert_int_equal (r1->code, VB_ERR_UNSUPPORTED);
    assert_string_equal (r1->qmp_class, "CommandNotFound");
    assert_null (r1->result);
    reply_rec_t *r2 = reply_for (fx, 2);
    assert_int_equal (r2->code, VB_ERR_OPERATION_FAILED);
    assert_string_equal (r2->qmp_class, "GenericError");
    assert_non_null (strstr (r2->message, "Parameter 'node-name' is missing"));
    assert_non_null (strstr (r2->message, "blockdev-del"));
    assert_false (qemu_monitor_is_closed (fx->mon));
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_many_monitors_on_one_loop_a_hung_one_delays_only_itself (void **state)
{
    (void) state;
    zloop_t *loop = zloop_new ();
    fixture_t *hung = fixture_new (loop);
    fixture_t *live = fixture_new (loop);
    handshake (hung);
    handshake (live);
    issue (hung, "query-status", NULL, 300, 1);
    server_expect (hung, "query-status");
    for (int i = 0; i < 5; i++) {
        issue (live, "query-status", NULL, WAIT_MS, i);
        server_expect (live, "query-status");
        server_send_fixture (live, "query-status-running.json", true);
        assert_true (run_until (live, have_replies, (size_t) i + 1, WAIT_MS));
        assert_int_equal (reply_for (live, i)->code, VB_OK);
    }
    assert_int_equal (hung->nreplies, 0);
    assert_true (run_until (hung, have_replies, 1, WAIT_MS));
    assert_int_equal (reply_for (hung, 1)->code, VB_ERR_TIMEOUT);
    assert_int_equal (live->nreplies, 5);
    fixture_destroy (&hung);
    fixture_destroy (&live);
    zloop_destroy (&loop);
}

static void
test_qemu_monitor_destroy_inside_reply_callback_fails_the_rest (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    handshake (fx);
    issue (fx, "query-status", NULL, WAIT_MS, 1);
    issue (fx, "query-kvm", NULL, WAIT_MS, 2);
    server_expect (fx, "query-status");
    server_expect (fx, "query-kvm");
    /*  Both replies in one write: the second is already read when the first destroys. */
    char *r1 = fixture_reply ("query-status-running.json");
    char *r2 = fixture_reply ("query-kvm.json");
    char *both = NULL;
    assert_true (asprintf (&both, "%s%s", r1, r2) > 0);
    fx->destroy_in_reply = true;
    server_send_str (fx, both);
    free (r1);
    free (r2);
    free (both);
    assert_true (run_until (fx, have_replies, 2, WAIT_MS));
    assert_null (fx->mon);
    assert_int_equal (reply_for (fx, 1)->code, VB_OK);
    assert_int_equal (reply_for (fx, 2)->code, VB_ERR_HYPERVISOR_UNAVAILABLE);
    assert_false (run_until (fx, never, 0, 30));
    assert_int_equal (fx->nreplies, 2);
    assert_int_equal (fx->closed, 0);
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_destroy_fails_pending_commands (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    issue (fx, "query-status", NULL, WAIT_MS, 1);
    qemu_monitor_destroy (&fx->mon);
    assert_null (fx->mon);
    assert_int_equal (fx->nreplies, 1);
    assert_int_equal (reply_for (fx, 1)->code, VB_ERR_HYPERVISOR_UNAVAILABLE);
    /*  Nothing of the monitor is left on the loop. */
    assert_false (run_until (fx, never, 0, 30));
    assert_int_equal (fx->closed, 0);
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_missing_socket_answers_hypervisor_unavailable (void **state)
{
    (void) state;
    zloop_t *loop = zloop_new ();
    vb_error_t err = { 0 };
    qemu_monitor_t *mon = qemu_monitor_new (loop, "/nonexistent/vb-qmp.sock", &callbacks, NULL,
                                            &err);
    assert_null (mon);
    assert_int_equal (err.code, VB_ERR_HYPERVISOR_UNAVAILABLE);
    assert_non_null (strstr (err.message, "/nonexistent/vb-qmp.sock"));
    char longpath[300];
    memset (longpath, 'a', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    mon = qemu_monitor_new (loop, longpath, &callbacks, NULL, &err);
    assert_null (mon);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    zloop_destroy (&loop);
}

static void
test_qemu_monitor_silent_peer_fails_handshake_with_timeout (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    qemu_monitor_set_handshake_timeout (fx->mon, 60);
    issue (fx, "query-status", NULL, WAIT_MS, 1);
    assert_true (run_until (fx, is_closed, 0, WAIT_MS));
    assert_int_equal (fx->close_reason.code, VB_ERR_TIMEOUT);
    assert_int_equal (reply_for (fx, 1)->code, VB_ERR_TIMEOUT);
    assert_int_equal (fx->ready, 0);
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_first_message_not_greeting_closes (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    server_send_fixture (fx, "query-kvm.json", true);
    assert_true (run_until (fx, is_closed, 0, WAIT_MS));
    assert_int_equal (fx->close_reason.code, VB_ERR_OPERATION_FAILED);
    assert_non_null (strstr (fx->close_reason.message, "greeting"));
    fixture_destroy (&fx);
}

static void
test_qemu_monitor_invalid_commands_are_refused_without_callback (void **state)
{
    (void) state;
    fixture_t *fx = fixture_new (NULL);
    handshake (fx);
    vb_error_t err = { 0 };
    json_object *args = json_object_new_array ();
    assert_int_equal (qemu_monitor_command (fx->mon, "query-status", &args, WAIT_MS, on_reply,
                                            &fx->ctx[1], &err), -1);
    assert_null (args);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    args = json_object_new_object ();
    assert_int_equal (qemu_monitor_command (fx->mon, "bad name\"", &args, WAIT_MS, on_reply,
                                            &fx->ctx[1], &err), -1);
    assert_null (args);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    assert_int_equal (qemu_monitor_command (fx->mon, "query-status", NULL, 0, on_reply,
                                            &fx->ctx[1], &err), -1);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    assert_int_equal (qemu_monitor_command (fx->mon, "query-status", NULL, WAIT_MS, NULL,
                                            NULL, &err), -1);
    assert_false (run_until (fx, server_has_commands, 1, 30));
    assert_int_equal (fx->nreplies, 0);
    assert_int_equal (qemu_monitor_pending (fx->mon), 0);
    fixture_destroy (&fx);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_qemu_monitor_greeting_then_capabilities_makes_it_ready),
        cmocka_unit_test (test_qemu_monitor_commands_before_greeting_are_sent_after_capabilities),
        cmocka_unit_test (test_qemu_monitor_pipelined_replies_match_in_order_of_issue),
        cmocka_unit_test (test_qemu_monitor_raw_command_gets_the_reply_text),
        cmocka_unit_test (test_qemu_monitor_events_between_replies_go_to_event_callback),
        cmocka_unit_test (test_qemu_monitor_event_with_data_passes_data),
        cmocka_unit_test (test_qemu_monitor_byte_by_byte_reads_reassemble_lines),
        cmocka_unit_test (test_qemu_monitor_deadline_answers_timeout_and_monitor_stays_usable),
        cmocka_unit_test (test_qemu_monitor_eof_fails_pending_commands_and_reports_close_once),
        cmocka_unit_test (test_qemu_monitor_garbage_line_closes_with_operation_failed),
        cmocka_unit_test (test_qemu_monitor_oversized_line_closes_with_operation_failed),
        cmocka_unit_test (test_qemu_monitor_qmp_errors_map_to_codes),
        cmocka_unit_test (
            test_qemu_monitor_many_monitors_on_one_loop_a_hung_one_delays_only_itself),
        cmocka_unit_test (test_qemu_monitor_destroy_inside_reply_callback_fails_the_rest),
        cmocka_unit_test (test_qemu_monitor_destroy_fails_pending_commands),
        cmocka_unit_test (test_qemu_monitor_missing_socket_answers_hypervisor_unavailable),
        cmocka_unit_test (test_qemu_monitor_silent_peer_fails_handshake_with_timeout),
        cmocka_unit_test (test_qemu_monitor_first_message_not_greeting_closes),
        cmocka_unit_test (test_qemu_monitor_invalid_commands_are_refused_without_callback),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
