/*  test_qemu_events_support — helpers of the QEMU event tests (test_qemu_events_support.h). */
#include "test_qemu_events_support.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <cmocka.h>

#include "qemu_domain.h"
#include "test_events_support.h"
#include "test_qemu_support.h"
#include "vb_guest.h"
#include "vb_json.h"
#include "vb_testcall.h"
#include "vb_util.h"

#define QEV_HOST "h1"
#define QEV_WORKER "w1"
#define QEV_QMP_TIMEOUT_MS 10000

qev_t *
qev_new (const char *name)
{
    qev_t *self = calloc (1, sizeof *self);
    assert_non_null (self);
    self->env = vb_testenv_new (name, 0);
    assert_non_null (self->env);
    assert_true (asprintf (&self->root, "%s/state", vb_testenv_dir (self->env)) > 0);
    const char *any = "tcp://127.0.0.1:0";
    assert_non_null (vb_testenv_start_broker_on (self->env, any, any, any));
    self->client = vb_testenv_client (self->env);
    assert_non_null (self->client);
    qev_start_worker (self);
    return self;
}

int
qev_destroy (qev_t **self_p)
{
    if (!self_p || !*self_p)
        return 0;
    qev_t *self = *self_p;
    int rc = 0;
    for (size_t i = 0; i < self->nsubs; i++)
        vb_subscriber_destroy (&self->subs[i]);
    /*  The worker first: QEMUs outlive it by design, and a worker that sees them die would only
     *  add events nobody reads. */
    if (self->worker && vb_testproc_stop (self->worker, vb_test_sanitized ()? 30000: 10000) != 0)
        rc = -1;
    vb_testproc_destroy (&self->worker);
    if (self->env) {
        qt_kill_qemus (vb_testenv_dir (self->env));
        if (vb_testenv_stop (self->env) != 0)
            rc = -1;
        vb_testenv_destroy (&self->env);
    }
    vb_testproc_kill_all ();
    free (self->root);
    free (self);
    *self_p = NULL;
    return rc;
}

void
qev_wait_listed (qev_t *self)
{
    const char *hosts[] = { QEV_HOST };
    vb_testcall_hosts_t h = { .client = self->client, .hosts = hosts, .count = 1, .workers = 1,
                              .deadline_ms = 1000 };
    if (!vb_test_poll_until (vb_testcall_hosts_listed, &h, 20,
                             vb_testenv_intervals_ms (self->env, 10), NULL))
        fail_msg ("the broker does not list worker %s of host %s", QEV_WORKER, QEV_HOST);
}

void
qev_start_worker (qev_t *self)
{
    assert_null (self->worker);
    self->worker = qt_start_worker (self->env, QEV_HOST, QEV_WORKER, self->root);
    if (!self->worker)
        fail_msg ("virtbus-qemu did not start on state dir %s", self->root);
    qev_wait_listed (self);
}

void
qev_kill_worker (qev_t *self)
{
    assert_non_null (self->worker);
    assert_int_equal (vb_testproc_signal (self->worker, SIGKILL), 0);
    assert_int_equal (vb_testproc_wait_exit (self->worker, 5000, NULL), 0);
    vb_testproc_destroy (&self->worker);
}

vb_subscriber_t *
qev_subscribe (qev_t *self, uint64_t since)
{
    assert_true (self->nsubs < QEV_MAX_SUBS);
    vb_error_t err = { 0 };
    vb_subscriber_t *sub = vb_subscriber_new (self->client, QEV_HOST "/qemu/", since, &err);
    if (!sub)
        fail_msg ("subscriber (since %" PRIu64 "): %s", since, err.message);
    self->subs[self->nsubs++] = sub;
    return sub;
}

void
qev_define (qev_t *self, const char *name, const char *kind, char uuid_out[37])
{
    uint8_t sector[VB_GUEST_SECTOR_SIZE];
    if (strcmp (kind, "poweroff") == 0)
        vb_guest_poweroff (sector);
    else if (strcmp (kind, "power_button") == 0)
        vb_guest_power_button (sector);
    else if (strcmp (kind, "suspend") == 0)
        vb_guest_suspend (sector);
    else
        vb_guest_idle (sector);
    char path[PATH_MAX];
    snprintf (path, sizeof path, "%s/%s.raw", vb_testenv_dir (self->env), name);
    vb_error_t err = { 0 };
    if (vb_guest_write_image (path, sector, 1024 * 1024, &err) != 0)
        fail_msg ("cannot write guest %s: %s", path, err.message);
    char *disk = qt_disk_xml (path, "raw", "vda");
    char *xml = qt_domain_xml (name, disk, NULL);
    qt_define (self->client, xml);
    free (disk);
    free (xml);
    if (uuid_out) {
        json_object *info = qt_info (self->client, name, 5000);
        if (!info)
            fail_msg ("domain.info %s failed after its define", name);
        snprintf (uuid_out, 37, "%s", vb_json_str (info, "uuid", ""));
        json_object_put (info);
        assert_int_equal (strlen (uuid_out), 36);
    }
}

void
qev_start (qev_t *self, const char *name, bool paused)
{
    json_object *args = json_object_new_object ();
    if (paused)
        json_object_object_add (args, "paused", json_object_new_boolean (1));
    vb_error_t err = { 0 };
    char line[1024];
    vb_reply_t *r = vb_testcall (self->client, "domain.start", NULL, name, args, 20000, NULL,
                                 &err);
    if (!r || !r->ok)
        fail_msg ("domain.start %s%s: %s", name, paused? " (paused)": "",
                  vb_testcall_describe (r, &err, line, sizeof line));
    vb_reply_destroy (&r);
}

pid_t
qev_pid (qev_t *self, const char *name)
{
    pid_t pid = 0;
    int state = qt_state (self->client, name, &pid, NULL, 0);
    if (pid <= 0)
        fail_msg ("domain %s has no QEMU (state %d)", name, state);
    return pid;
}

static bool
s_gone (void *arg)
{
    return !qt_alive (*(pid_t *) arg);
}

void
qev_kill_qemu (pid_t pid)
{
    assert_true (pid > 0);
    assert_int_equal (kill (pid, SIGKILL), 0);
    if (!vb_test_poll_until (s_gone, &pid, 10, 5000, NULL))
        fail_msg ("QEMU pid %d still runs 5 s after SIGKILL", (int) pid);
}

/*  One line per event into BUF (appended). */
static void
s_describe (vb_event_t **events, size_t n, char *buf, size_t size)
{
    for (size_t i = 0; i < n; i++) {
        vb_event_t *ev = events[i];
        size_t len = strlen (buf);
        snprintf (buf + len, size - len, "\n  seq %" PRIu64 " wseq %" PRIu64 " %s %s %s/%s",
                  ev->seq, ev->wseq, ev->domain? ev->domain: "-", ev->kind? ev->kind: "-",
                  ev->event? ev->event: "-", ev->detail? ev->detail: "-");
    }
}

static bool
s_matches (const vb_event_t *ev, const qev_want_t *want)
{
    return ev->domain && strcmp (ev->domain, want->domain) == 0 && ev->kind
           && strcmp (ev->kind, want->kind) == 0 && ev->event
           && strcmp (ev->event, want->event) == 0
           && strcmp (ev->detail? ev->detail: "", want->detail) == 0;
}

void
qev_expect (vb_subscriber_t *sub, const qev_want_t *want, size_t n, int bound_ms,
            bool any_order, vb_event_t **out)
{
    vb_event_t **got = calloc (n + 1, sizeof *got);
    bool *used = calloc (n + 1, sizeof *used);
    assert_true (got && used);
    size_t count = tev_collect (sub, got, n, bound_ms);
    char fault[256] = "";
    for (size_t i = 0; i < count && !*fault; i++) {
        if (i > 0 && got[i]->seq != got[i - 1]->seq + 1)
            snprintf (fault, sizeof fault, "event %zu has seq %" PRIu64 " after %" PRIu64, i,
                      got[i]->seq, got[i - 1]->seq);
        else if (!any_order) {
            if (!s_matches (got[i], &want[i]))
                snprintf (fault, sizeof fault, "event %zu is not %s %s %s/%s", i,
                          want[i].domain, want[i].kind, want[i].event, want[i].detail);
        }
        else {
            size_t j = 0;
            while (j < n && (used[j] || !s_matches (got[i], &want[j])))
                j++;
            if (j == n)
                snprintf (fault, sizeof fault, "event %zu is none of the expected ones", i);
            else
                used[j] = true;
        }
    }
    if (!*fault && count < n)
        snprintf (fault, sizeof fault, "%zu of the %zu expected events arrived within %d ms",
                  count, n, bound_ms);
    if (*fault) {
        char text[4096] = "";
        snprintf (text, sizeof text, "%s; expected:", fault);
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen (text);
            snprintf (text + len, sizeof text - len, "\n  %s %s %s/%s", want[i].domain,
                      want[i].kind, want[i].event, want[i].detail);
        }
        size_t len = strlen (text);
        snprintf (text + len, sizeof text - len, "\nreceived:");
        s_describe (got, count, text, sizeof text);
        tev_free (got, count);
        free (got);
        free (used);
        fail_msg ("%s", text);
    }
    if (out)
        memcpy (out, got, n * sizeof *got);
    else
        tev_free (got, n);
    free (got);
    free (used);
}

/* --- QMP ----------------------------------------------------------------------------------- */

/*  Read from FD until a line containing NEEDLE arrives (lines are QMP's JSON messages). Returns
 *  0, or -1 on an error reply, EOF, a read error or when the time ran out. */
static int
s_qmp_wait_for (int fd, const char *needle, char *buf, size_t size, size_t *len)
{
    int64_t until = vb_now_ms () + QEV_QMP_TIMEOUT_MS;
    for (;;) {
        char *nl;
        while ((nl = memchr (buf, '\n', *len))) {
            *nl = '\0';
            bool hit = strstr (buf, needle) != NULL;
            if (strstr (buf, "\"error\"")) {
                fprintf (stderr, "QMP error: %s\n", buf);
                return -1;
            }
            size_t rest = *len - (size_t) (nl + 1 - buf);
            memmove (buf, nl + 1, rest);
            *len = rest;
            if (hit)
                return 0;
        }
        if (*len + 1 >= size || vb_now_ms () >= until)
            return -1;
        ssize_t got = read (fd, buf + *len, size - *len - 1);
        if (got < 0 && (errno == EINTR))
            continue;
        if (got <= 0)
            return -1;
        *len += (size_t) got;
    }
}

static int
s_qmp_send (int fd, const char *command)
{
    char line[256];
    int n = snprintf (line, sizeof line, "{\"execute\": \"%s\"}\n", command);
    return n > 0 && write (fd, line, (size_t) n) == n? 0: -1;
}

void
qev_qmp (qev_t *self, const char *uuid, const char *command)
{
    char dir[PATH_MAX];
    snprintf (dir, sizeof dir, "%s/%s/qemu", self->root, QEV_HOST);
    char *status_path = qemu_domain_path (dir, uuid, ".status");
    assert_non_null (status_path);
    qemu_status_t status;
    vb_error_t err = { 0 };
    if (qemu_status_read (status_path, &status, &err) != 0)
        fail_msg ("status of domain %s: %s", uuid, err.message);
    free (status_path);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    assert_true (strlen (status.monitor) < sizeof addr.sun_path);
    strcpy (addr.sun_path, status.monitor);
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    struct timeval tv = { .tv_sec = QEV_QMP_TIMEOUT_MS / 1000 };
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char buf[16384];
    size_t len = 0;
    int rc = connect (fd, (struct sockaddr *) &addr, sizeof addr);
    const char *step = "connect";
    if (rc == 0) {
        step = "greeting";
        rc = s_qmp_wait_for (fd, "\"QMP\"", buf, sizeof buf, &len);
    }
    if (rc == 0) {
        step = "qmp_capabilities";
        rc = s_qmp_send (fd, "qmp_capabilities");
        if (rc == 0)
            rc = s_qmp_wait_for (fd, "\"return\"", buf, sizeof buf, &len);
    }
    if (rc == 0) {
        step = command;
        rc = s_qmp_send (fd, command);
        if (rc == 0)
            rc = s_qmp_wait_for (fd, "\"return\"", buf, sizeof buf, &len);
    }
    close (fd);
    char monitor[PATH_MAX];
    snprintf (monitor, sizeof monitor, "%s", status.monitor);
    qemu_status_clear (&status);
    if (rc != 0)
        fail_msg ("QMP %s on %s failed at %s (%s)", command, monitor, step, strerror (errno));
}
