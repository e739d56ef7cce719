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
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null

stop_all
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
start test-a "$bin/virtbus-test" --broker "$workers" --host demo-a --state-dir "$run/state"
start test-b "$bin/virtbus-test" --broker "$workers" --host demo-b --state-dir "$run/state"

vbsh() { "$bin/vbsh" -c "$clients" "$@"; }

demo_xml="$run/demo.xml"
cat > "$demo_xml" <<'XML'
<domain type='test'>
  <name>demo</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
</domain>
XML

set -x
vbsh hosts
vbsh define "$demo_xml"
vbsh start demo
vbsh list --all
vbsh dominfo demo
vbsh domstats demo
set +x
echo "virtbus is running (clients endpoint $clients). Try: build/bin/vbsh -c $clients list --all"
echo "Stop it with: ./run.sh --stop"
