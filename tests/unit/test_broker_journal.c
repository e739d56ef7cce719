/*  Unit tests for broker/vb_journal and the journaled vb_events ring: seq and replay continue
 *  across a restart, per-worker dedupe marks survive (also for workers whose events left the
 *  ring), the file stays bounded by compaction, a torn tail is cut off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vb_events.h"
#include "vb_journal.h"
#include "vb_json.h"
#include "vb_util.h"

typedef struct {
    char dir[64];
    char path[128];
    /*  What loading handed over. */
    vb_event_t *events[64];
    size_t count;
    char marks[8][32];
    uint64_t mark_wseq[8];
    size_t nmarks;
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    if (!f)
        return -1;
    snprintf (f->dir, sizeof f->dir, "/tmp/vb-test-bjournal-XXXXXX");
    if (!mkdtemp (f->dir))
        return -1;
    snprintf (f->path, sizeof f->path, "%s/%s", f->dir, VB_JOURNAL_FILE);
    *state = f;
    return 0;
}

static void
s_forget_loaded (fixture_t *f)
{
    for (size_t i = 0; i < f->count; i++)
        vb_event_destroy (&f->events[i]);
    f->count = 0;
    f->nmarks = 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    s_forget_loaded (f);
    char command[256];
    snprintf (command, sizeof command, "rm -rf '%s'", f->dir);
    int rc = system (command);
    free (f);
    return rc == 0? 0: -1;
}

static void
s_on_event (vb_event_t **event_p, void *arg)
{
    fixture_t *f = arg;
    if (f->count < 64) {
        f->events[f->count++] = *event_p;
        *event_p = NULL;
    }
}

static void
s_on_mark (const char *worker, uint64_t wseq, void *arg)
{
    fixture_t *f = arg;
    if (f->nmarks < 8) {
        snprintf (f->marks[f->nmarks], sizeof f->marks[0], "%s", worker);
        f->mark_wseq[f->nmarks++] = wseq;
    }
}

static uint64_t
s_mark_of (const fixture_t *f, const char *worker)
{
    for (size_t i = 0; i < f->nmarks; i++)
        if (strcmp (f->marks[i], worker) == 0)
            return f->mark_wseq[i];
    return 0;
}

static vb_event_t *
s_event (const char *worker, const char *domain, uint64_t wseq, uint64_t seq)
{
    vb_event_t *ev = vb_event_new ();
    assert_non_null (ev);
    ev->worker = strdup (worker);
    ev->host = strdup ("h1");
    ev->driver = strdup ("test");
    ev->domain = strdup (domain);
    ev->uuid = strdup ("11111111-1111-4111-8111-111111111111");
    ev->kind = strdup ("lifecycle");
    ev->event = strdup ("started");
    ev->detail = strdup ("booted");
    ev->time_ns = 1000 + wseq;
    ev->wseq = wseq;
    ev->seq = seq;
    ev->extra = json_object_new_object ();
    json_object_object_add (ev->extra, "n", json_object_new_uint64 (wseq));
    return ev;
}

static vb_journal_t *
s_open (fixture_t *f, size_t capacity)
{
    vb_error_t err = { 0 };
    s_forget_loaded (f);
    vb_journal_t *j = vb_journal_open (f->dir, capacity, s_on_event, s_on_mark, f, &err);
    if (!j)
        fail_msg ("open journal in %s: %s", f->dir, err.message);
    return j;
}

static void
test_broker_journal_events_and_marks_come_back_after_reopen (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    vb_journal_t *j = s_open (f, 100);
    assert_int_equal (vb_journal_next_seq (j), 1);
    for (uint64_t seq = 1; seq <= 5; seq++) {
        vb_event_t *ev = s_event (seq % 2? "wA": "wB", "web", seq * 10, seq);
        assert_int_equal (vb_journal_append (j, ev, &err), 0);
        vb_event_destroy (&ev);
    }
    assert_int_equal (vb_journal_sync (j, &err), 0);
    vb_journal_destroy (&j);

    j = s_open (f, 100);
    assert_int_equal (vb_journal_next_seq (j), 6);
    assert_int_equal (f->count, 5);
    for (size_t i = 0; i < 5; i++) {
        vb_event_t *ev = f->events[i];
        assert_int_equal (ev->seq, i + 1);
        assert_int_equal (ev->wseq, (i + 1) * 10);
        assert_string_equal (ev->worker, (i + 1) % 2? "wA": "wB");
        assert_string_equal (ev->event, "started");
        assert_string_equal (ev->uuid, "11111111-1111-4111-8111-111111111111");
        assert_int_equal (ev->time_ns, 1000 + ev->wseq);
        assert_int_equal (vb_json_uint (ev->extra, "n", 0), ev->wseq);
    }
    assert_int_equal (f->nmarks, 2);
    assert_int_equal (s_mark_of (f, "wA"), 50);
    assert_int_equal (s_mark_of (f, "wB"), 40);
    vb_journal_destroy (&j);
}

static void
test_broker_journal_compaction_keeps_marks_of_workers_gone_from_the_ring (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    vb_journal_t *j = s_open (f, 4);
    vb_event_t *old = s_event ("wOld", "db", 7, 1);
    assert_int_equal (vb_journal_append (j, old, &err), 0);
    vb_event_destroy (&old);
    uint64_t seq = 2;
    while (!vb_journal_wants_compaction (j)) {
        vb_event_t *ev = s_event ("wA", "web", seq, seq);
        assert_int_equal (vb_journal_append (j, ev, &err), 0);
        vb_event_destroy (&ev);
        seq++;
    }
    assert_true (vb_journal_records (j) >= VB_JOURNAL_COMPACT_MIN);
    /*  The ring holds the last 4; wOld survives only as a mark. */
    vb_event_t *ring[4];
    for (size_t i = 0; i < 4; i++)
        ring[i] = s_event ("wA", "web", seq - 4 + i, seq - 4 + i);
    zhashx_t *marks = zhashx_new ();
    uint64_t mark_old = 7, mark_a = seq - 1;
    zhashx_insert (marks, "wOld", &mark_old);
    zhashx_insert (marks, "wA", &mark_a);
    assert_int_equal (vb_journal_compact (j, seq, marks, (const vb_event_t *const *) ring, 4,
                                          &err), 0);
    zhashx_destroy (&marks);
    for (size_t i = 0; i < 4; i++)
        vb_event_destroy (&ring[i]);
    assert_int_equal (vb_journal_records (j), 5);
    assert_false (vb_journal_wants_compaction (j));
    /*  Appends go on in the new file. */
    vb_event_t *ev = s_event ("wB", "web", 1, seq);
    assert_int_equal (vb_journal_append (j, ev, &err), 0);
    vb_event_destroy (&ev);
    vb_journal_destroy (&j);

    struct stat st;
    assert_int_equal (stat (f->path, &st), 0);
    assert_true (st.st_size < 6 * 1024);

    j = s_open (f, 4);
    assert_int_equal (f->count, 5);
    assert_int_equal (f->events[0]->seq, seq - 4);
    assert_int_equal (f->events[4]->seq, seq);
    assert_int_equal (vb_journal_next_seq (j), seq + 1);
    assert_int_equal (s_mark_of (f, "wOld"), 7);
    assert_int_equal (s_mark_of (f, "wA"), seq - 1);
    assert_int_equal (s_mark_of (f, "wB"), 1);
    vb_journal_destroy (&j);
}

static void
test_broker_journal_torn_tail_is_cut_and_seq_continues_from_the_good_part (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    vb_journal_t *j = s_open (f, 100);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        vb_event_t *ev = s_event ("wA", "web", seq, seq);
        assert_int_equal (vb_journal_append (j, ev, &err), 0);
        vb_event_destroy (&ev);
    }
    vb_journal_destroy (&j);
    struct stat st;
    assert_int_equal (stat (f->path, &st), 0);
    assert_int_equal (truncate (f->path, st.st_size - 1), 0);

    j = s_open (f, 100);
    assert_int_equal (f->count, 2);
    assert_int_equal (vb_journal_next_seq (j), 3);
    assert_int_equal (s_mark_of (f, "wA"), 2);
    vb_event_t *ev = s_event ("wA", "web", 3, 3);
    assert_int_equal (vb_journal_append (j, ev, &err), 0);
    vb_event_destroy (&ev);
    vb_journal_destroy (&j);

    j = s_open (f, 100);
    assert_int_equal (f->count, 3);
    assert_int_equal (f->events[2]->seq, 3);
    vb_journal_destroy (&j);
}

static void
test_broker_journal_refuses_a_foreign_file (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    const char *text = "VBWEJ1\n\0 a worker's journal, not the broker's";
    assert_int_equal (vb_write_file_atomic (f->path, text, 40, &err), 0);
    assert_null (vb_journal_open (f->dir, 10, NULL, NULL, NULL, &err));
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
}


static uint64_t
s_ring_append (vb_events_t *ring, const char *worker, uint64_t wseq)
{
    vb_event_t *ev = s_event (worker, "web", wseq, 0);
    const vb_event_t *stored = vb_events_append (ring, &ev, NULL);
    assert_null (ev);
    return stored ? stored->seq : 0;
}

static void
test_broker_journal_ring_restart_continues_seq_replays_and_dedupes (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    vb_events_t *ring = vb_events_open (100, f->dir, &err);
    if (!ring)
        fail_msg ("vb_events_open: %s", err.message);
    for (uint64_t w = 1; w <= 10; w++)
        assert_int_equal (s_ring_append (ring, "wA", w), w);
    assert_int_equal (s_ring_append (ring, "wB", 1), 11);
    assert_int_equal (vb_events_sync (ring, &err), 0);
    /*  Destroy adds nothing to the file: what a restart sees is what append() wrote. */
    vb_events_destroy (&ring);

    ring = vb_events_open (100, f->dir, &err);
    if (!ring)
        fail_msg ("vb_events_open again: %s", err.message);
    assert_int_equal (vb_events_first_seq (ring), 1);
    assert_int_equal (vb_events_last_seq (ring), 11);
    assert_int_equal (vb_events_last_wseq (ring, "wA"), 10);
    /*  Resent after the restart: already published. */
    assert_int_equal (s_ring_append (ring, "wA", 10), 0);
    assert_int_equal (s_ring_append (ring, "wB", 1), 0);
    /*  New events continue the seq. */
    assert_int_equal (s_ring_append (ring, "wA", 11), 12);
    json_object *replay = vb_events_replay (ring, 9, NULL, 0);
    json_object *events = NULL;
    assert_true (json_object_object_get_ex (replay, "events", &events));
    assert_int_equal (json_object_array_length (events), 3);
    assert_int_equal (vb_json_uint (json_object_array_get_idx (events, 0), "seq", 0), 10);
    assert_int_equal (vb_json_uint (json_object_array_get_idx (events, 2), "seq", 0), 12);
    json_object_put (replay);
    vb_events_destroy (&ring);
}

static void
test_broker_journal_ring_file_stays_bounded_and_marks_survive_compaction (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    vb_events_t *ring = vb_events_open (8, f->dir, &err);
    assert_non_null (ring);
    assert_int_equal (s_ring_append (ring, "wOld", 5), 1);
    for (uint64_t w = 1; w <= 5000; w++)
        assert_int_equal (s_ring_append (ring, "wA", w), w + 1);
    assert_int_equal (vb_events_sync (ring, &err), 0);
    vb_events_destroy (&ring);
    struct stat st;
    assert_int_equal (stat (f->path, &st), 0);
    /*  5001 events went in; compaction keeps the file near 2 x 1024 records of ~400 bytes. */
    assert_true (st.st_size < 2 * VB_JOURNAL_COMPACT_MIN * 600);

    ring = vb_events_open (8, f->dir, &err);
    assert_non_null (ring);
    assert_int_equal (vb_events_last_seq (ring), 5001);
    assert_int_equal (vb_events_first_seq (ring), 4994);
    /*  wOld's only event left the ring long ago; its mark did not. */
    assert_int_equal (vb_events_last_wseq (ring, "wOld"), 5);
    assert_int_equal (s_ring_append (ring, "wOld", 5), 0);
    assert_int_equal (s_ring_append (ring, "wOld", 6), 5002);
    vb_events_destroy (&ring);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_broker_journal_events_and_marks_come_back_after_reopen, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_broker_journal_compaction_keeps_marks_of_workers_gone_from_the_ring, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_broker_journal_torn_tail_is_cut_and_seq_continues_from_the_good_part, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_broker_journal_refuses_a_foreign_file, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_broker_journal_ring_restart_continues_seq_replays_and_dedupes, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_broker_journal_ring_file_stays_bounded_and_marks_survive_compaction, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
