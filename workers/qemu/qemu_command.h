/*  qemu_command — a domain definition turned into the argv of its QEMU process.
 *
 *  The worker calls qemu_command_build() when it starts a domain and execs the result; nothing
 *  here touches the host (no file is opened, no QEMU is probed), so the same definition always
 *  gives the same argv and golden tests can compare it byte for byte
 *  (tests/data/qemuxml2argv/NAME.xml -> NAME.args, reviewed by hand).
 *
 *  Decisions, in argv order:
 *    - binary: <emulator>, else /usr/bin/qemu-system-x86_64. <os><type arch=> may be absent or
 *      x86_64; <os><type> must be hvm.
 *    - `-name guest=NAME,debug-threads=on`, `-S`: the guest always starts stopped; the worker
 *      sends `cont` once the monitor is attached (start --paused simply does not), as libvirt.
 *    - `-machine TYPE,accel=kvm` for <domain type='kvm'>, `accel=tcg` for type='qemu'. There is
 *      never a silent fallback: a kvm domain on a host without usable KVM fails in QEMU with its
 *      own message. TYPE is <type machine=>, default q35.
 *    - no -cpu: QEMU's default CPU model (qemu64), for kvm and tcg alike. This is what libvirt
 *      does for a definition without <cpu> (-cpu host is its <cpu mode='host-passthrough'>,
 *      which virtbus does not model). It is also the only choice that works on these hosts:
 *      their paravirtual KVM refuses MSR 0x10a (IA32_ARCH_CAPABILITIES), and QEMU 7.2 with
 *      `-cpu host` or `-cpu max` aborts at machine reset ("failed to set MSR 0x10a").
 *    - `-m size=NNNk` from <memory> (KiB, exact), `-smp N`, `-uuid UUID`.
 *    - `-no-user-config -nodefaults`: every device on the command line comes from the definition
 *      (plus the balloon below), none from QEMU's defaults or /etc/qemu.
 *    - `-display none`; `-msg timestamp=on` so the per-domain log (QEMU's stderr, redirected by
 *      the caller; nothing on argv) carries times.
 *    - QMP: `-chardev socket,id=charmonitor,path=PATH,server=on,wait=off` and
 *      `-mon chardev=charmonitor,id=monitor,mode=control` (libvirt's form; QEMU listens before
 *      the guest exists, the worker connects whenever it likes, also after a restart).
 *    - `-pidfile PATH` when the caller gives one.
 *    - no `-no-shutdown`: when the guest powers off, QEMU emits SHUTDOWN and exits. The worker
 *      learns the reason from the SHUTDOWN event (or, if it was down, from the process being
 *      gone) and a powered-off domain never leaves an idle QEMU behind while no worker owns it.
 *      Hence on_poweroff must be destroy (others answer UNSUPPORTED).
 *    - `-no-reboot` when on_reboot is destroy (QEMU then exits on a guest reset); restart is
 *      QEMU's default; other on_reboot actions answer UNSUPPORTED. on_crash is accepted and has
 *      no argv: there is no panic device.
 *    - disks, in definition order, each as two -blockdev JSON nodes built by json-c (so paths
 *      need no escaping beyond JSON's): a storage node {"driver":"file"|"host_device",
 *      "filename":P,"node-name":"vb-DEV-storage","read-only":RO} and a format node
 *      {"driver":"qcow2"|"raw","file":"vb-DEV-storage","node-name":"vb-DEV-format",
 *      "read-only":RO}. Backing layers are not described: QEMU opens them from the qcow2 header
 *      (read-only), so the live chain is whatever the image says. An empty cdrom has no nodes.
 *      Frontends (id = target dev):
 *        virtio  `-device virtio-blk-pci,drive=vb-DEV-format,id=DEV[,serial=S][,bootindex=1]`
 *        sata    q35's built-in AHCI: `ide-hd|ide-cd,bus=ide.U,...` with U = the disk's index
 *                from its name (sda = 0 ... sdf = 5), at most 6 disks
 *        scsi    one `-device virtio-scsi-pci,id=scsi0` and
 *                `scsi-hd|scsi-cd,bus=scsi0.0,channel=0,scsi-id=0,lun=U,...` (U from the name,
 *                as libvirt addresses virtio-scsi disks)
 *      bootindex=1 goes to the first disk with device='disk' (SeaBIOS tries the others after it).
 *      A cdrom on virtio, SATA on a non-q35 machine or a disk without a source answer
 *      INVALID_ARG.
 *    - interfaces type='user': `-netdev user,id=netN` + `-device MODEL,netdev=netN,id=netN,
 *      mac=MAC` with MODEL virtio-net-pci (default, 'virtio'), e1000, e1000e or rtl8139. Without
 *      <mac> the address is derived from the uuid and the interface index (52:54:00 + 3 bytes of a
 *      hash) so the argv stays deterministic; the worker may fill <mac> beforehand instead.
 *    - <serial type='pty'> port P: `-chardev pty,id=charserialP` +
 *      `-device isa-serial,chardev=charserialP,id=serialP,index=P` (P 0..3, default = its index
 *      among the serials). A <console type='pty'> with target serial (or none) is the first
 *      serial port, as in libvirt: it adds serial0 only when there is no <serial>. A console with
 *      target virtio adds `-device virtio-serial-pci,id=virtio-serial0`, `-chardev pty,
 *      id=charconsoleN` and `-device virtconsole,chardev=charconsoleN,id=consoleN`.
 *    - `-device virtio-balloon-pci,id=balloon0`: libvirt's default memballoon, which the
 *      balloon stats group reads.
 *  Values from the definition placed in QEMU's key=value option syntax have every ',' doubled;
 *  identifiers (target dev, machine type, mac) are validated instead.
 */
#ifndef QEMU_COMMAND_H
#define QEMU_COMMAND_H

#include "vb_domxml.h"
#include "vb_error.h"

#define QEMU_COMMAND_DEFAULT_EMULATOR "/usr/bin/qemu-system-x86_64"
#define QEMU_COMMAND_DEFAULT_MACHINE "q35"

/*  Where the running domain keeps its runtime files; chosen by the caller (the worker's state
 *  directory). Borrowed for the duration of the call. */
typedef struct {
    const char *qmp_socket;  /* required: the QMP unix socket QEMU listens on */
    const char *pidfile;     /* optional (NULL = no -pidfile) */
} qemu_command_paths_t;

/*  Build the argv for DEF. Returns a new NULL-terminated array of new strings (free with
 *  qemu_command_free), or NULL with ERR: INVALID_ARG for a definition QEMU cannot run as given
 *  (wrong domain type, bad target dev, cdrom on virtio ...) naming the element, UNSUPPORTED for
 *  something valid in libvirt that virtbus does not do, INTERNAL on allocation failure. */
char **qemu_command_build (const vb_domain_def_t *def, const qemu_command_paths_t *paths,
                           vb_error_t *err);

/*  Free an argv from qemu_command_build and set *ARGV_P to NULL. Safe on NULL. */
void qemu_command_free (char ***argv_p);

/*  The disk index libvirt derives from a target name: vda = 0, vdz = 25, vdaa = 26; prefixes vd,
 *  sd, hd, xvd. Returns the index, or -1 for a name that is not of that form. */
int qemu_command_disk_index (const char *target_dev);

#endif
