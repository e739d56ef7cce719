#!/usr/bin/env python3
"""Capture the QMP replies, /proc files and virsh text that tests/unit/test_qemu_stats.c checks.

Run as root from anywhere:  python3 tests/data/stats/capture.py [--no-libvirt]
Works in /tmp/vb-stats-capture (made fresh, removed at the end) so the paths inside the replies
are the same on every run. For each scenario below it makes the images with qemu-img / qemu-io
(and losetup for the block device), starts qemu-system-x86_64 with the argv virtbus's
qemu_command builds for the scenario's domain.xml (same -blockdev JSON nodes vb-DEV-storage /
vb-DEV-format, device id = target dev, -netdev user, virtio-balloon), talks QMP on its monitor
socket and saves every reply line byte for byte (with QEMU's trailing CR LF) into
tests/data/stats/SCENARIO/. The QMP-talking part is tests/data/qmp/capture.py's, reused.

Scenario "libvirt-ref" is also run under libvirt 9.0 (set up by
../shared/reference/libvirt-bench/setup-libvirt.sh) on the same images afterwards; virsh's
`domstats` text is saved next to our replies. The libvirt domain is destroyed and undefined.
"""
import json, os, shutil, socket, subprocess, sys, time

OUT = os.path.dirname(os.path.abspath(__file__))
BASE = "/tmp/vb-stats-capture"
MiB = 1024 * 1024
# cli; hlt; jmp $-2; padding; 0x55AA: SeaBIOS reads it (rd_operations=1, rd_bytes=512) and the
# guest then idles.
BOOT = b"\xfa\xf4\xeb\xfd" + bytes(506) + b"\x55\xaa"
UUID = "6d1f3a0e-5b7c-4d2e-9f10-2a3b4c5d6e7f"


def run(*argv, **kw):
    return subprocess.run(list(argv), check=True, **kw)


def qcow2_chain(prefix, depth, top_mib, boot=True):
    """top + DEPTH backing layers: layer d (0 = top) has (top_mib + 16*d) MiB virtual size and
    d MiB of data (pattern d) written at offset d MiB, so every layer's numbers differ. The boot
    sector goes into the deepest layer. Returns the paths, top first."""
    paths = ["%s-%d.qcow2" % (prefix, d) for d in range(depth + 1)]
    for d in range(depth, -1, -1):
        size = "%dM" % (top_mib + 16 * d)
        if d == depth:
            run("qemu-img", "create", "-q", "-f", "qcow2", paths[d], size)
        else:
            run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", paths[d + 1],
                paths[d], size)
        if d > 0:
            run("qemu-io", "-f", "qcow2", "-c", "write -q -P %d %dM %dM" % (d, d, d), paths[d])
        if d == depth and boot:
            write_boot(paths[d], "qcow2")
    return paths


def write_boot(path, fmt):
    bs = os.path.join(BASE, "bootsect.bin")
    with open(bs, "wb") as f:
        f.write(BOOT)
    run("qemu-io", "-f", fmt, "-c", "write -q -s %s 0 512" % bs, path)


def blk_size(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_END)
    finally:
        os.close(fd)


class Disk:
    def __init__(self, dev, bus="virtio", kind="file", fmt="qcow2", device="disk", paths=()):
        self.dev, self.bus, self.kind, self.fmt, self.device = dev, bus, kind, fmt, device
        self.paths = list(paths)  # top first; the backing layers are QEMU's to open

    def xml(self):
        src = ""
        if self.paths:
            attr = "dev" if self.kind == "block" else "file"
            src = "      <source %s='%s'/>\n" % (attr, self.paths[0])
        ro = "      <readonly/>\n" if self.device == "cdrom" else ""
        return ("    <disk type='%s' device='%s'>\n      <driver name='qemu' type='%s'/>\n%s"
                "      <target dev='%s' bus='%s'/>\n%s    </disk>\n"
                % (self.kind, self.device, self.fmt, src, self.dev, self.bus, ro))

    def argv(self, first):
        a = []
        ro = self.device == "cdrom"
        if self.paths:
            a += ["-blockdev", json.dumps({"driver": "host_device" if self.kind == "block"
                                           else "file", "filename": self.paths[0],
                                           "node-name": "vb-%s-storage" % self.dev,
                                           "read-only": ro}, separators=(",", ":"))]
            a += ["-blockdev", json.dumps({"driver": self.fmt, "file": "vb-%s-storage" % self.dev,
                                           "node-name": "vb-%s-format" % self.dev,
                                           "read-only": ro}, separators=(",", ":"))]
        drive = ",drive=vb-%s-format" % self.dev if self.paths else ""
        boot = ",bootindex=1" if first else ""
        if self.bus == "virtio":
            a += ["-device", "virtio-blk-pci%s,id=%s%s" % (drive, self.dev, boot)]
        else:  # sata on q35's AHCI, unit from the name as qemu_command does
            unit = ord(self.dev[2]) - ord("a")
            a += ["-device", "%s,bus=ide.%d,id=%s%s%s" % ("ide-cd" if ro else "ide-hd", unit,
                                                         self.dev, drive, boot)]
        return a


def domain_xml(name, disks, vcpus, nets):
    devs = "".join(d.xml() for d in disks)
    devs += "".join("    <interface type='user'>\n      <mac address='52:54:00:a1:b2:%02x'/>\n"
                    "      <model type='virtio'/>\n    </interface>\n" % i for i in range(nets))
    return ("<domain type='kvm'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n"
            "  <memory unit='KiB'>131072</memory>\n  <currentMemory unit='KiB'>131072</currentMemory>\n"
            "  <vcpu placement='static'>%d</vcpu>\n  <os>\n    <type arch='x86_64' machine='q35'>hvm</type>\n"
            "  </os>\n  <devices>\n    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n%s"
            "  </devices>\n</domain>\n" % (name, UUID, vcpus, devs))


def qemu_argv(name, disks, vcpus, nets, sock, pidfile):
    a = ["qemu-system-x86_64", "-name", "guest=%s,debug-threads=on" % name, "-S",
         "-machine", "q35,accel=kvm", "-m", "size=131072k", "-smp", str(vcpus), "-uuid", UUID,
         "-no-user-config", "-nodefaults", "-display", "none", "-msg", "timestamp=on",
         "-chardev", "socket,id=charmonitor,path=%s,server=on,wait=off" % sock,
         "-mon", "chardev=charmonitor,id=monitor,mode=control", "-pidfile", pidfile]
    first = True
    for d in disks:
        a += d.argv(first and d.device == "disk")
        first = first and d.device != "disk"
    for i in range(nets):
        a += ["-netdev", "user,id=net%d" % i,
              "-device", "virtio-net-pci,netdev=net%d,id=net%d,mac=52:54:00:a1:b2:%02x" % (i, i, i)]
    a += ["-device", "virtio-balloon-pci,id=balloon0"]
    return a


class Qmp:
    """tests/data/qmp/capture.py's line reader: one command at a time, events skipped (saved to
    the session log), replies kept byte for byte."""

    def __init__(self, path, log):
        deadline = time.time() + 10
        while not os.path.exists(path):
            if time.time() > deadline:
                sys.exit("QMP socket never appeared")
            time.sleep(0.05)
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.connect(path)
        self.s.settimeout(10)
        self.buf = b""
        self.log = log
        self.n = 0
        self.greeting = self.line()

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        self.log.write(b"< " + line + b"\n")
        return line + b"\n"

    def execute(self, cmd, args=None):
        self.n += 1
        msg = {"execute": cmd, "id": "vb-%d" % self.n}
        if args is not None:
            msg["arguments"] = args
        data = json.dumps(msg).encode() + b"\r\n"
        self.s.sendall(data)
        self.log.write(b"> " + data)
        while True:
            line = self.line()
            if line is None:
                sys.exit("QEMU closed the monitor during %s" % cmd)
            if b'"event"' in line and b'"return"' not in line and b'"error"' not in line:
                continue
            self.log_last = line
            return line


def save(folder, name, data):
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def capture_proc(folder, pid, qmp_cpus):
    """Copy the /proc files the stats module reads, keeping their paths below proc/."""
    cpus = json.loads(qmp_cpus)["return"]
    files = ["%d/stat" % pid, "%d/statm" % pid, "%d/status" % pid]
    for c in cpus:
        for f in ("stat", "sched", "schedstat"):
            files.append("%d/task/%d/%s" % (pid, c["thread-id"], f))
    for rel in files:
        dst = os.path.join(folder, "proc", rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open("/proc/" + rel, "rb") as f:
            data = f.read()
        save(os.path.dirname(dst), os.path.basename(dst), data)


def scenario(name, disks, layers, vcpus=1, nets=0, io=True, proc=False, readme=""):
    folder = os.path.join(OUT, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    sock = os.path.join(BASE, name + ".qmp")
    pidfile = os.path.join(BASE, name + ".pid")
    argv = qemu_argv(name, disks, vcpus, nets, sock, pidfile)
    save(folder, "domain.xml", domain_xml(name, disks, vcpus, nets).encode())
    save(folder, "argv.txt", ("\n".join(argv) + "\n").encode())
    log = open(os.path.join(folder, "session.log"), "wb")
    qemu = subprocess.Popen(argv)
    try:
        q = Qmp(sock, log)
        q.execute("qmp_capabilities")
        if io:
            # Let SeaBIOS read the boot sector through the chain, then write 64 KiB at 2 MiB on
            # vda through its device (moves wr_highest_offset of vda's storage node only).
            q.execute("cont")
            deadline = time.time() + 20
            while True:
                st = json.loads(q.execute("query-blockstats"))["return"]
                top = [e for e in st if e.get("qdev", "").startswith("/machine/peripheral/%s"
                                                                       % disks[0].dev)][0]
                if top["stats"]["rd_operations"] >= 1:
                    break
                if time.time() > deadline:
                    sys.exit("SeaBIOS never read vda")
                time.sleep(0.1)
            time.sleep(0.5)
            q.execute("human-monitor-command",
                      {"command-line": 'qemu-io -d /machine/peripheral/%s/virtio-backend '
                                       '"write -P 0x5a 2M 64k"' % disks[0].dev})
            reply = json.loads(q.log_last)
            if reply.get("return") != "":
                sys.exit("qemu-io failed: %r" % reply)
            q.execute("stop")
        for cmd, args, fname in (("query-status", None, "query-status.json"),
                                 ("query-blockstats", None, "query-blockstats.json"),
                                 ("query-named-block-nodes", {"flat": True},
                                  "query-named-block-nodes.json"),
                                 ("query-block", None, "query-block.json"),
                                 ("query-cpus-fast", None, "query-cpus-fast.json"),
                                 ("query-balloon", None, "query-balloon.json")):
            reply = q.execute(cmd, args)
            save(folder, fname, reply)
            if cmd == "query-cpus-fast" and proc:
                with open(pidfile) as f:
                    pid = int(f.read())
                save(folder, "pid.txt", b"%d\n" % pid)
                capture_proc(folder, pid, reply)
        # What the host says about every layer: the physical fallback of a layer whose
        # actual-size QEMU reports as 0 (open + lseek SEEK_END, = st_size for a file).
        sizes = "".join("%s %d\n" % (p, blk_size(p)) for p in layers)
        save(folder, "sizes.txt", sizes.encode())
        q.execute("quit")
    finally:
        try:
            qemu.wait(timeout=10)
        except subprocess.TimeoutExpired:
            qemu.kill()
            qemu.wait()
        log.close()
    top = [d for d in disks if d.paths and d.kind == "file"]
    for d in top:
        info = subprocess.run(["qemu-img", "info", "-U", "--backing-chain", "--output=json",
                               d.paths[0]], check=True, capture_output=True).stdout
        save(folder, "qemu-img-info-%s.json" % d.dev, info)
    save(folder, "README.md", readme_text(name, readme).encode())


def readme_text(name, what):
    return ("# %s\n\n%s\n\nCaptured by `python3 tests/data/stats/capture.py` (as root) from QEMU 7.2 "
            "on this machine; see ../README.md for the procedure. Files:\n\n"
            "- domain.xml: the definition (paths under /tmp/vb-stats-capture, where the script "
            "made the images)\n- argv.txt: the QEMU command line, one argument a line "
            "(qemu_command's form)\n- query-*.json: each reply line exactly as QEMU sent it\n"
            "- session.log: the whole QMP conversation (`>` sent, `<` received, events included)\n"
            "- sizes.txt: `PATH SIZE` per layer, SIZE = lseek(SEEK_END) of the open file or "
            "device while QEMU ran\n- qemu-img-info-DEV.json: `qemu-img info -U --backing-chain "
            "--output=json` of each file disk after QEMU quit\n" % (name, what))


def main():
    use_libvirt = "--no-libvirt" not in sys.argv
    if os.path.exists(BASE):
        sys.exit(BASE + " exists; remove it first")
    os.makedirs(BASE)
    loop = None
    try:
        p = lambda n: os.path.join(BASE, n)
        for depth in range(5):
            paths = qcow2_chain(p("d%d" % depth), depth, 64)
            scenario("depth%d" % depth, [Disk("vda", paths=paths)], paths,
                     readme="vda: a qcow2 chain %d backing layer(s) deep (layer d: 64+16d MiB "
                     "virtual, d MiB of data at d MiB; boot sector in the deepest layer). The "
                     "guest ran until SeaBIOS had read the boot sector, then HMP `qemu-io -d "
                     "/machine/peripheral/vda/virtio-backend \"write -P 0x5a 2M 64k\"` wrote "
                     "through vda's device, then `stop`." % depth)
        # A block device: a loop device over a 32 MiB file holding the boot sector.
        back = p("loop-backing.raw")
        run("truncate", "-s", "32M", back)
        with open(back, "r+b") as f:
            f.write(BOOT)
        loop = subprocess.run(["losetup", "--find", "--show", back], check=True,
                              capture_output=True, text=True).stdout.strip()
        scenario("blockdev", [Disk("vda", kind="block", fmt="raw", paths=[loop])], [loop],
                 readme="vda: <disk type='block'> raw on loop device %s (losetup over a 32 MiB "
                 "sparse file holding the boot sector). Same I/O as the depth scenarios." % loop)
        run("losetup", "-d", loop)
        loop = None
        # An empty cdrom beside a one-layer disk.
        paths = qcow2_chain(p("cd"), 0, 64)
        scenario("cdrom-empty", [Disk("vda", paths=paths),
                                 Disk("sdc", bus="sata", fmt="raw", device="cdrom")], paths,
                 readme="vda: one qcow2 layer; sdc: an empty SATA cdrom (ide-cd without a "
                 "drive). Same I/O as the depth scenarios.")
        # A qcow2 disk whose backing file is raw.
        rawb = p("rb-1.raw")
        run("qemu-img", "create", "-q", "-f", "raw", rawb, "48M")
        write_boot(rawb, "raw")
        run("qemu-io", "-f", "raw", "-c", "write -q -P 7 1M 1M", rawb)
        run("qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", rawb, p("rb-0.qcow2"),
            "64M")
        scenario("raw-backing", [Disk("vda", paths=[p("rb-0.qcow2"), rawb])],
                 [p("rb-0.qcow2"), rawb],
                 readme="vda: qcow2 (64 MiB) over a raw 48 MiB backing file (boot sector, 1 MiB "
                 "of data at 1 MiB). Same I/O as the depth scenarios.")
        # Every group: 2 vCPUs, a user-mode interface, vda 2 backing layers, vdb raw; /proc too.
        paths = qcow2_chain(p("full-vda"), 2, 64)
        vdb = p("full-vdb.raw")
        run("truncate", "-s", "64M", vdb)
        scenario("full", [Disk("vda", paths=paths), Disk("vdb", fmt="raw", paths=[vdb])],
                 paths + [vdb], vcpus=2, nets=1, proc=True,
                 readme="Every group: 2 vCPUs, one `-netdev user` interface, vda = qcow2 chain "
                 "with 2 backing layers, vdb = 64 MiB sparse raw. Same I/O as the depth "
                 "scenarios. proc/ holds /proc/PID/{stat,statm,status} and "
                 "/proc/PID/task/TID/{stat,sched,schedstat} for each vCPU thread of "
                 "query-cpus-fast, copied while the domain was paused after the I/O; pid.txt "
                 "is QEMU's pid.")
        # The libvirt comparison: vda 3-layer chain, vdb raw; both started paused, no I/O.
        paths = qcow2_chain(p("ref-vda"), 2, 64, boot=False)
        vdb = p("ref-vdb.raw")
        run("truncate", "-s", "64M", vdb)
        disks = [Disk("vda", paths=paths), Disk("vdb", fmt="raw", paths=[vdb])]
        scenario("libvirt-ref", disks, paths + [vdb], io=False,
                 readme="vda = qcow2 chain top -> b1 -> b2 (3 layers), vdb = 64 MiB sparse raw; "
                 "started with -S and never run. The same images were then defined in libvirt "
                 "9.0 as domain `libvirt-ref`, started `--paused`, and virsh's text saved "
                 "(virsh-*.txt). See ../README.md.")
        if use_libvirt:
            libvirt_ref(os.path.join(OUT, "libvirt-ref"))
    finally:
        if loop:
            subprocess.run(["losetup", "-d", loop])
        shutil.rmtree(BASE, ignore_errors=True)


def libvirt_ref(folder):
    uri = ["-c", "qemu:///system"]
    xml = os.path.join(folder, "domain.xml")
    run("virsh", *uri, "define", xml, stdout=subprocess.DEVNULL)
    try:
        run("virsh", *uri, "start", "--paused", "libvirt-ref", stdout=subprocess.DEVNULL)
        for args, fname in ((["--block", "--backing"], "virsh-block-backing.txt"),
                            (["--block"], "virsh-block.txt")):
            out = subprocess.run(["virsh", *uri, "domstats", *args, "libvirt-ref"], check=True,
                                 capture_output=True).stdout
            save(folder, fname, out)
        out = subprocess.run(["virsh", *uri, "dumpxml", "libvirt-ref"], check=True,
                             capture_output=True).stdout
        save(folder, "virsh-dumpxml.xml", out)
        ver = subprocess.run(["virsh", *uri, "version"], check=True, capture_output=True).stdout
        save(folder, "virsh-version.txt", ver)
    finally:
        subprocess.run(["virsh", *uri, "destroy", "libvirt-ref"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        subprocess.run(["virsh", *uri, "undefine", "libvirt-ref"], stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
