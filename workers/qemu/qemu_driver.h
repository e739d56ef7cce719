/*  qemu_driver — virtbus-qemu: real QEMU/KVM domains from libvirt domain XML (issue 3).
 *
 *  Domains are <domain type='kvm'> (KVM; fails with "KVM is not available: /dev/kvm: ..." where
 *  /dev/kvm cannot be opened read-write, never a silent fallback) or type='qemu' (TCG). Their
 *  files live in the state directory the core gives (qemu_domain.h has the layout). Ownership is
 *  an exclusive non-blocking flock on <uuid>.lock, held while this worker owns the domain, running
 *  or not: at open the driver try-locks every domain of the directory, and on every heartbeat tick
 *  it try-locks the ones no worker holds (a sibling died), adopting them without touching the VM.
 *  A QEMU process runs in its own session and survives the worker; a worker that starts (after a
 *  kill -9, or adopting) reattaches through the status file (pid + start time) AND the QMP
 *  monitor (query-status gives the real run state).
 *
 *  States, events (DESIGN §5) and libvirt reasons:
 *    define            -> shut off                     defined/added (defined/updated on redefine)
 *    start             -> running (booted)             started/booted
 *    start {paused}    -> paused (user)                started/booted, suspended/paused
 *    suspend / resume  -> paused (user) / running (unpaused)   suspended/paused, resumed/unpaused
 *                         (one event per transition, whether QMP's STOP/RESUME event or the
 *                         command's reply is seen first; a pause from elsewhere is reported too)
 *    shutdown          -> system_powerdown (ACPI power button); answered once QEMU took it. The
 *                         guest's power-off gives shutdown/guest (QMP SHUTDOWN guest=true), then
 *                         the process exit gives stopped/shutdown, shut off (shutdown)
 *    destroy           -> SIGTERM, SIGKILL after min(3 s, half the request's budget); answered once
 *                         the process is gone: stopped/destroyed, shut off (destroyed). Works on a
 *                         QEMU that does not answer (SIGSTOPped).
 *    reboot            -> system_reset; QMP RESET gives an event of kind "reboot"
 *    QEMU exits unasked -> stopped/failed, shut off (crashed), as libvirt on monitor EOF
 *    undefine          -> a shut-off domain's files go; a running one becomes transient (as in
 *                         libvirt) and its files go when it stops.  undefined/removed
 *  A wrong state answers OPERATION_INVALID ("domain 'web' is not running"). Every QMP command has a
 *  deadline 100 ms below the request's remaining budget: a QEMU that does not answer gives
 *  TIMEOUT while the worker serves its other domains.
 *
 *  get_info adds "pid" (the QEMU process, running domains only) and "os_type" to the info of
 *  vb_driver.h. get_xml of a running domain asks QEMU (query-block) and shows each disk's
 *  backing chain as <backingStore index='N'> (N = depth, 1 = first backing file); a shut-off
 *  domain's XML has no chain, as libvirt's inactive XML.
 */
#ifndef QEMU_DRIVER_H
#define QEMU_DRIVER_H

#include "vb_driver.h"

/*  The driver table of virtbus-qemu. */
extern const vb_driver_t qemu_driver;

#endif
