#!/bin/bash
# tests/xen-live — virtbus-xen against a real Xen 4.17 booted under QEMU (TCG). Minutes, not seconds:
# not part of the default suite. Run through `./test.sh --xen-live`, or directly:
#
#   tests/xen-live/run.sh BUILD_DIR             the live test (vbsh drives a PV guest in dom0)
#   tests/xen-live/run.sh BUILD_DIR --capture   re-capture tests/data/xen (goldens, sysfs files)
#   VBX_KEEP=1 tests/xen-live/run.sh BUILD_DIR  on a failure, keep Xen running for a look
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
PKGS="$PKGS,qemu-system-xen"   # the device model of HVM guests
T0=$(date +%s.%N)

log() { printf "xen-live: [%6.1fs] %s\n" "$(awk -v t="$T0" -v n="$(date +%s.%N)" "BEGIN{print n - t}")" "$*"; }
die() {
  log "FAIL: $*"
  if [ -n "${VBX_KEEP:-}" ] && [ -n "${QPID:-}" ]; then
    # VBX_KEEP=1: leave Xen running for a look: vbsh -c $CEP ..., or write "exec N CMD" into
    # $RUN/ctl/cmd and read the VBX-EXEC lines of $RUN/console.log; kill this script to end
    log "kept running: broker $CEP, control file $RUN/ctl/cmd, console $RUN/console.log"
    wait "$QPID"
  fi
  exit 1
}

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
QPID=""; BPID=""; SPID=""; HPID=""
cleanup() {
  for p in $SPID $QPID $BPID $HPID; do kill "$p" 2>/dev/null || true; done
  for p in $SPID $QPID $BPID $HPID; do wait "$p" 2>/dev/null || true; done
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
# The control file dom0 polls (vbx-run.sh): "kill9 N" makes it kill -9 its virtbus-xen.
mkdir -p "$RUN/ctl"; : > "$RUN/ctl/cmd"
CPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server "$CPORT" --bind 127.0.0.1 --directory "$RUN/ctl" > "$RUN/ctl.log" 2>&1 &
HPID=$!

boot "vbx.mode=live vbx.broker=tcp://10.0.2.2:$WPORT vbx.hb=$HB vbx.ctl=$CPORT"
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

# events_of NAME: the subscriber's lines for domain NAME, event text only
events_of() { grep "for domain '$1'" "$RUN/events.log" | sed 's/.*: //'; }

# --- HVM: QEMU's qemu64 CPU offers (emulated) AMD-V, so this Xen reports the hvm capability;
# an HVM guest whose disk holds an idle boot sector (cli; hlt) boots through hvmloader/SeaBIOS
# with qemu-system-xen as its device model. Where Xen reports no hvm, the define is refused.
cat > "$RUN/hvm.xml" <<XML
<domain type='xen'>
  <name>hvm1</name>
  <memory unit='MiB'>128</memory>
  <os><type>hvm</type><loader>/usr/lib/xen-4.17/boot/hvmloader</loader><boot dev='hd'/></os>
  <features><acpi/><apic/><pae/></features>
  <devices>
    <disk type='file' device='disk'>
      <driver name='phy' type='raw'/>
      <source file='/var/lib/xen/hvm-disk.img'/>
      <target dev='hda' bus='ide'/>
    </disk>
  </devices>
</domain>
XML
if grep -aq "this host cannot run HVM guests" "$RUN/console.log"; then
  if vbsh define "$RUN/hvm.xml" > "$RUN/hvm.out" 2>&1; then die "an HVM domain was defined on a host without hvm"; fi
  grep -q "cannot run HVM guests" "$RUN/hvm.out" || die "HVM define: unexpected answer: $(cat "$RUN/hvm.out")"
  log "PASS: HVM define refused on a host that cannot run HVM guests: $(grep error "$RUN/hvm.out" | tail -1)"
else
  vbsh define "$RUN/hvm.xml" >/dev/null || die "define hvm1 failed"
  t=$(date +%s)
  vbsh --deadline 600000 start dom0/hvm1 > "$RUN/hvm.out" 2>&1 || die "start hvm1 failed: $(cat "$RUN/hvm.out")"
  log "PASS: HVM guest started (took $(( $(date +%s) - t )) s): $(vbsh dominfo dom0/hvm1 | grep -E '^(OS Type|State)' | tr -s ' ' | tr '\n' ';')"
  hvm_cpu() { c=$(vbsh domstats --cpu-total dom0/hvm1 2>/dev/null | tr -d ' ' | sed -n 's/^cpu.time=//p'); [ "${c:-0}" -gt 0 ]; }
  poll 120 hvm_cpu || die "hvm1 shows no cpu.time"
  [ "$(vbsh domstate dom0/hvm1 | head -1)" = running ] || die "hvm1 is not running"
  vbsh --deadline 240000 destroy dom0/hvm1 >/dev/null || die "destroy hvm1 failed"
  want="Started Booted|Stopped Destroyed"
  hvm_seen() { [ "$(events_of hvm1 | grep -v Defined | tr '\n' '|' | sed 's/|$//')" = "$want" ]; }
  poll 30 hvm_seen || die "hvm1 events: $(events_of hvm1 | tr '\n' '|'), expected $want"
  log "PASS: HVM guest ran (cpu.time=$c ns) and was destroyed; events: $(events_of hvm1 | tr '\n' ',' | sed 's/,$//')"
fi

# guest_xml NAME DISK AFTER ON_REBOOT: the tiny guest with vbx.after=AFTER
guest_xml() {
  cat <<XML
<domain type='xen'>
  <name>$1</name>
  <memory unit='MiB'>128</memory>
  <os>
    <type>linux</type>
    <kernel>/boot/vmlinuz-$kver</kernel>
    <initrd>/root/guest-initrd.cpio.gz</initrd>
    <cmdline>console=hvc0 rdinit=/init quiet vbx.after=$3</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>$4</on_reboot>
  <devices>
    <disk type='file' device='disk'>
      <driver name='phy' type='raw'/>
      <source file='/var/lib/xen/$2'/>
      <target dev='xvda'/>
    </disk>
  </devices>
</domain>
XML
}

# --- the guest powers itself off: shutdown (guest), then stopped (shutdown) ---------------
guest_xml pw guest-disk-pw.img poweroff destroy > "$RUN/pw.xml"
vbsh define "$RUN/pw.xml" >/dev/null || die "define pw failed"
t=$(date +%s)
vbsh --deadline 240000 start dom0/pw >/dev/null || die "start pw failed"
is_off() { [ "$(vbsh domstate dom0/pw 2>/dev/null | head -1)" = "shut off" ]; }
poll 120 is_off || die "pw did not power off: $(vbsh domstate dom0/pw 2>&1); its console: $(grep -a 'VBX-GUEST' "$RUN/console.log" | tail -20)"
want="Started Booted|Shutdown Finished after guest request|Stopped Shutdown"
pw_seen() { [ "$(events_of pw | grep -v Defined | tr '\n' '|' | sed 's/|$//')" = "$want" ]; }
poll 30 pw_seen || die "pw events: $(events_of pw | tr '\n' '|'), expected $want"
log "PASS: guest poweroff -> $(events_of pw | tr '\n' ',' | sed 's/,$//') ($(( $(date +%s) - t )) s)"

# --- the guest reboots once; on_reboot restart brings it back in a new Xen domain ---------
guest_xml rb guest-disk-rb.img reboot restart > "$RUN/rb.xml"
vbsh define "$RUN/rb.xml" >/dev/null || die "define rb failed"
t=$(date +%s)
vbsh --deadline 240000 start dom0/rb >/dev/null || die "start rb failed"
want="Started Booted|Stopped Shutdown|Started Booted"
rb_seen() { [ "$(events_of rb | grep -v Defined | tr '\n' '|' | sed 's/|$//')" = "$want" ]; }
poll 400 rb_seen || die "rb events: $(events_of rb | tr '\n' '|'), expected $want"
[ "$(vbsh domstate dom0/rb | head -1)" = running ] || die "rb is not running after its reboot"
log "PASS: guest reboot with on_reboot=restart -> $(events_of rb | tr '\n' ',' | sed 's/,$//') ($(( $(date +%s) - t )) s)"
rb_id=$(vbsh dominfo dom0/rb | sed -n 's/^Id: *//p')

# --- kill -9 of virtbus-xen in dom0: restarted, it adopts the running rb ----------------------
echo "kill9 1" > "$RUN/ctl/cmd"
t=$(date +%s)
restarted() { grep -aq "starting it again" "$RUN/console.log"; }
poll 120 restarted || die "dom0 did not restart virtbus-xen after kill -9; see $RUN/console.log"
adopted() {
  [ "$(vbsh domstate dom0/rb 2>/dev/null | head -1)" = running ] \
    && [ "$(vbsh dominfo dom0/rb 2>/dev/null | sed -n 's/^Id: *//p')" = "$rb_id" ]
}
poll 180 adopted || die "the restarted worker did not take rb back: $(vbsh dominfo dom0/rb 2>&1)"
wr=$(vbsh domstats --block dom0/rb 2>/dev/null | tr -d ' ' | sed -n 's/^block.0.wr.bytes=//p')
[ -n "$wr" ] || die "no domstats for rb after the worker restart"
log "PASS: virtbus-xen killed -9 and restarted; rb adopted, same Xen id $rb_id, wr.bytes=$wr ($(( $(date +%s) - t )) s)"
vbsh --deadline 240000 destroy dom0/rb >/dev/null || die "destroy rb failed"
want="Started Booted|Stopped Shutdown|Started Booted|Stopped Destroyed"
poll 30 rb_seen || die "rb events after the restart: $(events_of rb | tr '\n' '|'), expected $want (nothing more)"
log "PASS: rb destroyed; its events across the worker restart: $(events_of rb | tr '\n' ',' | sed 's/,$//')"

sed 's/^/  /' "$RUN/events.log"
log "PASS: xen-live"
