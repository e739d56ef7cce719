/*  test_qemu_events_support — what the QEMU event tests (issue 5 with real QEMU,
 *  test_qemu_events_*.c) share.
 *
 *  One fixture per test: an environment with a broker, one virtbus-qemu (host "h1", id "w1",
 *  state dir <env>/state) that can be killed and restarted on the same state dir, and a client.
 *  Domains run the boot-sector guests of tests/guest in real QEMU (KVM when /dev/kvm opens
 *  read-write, else TCG). Expected events are checked as an exact list: each one matched by
 *  domain, kind, event and detail, no gap event, seqs consecutive, and a description of
 *  everything received in the failure message. QMP can be spoken directly to a domain's QEMU
 *  (while no worker holds its monitor) to change its state behind the worker's back.
 *
 *      qev_t *q = qev_new ("qemu_events_x");
 *      vb_subscriber_t *sub = qev_subscribe (q, 0);         // owned by q
 *      qev_define (q, "web", "idle", uuid);
 *      qt_ok (q->client, "domain.start", "web");
 *      qev_expect (q, sub, (qev_want_t[]) {{"web", "lifecycle", "defined", "added"}, ...}, 2,
 *                  false, NULL);
 *      return qev_destroy (&q);    // worker SIGTERM, every QEMU killed by pid, broker stopped
 */
#ifndef TEST_QEMU_EVENTS_SUPPORT_H
#define TEST_QEMU_EVENTS_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vb_client.h"
#include "vb_testenv.h"

/*  How long a QEMU guest may take for what the test waits on (boot through SeaBIOS, ACPI
 *  power-off): generous, because TCG and ASan builds are slow on a loaded 2-core machine. */
#define QEV_GUEST_BOUND_MS 30000
#define QEV_MAX_SUBS 4

typedef struct {
    vb_testenv_t *env;
    vb_client_t *client;        /* owned by env */
    vb_testproc_t *worker;      /* the running virtbus-qemu, or NULL; owned by the fixture */
    char *root;                 /* the worker's --state-dir */
    vb_subscriber_t *subs[QEV_MAX_SUBS];  /* destroyed with the fixture, even after a failure */
    size_t nsubs;
} qev_t;

/*  One expected event. DETAIL "" also matches an event without a detail. */
typedef struct {
    const char *domain;
    const char *kind;
    const char *event;
    const char *detail;
} qev_want_t;

/*  A fixture named NAME: environment, broker on ephemeral ports ("tcp://127.0.0.1:0", so a
 *  restart can reuse them), worker h1/w1, client; waits until the broker lists the worker.
 *  Fails the test on error. */
qev_t *qev_new (const char *name);

/*  Destroy the subscribers, stop the worker (SIGTERM; a sanitizer report or a crash fails), kill
 *  every QEMU of the state dir by pid, stop the broker, destroy the environment. Returns 0 when
 *  everything exited cleanly, else -1 (for a cmocka teardown). Nulls *SELF_P; safe on NULL. */
int qev_destroy (qev_t **self_p);

/*  Start virtbus-qemu h1/w1 on the fixture's state dir and wait until the broker lists it.
 *  Fails the test on error. */
void qev_start_worker (qev_t *self);

/*  SIGKILL the worker and reap it. */
void qev_kill_worker (qev_t *self);

/*  Wait until the broker lists the worker h1/w1 (bounded). Fails the test otherwise. */
void qev_wait_listed (qev_t *self);

/*  A subscriber to "h1/qemu/" (after SINCE when > 0), connected and synced; owned by the
 *  fixture (at most QEV_MAX_SUBS). Fails the test on error. */
vb_subscriber_t *qev_subscribe (qev_t *self, uint64_t since);

/*  Write guest KIND ("idle", "poweroff", "power_button", "suspend") to <env>/<NAME>.raw and define domain
 *  NAME booting it; UUID_OUT (may be NULL) gets its UUID. Fails the test on error. */
void qev_define (qev_t *self, const char *name, const char *kind, char uuid_out[37]);

/*  domain.start of NAME, paused when PAUSED. Fails the test unless ok. */
void qev_start (qev_t *self, const char *name, bool paused);

/*  The QEMU pid of the running domain NAME; fails the test when it has none. */
pid_t qev_pid (qev_t *self, const char *name);

/*  SIGKILL QEMU PID and wait (bounded) until it is gone. Fails the test otherwise. */
void qev_kill_qemu (pid_t pid);

/*  Collect N events from SUB (bounded by BOUND_MS) and check them against WANT[0..N): in that
 *  order, or in any order when ANY_ORDER (each matched once). Every event must be a real one (no
 *  gap), with seqs consecutive. OUT (may be NULL) receives the events (caller destroys them with
 *  tev_free); otherwise they are destroyed. Fails the test with every event received. */
void qev_expect (vb_subscriber_t *sub, const qev_want_t *want, size_t n, int bound_ms,
                 bool any_order, vb_event_t **out);

/*  Run QMP COMMAND (e.g. "stop") on the QEMU of domain UUID through its QMP socket, as found in
 *  its status file under the fixture's state dir. Only while no worker holds the monitor.
 *  Fails the test on error or when no return came within 10 s. */
void qev_qmp (qev_t *self, const char *uuid, const char *command);

#endif
