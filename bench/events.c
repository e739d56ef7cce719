/*  bench_events — event rate and delivery latency of virtbus against raw ZeroMQ PUB/SUB.
 *
 *  virtbus path: a virtbusd and a virtbus-test worker are started as real processes (through the
 *  test support library: temp state dirs, ephemeral ports, ready lines). For 1, 10 and 100
 *  subscribers (one thread, client and vb_subscriber each, synced before anything is emitted):
 *
 *    rate     one test.emit_events request for BURST events; events/s = BURST / (time from the
 *             request to the last subscriber's last event).
 *    latency  test.emit_events {count: 1} sent every 1 ms (1,000 events/s) for PACED events;
 *             latency = subscriber's receive wall clock - the event's time_ns (stamped by the
 *             worker when the driver emits it), over every (event, subscriber) pair; p50, p99,
 *             max. The path includes the worker's journal fdatasync and the broker's journal.
 *
 *  Baseline in the same run: a ZeroMQ PUB (sndhwm 100000) and the same number of SUB threads
 *  over tcp loopback, 200-byte messages carrying their send time, same burst and pacing.
 *
 *  Usage: bench_events [--burst N] [--paced N] [--subs 1,10,100]
 *  Prints a Markdown table.
 */
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vb_client.h"
#include "vb_testcall.h"
#include "vb_testenv.h"
#include "vb_util.h"

typedef struct {
    /*  Set by main before the start barrier. */
    const char *clients_ep;   /* virtbus: broker clients endpoint; NULL = raw ZeroMQ */
    const char *pub_ep;       /* raw: the PUB endpoint */
    _Atomic size_t expect;    /* lowered by main once it knows how many were really emitted */
    int bound_ms;
    pthread_barrier_t *ready;
    atomic_int *synced_raw;   /* raw: subscribers that have seen a hello */
    /*  Results. */
    size_t got;
    uint64_t replayed;
    uint64_t last_ns;         /* wall clock of the last receipt */
    int64_t *lat_ns;          /* EXPECT slots */
    bool failed;
} s_sub_t;

static uint64_t
s_wall_ns (void)
{
    return vb_wall_ns ();
}

static void *
s_virtbus_sub (void *arg)
{
    s_sub_t *s = arg;
    vb_error_t err = { 0 };
    vb_client_t *client = vb_client_new (s->clients_ep, &err);
    vb_subscriber_t *sub = client? vb_subscriber_new (client, "h1/test/bench", 0, &err): NULL;
    if (!sub) {
        fprintf (stderr, "bench_events: subscriber: %s\n", err.message);
        s->failed = true;
    }
    pthread_barrier_wait (s->ready);
    int64_t until = vb_now_ms () + s->bound_ms;
    while (sub && s->got < s->expect && vb_now_ms () < until) {
        vb_event_t *ev = vb_subscriber_recv (sub, 200, &err);
        if (!ev)
            continue;
        uint64_t now = s_wall_ns ();
        if (ev->kind && strcmp (ev->kind, "test") == 0) {
            s->lat_ns[s->got++] = (int64_t) (now - ev->time_ns);
            s->last_ns = now;
        }
        vb_event_destroy (&ev);
    }
    s->replayed = vb_subscriber_replayed (sub);
    vb_subscriber_destroy (&sub);
    vb_client_destroy (&client);
    return NULL;
}

static void *
s_raw_sub (void *arg)
{
    s_sub_t *s = arg;
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zsock_set_rcvhwm (sub, 100000);
    zsock_set_subscribe (sub, "");
    if (!sub || zsock_connect (sub, "%s", s->pub_ep) != 0)
        s->failed = true;
    bool hello = false;
    /*  Hellos until the PUB has our subscription; then the measured messages. */
    while (!s->failed && !hello) {
        zmsg_t *msg = zmsg_recv (sub);
        if (!msg)
            break;
        char *topic = zmsg_popstr (msg);
        if (topic && strcmp (topic, "hello") == 0) {
            hello = true;
            atomic_fetch_add (s->synced_raw, 1);
        }
        free (topic);
        zmsg_destroy (&msg);
    }
    pthread_barrier_wait (s->ready);
    zsock_set_rcvtimeo (sub, 200);
    int64_t until = vb_now_ms () + s->bound_ms;
    while (s->got < s->expect && vb_now_ms () < until) {
        zmsg_t *msg = zmsg_recv (sub);
        if (!msg)
            continue;
        uint64_t now = s_wall_ns ();
        zframe_t *topic = zmsg_first (msg);
        zframe_t *body = zmsg_next (msg);
        if (topic && zframe_streq (topic, "ev") && body && zframe_size (body) >= 8) {
            uint64_t sent;
            memcpy (&sent, zframe_data (body), sizeof sent);
            s->lat_ns[s->got++] = (int64_t) (now - sent);
            s->last_ns = now;
        }
        zmsg_destroy (&msg);
    }
    zsock_destroy (&sub);
    return NULL;
}

static int
s_cmp (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y? -1: x > y;
}

typedef struct {
    size_t deliveries;
    size_t missing;
    uint64_t replayed;
    double p50_us, p99_us, max_us;
    uint64_t last_ns;
    size_t refused;           /* paced requests the broker or client refused (not emitted) */
} s_result_t;

static s_result_t
s_merge (s_sub_t *subs, int n)
{
    s_result_t r = { 0 };
    size_t total = 0;
    for (int i = 0; i < n; i++)
        total += subs[i].got;
    int64_t *all = malloc ((total? total: 1) * sizeof *all);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        memcpy (all + k, subs[i].lat_ns, subs[i].got * sizeof *all);
        k += subs[i].got;
        r.missing += subs[i].expect - subs[i].got;
        r.replayed += subs[i].replayed;
        if (subs[i].last_ns > r.last_ns)
            r.last_ns = subs[i].last_ns;
    }
    qsort (all, total, sizeof *all, s_cmp);
    r.deliveries = total;
    if (total) {
        r.p50_us = all[total / 2] / 1000.0;
        r.p99_us = all[(size_t) ((double) total * 0.99)] / 1000.0;
        r.max_us = all[total - 1] / 1000.0;
    }
    free (all);
    return r;
}

/*  Sleep until wall-independent monotonic AT_NS. */
static void
s_sleep_until (int64_t at_ns)
{
    struct timespec ts = { (time_t) (at_ns / 1000000000), (long) (at_ns % 1000000000) };
    while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

typedef enum { MODE_BURST, MODE_PACED } s_mode_t;

/*  Count the answers to paced requests: *OK_OUT events emitted, *REFUSED_OUT requests answered
 *  with an error (BUSY under load) or not at all. */
static void
s_count_reply (vb_reply_t *r, size_t *ok_out, size_t *refused_out)
{
    if (r->ok)
        (*ok_out)++;
    else
        (*refused_out)++;
    vb_reply_destroy (&r);
}

/*  One virtbus run: NSUBS subscribers, COUNT events in MODE. */
static s_result_t
s_run_virtbus (vb_testenv_t *env, vb_client_t *client, int nsubs, size_t count, s_mode_t mode,
               double *rate_out)
{
    s_sub_t *subs = calloc ((size_t) nsubs, sizeof *subs);
    pthread_t *threads = calloc ((size_t) nsubs, sizeof *threads);
    pthread_barrier_t ready;
    pthread_barrier_init (&ready, NULL, (unsigned) nsubs + 1);
    for (int i = 0; i < nsubs; i++) {
        subs[i].clients_ep = vb_testenv_clients_ep (env);
        atomic_init (&subs[i].expect, count);
        subs[i].bound_ms = 120000;
        subs[i].ready = &ready;
        subs[i].lat_ns = calloc (count, sizeof (int64_t));
        pthread_create (&threads[i], NULL, s_virtbus_sub, &subs[i]);
    }
    pthread_barrier_wait (&ready);
    uint64_t start = s_wall_ns ();
    size_t sent = 0, ok = 0, refused = 0;
    vb_error_t err = { 0 };
    vb_reply_t *r;
    if (mode == MODE_BURST) {
        json_object *args = json_object_new_object ();
        json_object_object_add (args, "count", json_object_new_uint64 (count));
        sent = vb_testcall_send (client, "test.emit_events", NULL, "bench", args, 60000) != 0;
        r = sent? vb_client_recv (client, 65000, &err): NULL;
        if (r && r->ok)
            ok = count;
        vb_reply_destroy (&r);
    }
    else {
        int64_t next = vb_now_ns ();
        for (size_t i = 0; i < count; i++) {
            next += 1000000;
            s_sleep_until (next);
            json_object *args = json_object_new_object ();
            json_object_object_add (args, "count", json_object_new_uint64 (1));
            if (vb_testcall_send (client, "test.emit_events", NULL, "bench", args, 5000))
                sent++;
            while ((r = vb_client_recv (client, 0, &err)))
                s_count_reply (r, &ok, &refused);
        }
        while (ok + refused < sent && (r = vb_client_recv (client, 6000, &err)))
            s_count_reply (r, &ok, &refused);
    }
    /*  Subscribers wait for what was really emitted, no more. */
    refused = count - ok;
    for (int i = 0; i < nsubs; i++)
        atomic_store (&subs[i].expect, ok);
    for (int i = 0; i < nsubs; i++)
        pthread_join (threads[i], NULL);
    s_result_t res = s_merge (subs, nsubs);
    res.refused = refused;
    if (rate_out)
        *rate_out = res.last_ns > start? (double) count * 1e9 / (double) (res.last_ns - start): 0;
    for (int i = 0; i < nsubs; i++)
        free (subs[i].lat_ns);
    pthread_barrier_destroy (&ready);
    free (subs);
    free (threads);
    return res;
}

static s_result_t
s_run_raw (int nsubs, size_t count, s_mode_t mode, double *rate_out)
{
    zsock_t *pub = zsock_new (ZMQ_PUB);
    zsock_set_sndhwm (pub, 100000);
    int port = zsock_bind (pub, "tcp://127.0.0.1:*");
    char ep[64];
    snprintf (ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    atomic_int synced = 0;
    s_sub_t *subs = calloc ((size_t) nsubs, sizeof *subs);
    pthread_t *threads = calloc ((size_t) nsubs, sizeof *threads);
    pthread_barrier_t ready;
    pthread_barrier_init (&ready, NULL, (unsigned) nsubs + 1);
    for (int i = 0; i < nsubs; i++) {
        subs[i].pub_ep = ep;
        atomic_init (&subs[i].expect, count);
        subs[i].bound_ms = 120000;
        subs[i].ready = &ready;
        subs[i].synced_raw = &synced;
        subs[i].lat_ns = calloc (count, sizeof (int64_t));
        pthread_create (&threads[i], NULL, s_raw_sub, &subs[i]);
    }
    while (atomic_load (&synced) < nsubs) {
        zstr_send (pub, "hello");
        zclock_sleep (5);
    }
    pthread_barrier_wait (&ready);
    char payload[200];
    memset (payload, 'x', sizeof payload);
    uint64_t start = s_wall_ns ();
    int64_t next = vb_now_ns ();
    for (size_t i = 0; i < count; i++) {
        if (mode == MODE_PACED) {
            next += 1000000;
            s_sleep_until (next);
        }
        uint64_t now = s_wall_ns ();
        memcpy (payload, &now, sizeof now);
        zsock_send (pub, "sb", "ev", payload, sizeof payload);
    }
    for (int i = 0; i < nsubs; i++)
        pthread_join (threads[i], NULL);
    s_result_t res = s_merge (subs, nsubs);
    if (rate_out)
        *rate_out = res.last_ns > start? (double) count * 1e9 / (double) (res.last_ns - start): 0;
    for (int i = 0; i < nsubs; i++)
        free (subs[i].lat_ns);
    pthread_barrier_destroy (&ready);
    free (subs);
    free (threads);
    zsock_destroy (&pub);
    return res;
}

int
main (int argc, char **argv)
{
    size_t burst = 10000, paced = 2000;
    int nsubs_list[8] = { 1, 10, 100 };
    int nlist = 3;
    for (int i = 1; i < argc; i++) {
        if (strcmp (argv[i], "--burst") == 0 && i + 1 < argc)
            burst = (size_t) strtoul (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--paced") == 0 && i + 1 < argc)
            paced = (size_t) strtoul (argv[++i], NULL, 10);
        else if (strcmp (argv[i], "--subs") == 0 && i + 1 < argc) {
            nlist = 0;
            for (char *tok = strtok (argv[++i], ","); tok && nlist < 8; tok = strtok (NULL, ","))
                nsubs_list[nlist++] = atoi (tok);
        }
        else {
            fprintf (stderr, "usage: bench_events [--burst N] [--paced N] [--subs 1,10,100]\n");
            return 2;
        }
    }
    if (burst < 1 || paced < 1) {
        fprintf (stderr, "bench_events: --burst and --paced need at least 1 event\n");
        return 2;
    }
    zsys_init ();
    zsys_set_max_sockets (4096);

    vb_testenv_t *env = vb_testenv_new ("bench_events", 1000);
    if (!env || !vb_testenv_start_broker (env)
        || !vb_testenv_start_worker (env, "virtbus-test", "h1", "bench")) {
        fprintf (stderr, "bench_events: cannot start virtbusd and virtbus-test\n");
        vb_testenv_destroy (&env);
        return 1;
    }
    vb_client_t *client = vb_testenv_client (env);
    if (!client || !vb_testcall_wait_ok (client, "domain.list", "h1", NULL, 1000, 20, 10000)
        || vb_testcall_define (client, "h1", "bench", NULL) != 0) {
        fprintf (stderr, "bench_events: the worker did not come up\n");
        vb_testenv_destroy (&env);
        return 1;
    }

    printf ("| subscribers | system | burst rate (events/s) | paced 1000/s: p50 | p99 | max "
            "| lost | replayed | refused |\n");
    printf ("|---:|---|---:|---:|---:|---:|---:|---:|---:|\n");
    int rc = 0;
    for (int i = 0; i < nlist; i++) {
        int n = nsubs_list[i];
        double rate_vb = 0, rate_raw = 0;
        s_result_t vb_burst = s_run_virtbus (env, client, n, burst, MODE_BURST, &rate_vb);
        s_result_t vb_paced = s_run_virtbus (env, client, n, paced, MODE_PACED, NULL);
        s_result_t raw_burst = s_run_raw (n, burst, MODE_BURST, &rate_raw);
        s_result_t raw_paced = s_run_raw (n, paced, MODE_PACED, NULL);
        printf ("| %d | virtbus | %.0f | %.0f µs | %.0f µs | %.0f µs | %zu | %" PRIu64 " | %zu |\n",
                n, rate_vb, vb_paced.p50_us, vb_paced.p99_us, vb_paced.max_us,
                vb_burst.missing + vb_paced.missing, vb_burst.replayed + vb_paced.replayed,
                vb_burst.refused + vb_paced.refused);
        printf ("| %d | raw ZeroMQ PUB/SUB | %.0f | %.0f µs | %.0f µs | %.0f µs | %zu | - | - |\n",
                n,
                rate_raw, raw_paced.p50_us, raw_paced.p99_us, raw_paced.max_us,
                raw_burst.missing + raw_paced.missing);
        fflush (stdout);
        if (vb_burst.missing + vb_paced.missing)
            rc = 1;
    }
    vb_testenv_stop (env);
    vb_testenv_destroy (&env);
    return rc;
}
