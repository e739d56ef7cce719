/*  lxc_driver — virtbus-lxc's driver: Linux containers through liblxc (LXC 5).
 *
 *  State directory (DESIGN §1), shared by every virtbus-lxc of the host:
 *      <dir>/<uuid>.xml        the persistent definition (libvirt domain XML)
 *      <dir>/<uuid>.lock       ownership: an exclusive flock held by the owning worker
 *      <dir>/<uuid>.status     while running: {"state", "reason", "init_pid"} (JSON), so a worker
 *                              that adopts the domain knows it was running
 *      <dir>/define.lock       serialises defines (names and UUIDs are unique per directory)
 *      <dir>/containers/       the liblxc lxcpath: <uuid>/config, <uuid>/rootfs (busybox rootfs
 *                              made by the busybox template when the XML gives no root
 *                              filesystem), <uuid>/lxc.log, <uuid>/console.log
 *  The container's liblxc name is the domain's UUID; its hostname is the domain name.
 *
 *  Domain XML -> container: <filesystem type='mount'> with target '/' is the rootfs (dir:), other
 *  filesystems are bind mounts; <memory> is the memory cgroup limit; <init>/<initarg> is the argv
 *  of the container's init; <interface type='ethernet'> is a veth (target dev = host side name),
 *  none gives lxc.net.0.type = empty; <hostdev mode='capabilities' type='storage'> binds the
 *  block device into the container at the same path, allows it in the devices cgroup and (v1)
 *  sets a write limit no device reaches so blk-throttle accounts the device's I/O. AppArmor is
 *  off (lxc.apparmor.profile = unconfined). What cannot be run answers UNSUPPORTED naming the
 *  element (<disk>, <serial>, <interface type='user'>, unknown devices); what is wrong answers
 *  INVALID_XML (no <init>, a non-exe os type). Nothing is created on error.
 *
 *  A running container is watched through a pidfd of its init on the worker's loop: its death
 *  is seen at once (stopped/failed, or shutdown/guest + stopped/shutdown after `shutdown`).
 *  Containers outlive the worker (liblxc daemonizes them); a restarted worker finds them through
 *  liblxc (is_running, init_pid, state) and watches them again.
 *
 *  Deviations from libvirt: undefine of a running container is refused (destroy it first);
 *  reboot stops the container and starts it again with the same init (one "reboot" event);
 *  shutdown sends the container's halt signal and returns (the init decides what to do).
 */
#ifndef LXC_DRIVER_H
#define LXC_DRIVER_H

#include "vb_driver.h"

extern const vb_driver_t lxc_driver;

#endif
