/*  Unit tests for vb_log (common/vb_log.c): level parsing, the threshold, and the line format
 *  `2026-11-25T19:20:01.123Z prog[pid] level: msg`, read back from a redirected stderr. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vb_log.h"

/*  Run the logging calls of FN with stderr sent to a temporary file; return what was written. */
static char *
capture_stderr (void (*fn) (void))
{
    char path[] = "/tmp/vb-test-log-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    unlink (path);
    int saved = dup (STDERR_FILENO);
    dup2 (fd, STDERR_FILENO);
    fn ();
    dup2 (saved, STDERR_FILENO);
    close (saved);
    off_t size = lseek (fd, 0, SEEK_END);
    char *text = calloc (1, (size_t) size + 1);
    assert_int_equal (pread (fd, text, (size_t) size, 0), size);
    close (fd);
    return text;
}

static void
log_some (void)
{
    vb_log_init ("/usr/bin/virtbusd", VB_LOG_INFO);
    vb_warn ("worker %s silent %d s", "h1-qemu-1a2b", 3);
    vb_debug ("not shown at info");
    vb_info ("shown");
}

static void
test_log_line_has_utc_time_program_pid_and_level (void **state)
{
    (void) state;
    char *text = capture_stderr (log_some);
    char pattern[512];
    snprintf (pattern, sizeof pattern,
              "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z "
              "virtbusd\\[%ld\\] warn: worker h1-qemu-1a2b silent 3 s\n"
              "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]{12}Z virtbusd\\[%ld\\] info: shown\n$",
              (long) getpid (), (long) getpid ());
    regex_t re;
    assert_int_equal (regcomp (&re, pattern, REG_EXTENDED), 0);
    if (regexec (&re, text, 0, NULL, 0) != 0)
        fail_msg ("log output does not match:\n%s", text);
    regfree (&re);
    free (text);
}

static void
log_long (void)
{
    vb_log_init ("t", VB_LOG_ERROR);
    char big[10000];
    memset (big, 'y', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    vb_error_log ("%s", big);
    vb_warn ("hidden at error level");
}

static void
test_log_long_message_is_cut_to_one_line (void **state)
{
    (void) state;
    char *text = capture_stderr (log_long);
    char *nl = strchr (text, '\n');
    assert_non_null (nl);
    assert_string_equal (nl + 1, "");
    assert_memory_equal (nl - 3, "...", 3);
    free (text);
}

static void
test_log_level_parse_accepts_the_four_names (void **state)
{
    (void) state;
    const char *names[] = { "error", "warn", "info", "debug" };
    for (int i = 0; i < 4; i++) {
        vb_log_level_t level = VB_LOG_DEBUG;
        assert_int_equal (vb_log_level_parse (names[i], &level), 0);
        assert_int_equal (level, i);
    }
    vb_log_level_t level = VB_LOG_INFO;
    assert_int_equal (vb_log_level_parse ("verbose", &level), -1);
    assert_int_equal (vb_log_level_parse ("WARN", &level), -1);
    assert_int_equal (vb_log_level_parse (NULL, &level), -1);
    assert_int_equal (level, VB_LOG_INFO);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_log_line_has_utc_time_program_pid_and_level),
        cmocka_unit_test (test_log_long_message_is_cut_to_one_line),
        cmocka_unit_test (test_log_level_parse_accepts_the_four_names),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
