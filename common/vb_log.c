/*  vb_log — leveled logging to stderr (see vb_log.h). */
#include "vb_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/*  The module's only mutable state, set once by main (vb_log.h says why). */
static char vb_log_program[64] = "virtbus";
static vb_log_level_t vb_log_threshold = VB_LOG_WARN;

static const char *const vb_log_level_names[] = { "error", "warn", "info", "debug" };

void
vb_log_init (const char *program, vb_log_level_t level)
{
    if (program && *program) {
        const char *base = strrchr (program, '/');
        snprintf (vb_log_program, sizeof vb_log_program, "%s", base ? base + 1 : program);
    }
    if (level <= VB_LOG_DEBUG)
        vb_log_threshold = level;
}

int
vb_log_level_parse (const char *name, vb_log_level_t *level)
{
    if (!name)
        return -1;
    for (int i = VB_LOG_ERROR; i <= VB_LOG_DEBUG; i++) {
        if (strcmp (name, vb_log_level_names[i]) == 0) {
            if (level)
                *level = (vb_log_level_t) i;
            return 0;
        }
    }
    return -1;
}

void
vb_log (vb_log_level_t level, const char *fmt, ...)
{
    if (level > vb_log_threshold || level > VB_LOG_DEBUG)
        return;

    struct timespec ts;
    struct tm tm;
    clock_gettime (CLOCK_REALTIME, &ts);
    gmtime_r (&ts.tv_sec, &tm);

    /*  Build the whole line first and write it with one write(2), so lines of concurrent
     *  processes sharing a stderr do not interleave mid-line. */
    char line[4096];
    int n = snprintf (line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%ld] %s: ",
                      tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                      tm.tm_sec, ts.tv_nsec / 1000000L, vb_log_program, (long) getpid (),
                      vb_log_level_names[level]);
    if (n < 0)
        return;
    size_t used = (size_t) n < sizeof line ? (size_t) n : sizeof line - 1;

    va_list ap;
    va_start (ap, fmt);
    int m = vsnprintf (line + used, sizeof line - used, fmt, ap);
    va_end (ap);
    if (m < 0)
        m = 0;
    used += (size_t) m;
    if (used > sizeof line - 2) {
        /*  Truncated: mark it so a reader knows the line was cut. */
        used = sizeof line - 2;
        memcpy (line + used - 3, "...", 3);
    }
    line[used++] = '\n';

    const char *p = line;
    while (used > 0) {
        ssize_t w = write (STDERR_FILENO, p, used);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        p += w;
        used -= (size_t) w;
    }
}
