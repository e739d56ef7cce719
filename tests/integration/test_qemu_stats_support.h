/*  test_qemu_stats_support — shared pieces of the domstats integration tests
 *  (test_qemu_stats_*.c, issue 4 "Checks").
 *
 *  The tests read stats the way an operator does: they run `vbsh domstats ...` and parse its
 *  virsh-style text ("Domain: 'x'" then "  key=value" lines, a blank line between domains), so
 *  the worker, the broker and vbsh's formatting are all under test. A line that does not have
 *  that form fails the test.
 */
#ifndef TEST_QEMU_STATS_SUPPORT_H
#define TEST_QEMU_STATS_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_client.h"
#include "vb_testenv.h"

#define QS_MAX_KEYS 512

typedef struct {
    char *name;
    size_t nkeys;
    char *keys[QS_MAX_KEYS];
    char *values[QS_MAX_KEYS];
} qs_dom_t;

typedef struct {
    size_t ndoms;
    qs_dom_t *doms;
} qs_stats_t;

/*  Parse vbsh's domstats text into *STATS (free with qs_stats_clear). Fails the test when a line
 *  has not virsh's form. */
void qs_parse (const char *text, qs_stats_t *stats);
void qs_stats_clear (qs_stats_t *stats);

/*  The domain NAME of STATS, or NULL. */
const qs_dom_t *qs_dom (const qs_stats_t *stats, const char *name);

/*  The value of KEY in DOM (NULL when absent); the number value (fails the test when absent or
 *  not a number). */
const char *qs_get (const qs_dom_t *dom, const char *key);
uint64_t qs_u64 (const qs_dom_t *dom, const char *key);

/*  Run `vbsh [--deadline DEADLINE_MS] domstats ARGS...` (NULL-terminated; DEADLINE_MS 0 = the
 *  default), expecting exit 0; parse stdout into *STATS; *RUN keeps stdout/stderr/elapsed
 *  (caller clears both). */
void qs_domstats (vb_testenv_t *env, vb_testrun_t *run, qs_stats_t *stats, int deadline_ms, ...)
    __attribute__ ((sentinel));

/*  Start DOMAIN paused (domain.start {paused: true}); fails the test unless ok. */
void qs_start_paused (vb_client_t *client, const char *domain);

/*  `qemu-img info -U --output=json PATH`'s virtual-size. */
uint64_t qs_virtual_size (const char *path);

/*  Make a qcow2 chain of NLAYERS files DIR/NAME-0.qcow2 (top) ... DIR/NAME-(N-1).qcow2: layer
 *  d has virtual size (64 + 16 d) MiB and d MiB of data written at offset d MiB, so sizes
 *  differ per layer. PATHS gets the N paths (caller frees each). */
void qs_make_chain (const char *dir, const char *name, size_t nlayers, char **paths);

#endif
