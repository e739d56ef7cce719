#!/usr/bin/env python3
"""Capture real QMP traffic from this machine's QEMU for tests/unit/test_qemu_monitor.c.

Run as root from anywhere:  python3 tests/data/qmp/capture.py
It makes a 3-layer qcow2 chain and a raw disk with qemu-img in a temporary directory, starts
qemu-system-x86_64 with -S on a QMP unix socket, sends the commands below one at a time and saves
every line QEMU sent, byte for byte (including the trailing CR LF), next to this script.
"""
import os, socket, subprocess, sys, tempfile, time

OUT = os.path.dirname(os.path.abspath(__file__))


def main():
    tmp = tempfile.mkdtemp(prefix="vb-qmp-capture-")
    img = lambda n: os.path.join(tmp, n)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img("base.qcow2"), "64M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                    img("base.qcow2"), img("mid.qcow2")], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b",
                    img("mid.qcow2"), img("top.qcow2")], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", img("raw.img"), "16M"], check=True)
    sock_path = img("qmp.sock")
    accel = "kvm" if os.access("/dev/kvm", os.R_OK | os.W_OK) else "tcg"
    argv = ["qemu-system-x86_64", "-S", "-display", "none", "-nodefaults",
            "-machine", "q35,accel=" + accel, "-m", "128",
            "-qmp", "unix:%s,server=on,wait=off" % sock_path,
            "-blockdev", "driver=file,filename=%s,node-name=base-file" % img("base.qcow2"),
            "-blockdev", "driver=qcow2,file=base-file,node-name=base-fmt",
            "-blockdev", "driver=file,filename=%s,node-name=mid-file" % img("mid.qcow2"),
            "-blockdev", "driver=qcow2,file=mid-file,backing=base-fmt,node-name=mid-fmt",
            "-blockdev", "driver=file,filename=%s,node-name=top-file" % img("top.qcow2"),
            "-blockdev", "driver=qcow2,file=top-file,backing=mid-fmt,node-name=top-fmt",
            "-device", "virtio-blk-pci,drive=top-fmt,id=vda,bootindex=1",
            "-blockdev", "driver=file,filename=%s,node-name=raw-file" % img("raw.img"),
            "-blockdev", "driver=raw,file=raw-file,node-name=raw-fmt",
            "-device", "virtio-blk-pci,drive=raw-fmt,id=vdb"]
    with open(os.path.join(OUT, "capture-argv.txt"), "w") as f:
        f.write(" ".join(argv).replace(tmp, "$TMP") + "\n")
    qemu = subprocess.Popen(argv)
    try:
        capture(sock_path, tmp)
    finally:
        qemu.kill()
        qemu.wait()
        subprocess.run(["rm", "-rf", tmp])


def capture(sock_path, tmp):
    deadline = time.time() + 10
    while not os.path.exists(sock_path):
        if time.time() > deadline:
            sys.exit("QMP socket never appeared")
        time.sleep(0.05)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    s.settimeout(10)
    buf = b""
    session = open(os.path.join(OUT, "session.log"), "wb")

    def read_line():
        nonlocal buf
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                return None
            buf += chunk
        line, buf = buf.split(b"\n", 1)
        line = line + b"\n"
        # Paths of the temporary directory are replaced so the files do not change per run.
        line = line.replace(tmp.encode(), b"/tmp/vb-qmp-capture")
        session.write(b"< " + line)
        return line

    def save(name, line):
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(line)

    def execute(name, cmd, wait_events=()):
        s.sendall(cmd)
        session.write(b"> " + cmd)
        events = []
        reply = None
        want = set(wait_events)
        while reply is None or want:
            line = read_line()
            if line is None:
                break
            if b'"event"' in line and b'"return"' not in line and b'"error"' not in line:
                ev = line.split(b'"event": "', 1)[1].split(b'"', 1)[0].decode()
                save("event-%s-%s.json" % (name, ev), line)
                want.discard(ev)
                events.append(ev)
            else:
                reply = line
                save(name + ".json", line)
        return reply, events

    save("greeting.json", read_line())
    execute("qmp_capabilities", b'{"execute": "qmp_capabilities", "id": "vb-1"}\r\n')
    execute("query-status-prelaunch", b'{"execute": "query-status", "id": "vb-2"}\r\n')
    execute("query-kvm", b'{"execute": "query-kvm", "id": "vb-3"}\r\n')
    execute("query-block", b'{"execute": "query-block", "id": "vb-4"}\r\n')
    execute("query-blockstats", b'{"execute": "query-blockstats", "id": "vb-5"}\r\n')
    execute("query-named-block-nodes",
            b'{"execute": "query-named-block-nodes", "arguments": {"flat": true}, "id": "vb-6"}\r\n')
    execute("error-command-not-found", b'{"execute": "no-such-command", "id": "vb-7"}\r\n')
    execute("error-missing-argument", b'{"execute": "blockdev-del", "id": "vb-8"}\r\n')
    execute("cont", b'{"execute": "cont", "id": "vb-9"}\r\n', ["RESUME"])
    execute("query-status-running", b'{"execute": "query-status", "id": "vb-10"}\r\n')
    execute("stop", b'{"execute": "stop", "id": "vb-11"}\r\n', ["STOP"])
    execute("query-status-paused", b'{"execute": "query-status", "id": "vb-12"}\r\n')
    execute("system_reset", b'{"execute": "system_reset", "id": "vb-13"}\r\n', ["RESET"])
    execute("system_powerdown", b'{"execute": "system_powerdown", "id": "vb-14"}\r\n',
            ["POWERDOWN"])
    execute("quit", b'{"execute": "quit", "id": "vb-15"}\r\n', ["SHUTDOWN"])
    # After quit QEMU closes the socket: record that the next read is EOF.
    rest = read_line()
    session.write(b"# EOF\n" if rest is None else b"# unexpected: " + rest)
    session.close()


if __name__ == "__main__":
    main()
