/*  xen_driver — virtbus-xen: Xen domains through libxl, in a Xen dom0.
 *
 *  Opening the driver checks for a Xen control domain first: without /proc/xen/capabilities
 *  (or without "control_d" in it, or when libxl_ctx_alloc fails) open answers
 *  HYPERVISOR_UNAVAILABLE "no Xen hypervisor: ..." and the worker exits with that one line and a
 *  non-zero status before registering with the broker.
 *
 *  Domains: <domain type='xen'> PV definitions, and HVM ones where Xen reports the hvm
 *  capability (libxl_get_physinfo, read at open; xen_config.h says what is supported), kept as
 *  <state dir>/<uuid>.xml and loaded at open; running Xen domains whose uuid matches a definition
 *  are adopted at open. Raw files on the phy backend are attached to loop devices at start
 *  (autoclear: the kernel frees each when blkback lets go of it) so the kernel's blkback serves
 *  them and counts their I/O.
 *
 *  libxl's events arrive through its osevent hooks mapped onto the worker's zloop (fds ->
 *  pollers, timeouts -> one-shot timers); there is no polling thread. Asynchronous libxl
 *  operations (create, destroy) answer their call from their completion callback.
 *
 *  States and events (libvirt's names, libvirt-spec §7):
 *    define            shut off                      defined/added
 *    start             running (booted)              started/booted (+ suspended/paused)
 *    suspend/resume    paused (user)/running         suspended/paused, resumed/unpaused
 *    shutdown          asks the guest; its shutdown arrives as an event
 *    reboot            asks the guest; its reboot restarts the domain
 *    destroy           shut off (destroyed)          stopped/destroyed
 *    guest poweroff    on_poweroff: destroy -> shut off (shutdown), shutdown/guest then
 *                      stopped/shutdown; restart -> also started/booted (libvirt's libxl
 *                      driver sends stopped/shutdown only)
 *    guest reboot      on_reboot: restart (default) -> stopped/shutdown, started/booted
 *    guest crash       on_crash: destroy -> shut off (crashed), crashed/panicked then
 *                      stopped/crashed; restart -> restarted; preserve -> crashed (panicked)
 *    domain gone (xl destroy elsewhere) -> shut off (destroyed), stopped/destroyed
 *    undefine          undefined/removed
 *  Stats: state, cpu-total, balloon, vcpu, block (xen_stats.h).
 */
#ifndef XEN_DRIVER_H
#define XEN_DRIVER_H

#include "vb_driver.h"

/*  The driver table of virtbus-xen. */
extern const vb_driver_t xen_driver;

/*  The file open checks ("/proc/xen/capabilities"); the environment variable
 *  VIRTBUS_XEN_CAPABILITIES overrides it (tests use a path that does not exist). */
#define XEN_CAPABILITIES_PATH "/proc/xen/capabilities"

#endif
