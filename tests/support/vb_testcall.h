/*  vb_testcall — requests and reply checks for integration tests, on top of vb_client.
 *
 *  Thin helpers so a test reads as what it checks: call an op aimed at a host and/or domain and
 *  get the reply with the time it took; define a test-driver domain; look into a reply's result
 *  and its `partial` list; describe a reply in one line for an assertion message.
 *
 *      int64_t ms;
 *      vb_reply_t *r = vb_testcall (c, "domain.info", NULL, "web", NULL, 500, &ms, &err);
 *      assert_true (vb_testcall_is_error (r, VB_ERR_TIMEOUT));
 */
#ifndef VB_TESTCALL_H
#define VB_TESTCALL_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vb_client.h"

/*  The test driver's definition of a domain NAME (64 MiB, 1 vcpu). Caller frees; NULL on
 *  allocation failure. */
char *vb_testcall_domain_xml (const char *name);

/*  vb_client_call() with target {host: HOST, domain: DOMAIN} (either may be NULL). ARGS taken.
 *  *ELAPSED_MS (may be NULL) gets the wall time of the call. Returns the reply or NULL with ERR. */
vb_reply_t *vb_testcall (vb_client_t *client, const char *op, const char *host,
                         const char *domain, json_object *args, uint32_t deadline_ms,
                         int64_t *elapsed_ms, vb_error_t *err);

/*  Send the same asynchronously; returns the request id, or 0 on failure (message on stderr). */
uint64_t vb_testcall_send (vb_client_t *client, const char *op, const char *host,
                           const char *domain, json_object *args, uint32_t deadline_ms);

/*  Define domain NAME through domain.define with target.host HOST (NULL: the broker places it).
 *  On success copies the new UUID into UUID_OUT (may be NULL) and returns 0; otherwise prints
 *  the reply or error on stderr and returns -1. */
int vb_testcall_define (vb_client_t *client, const char *host, const char *name,
                        char uuid_out[37]);

/*  Ask "hosts" (deadline DEADLINE_MS) and count the result entries of HOST (and of WORKER when
 *  not NULL). *IN_PARTIAL (may be NULL) tells whether the partial list names HOST. Returns the
 *  count, or -1 when no ok reply came. */
int vb_testcall_hosts_count (vb_client_t *client, const char *host, const char *worker,
                             uint32_t deadline_ms, bool *in_partial);

/*  What vb_testcall_hosts_listed() waits for: every one of HOSTS (COUNT names) in the "hosts"
 *  result, and when WORKERS > 0 exactly that many entries in it. */
typedef struct {
    vb_client_t *client;
    const char *const *hosts;
    size_t count;
    size_t workers;
    uint32_t deadline_ms;   /* of each "hosts" request; 0 = the broker's default */
} vb_testcall_hosts_t;

/*  A vb_test_cond_fn (ARG is a vb_testcall_hosts_t): true when "hosts" answers ok and lists
 *  them all. */
bool vb_testcall_hosts_listed (void *arg);

/*  Repeat OP on HOST/DOMAIN (deadline DEADLINE_MS each) every INTERVAL_MS until it answers ok,
 *  for at most BOUND_MS. Returns true once it did. */
bool vb_testcall_wait_ok (vb_client_t *client, const char *op, const char *host,
                          const char *domain, uint32_t deadline_ms, int interval_ms,
                          int bound_ms);

/*  Is R an error reply with CODE? */
bool vb_testcall_is_error (const vb_reply_t *r, vb_error_code_t code);

/*  Number of objects in array RESULT whose string field KEY equals VALUE (0 when RESULT is not
 *  an array). */
size_t vb_testcall_count (json_object *result, const char *key, const char *value);

/*  Number of objects in array RESULT matching both KEY1=VALUE1 and KEY2=VALUE2. */
size_t vb_testcall_count2 (json_object *result, const char *key1, const char *value1,
                           const char *key2, const char *value2);

/*  Does R's partial list name HOST (host field) or WORKER (worker field)? Either may be NULL. */
bool vb_testcall_partial_names (const vb_reply_t *r, const char *host, const char *worker);

/*  Does the JSON tree OBJ hold the string VALUE anywhere (as a value, not a key)? */
bool vb_testcall_json_has_string (json_object *obj, const char *value);

/*  One line describing R (or, when R is NULL, ERR) for assertion messages, into BUF. */
const char *vb_testcall_describe (const vb_reply_t *r, const vb_error_t *err, char *buf,
                                  size_t size);

#endif
