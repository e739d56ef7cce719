/*  test_events_support — what the event tests (issue 5) share: collecting a subscriber's events
 *  with a bound, checking that nothing more arrives, emitting test-driver events, and checking a
 *  received run for "exactly once, in order".
 */
#ifndef TEST_EVENTS_SUPPORT_H
#define TEST_EVENTS_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_client.h"
#include "vb_testenv.h"

/*  Receive up to N events from SUB into OUT (caller destroys them) until N arrived or BOUND_MS
 *  passed. Gap events count as events (the caller asserts there are none). Returns how many. */
size_t tev_collect (vb_subscriber_t *sub, vb_event_t **out, size_t n, int bound_ms);

/*  True when SUB delivers nothing within MS. An event that does arrive is described on stderr
 *  and destroyed. */
bool tev_quiet (vb_subscriber_t *sub, int ms);

/*  test.emit_events {count} on DOMAIN; waits for the ok reply (bounded by DEADLINE_MS). Returns
 *  0, or -1 with the reason on stderr. */
int tev_emit (vb_client_t *client, const char *domain, uint64_t count, uint32_t deadline_ms);

/*  Send test.emit_events without waiting for the reply. Returns the request id or 0. */
uint64_t tev_emit_async (vb_client_t *client, const char *domain, uint64_t count);

/*  Check EVENTS[0..N) for the test driver's "test" events with details FIRST..FIRST+N-1 in order,
 *  consecutive seqs, no gap event. Returns NULL when they are, else a description of the first
 *  fault in BUF. */
const char *tev_check_run (vb_event_t **events, size_t n, uint64_t first, char *buf,
                           size_t size);

/*  Destroy EVENTS[0..N). */
void tev_free (vb_event_t **events, size_t n);

/*  Does the file PATH contain NEEDLE (binary safe)? */
bool tev_file_contains (const char *path, const char *needle);

#endif
