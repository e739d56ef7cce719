/*  vb_util — small helpers shared by every room: clocks, atomic files, names.
 */
#ifndef VB_UTIL_H
#define VB_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"

/*  Monotonic clock in milliseconds / nanoseconds (CLOCK_MONOTONIC). */
int64_t vb_now_ms (void);
int64_t vb_now_ns (void);

/*  Wall clock in nanoseconds since the epoch (CLOCK_REALTIME), for event timestamps. */
uint64_t vb_wall_ns (void);

/*  Write LEN bytes of DATA to PATH atomically: a temporary file in the same directory, fsync,
 *  rename over PATH, fsync of the directory. A crash at any point leaves either the old or the new
 *  content, never a mix. Returns 0, or -1 with ERR (INTERNAL, naming the path and errno). */
int vb_write_file_atomic (const char *path, const void *data, size_t len, vb_error_t *err);

/*  Read a whole file (at most MAX bytes) into a new NUL-terminated buffer. Returns it (caller
 *  frees; *LEN_OUT set if not NULL), or NULL with ERR. */
char *vb_read_file (const char *path, size_t max, size_t *len_out, vb_error_t *err);

/*  mkdir -p with MODE. Returns 0 or -1 with ERR. */
int vb_mkdir_p (const char *path, unsigned mode, vb_error_t *err);

/*  Is NAME a valid domain or host name for use on the wire and in file paths?
 *  1-64 characters of [A-Za-z0-9_.-+], not starting with '.' or '-'. */
bool vb_name_is_valid (const char *name);

/*  Is TEXT a canonical UUID (8-4-4-4-12 lower- or upper-case hex)? */
bool vb_uuid_is_valid (const char *text);

/*  Fill OUT (37 bytes) with a new random (version 4) UUID in lower case. */
void vb_uuid_generate (char out[37]);

/*  64-bit FNV-1a of LEN bytes, for stable derived identifiers. */
uint64_t vb_hash64 (const void *data, size_t len);

#endif
