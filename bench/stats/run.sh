#!/bin/bash
# bench/stats/run.sh — `vbsh domstats --block --backing` against `virsh domstats --block
# --backing` on the same host, in the same run (issue 4, item 5).
#
#   sudo bench/stats/run.sh              sizes 1 10 50 100, 7 repetitions each
#   SIZES="1 10" REPS=5 bench/stats/run.sh
#
# What it does:
#   1. builds virtbusd, virtbus-qemu and vbsh (Release) in $VB_BUILD (default <repo>/build-bench);
#   2. brings up libvirt 9.0 from Debian packages with setup-libvirt.sh (this folder; it never
#      restarts a running daemon and records the pids of the daemons it started);
#   3. starts virtbusd and virtbus-qemu on ephemeral ports with their own state directory;
#   4. for each N in $SIZES grows two fleets to N paused domains — libvirt's (vbbench-lv-I) and
#      virtbus's (vbbench-I), each with its own copies of the images: vda a 3-layer qcow2 chain
#      (top 64 MiB -> b1 128 MiB -> b2 192 MiB virtual, b1/b2 holding 1/2 MiB of data, a halt
#      boot sector in b2), vdb a 64 MiB sparse raw file; 64 MiB RAM, 1 vCPU, q35, kvm (qemu when
#      /dev/kvm does not open);
#   5. times REPS runs of each command, alternating, and prints the median wall time (ms, the
#      whole client process: connect, request, formatting), the ratio virtbus/libvirt, and checks
#      that both printed N domains with the same number of lines and vbsh warned about nothing;
#   6. tears everything down: destroys and undefines every domain it made, stops virtbus-qemu and
#      virtbusd by pid, stops libvirtd/virtlogd by pid if it started them, deletes the images.
# Results go to stdout (a table) and $OUT (default /tmp/vb-bench-stats-results.txt).
# Needs root (libvirt's system instance) and ~8 GB of free memory for N=100 (2 x 100 QEMUs).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SIZES=${SIZES:-"1 10 50 100"}
REPS=${REPS:-7}
VB_BUILD=${VB_BUILD:-$REPO/build-bench}
URI=qemu:///system
LV_PREFIX=vbbench-lv-
VB_PREFIX=vbbench-

log() { echo "[bench-stats] $*" >&2; }
[ "$(id -u)" -eq 0 ] || { echo "run.sh must run as root (libvirt's system instance)" >&2; exit 1; }

WORK=$(mktemp -d /tmp/vb-bench-stats.XXXXXX)
OUT=${OUT:-/tmp/vb-bench-stats-results.txt}
mkdir -p "$WORK/lv" "$WORK/vb" "$WORK/xml" "$WORK/vbstate"
VB_PIDS=()
LV_MADE=0
VB_MADE=0
VB_EP=""

# ---- teardown ----------------------------------------------------------------------------------
cleanup() {
    set +e
    log "tearing down"
    if [ -n "$VB_EP" ] && [ "$VB_MADE" -gt 0 ]; then
        # (wait by pid: a bare `wait` would also wait for virtbusd and virtbus-qemu)
        local dpids=()
        for ((i = 0; i < VB_MADE; i++)); do
            "$VB_BUILD/bin/vbsh" -c "$VB_EP" -q destroy "$VB_PREFIX$i" >/dev/null 2>&1 &
            dpids+=($!)
            if (( ${#dpids[@]} == 10 )); then wait "${dpids[@]}"; dpids=(); fi
        done
        [ ${#dpids[@]} -eq 0 ] || wait "${dpids[@]}"
        for ((i = 0; i < VB_MADE; i++)); do
            "$VB_BUILD/bin/vbsh" -c "$VB_EP" -q undefine "$VB_PREFIX$i" >/dev/null 2>&1
        done
    fi
    # worker first (its QEMUs are gone now), then the broker; by pid only
    for ((k = ${#VB_PIDS[@]} - 1; k >= 0; k--)); do
        kill "${VB_PIDS[$k]}" 2>/dev/null
        wait "${VB_PIDS[$k]}" 2>/dev/null
    done
    if [ "$LV_MADE" -gt 0 ]; then
        # `virsh destroy` is serial per connection and takes 1.5-2 s here: 8 connections
        local par=8 pids=()
        for ((g = 0; g < par; g++)); do
            local cmds=""
            for ((i = g; i < LV_MADE; i += par)); do
                cmds+="destroy $LV_PREFIX$i; undefine $LV_PREFIX$i; "
            done
            [ -n "$cmds" ] && { virsh -q -c "$URI" "$cmds" >/dev/null 2>&1 & pids+=($!); }
        done
        for p in "${pids[@]}"; do wait "$p"; done
        left=$(virsh -c "$URI" list --all --name | grep -E "^$LV_PREFIX[0-9]+$" || true)
        for d in $left; do
            virsh -q -c "$URI" destroy "$d" >/dev/null 2>&1
            virsh -q -c "$URI" undefine "$d" >/dev/null 2>&1
        done
    fi
    if [ -s "$WORK/libvirt.pids" ]; then
        while read -r name pid; do
            log "stopping $name (pid $pid), started by this run"
            kill "$pid" 2>/dev/null
        done < "$WORK/libvirt.pids"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# ---- 1. build ------------------------------------------------------------------------------------
log "building virtbus (Release) in $VB_BUILD"
cmake -S "$REPO" -B "$VB_BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$VB_BUILD" -j"$(nproc)" --target virtbusd virtbus-qemu vbsh >/dev/null
VBSH="$VB_BUILD/bin/vbsh"

# ---- 2. libvirt ----------------------------------------------------------------------------------
LIBVIRT_PIDFILE="$WORK/libvirt.pids" "$HERE/setup-libvirt.sh" >/dev/null
if virsh -c "$URI" list --all --name | grep -qE "^$LV_PREFIX[0-9]+$"; then
    echo "libvirt already has $LV_PREFIX* domains; remove them first" >&2
    exit 1
fi
LV_VERSION=$(virsh -c "$URI" version | sed -n 's/^Running hypervisor: //p; s/^Using library: //p' \
             | tr '\n' ' ')

# ---- 3. virtbus ----------------------------------------------------------------------------------
# wait_ready FILE PID: the process's `ready ...` line
wait_ready() {
    for _ in $(seq 1 100); do
        grep -q '^ready' "$1" && return 0
        kill -0 "$2" 2>/dev/null || { echo "process $2 died; see ${1%.out}.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "no ready line in $1 after 10 s" >&2
    exit 1
}
"$VB_BUILD/bin/virtbusd" --clients 'tcp://127.0.0.1:*' --workers 'tcp://127.0.0.1:*' \
    --events 'tcp://127.0.0.1:*' --state-dir "$WORK/vbstate/broker" \
    > "$WORK/virtbusd.out" 2> "$WORK/virtbusd.log" &
VB_PIDS+=($!)
wait_ready "$WORK/virtbusd.out" "${VB_PIDS[0]}"
VB_EP=$(sed -n 's/^ready clients=\([^ ]*\).*/\1/p' "$WORK/virtbusd.out")
WORKERS_EP=$(sed -n 's/^ready .*workers=\([^ ]*\).*/\1/p' "$WORK/virtbusd.out")
"$VB_BUILD/bin/virtbus-qemu" --broker "$WORKERS_EP" --host bench --state-dir "$WORK/vbstate" \
    > "$WORK/virtbus-qemu.out" 2> "$WORK/virtbus-qemu.log" &
VB_PIDS+=($!)
wait_ready "$WORK/virtbus-qemu.out" "${VB_PIDS[1]}"
log "virtbus up: clients $VB_EP"

# ---- 4. fleets -----------------------------------------------------------------------------------
DOMTYPE=kvm
# -c first: `<>` on a missing /dev/kvm would create a regular file there
if ! { [ -c /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; }; then DOMTYPE=qemu; fi
MBR="$WORK/bootsect.bin"
{ printf '\xfa\xf4\xeb\xfd'; head -c 506 /dev/zero; printf '\x55\xaa'; } > "$MBR"
MiB=$((1024 * 1024))

# make_images DIR NAME: DIR/NAME-b2.qcow2 <- NAME-b1.qcow2 <- NAME-top.qcow2, DIR/NAME-data.raw
make_images() {
    local dir=$1 name=$2
    qemu-img create -q -f qcow2 "$dir/$name-b2.qcow2" 192M
    qemu-io -f qcow2 -c "write -P 0x02 $((2 * MiB)) 2M" -c "write -s $MBR 0 512" \
        "$dir/$name-b2.qcow2" >/dev/null
    qemu-img create -q -f qcow2 -F qcow2 -b "$dir/$name-b2.qcow2" "$dir/$name-b1.qcow2" 128M
    qemu-io -f qcow2 -c "write -P 0x01 $MiB 1M" "$dir/$name-b1.qcow2" >/dev/null
    qemu-img create -q -f qcow2 -F qcow2 -b "$dir/$name-b1.qcow2" "$dir/$name-top.qcow2" 64M
    truncate -s 64M "$dir/$name-data.raw"
}

# domain_xml NAME DIR > file
domain_xml() {
    local name=$1 dir=$2
    cat <<EOF
<domain type='$DOMTYPE'>
  <name>$name</name>
  <memory unit='MiB'>64</memory>
  <currentMemory unit='MiB'>64</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$dir/$name-top.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$dir/$name-data.raw'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
  </devices>
</domain>
EOF
}

# grow N: both fleets to N paused domains
grow() {
    local n=$1 cmds="" i
    local t0; t0=$(date +%s%N)
    for ((i = LV_MADE; i < n; i++)); do
        make_images "$WORK/lv" "$LV_PREFIX$i"
        domain_xml "$LV_PREFIX$i" "$WORK/lv" > "$WORK/xml/$LV_PREFIX$i.xml"
        cmds+="define $WORK/xml/$LV_PREFIX$i.xml; start --paused $LV_PREFIX$i; "
    done
    if [ -n "$cmds" ]; then
        virsh -q -c "$URI" "$cmds" >/dev/null
        LV_MADE=$n
    fi
    for ((i = VB_MADE; i < n; i++)); do
        make_images "$WORK/vb" "$VB_PREFIX$i"
        domain_xml "$VB_PREFIX$i" "$WORK/vb" > "$WORK/xml/$VB_PREFIX$i.xml"
        "$VBSH" -c "$VB_EP" -q define "$WORK/xml/$VB_PREFIX$i.xml" >/dev/null
        VB_MADE=$((i + 1))
        "$VBSH" -c "$VB_EP" -q start --paused "$VB_PREFIX$i" >/dev/null
    done
    log "fleets at $n domains each ($(( ($(date +%s%N) - t0) / 1000000 )) ms to grow)"
}

# time_ms CMD... > ms (output to $WORK/last.out / last.err)
time_ms() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" > "$WORK/last.out" 2> "$WORK/last.err"
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 ))
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
fmt_ms() { awk -v us="$1" 'BEGIN { printf "%.1f", us / 1000 }'; }

{
    echo "domstats --block --backing, median of $REPS runs (wall ms of the client process)"
    echo "host: $(nproc) cores, $(uname -r), domain type $DOMTYPE; libvirt: $LV_VERSION"
    printf '%5s  %12s  %12s  %8s\n' N "virsh (ms)" "vbsh (ms)" "ratio"
} | tee "$OUT"

for n in $SIZES; do
    grow "$n"
    lv=() vb=()
    for ((r = 0; r < REPS; r++)); do
        lv+=("$(time_ms virsh -c "$URI" domstats --block --backing)")
        lv_doms=$(grep -c "^Domain: '$LV_PREFIX" "$WORK/last.out" || true)
        lv_lines=$(grep -vc -e '^$' -e 'backingIndex=' "$WORK/last.out" || true)
        vb+=("$(time_ms "$VBSH" -c "$VB_EP" domstats --block --backing)")
        vb_doms=$(grep -c "^Domain: '$VB_PREFIX" "$WORK/last.out" || true)
        vb_lines=$(grep -vc -e '^$' -e 'backingIndex=' "$WORK/last.out" || true)
        if [ -s "$WORK/last.err" ]; then
            log "vbsh warned (N=$n, run $r):"; cat "$WORK/last.err" >&2
        fi
        [ "$lv_doms" = "$n" ] && [ "$vb_doms" = "$n" ] \
            || log "WARNING: N=$n run $r: virsh printed $lv_doms domains, vbsh $vb_doms"
        # the same lines apart from backingIndex, which libvirt 9 prints on top layers too
        # (docs/protocol.md) and virsh's final blank line
        [ "$lv_lines" = "$vb_lines" ] \
            || log "WARNING: N=$n run $r: virsh printed $lv_lines lines, vbsh $vb_lines"
    done
    lvm=$(printf '%s\n' "${lv[@]}" | median)
    vbm=$(printf '%s\n' "${vb[@]}" | median)
    ratio=$(awk -v a="$vbm" -v b="$lvm" 'BEGIN { printf "%.3f", a / b }')
    printf '%5s  %12s  %12s  %8s\n' "$n" "$(fmt_ms "$lvm")" "$(fmt_ms "$vbm")" "$ratio" \
        | tee -a "$OUT"
    echo "  runs (ms) virsh: $(for x in "${lv[@]}"; do fmt_ms "$x"; echo -n ' '; done)" >> "$OUT"
    echo "  runs (ms) vbsh:  $(for x in "${vb[@]}"; do fmt_ms "$x"; echo -n ' '; done)" >> "$OUT"
done
echo
cat "$OUT"
