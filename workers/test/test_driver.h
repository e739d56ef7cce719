/*  test_driver — virtbus-test: an in-memory TEST DOUBLE, like libvirt's test:///default.
 *
 *  It is not a hypervisor and never runs anything: its domains are records in the worker's memory
 *  that follow libvirt's lifecycle rules, so the broker, the CLI and the benchmarks can be tested
 *  end to end with real processes and real sockets but without QEMU. Everything is lost when the
 *  process exits (the state directory is created by the core but not used).
 *
 *  Domains: <domain type='test'> definitions (name, uuid, memory, vcpu, os type are read with
 *  vb_domxml_parse; the rest is kept and formatted back). States and reasons are libvirt's
 *  (vb_domstate.h):
 *    define            -> shut off (unknown)            event defined/added
 *    start             -> running (booted)              event started/booted
 *    start {paused}    -> paused (user)                 events started/booted, suspended/paused
 *    suspend           -> paused (user)                 event suspended/paused
 *    resume            -> running (unpaused)            event resumed/unpaused
 *    shutdown          -> shut off (shutdown)           events shutdown/finished, stopped/shutdown
 *    destroy           -> shut off (destroyed)          event stopped/destroyed
 *    reboot            -> running (booted)              event reboot (kind "reboot")
 *    undefine          -> gone; a running domain becomes transient and goes when it stops, as in
 *                         libvirt                        event undefined/removed
 *  A wrong state answers OPERATION_INVALID ("domain 'web' is not running"); defining a name that
 *  exists answers OPERATION_INVALID ("domain 'web' already exists"). Domain ids count up per worker
 *  from 1 at each start; -1 when not running. cpu_time_ns is the time spent running (not paused).
 *  Stats (domain.stats) carry only state.state and state.reason.
 *
 *  Extra ops, for tests and benchmarks:
 *    test.emit_events {domain, count}  emits COUNT events of kind "test", event "test", detail
 *                     "1".."COUNT" for DOMAIN without changing its state, in batches of 256 per
 *                     loop turn; answers {emitted: COUNT} after the last one was handed to the
 *                     broker link (so the broker has them before the reply).
 *    test.sleep {ms}  answers {} after MS milliseconds (a zloop timer; the loop keeps serving).
 */
#ifndef TEST_DRIVER_H
#define TEST_DRIVER_H

#include "vb_driver.h"

/*  The driver table of virtbus-test. */
extern const vb_driver_t test_driver;

#endif
