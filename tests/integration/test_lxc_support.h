/*  Helpers for the LXC worker's end-to-end tests: domain XML, requests, stats lookups, and
 *  teardown of what a test made (containers through lxc-stop, loop devices through losetup).
 */
#ifndef TEST_LXC_SUPPORT_H
#define TEST_LXC_SUPPORT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vb_client.h"
#include "vb_testenv.h"

/*  <domain type='lxc'> NAME with MEMORY_MIB, init /bin/sh -c SCRIPT, and EXTRA_DEVICES inside
 *  <devices> (may be ""). New string. */
char *lt_domain_xml (const char *name, unsigned memory_mib, const char *script,
                     const char *extra_devices);

/*  Run a shell command; fails the test unless it exits 0. */
void lt_sh (const char *cmd);

/*  A call through CLIENT with a 15 s deadline; fails the test unless it answers ok. Returns the
 *  reply's result (a new reference, may be NULL). */
json_object *lt_call_ok (vb_client_t *client, const char *op, const char *domain,
                         json_object *args);

/*  The state and id (init pid) of DOMAIN from domain.info; -1 when the call fails. */
int lt_state (vb_client_t *client, const char *domain, pid_t *id_out);

/*  domain.stats of DOMAIN with GROUP: the value of parameter KEY as u64 (fails when absent). */
uint64_t lt_stat (vb_client_t *client, const char *domain, const char *group, const char *key);

/*  The environment's lxc state directory for host h1 (default worker id). Static buffer. */
const char *lt_state_dir (vb_testenv_t *env);

/*  Stop every container under the environment's lxcpath (lxc-stop -k) and detach LOOP when not
 *  NULL. For teardown; never fails. */
void lt_cleanup (vb_testenv_t *env, const char *loop);

bool lt_alive (pid_t pid);

#endif
