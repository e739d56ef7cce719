/*  qemu_blockstats — a query-blockstats reply, read straight from its text.
 *
 *  domstats asks every running domain for query-blockstats on every request, and its reply is
 *  the largest thing the QEMU worker reads: ~3 KB per disk, some 60 counters per node of which
 *  domstats uses nine. Building a json-c tree of it (an object and a hash table per node, a
 *  string per key) was 60 % of the worker's CPU per request (docs/performance.md). This module
 *  scans the text once, checks that it is one well-formed JSON value (RFC 8259, nesting at most
 *  QEMU_BLOCKSTATS_MAX_NESTING), and keeps only what domstats reads:
 *
 *    per device (entry of the array)   qdev, and its top layer
 *    per layer                         node-name; stats.{rd,wr,flush}_operations,
 *                                      {rd,wr}_bytes, {rd,wr,flush}_total_time_ns,
 *                                      wr_highest_offset; parent.stats.wr_highest_offset (the
 *                                      layer's storage node); the layer below it (`backing`)
 *
 *  Lenient where QEMU's schema is not met, as domstats must answer with what is known: a field
 *  of the wrong type, a negative or fractional number, or a missing one reads as absent (0 / NULL),
 *  an integer beyond 64 bits as UINT64_MAX (json-c's reading, which this module keeps),
 *  an entry that is not an object is skipped, layers below QEMU_BLOCKSTATS_MAX_LAYERS are left
 *  out. Strict where the text is not JSON: then nothing is returned.
 *
 *  The input is the reply's "return" value (an array), or a whole reply object, whose "return"
 *  member is read (tests hand in captured reply lines).
 */
#ifndef QEMU_BLOCKSTATS_H
#define QEMU_BLOCKSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"

/*  Deepest JSON nesting accepted (QEMU nests two levels per backing layer). */
#define QEMU_BLOCKSTATS_MAX_NESTING 1024
/*  Layers kept per device: the top and 64 backing layers (vb_image's chain limit). */
#define QEMU_BLOCKSTATS_MAX_LAYERS 65

/*  The stats counters domstats reads, in this order in qemu_blocklayer_t.stats. */
typedef enum {
    QEMU_BS_RD_OPERATIONS,
    QEMU_BS_RD_BYTES,
    QEMU_BS_RD_TOTAL_TIME_NS,
    QEMU_BS_WR_OPERATIONS,
    QEMU_BS_WR_BYTES,
    QEMU_BS_WR_TOTAL_TIME_NS,
    QEMU_BS_FLUSH_OPERATIONS,
    QEMU_BS_FLUSH_TOTAL_TIME_NS,
    QEMU_BS_WR_HIGHEST_OFFSET,
    QEMU_BS_NCOUNTERS
} qemu_bs_counter_t;

/*  QEMU's name of a counter ("rd_operations"). */
const char *qemu_blockstats_counter_name (qemu_bs_counter_t counter);

typedef struct qemu_blocklayer qemu_blocklayer_t;
struct qemu_blocklayer {
    char *node_name;                      /* NULL when absent */
    uint64_t stats[QEMU_BS_NCOUNTERS];    /* 0 when absent */
    uint64_t storage_wr_highest_offset;   /* parent.stats.wr_highest_offset; 0 when absent */
    qemu_blocklayer_t *backing;           /* the layer below, NULL at the bottom */
};

typedef struct {
    char *qdev;                 /* NULL when absent */
    qemu_blocklayer_t top;
    size_t depth;               /* backing layers kept below the top */
} qemu_blockdev_t;

typedef struct {
    qemu_blockdev_t *devs;      /* ndevs entries, in the reply's order */
    size_t ndevs;
} qemu_blockstats_t;

/*  Read TEXT (LEN bytes; need not be NUL-terminated). Returns a new record (free with
 *  qemu_blockstats_destroy), or NULL with ERR: OPERATION_FAILED "QEMU's query-blockstats reply is
 *  not JSON: <what> at byte N" (also for a value that is neither an array nor an object with an
 *  array "return"), INTERNAL when out of memory. */
qemu_blockstats_t *qemu_blockstats_parse (const char *text, size_t len, vb_error_t *err);

/*  Free and set *SELF_P to NULL. Safe on NULL. */
void qemu_blockstats_destroy (qemu_blockstats_t **self_p);

/*  The device whose top node is NODE_NAME, else NULL. */
const qemu_blockdev_t *qemu_blockstats_by_node (const qemu_blockstats_t *self,
                                                const char *node_name);

/*  The device whose qdev is QDEV, else NULL. */
const qemu_blockdev_t *qemu_blockstats_by_qdev (const qemu_blockstats_t *self, const char *qdev);

#endif
