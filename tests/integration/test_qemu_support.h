/*  test_qemu_support — shared pieces of the virtbus-qemu integration tests (test_qemu_*.c).
 *
 *  Domains run real QEMU: type kvm when /dev/kvm opens read-write, else type qemu (TCG); never
 *  skipped. Guests are the boot sectors of tests/guest. Every QEMU a test started is killed by
 *  pid at teardown: qt_kill_qemus() reads the pids from the status files of the state
 *  directories (checking each pid's start time, so a reused pid is never hit).
 */
#ifndef TEST_QEMU_SUPPORT_H
#define TEST_QEMU_SUPPORT_H

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vb_client.h"
#include "vb_testenv.h"

/*  "kvm" when /dev/kvm opens read-write, else "qemu". */
const char *qt_domain_type (void);

/*  Domain XML for NAME (64 MiB, 1 vcpu, q35, type from qt_domain_type), DISKS_XML (complete
 *  <disk> elements) inside <devices>, with <emulator>EMULATOR</emulator> when not NULL. New
 *  string. */
char *qt_domain_xml (const char *name, const char *disks_xml, const char *emulator);

/*  A <disk> element for a file image. FORMAT "raw"|"qcow2", DEV "vda". New string. */
char *qt_disk_xml (const char *path, const char *format, const char *dev);

/*  Write a 1 MiB raw boot disk at PATH holding the guest KIND: "idle" or "power_button".
 *  Fails the test on error. */
void qt_write_guest (const char *path, const char *kind);

/*  Run a shell command line (bounded 60 s); fails the test unless it exits 0. */
void qt_sh (const char *cmd);

/*  Start virtbus-qemu for HOST with --id ID and --state-dir ROOT (absolute), connected to the
 *  environment's broker. Returns the process (caller destroys) or NULL. */
vb_testproc_t *qt_start_worker (vb_testenv_t *env, const char *host, const char *id,
                                const char *root);

/*  Define a domain from XML through the client; fails the test unless ok. */
void qt_define (vb_client_t *client, const char *xml);

/*  Call OP on DOMAIN; fails the test unless ok. */
void qt_ok (vb_client_t *client, const char *op, const char *domain);

/*  domain.info of DOMAIN: its result (caller puts), or NULL when the call failed. */
json_object *qt_info (vb_client_t *client, const char *domain, uint32_t deadline_ms);

/*  The state (vb_state_t) of DOMAIN, or -1 when the call failed. PID_OUT (may be NULL) gets the
 *  QEMU pid (0 when not running); WORKER (may be NULL, SIZE bytes) the answering worker. */
int qt_state (vb_client_t *client, const char *domain, pid_t *pid_out, char *worker,
              size_t size);

/*  Poll until DOMAIN is in STATE (and, when PID > 0, run by PID) or BOUND_MS passed. */
bool qt_wait_state (vb_client_t *client, const char *domain, int state, pid_t pid,
                    int bound_ms);

/*  Is process PID alive (not a zombie)? */
bool qt_alive (pid_t pid);

/*  SIGKILL every QEMU recorded in a status file under DIR (searched recursively, depth 4). */
void qt_kill_qemus (const char *dir);

#endif
