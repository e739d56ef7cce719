#!/usr/bin/env bash
# Set up and demo virtbus on this machine: install what is missing, build, start a broker and
# workers in the background, run a demo domain and print what vbsh shows of it.
#
#   ./run.sh          set up, start, demo (services keep running afterwards)
#   ./run.sh --stop   stop the services this script started
#
# Everything it starts lives under .run/ (state, logs, pids); ports are virtbus's defaults
# (16600 clients, 16601 workers, 16602 events) unless VB_PORT_BASE is set.
set -euo pipefail
cd "$(dirname "$0")"
top=$(pwd)
run="$top/.run"
base=${VB_PORT_BASE:-16600}
clients="tcp://127.0.0.1:$base"
workers="tcp://127.0.0.1:$((base + 1))"
events="tcp://127.0.0.1:$((base + 2))"
bin="$top/build/bin"

stop_all() {
  # Domains outlive their workers by design: destroy the demo's QEMUs first (through vbsh while
  # the services still answer, then by their pidfiles), then stop the services.
  if [ -x "$bin/vbsh" ]; then
    "$bin/vbsh" -q -c "$clients" --deadline 3000 destroy demo >/dev/null 2>&1 || true
  fi
  if [ -d "$run/state" ]; then
    find "$run/state" -name '*.pid' -path '*/run/*' 2>/dev/null | while read -r pidfile; do
      pid=$(cat "$pidfile" 2>/dev/null || true)
      if [ -n "$pid" ] && grep -q qemu-system "/proc/$pid/cmdline" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
      fi
    done
  fi
  [ -d "$run/pids" ] || return 0
  for pidfile in "$run"/pids/*; do
    [ -e "$pidfile" ] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

if [ "${1:-}" = "--stop" ]; then
  stop_all
  echo "stopped"
  exit 0
fi

scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

stop_all
rm -rf "$run/state"
mkdir -p "$run/pids" "$run/logs" "$run/state"

# start NAME READY-FILE CMD...: start in the background, wait for its `ready` line.
start() {
  local name=$1; shift
  local out="$run/logs/$name.out"
  : > "$out"
  "$@" > "$out" 2> "$run/logs/$name.log" &
  echo $! > "$run/pids/$name"
  for _ in $(seq 1 100); do
    if grep -q '^ready' "$out"; then
      echo "started $name: $(head -n1 "$out")"
      return 0
    fi
    if ! kill -0 "$(cat "$run/pids/$name")" 2>/dev/null; then
      echo "run.sh: $name failed to start:" >&2
      cat "$run/logs/$name.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "run.sh: $name did not become ready in 10 s; see $run/logs/$name.log" >&2
  exit 1
}

start virtbusd "$bin/virtbusd" --clients "$clients" --workers "$workers" --events "$events" \
  --state-dir "$run/state/broker"
start qemu "$bin/virtbus-qemu" --broker "$workers" --host demo-host --state-dir "$run/state"

vbsh() { "$bin/vbsh" -c "$clients" "$@"; }

# The demo domain: vda is a 3-layer qcow2 chain (base <- mid <- top) whose base holds a boot
# sector that idles the vCPU (cli; hlt), vdb a raw 64 MiB disk. KVM where /dev/kvm works, else
# TCG, chosen here and written in the XML: virtbus itself never falls back silently.
images="$run/images"
mkdir -p "$images"
rm -f "$images"/*
boot="$images/boot.raw"
head -c 1048576 /dev/zero > "$boot"
printf '\xfa\xf4\xeb\xfd' | dd of="$boot" conv=notrunc status=none
printf '\x55\xaa' | dd of="$boot" bs=1 seek=510 conv=notrunc status=none
qemu-img convert -q -f raw -O qcow2 "$boot" "$images/base.qcow2"
qemu-img create -q -f qcow2 -F qcow2 -b "$images/base.qcow2" "$images/mid.qcow2" 64M
qemu-img create -q -f qcow2 -F qcow2 -b "$images/mid.qcow2" "$images/top.qcow2" 128M
qemu-img create -q -f raw "$images/data.img" 64M
if [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; then type=kvm; else type=qemu; fi

demo_xml="$run/demo.xml"
cat > "$demo_xml" <<XML
<domain type='$type'>
  <name>demo</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='$images/top.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='$images/data.img'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
  </devices>
</domain>
XML

set -x
vbsh hosts
vbsh define "$demo_xml"
vbsh start demo
vbsh list --all
vbsh dominfo demo
vbsh dumpxml demo
vbsh domstats --block --backing demo
set +x
echo "virtbus is running (clients endpoint $clients). Try: build/bin/vbsh -c $clients list --all"
echo "Stop it (and the demo domain) with: ./run.sh --stop"
