/*  vb_endpoint — what the broker may bind and advertise.
 *
 *  A broker reachable from other machines must not run without keys, and must never tell its
 *  peers to connect to a wildcard address. These checks run before anything is bound:
 *  vb_endpoint_policy() refuses a non-loopback bind without keys (unless --insecure), a wildcard
 *  bind without --advertise, and an --advertise value that is not a host name, an IPv4 address
 *  or a bracketed IPv6 address.
 */
#ifndef VB_ENDPOINT_H
#define VB_ENDPOINT_H

#include <stdbool.h>

#include "vb_error.h"

/*  Does EP only accept local peers? ipc:// and inproc:// do; tcp:// does for 127.0.0.0/8,
 *  [::1] and localhost. Anything else (a wildcard, an interface name, another address) does
 *  not. */
bool vb_endpoint_is_loopback (const char *ep);

/*  Is EP a tcp:// bind on every interface (0.0.0.0, *, [::], [*], ::)? */
bool vb_endpoint_is_wildcard (const char *ep);

/*  Is HOST fit to replace a wildcard in an advertised endpoint: a DNS host name (labels of
 *  letters, digits and '-', not starting or ending with '-', at most 253 characters), a dotted
 *  IPv4 address, or an IPv6 address in brackets ("[fd00::1]")? */
bool vb_advertise_is_valid (const char *host);

/*  Check the endpoints (each a bind endpoint; NULL = skipped) against the rules above. KEYED:
 *  the broker has keys; INSECURE: the operator accepted a non-loopback bind without keys.
 *  Returns 0, or -1 with ERR (INVALID_ARG, one line naming the endpoint and the fix). */
int vb_endpoint_policy (const char *const endpoints[], const char *advertise, bool keyed,
                        bool insecure, vb_error_t *err);

#endif
