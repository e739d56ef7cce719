/*  Unit tests for workers/common/vb_event_journal (and the record file under it, vb_recfile):
 *  events survive a reopen until acknowledged, wseq continues after everything was acknowledged,
 *  a torn or corrupt tail is cut off, the file stays bounded, a child killed with SIGKILL in the
 *  middle of appending leaves a loadable prefix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vb_event_journal.h"
#include "vb_json.h"
#include "vb_util.h"

typedef struct {
    char dir[64];
    char path[128];
} fixture_t;

static int
s_setup (void **state)
{
    fixture_t *f = calloc (1, sizeof *f);
    if (!f)
        return -1;
    snprintf (f->dir, sizeof f->dir, "/tmp/vb-test-ejournal-XXXXXX");
    if (!mkdtemp (f->dir))
        return -1;
    snprintf (f->path, sizeof f->path, "%s/events-w1.journal", f->dir);
    *state = f;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *f = *state;
    char command[256];
    snprintf (command, sizeof command, "rm -rf '%s'", f->dir);
    int rc = system (command);
    free (f);
    return rc == 0? 0: -1;
}

static json_object *
s_body (uint64_t wseq)
{
    json_object *body = json_object_new_object ();
    json_object_object_add (body, "wseq", json_object_new_uint64 (wseq));
    json_object_object_add (body, "domain", json_object_new_string ("web"));
    json_object_object_add (body, "event", json_object_new_string ("started"));
    char detail[32];
    snprintf (detail, sizeof detail, "n%" PRIu64, wseq);
    json_object_object_add (body, "detail", json_object_new_string (detail));
    return body;
}

static void
s_append (vb_event_journal_t *j, uint64_t wseq)
{
    vb_error_t err = { 0 };
    json_object *body = s_body (wseq);
    assert_int_equal (vb_event_journal_append (j, wseq, body, &err), 0);
    json_object_put (body);
}

static vb_event_journal_t *
s_open (const fixture_t *f)
{
    vb_error_t err = { 0 };
    vb_event_journal_t *j = vb_event_journal_open (f->path, &err);
    if (!j)
        fail_msg ("open %s: %s", f->path, err.message);
    return j;
}

/*  The wseqs of the loaded events must be exactly FIRST..LAST, each with its own body. */
static void
s_expect_loaded (vb_event_journal_t *j, uint64_t first, uint64_t last)
{
    json_object *loaded = vb_event_journal_take_loaded (j);
    assert_non_null (loaded);
    size_t n = json_object_array_length (loaded);
    assert_int_equal (n, last >= first? last - first + 1: 0);
    for (size_t i = 0; i < n; i++) {
        json_object *body = json_object_array_get_idx (loaded, i);
        uint64_t wseq = first + i;
        assert_int_equal (vb_json_uint (body, "wseq", 0), wseq);
        char detail[32];
        snprintf (detail, sizeof detail, "n%" PRIu64, wseq);
        assert_string_equal (vb_json_str (body, "detail", ""), detail);
    }
    json_object_put (loaded);
}

static off_t
s_size (const char *path)
{
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    return st.st_size;
}

static void
test_event_journal_unacked_events_come_back_in_order_after_reopen (void **state)
{
    fixture_t *f = *state;
    vb_event_journal_t *j = s_open (f);
    assert_int_equal (vb_event_journal_high_wseq (j), 0);
    s_expect_loaded (j, 1, 0);
    for (uint64_t w = 1; w <= 3; w++)
        s_append (j, w);
    assert_true (vb_event_journal_dirty (j));
    vb_error_t err = { 0 };
    assert_int_equal (vb_event_journal_sync (j, &err), 0);
    assert_false (vb_event_journal_dirty (j));
    vb_event_journal_destroy (&j);
    assert_null (j);

    j = s_open (f);
    assert_int_equal (vb_event_journal_high_wseq (j), 3);
    assert_int_equal (vb_event_journal_live (j), 3);
    s_expect_loaded (j, 1, 3);
    /*  Taken once: a second take is empty. */
    s_expect_loaded (j, 1, 0);
    vb_event_journal_destroy (&j);
}

static void
test_event_journal_ack_trims_and_wseq_continues_after_everything_acked (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    vb_event_journal_t *j = s_open (f);
    for (uint64_t w = 1; w <= 5; w++)
        s_append (j, w);
    assert_int_equal (vb_event_journal_sync (j, &err), 0);
    assert_int_equal (vb_event_journal_ack (j, 2, &err), 0);
    assert_int_equal (vb_event_journal_live (j), 3);
    assert_int_equal (vb_event_journal_sync (j, &err), 0);
    vb_event_journal_destroy (&j);

    j = s_open (f);
    s_expect_loaded (j, 3, 5);
    assert_int_equal (vb_event_journal_ack (j, 5, &err), 0);
    vb_event_journal_destroy (&j);

    /*  Nothing pending, but the next event must still be 6, not 1. */
    j = s_open (f);
    s_expect_loaded (j, 1, 0);
    assert_int_equal (vb_event_journal_high_wseq (j), 5);
    assert_int_equal (vb_event_journal_live (j), 0);
    /*  A reused wseq is refused. */
    json_object *body = s_body (5);
    assert_int_equal (vb_event_journal_append (j, 5, body, &err), -1);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    json_object_put (body);
    s_append (j, 6);
    vb_event_journal_destroy (&j);   /* destroy writes what is buffered */

    j = s_open (f);
    s_expect_loaded (j, 6, 6);
    vb_event_journal_destroy (&j);
}

/*  A write without fdatasync is what the worker does before sending: it must already be in the
 *  file for the next open (as after a kill -9), and the sync that follows clears "unsynced". */
static void
test_event_journal_written_records_are_there_before_the_sync (void **state)
{
    fixture_t *f = *state;
    vb_event_journal_t *j = s_open (f);
    vb_error_t err = { 0 };
    s_append (j, 1);
    s_append (j, 2);
    assert_false (vb_event_journal_unsynced (j));
    assert_int_equal (vb_event_journal_write (j, &err), 0);
    assert_false (vb_event_journal_dirty (j));
    assert_true (vb_event_journal_unsynced (j));

    vb_event_journal_t *other = s_open (f);   /* a second reader sees what a restart would */
    assert_int_equal (vb_event_journal_live (other), 2);
    s_expect_loaded (other, 1, 2);
    vb_event_journal_destroy (&other);

    assert_int_equal (vb_event_journal_sync (j, &err), 0);
    assert_false (vb_event_journal_unsynced (j));
    vb_event_journal_destroy (&j);
}

/*  A compaction with unacknowledged events must keep them across a reopen: its high-water mark
 *  sits below them, or the reload would take them for a replayed tail. */
static void
test_event_journal_compaction_keeps_unacked_events_for_the_next_open (void **state)
{
    fixture_t *f = *state;
    vb_event_journal_t *j = s_open (f);
    vb_error_t err = { 0 };
    for (uint64_t w = 1; w <= 5; w++)
        s_append (j, w);
    assert_int_equal (vb_event_journal_sync (j, &err), 0);
    assert_int_equal (vb_event_journal_ack (j, 2, &err), 0);
    assert_int_equal (vb_event_journal_compact (j, &err), 0);
    vb_event_journal_destroy (&j);

    j = s_open (f);
    assert_int_equal (vb_event_journal_high_wseq (j), 5);
    assert_int_equal (vb_event_journal_live (j), 3);
    s_expect_loaded (j, 3, 5);
    s_append (j, 6);
    vb_event_journal_destroy (&j);
}

static void
test_event_journal_torn_tail_is_cut_and_appends_follow_good_data (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    vb_event_journal_t *j = s_open (f);
    for (uint64_t w = 1; w <= 3; w++)
        s_append (j, w);
    assert_int_equal (vb_event_journal_sync (j, &err), 0);
    vb_event_journal_destroy (&j);
    /*  A write cut short: the last record loses its final bytes. */
    off_t size = s_size (f->path);
    assert_int_equal (truncate (f->path, size - 5), 0);

    j = s_open (f);
    s_expect_loaded (j, 1, 2);
    assert_int_equal (vb_event_journal_high_wseq (j), 2);
    s_append (j, 3);
    assert_int_equal (vb_event_journal_sync (j, &err), 0);
    vb_event_journal_destroy (&j);

    j = s_open (f);
    s_expect_loaded (j, 1, 3);
    vb_event_journal_destroy (&j);
}

static void
test_event_journal_corrupt_record_ends_the_good_part (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    vb_event_journal_t *j = s_open (f);
    for (uint64_t w = 1; w <= 4; w++)
        s_append (j, w);
    assert_int_equal (vb_event_journal_sync (j, &err), 0);
    vb_event_journal_destroy (&j);

    /*  Flip one byte inside the payload of the third record. */
    size_t len = 0;
    char *data = vb_read_file (f->path, 1 << 20, &len, &err);
    assert_non_null (data);
    char *third = memmem (data, len, "\"n3\"", 4);
    assert_non_null (third);
    int fd = open (f->path, O_WRONLY | O_CLOEXEC);
    assert_true (fd >= 0);
    assert_int_equal (pwrite (fd, "m", 1, third - data + 1), 1);
    close (fd);
    free (data);

    j = s_open (f);
    s_expect_loaded (j, 1, 2);
    vb_event_journal_destroy (&j);
}

static void
test_event_journal_stays_bounded_under_acked_traffic (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    vb_event_journal_t *j = s_open (f);
    off_t one_record = 0;
    for (uint64_t w = 1; w <= 20000; w++) {
        s_append (j, w);
        if (w % 100)
            continue;
        assert_int_equal (vb_event_journal_sync (j, &err), 0);
        if (w == 100)
            one_record = s_size (f->path) / 100;
        assert_int_equal (vb_event_journal_ack (j, w, &err), 0);
    }
    assert_int_equal (vb_event_journal_sync (j, &err), 0);
    vb_event_journal_destroy (&j);
    /*  20000 events went through; the file holds at most about a compaction threshold's worth
     *  of records. */
    off_t size = s_size (f->path);
    assert_true (size <= one_record * 2 * VB_EVENT_JOURNAL_COMPACT_MIN);

    j = s_open (f);
    assert_int_equal (vb_event_journal_high_wseq (j), 20000);
    s_expect_loaded (j, 1, 0);
    vb_event_journal_destroy (&j);
}

static void
test_event_journal_refuses_a_foreign_file_and_leaves_it_alone (void **state)
{
    fixture_t *f = *state;
    vb_error_t err = { 0 };
    const char *text = "not a journal, someone's notes\n";
    assert_int_equal (vb_write_file_atomic (f->path, text, strlen (text), &err), 0);
    vb_event_journal_t *j = vb_event_journal_open (f->path, &err);
    assert_null (j);
    assert_int_equal (err.code, VB_ERR_INVALID_ARG);
    assert_non_null (strstr (err.message, f->path));
    char *after = vb_read_file (f->path, 4096, NULL, &err);
    assert_non_null (after);
    assert_string_equal (after, text);
    free (after);
}

static void
test_event_journal_path_keeps_odd_worker_ids_apart (void **state)
{
    (void) state;
    char *plain = vb_event_journal_path ("/s", "h1-test-0011");
    char *slash = vb_event_journal_path ("/s", "a/b");
    char *under = vb_event_journal_path ("/s", "a_b");
    assert_string_equal (plain, "/s/events-h1-test-0011.journal");
    assert_string_equal (under, "/s/events-a_b.journal");
    assert_null (strchr (slash + 3, '/'));
    assert_string_not_equal (slash, under);
    free (plain);
    free (slash);
    free (under);
}

/*  A child appends and syncs events as fast as it can; SIGKILL lands somewhere in a write. What
 *  is left must load as an unbroken run 1..k with k at least what the child reported synced. */
static void
test_event_journal_survives_sigkill_in_the_middle_of_appending (void **state)
{
    fixture_t *f = *state;
    int pipefd[2];
    assert_int_equal (pipe (pipefd), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        close (pipefd[0]);
        vb_error_t err = { 0 };
        vb_event_journal_t *j = vb_event_journal_open (f->path, &err);
        if (!j)
            _exit (3);
        for (uint64_t w = 1;; w++) {
            json_object *body = s_body (w);
            /*  Big bodies make a kill inside a write likely. */
            char pad[3000];
            memset (pad, 'x', sizeof pad - 1);
            pad[sizeof pad - 1] = '\0';
            json_object_object_add (body, "pad", json_object_new_string (pad));
            if (vb_event_journal_append (j, w, body, &err) != 0
                || vb_event_journal_sync (j, &err) != 0)
                _exit (4);
            json_object_put (body);
            if (write (pipefd[1], &w, sizeof w) != sizeof w)
                _exit (5);
        }
    }
    close (pipefd[1]);
    uint64_t synced = 0;
    while (synced < 50)
        assert_int_equal (read (pipefd[0], &synced, sizeof synced), (ssize_t) sizeof synced);
    /*  Let it run a random little while more, then kill it mid-flight. */
    struct timespec ts = { 0, (long) (vb_now_ns () % 3000000) };
    nanosleep (&ts, NULL);
    kill (pid, SIGKILL);
    int status = 0;
    assert_int_equal (waitpid (pid, &status, 0), pid);
    assert_true (WIFSIGNALED (status));
    uint64_t more;
    while (read (pipefd[0], &more, sizeof more) == (ssize_t) sizeof more)
        synced = more;
    close (pipefd[0]);

    vb_event_journal_t *j = s_open (f);
    uint64_t high = vb_event_journal_high_wseq (j);
    assert_true (high >= synced);
    json_object *loaded = vb_event_journal_take_loaded (j);
    assert_int_equal (json_object_array_length (loaded), high);
    for (size_t i = 0; i < high; i++)
        assert_int_equal (vb_json_uint (json_object_array_get_idx (loaded, i), "wseq", 0), i + 1);
    json_object_put (loaded);
    vb_event_journal_destroy (&j);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (
            test_event_journal_written_records_are_there_before_the_sync, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_event_journal_compaction_keeps_unacked_events_for_the_next_open, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_event_journal_unacked_events_come_back_in_order_after_reopen, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_event_journal_ack_trims_and_wseq_continues_after_everything_acked, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_event_journal_torn_tail_is_cut_and_appends_follow_good_data, s_setup,
            s_teardown),
        cmocka_unit_test_setup_teardown (
            test_event_journal_corrupt_record_ends_the_good_part, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_event_journal_stays_bounded_under_acked_traffic, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown (
            test_event_journal_refuses_a_foreign_file_and_leaves_it_alone, s_setup, s_teardown),
        cmocka_unit_test (test_event_journal_path_keeps_odd_worker_ids_apart),
        cmocka_unit_test_setup_teardown (
            test_event_journal_survives_sigkill_in_the_middle_of_appending, s_setup,
            s_teardown),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
