/*  vb_log — leveled logging to stderr for every virtbus process.
 *
 *  Lines look like `2026-11-25T19:20:01.123Z virtbusd[1234] warn: worker h1-qemu-1a2b silent 3 s`.
 *  The level is process-wide (set once by main from --log-level); that one setting is the only
 *  mutable state this module keeps, because threading a logger through every call would cost more
 *  than it gives.
 */
#ifndef VB_LOG_H
#define VB_LOG_H

typedef enum {
    VB_LOG_ERROR = 0,
    VB_LOG_WARN,
    VB_LOG_INFO,
    VB_LOG_DEBUG,
} vb_log_level_t;

/*  Set the program name printed on each line and the lowest level that is printed
 *  (default: "virtbus", VB_LOG_WARN). */
void vb_log_init (const char *program, vb_log_level_t level);

/*  Parse "error" | "warn" | "info" | "debug". Returns 0 and sets *LEVEL, or -1. */
int vb_log_level_parse (const char *name, vb_log_level_t *level);

/*  Log one line at LEVEL (a newline is added). */
void vb_log (vb_log_level_t level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

#define vb_error_log(...) vb_log (VB_LOG_ERROR, __VA_ARGS__)
#define vb_warn(...)      vb_log (VB_LOG_WARN, __VA_ARGS__)
#define vb_info(...)      vb_log (VB_LOG_INFO, __VA_ARGS__)
#define vb_debug(...)     vb_log (VB_LOG_DEBUG, __VA_ARGS__)

#endif
