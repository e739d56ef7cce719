/*  vb_recfile — an append-only file of checksummed records, for the event journals.
 *
 *  A record file starts with an 8-byte magic that names its format, followed by records:
 *  [u32 length, little-endian][u32 checksum, little-endian][LENGTH payload bytes]. The checksum
 *  is the 64-bit FNV-1a of the payload folded to 32 bits. A process killed in the middle of an
 *  append leaves a short or mismatching last record; loading stops at the first record that is
 *  short, oversized or fails its checksum, truncates the file there (so later appends follow good
 *  data) and reports how many bytes it dropped. Rewrites (compaction) go through
 *  vb_write_file_atomic(), so a crash leaves the old file or the new one, never a mix.
 *
 *  Records are built in a vb_recbuf_t (a growing byte buffer) and written with one write(2);
 *  durability (fdatasync) is the caller's choice, through vb_recfile_sync().
 */
#ifndef VB_RECFILE_H
#define VB_RECFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"

#define VB_RECFILE_MAGIC_LEN 8
/*  A longer record is treated as corruption when loading and refused when appending. */
#define VB_RECFILE_RECORD_MAX (16u << 20)

/*  A growing byte buffer. Zero-initialise; free with vb_recbuf_clear(). */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} vb_recbuf_t;

/*  Append LEN bytes / one framed record (header + payload). Return 0, or -1 on allocation
 *  failure or an oversized record (the buffer is unchanged then). */
int vb_recbuf_add (vb_recbuf_t *buf, const void *data, size_t len);
int vb_recbuf_add_record (vb_recbuf_t *buf, const void *payload, size_t len);
/*  Forget the content, keep the memory. */
void vb_recbuf_reset (vb_recbuf_t *buf);
/*  Free the memory and zero the buffer. */
void vb_recbuf_clear (vb_recbuf_t *buf);

/*  Called once per valid record, in file order; PAYLOAD is borrowed for the call. Return 0 to go
 *  on; -1 treats the record as the start of a bad tail (it and everything after are dropped). */
typedef int (*vb_recfile_record_fn) (const char *payload, size_t len, void *arg);

/*  Open PATH for appending, creating it with MAGIC (VB_RECFILE_MAGIC_LEN bytes) when missing or
 *  empty, after feeding every valid record to FN (may be NULL). A bad tail is cut off and its
 *  size stored in *DROPPED_OUT (may be NULL; 0 when the file was clean). A file with another
 *  magic is refused (INVALID_ARG), never overwritten. Returns the O_APPEND|O_CLOEXEC fd, or -1
 *  with ERR (INTERNAL naming the path and errno). */
int vb_recfile_open (const char *path, const char *magic, vb_recfile_record_fn fn, void *arg,
                     size_t *dropped_out, vb_error_t *err);

/*  Write the whole buffer BUF at the end of FD (retrying short writes). Returns 0 or -1 with ERR
 *  naming PATH (used in the message only). */
int vb_recfile_write (int fd, const char *path, const vb_recbuf_t *buf, vb_error_t *err);

/*  fdatasync FD. Returns 0 or -1 with ERR naming PATH. */
int vb_recfile_sync (int fd, const char *path, vb_error_t *err);

/*  Replace PATH by MAGIC + the records already framed in BODY, atomically, and return a new
 *  append fd on it (the caller closes its old fd). -1 with ERR when it fails; PATH then still
 *  holds its old content. */
int vb_recfile_rewrite (const char *path, const char *magic, const vb_recbuf_t *body,
                        vb_error_t *err);

#endif
