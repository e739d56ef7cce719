#!/bin/bash
# tests/xen-live — virtbus-xen against a real Xen 4.17 booted under QEMU (TCG). Minutes, not seconds:
# not part of the default suite. Run through `./test.sh --xen-live`, or directly:
#
#   tests/xen-live/run.sh BUILD_DIR             the live test (vbsh drives a PV guest in dom0)
#   tests/xen-live/run.sh BUILD_DIR --capture   re-capture tests/data/xen (goldens, sysfs files)
#
# Recipe and traps: ../shared/xen-under-qemu/REPORT.md. Everything inside comes from Debian
# packages (debootstrap) plus the freshly built virtbus-xen. Cache: $VBX_CACHE (default
# /var/cache/virtbus-xen-live): the dom0 rootfs keyed by the package list and the candidate
# versions apt knows; the finished image keyed by that plus the hashes of virtbus-xen and files/.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${1:?usage: run.sh BUILD_DIR [--capture]}" && pwd)
MODE=live; [ "${2:-}" = "--capture" ] && MODE=capture
CACHE=${VBX_CACHE:-/var/cache/virtbus-xen-live}
SMP=2   # the machine has 2 cores shared with other work: never more
PKGS="xen-utils-4.17,xenstore-utils,linux-image-amd64,busybox,iproute2,kmod,udev,procps"
PKGS="$PKGS,libzmq5,libczmq4,libmsgpackc2,libxml2,libjson-c5"
T0=$(date +%s.%N)

log() { printf "xen-live: [%6.1fs] %s\n" "$(awk -v t="$T0" -v n="$(date +%s.%N)" "BEGIN{print n - t}")" "$*"; }
die() { log "FAIL: $*"; exit 1; }

"$TOP/scripts/deps.sh" xen-live

# --- 1. the dom0 base: debootstrap + Xen + kernels, cached by package versions --------------
versions=$(apt-cache policy xen-hypervisor-4.17-amd64 ${PKGS//,/ } 2>/dev/null \
           | awk '/^[^ ]/{p=$1} /Candidate:/{print p, $2}')
key=$(printf '%s\n%s\n%s\n' "$PKGS" "$versions" "$(cat "$HERE/files/dom0-initramfs-init")" \
      | sha256sum | cut -c1-16)
BASE=$CACHE/base-$key
if [ ! -f "$BASE/done" ]; then
  log "building dom0 base $BASE (debootstrap, ~2-3 min)"
  rm -rf "$BASE/debs" "$BASE/xenpkg" "$BASE/d0i" "$BASE/guest"; mkdir -p "$BASE/debs"
  (cd "$BASE/debs" && apt-get download -q xen-hypervisor-4.17-amd64 >/dev/null)
  dpkg -x "$BASE"/debs/xen-hypervisor-4.17-amd64_*.deb "$BASE/xenpkg"
  zcat "$BASE/xenpkg/boot/xen-4.17-amd64.gz" > "$BASE/xen"   # 32-bit ELF, multiboot
  if [ ! -x "$BASE/rootfs/usr/lib/xen-4.17/bin/xl" ]; then   # a finished debootstrap is kept
    rm -rf "$BASE/rootfs"
    debootstrap --variant=minbase --include="$PKGS" bookworm "$BASE/rootfs" \
      http://deb.debian.org/debian > "$BASE/debootstrap.log" 2>&1 \
      || die "debootstrap failed, see $BASE/debootstrap.log"
  fi
  kver=$(ls "$BASE/rootfs/lib/modules" | head -1)
  cp "$BASE/rootfs/boot/vmlinuz-$kver" "$BASE/vmlinuz"
  mkdir -p "$BASE/d0i/bin" "$BASE/d0i/modules" "$BASE/guest/bin" "$BASE/guest/proc" \
           "$BASE/guest/sys" "$BASE/guest/dev"
  cp /bin/busybox "$BASE/d0i/bin/busybox"
  for m in drivers/virtio/virtio drivers/virtio/virtio_ring drivers/virtio/virtio_pci_legacy_dev \
           drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk \
           lib/crc16 fs/mbcache fs/jbd2/jbd2 crypto/crc32c_generic fs/ext4/ext4; do
    cp "$BASE/rootfs/lib/modules/$kver/kernel/$m.ko" "$BASE/d0i/modules/"
  done
  install -m 755 "$HERE/files/dom0-initramfs-init" "$BASE/d0i/init"
  (cd "$BASE/d0i" && find . | cpio -o -H newc --quiet | gzip -1) > "$BASE/dom0-initramfs.cpio.gz"
  cp /bin/busybox "$BASE/guest/bin/busybox"
  cp "$BASE/rootfs/lib/modules/$kver/kernel/drivers/block/xen-blkfront.ko" "$BASE/guest/"
  sed -i 's/^root:[^:]*:/root::/' "$BASE/rootfs/etc/shadow"
  mkfs.ext4 -q -L dom0 -d "$BASE/rootfs" "$BASE/dom0-base.img" 3G
  touch "$BASE/done"
fi
log "dom0 base: $BASE"

# --- 2. the image: base + virtbus-xen + scripts, keyed by their hashes ---------------------
XENBIN=$BUILD/bin/virtbus-xen
[ -x "$XENBIN" ] || die "$XENBIN is not built"
ikey=$(cat "$XENBIN" "$HERE"/files/* "$TOP"/tests/data/xen/config/*.cfg | sha256sum | cut -c1-16)
IMG=$BASE/img-$ikey
if [ ! -f "$IMG/done" ]; then
  log "building image $IMG"
  rm -rf "$IMG"; mkdir -p "$IMG/guest"
  cp -a "$BASE/guest/." "$IMG/guest/"
  install -m 755 "$HERE/files/guest-init" "$IMG/guest/init"
  (cd "$IMG/guest" && find . | cpio -o -H newc --quiet | gzip -9) > "$IMG/guest-initrd.cpio.gz"
  cp --sparse=always "$BASE/dom0-base.img" "$IMG/dom0.img"
  dbg() { debugfs -w -R "$1" "$IMG/dom0.img" >/dev/null 2>&1; }
  put() {  # put SRC DEST MODE; /sbin is a symlink (merged /usr), which debugfs does not follow
    dbg "write $1 $2"; dbg "set_inode_field $2 mode 0100$3"
    debugfs -R "stat $2" "$IMG/dom0.img" 2>/dev/null | grep -q 'Size:' \
      || die "debugfs could not write $2 into the image"
  }
  dbg "mkdir /root/vbx"; dbg "mkdir /root/vbx/config"
  put "$HERE/files/dom0-init" /usr/sbin/dom0-init 755
  put "$HERE/files/vbx-run.sh" /root/vbx-run.sh 755
  put "$XENBIN" /root/vbx/virtbus-xen 755
  put "$IMG/guest-initrd.cpio.gz" /root/guest-initrd.cpio.gz 644
  for c in "$TOP"/tests/data/xen/config/*.cfg; do put "$c" "/root/vbx/config/$(basename "$c")" 644; done
  e2fsck -fy "$IMG/dom0.img" >/dev/null 2>&1 || true
  touch "$IMG/done"
  # one image per binary: older ones (900 MB each) go
  for old in "$BASE"/img-*; do [ "$old" = "$IMG" ] || rm -rf "$old"; done
fi
log "image: $IMG"

# --- 3. boot --------------------------------------------------------------------------------
RUN=$(mktemp -d /tmp/vbx-live-XXXXXX)
QPID=""; BPID=""; SPID=""
cleanup() {
  for p in $SPID $QPID $BPID; do kill "$p" 2>/dev/null || true; done
  for p in $SPID $QPID $BPID; do wait "$p" 2>/dev/null || true; done
  log "logs kept in $RUN"
}
trap cleanup EXIT
truncate -s 32M "$RUN/out.img"

boot() {  # boot EXTRA_KERNEL_ARGS
  nice -n 15 qemu-system-x86_64 -machine q35 -accel tcg,thread=multi -cpu qemu64 -m 2048 \
    -smp $SMP -nographic -no-reboot -kernel "$BASE/xen" \
    -append "dom0_mem=768M dom0_max_vcpus=$SMP console=com1 com1=115200,8n1 noreboot bootscrub=false" \
    -initrd "$BASE/vmlinuz root=/dev/vda rw console=hvc0 earlyprintk=xen init=/sbin/dom0-init $1,$BASE/dom0-initramfs.cpio.gz" \
    -drive file="$IMG/dom0.img",if=virtio,format=raw,cache=unsafe,snapshot=on \
    -drive file="$RUN/out.img",if=virtio,format=raw \
    -netdev user,id=n0 -device e1000,netdev=n0 \
    < /dev/null > "$RUN/console.log" 2>&1 &
  QPID=$!
}

wait_console() {  # wait_console REGEX SECONDS
  local i
  for ((i = 0; i < $2 * 2; i++)); do
    grep -aq "$1" "$RUN/console.log" && return 0
    kill -0 "$QPID" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}

if [ $MODE = capture ]; then
  boot "vbx.mode=capture xenq.poweroff"
  log "QEMU started (pid $QPID), capture mode"
  wait "$QPID" || true; QPID=""
  grep -aq 'VBX: capture written' "$RUN/console.log" || die "capture did not finish, see $RUN/console.log"
  dest=$TOP/tests/data/xen
  mkdir -p "$RUN/out" && tar -C "$RUN/out" -xf "$RUN/out.img"
  for j in "$RUN"/out/config/*.xl.json; do
    n=$(basename "$j" .xl.json)
    [ -s "$j" ] || die "xl create -n $n printed nothing: $(cat "$RUN/out/config/$n.xl.err")"
    cp "$j" "$dest/config/$n.golden.json"
  done
  rm -rf "$dest/sysfs"; cp -r "$RUN/out/sysfs" "$dest/sysfs"
  cp "$RUN/out/xl-info.txt" "$RUN/out/kernel-release" "$RUN/out/xl-list.txt" "$dest/sysfs/"
  grep -a 'VBX:' "$RUN/console.log" | tr -d '\r'
  log "PASS: capture written to $dest"
  exit 0
fi

# --- 4. live: a broker here, virtbus-xen in dom0, a PV guest driven through vbsh ------------
# libxl builds a domain (loads its kernel and initrd into guest memory) synchronously inside
# libxl_domain_create_new; under TCG that takes seconds, during which the worker's loop does
# not answer heartbeats. A 10 s interval (30 s to be declared dead) covers it.
HB=10000
VBSH=$BUILD/bin/vbsh
coproc BROKER { exec "$BUILD/bin/virtbusd" --clients 'tcp://127.0.0.1:*' \
  --workers 'tcp://127.0.0.1:*' --events 'tcp://127.0.0.1:*' --state-dir "$RUN/broker" \
  --heartbeat-ms $HB --log-level info 2> "$RUN/virtbusd.log"; }
BPID=$BROKER_PID
read -r -t 20 ready <&"${BROKER[0]}" || die "virtbusd printed no ready line"
CEP=$(echo "$ready" | sed -n 's/.*clients=\([^ ]*\).*/\1/p')
WPORT=$(echo "$ready" | sed -n 's/.*workers=tcp:\/\/127.0.0.1:\([0-9]*\).*/\1/p')
[ -n "$CEP" ] && [ -n "$WPORT" ] || die "cannot read virtbusd's endpoints from: $ready"
log "virtbusd: $ready"
vbsh() { "$VBSH" -c "$CEP" "$@"; }
"$VBSH" -c "$CEP" event --loop --all --timeout 1800 > "$RUN/events.log" 2>&1 &
SPID=$!

boot "vbx.mode=live vbx.broker=tcp://10.0.2.2:$WPORT vbx.hb=$HB"
log "QEMU started (pid $QPID); dom0's worker connects to 10.0.2.2:$WPORT"

poll() {  # poll SECONDS CMD...: until CMD succeeds
  local end=$(( $(date +%s) + $1 )); shift
  until "$@"; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    kill -0 "$QPID" 2>/dev/null || die "QEMU exited, see $RUN/console.log"
    sleep 2
  done
}
hosts_has_dom0() { vbsh hosts > "$RUN/hosts.txt" 2>&1 && grep -q 'dom0' "$RUN/hosts.txt"; }
poll 600 hosts_has_dom0 || die "virtbus-xen in dom0 never registered; see $RUN/console.log"
log "PASS: vbsh hosts shows the dom0 worker: $(grep dom0 "$RUN/hosts.txt" | tr -s ' ' | head -1)"

kver=$(ls "$BASE/rootfs/lib/modules" | head -1)
cat > "$RUN/tiny.xml" <<XML
<domain type='xen'>
  <name>tiny</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os>
    <type>linux</type>
    <kernel>/boot/vmlinuz-$kver</kernel>
    <initrd>/root/guest-initrd.cpio.gz</initrd>
    <cmdline>console=hvc0 rdinit=/init quiet</cmdline>
  </os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='phy' type='raw'/>
      <source file='/var/lib/xen/guest-disk.img'/>
      <target dev='xvda'/>
    </disk>
  </devices>
</domain>
XML
vbsh define "$RUN/tiny.xml" || die "define failed"
log "PASS: define"
t=$(date +%s)
vbsh --deadline 240000 start dom0/tiny || die "start failed"
log "PASS: start (took $(( $(date +%s) - t )) s)"

stat_of() { vbsh domstats "$1" dom0/tiny 2>/dev/null | tr -d ' ' | sed -n "s/^$2=//p" | head -1; }
io_done() { [ "$(stat_of --block block.0.wr.bytes)" = 1048576 ]; }
poll 400 io_done || die "wr.bytes never reached 1 MiB: $(vbsh domstats --block dom0/tiny 2>&1)"
vbsh domstats --block dom0/tiny > "$RUN/stats-block.txt" 2>&1
rd=$(stat_of --block block.0.rd.bytes)
[ "${rd:-0}" -ge 2097152 ] || die "rd.bytes is ${rd:-none}, expected at least 2 MiB"
log "PASS: domstats xvda wr.bytes=1048576 rd.bytes=$rd ($(grep -E 'reqs|errors' "$RUN/stats-block.txt" | tr -s ' \n' ' '))"
cpu1=$(stat_of --cpu-total cpu.time)

vbsh suspend dom0/tiny || die "suspend failed"
[ "$(vbsh domstate dom0/tiny | head -1)" = paused ] || die "domstate is not paused after suspend"
log "PASS: suspend -> paused"
vbsh resume dom0/tiny || die "resume failed"
[ "$(vbsh domstate dom0/tiny | head -1)" = running ] || die "domstate is not running after resume"
log "PASS: resume -> running"
cpu_grew() { cpu2=$(stat_of --cpu-total cpu.time); [ "${cpu2:-0}" -gt "${cpu1:-0}" ]; }
poll 120 cpu_grew || die "cpu.time did not grow past $cpu1"
log "PASS: cpu.time grew $cpu1 -> $cpu2 ns"

t=$(date +%s)
vbsh --deadline 240000 destroy dom0/tiny || die "destroy failed"
[ "$(vbsh domstate dom0/tiny | head -1)" = "shut off" ] || die "domstate is not shut off"
log "PASS: destroy -> shut off (took $(( $(date +%s) - t )) s)"

events_seen() {
  for e in Defined Started Suspended Resumed Stopped; do grep -q "$e" "$RUN/events.log" || return 1; done
}
poll 30 events_seen || die "missing lifecycle events: $(cat "$RUN/events.log")"
log "PASS: lifecycle events on the host subscriber: $(grep -c tiny "$RUN/events.log") events"
sed 's/^/  /' "$RUN/events.log"
log "PASS: xen-live"
