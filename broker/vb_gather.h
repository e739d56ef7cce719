/*  vb_gather — the gathering half of a fan-out request (list, stats, ...).
 *
 *  A fan-out sends one share of a client request to each matching worker and merges what comes
 *  back into one reply: the array results of the shares that answered, concatenated in share
 *  order (the broker adds shares sorted by worker id), and a `partial` entry for every share that
 *  failed, timed out or whose worker died, so a dead or slow worker never fails the whole reply.
 *  Partial entries a worker reports itself (e.g. a domain whose monitor did not answer) are kept.
 *  No sockets here: the broker tells it what happened and asks for the reply.
 */
#ifndef VB_GATHER_H
#define VB_GATHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_error.h"
#include "vb_proto.h"

typedef struct _vb_gather_t vb_gather_t;

/*  A gathering for client request CLIENT_ID with room for SHARES shares. NULL on allocation
 *  failure. */
vb_gather_t *vb_gather_new (uint64_t client_id, size_t shares);
void vb_gather_destroy (vb_gather_t **self_p);

/*  Describe share INDEX (strings copied): which worker it went to. Returns 0, -1 on allocation
 *  failure or a bad index. */
int vb_gather_set_share (vb_gather_t *self, size_t index, const char *worker, const char *host,
                         const char *driver);

/*  Share INDEX answered with REPLY (borrowed): an ok reply with an array result contributes its
 *  elements, anything else becomes a partial entry. A share already settled is ignored.
 *  Returns 0, or -1 when INDEX is out of range or already settled. */
int vb_gather_reply (vb_gather_t *self, size_t index, const vb_reply_t *reply);

/*  Share INDEX failed without a worker reply (WORKER_LOST, BUSY, NO_WORKER, ...). Same return
 *  as vb_gather_reply. */
int vb_gather_fail (vb_gather_t *self, size_t index, vb_error_code_t code, const char *message);

/*  Shares not settled yet. The gathering is complete when this is 0. */
size_t vb_gather_pending (const vb_gather_t *self);

/*  Is share INDEX still waiting? */
bool vb_gather_share_pending (const vb_gather_t *self, size_t index);

/*  The merged reply (caller owns). Shares still pending are reported as TIMEOUT partial entries
 *  (the deadline of DEADLINE_MS passed) — call it when complete or at the deadline. NULL on
 *  allocation failure. */
vb_reply_t *vb_gather_finish (vb_gather_t *self, uint32_t deadline_ms);

#endif
