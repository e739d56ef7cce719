#!/usr/bin/env bash
# Build virtbus and run every test.
#
#   ./test.sh              developer run: one build, every test (ctest -j2)
#   CI=true ./test.sh      CI run (DESIGN §7): unit tests under valgrind, every test in an
#                          ASan+UBSan build, libFuzzer harnesses for 60 s in total
#   ./test.sh -R REGEX     pass a ctest filter through (any ctest arguments)
#   ./test.sh --xen-live   instead of the suite: virtbus-xen against a real Xen booted under QEMU
#                          TCG (tests/xen-live/run.sh; takes minutes)
#
# Fails if a test leaves a QEMU, a virtbus process, a loop device or a network namespace behind.
set -euo pipefail
cd "$(dirname "$0")"
top=$(pwd)
jobs=$(nproc)

scripts/deps.sh

if [ "${1:-}" = "--xen-live" ]; then
  cmake -S "$top" -B build/xen-live -DCMAKE_BUILD_TYPE=Debug >/dev/null
  cmake --build build/xen-live -j"$jobs" --target virtbus-xen virtbusd vbsh >/dev/null
  exec tests/xen-live/run.sh build/xen-live
fi

snapshot() {
  {
    # Live processes only: a zombie left for init to reap holds nothing.
    ps -eo stat=,pid=,args= | awk '$1 !~ /^Z/ && $3 !~ /awk$/ &&
      $0 ~ /qemu-system|virtbusd|virtbus-(qemu|lxc|xen|test)/ { $1 = ""; print }' || true
    losetup -a 2>/dev/null | cut -d: -f1 || true
    ip netns list 2>/dev/null | sed 's/^/netns /' || true
  } | sort
}

before=$(mktemp)
after=$(mktemp)
trap 'rm -f "$before" "$after"' EXIT
snapshot > "$before"

build() {  # build DIR [--target T] cmake-args...
  local dir=$1; shift
  local target=()
  if [ "${1:-}" = "--target" ]; then target=(--target "$2"); shift 2; fi
  cmake -S "$top" -B "$dir" -DCMAKE_BUILD_TYPE=Debug "$@" >/dev/null
  cmake --build "$dir" -j"$jobs" "${target[@]}" >/dev/null
}

status=0
if [ "${CI:-}" = "true" ]; then
  echo "== valgrind build: unit tests under valgrind"
  build build/ci-valgrind -DVB_VALGRIND=ON
  (cd build/ci-valgrind && ctest -L unit -j"$jobs" --output-on-failure "$@") || status=1

  echo "== ASan+UBSan build: every test"
  build build/ci-asan -DVB_SANITIZE=ON
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  (cd build/ci-asan && ctest -j"$jobs" --output-on-failure "$@") || status=1

  echo "== libFuzzer (clang): 60 s in total"
  build build/ci-fuzz --target fuzz_all -DCMAKE_C_COMPILER=clang -DVB_FUZZ=ON -DVB_FUZZ_TOTAL_SECONDS=60
  (cd build/ci-fuzz && ctest -L fuzz --output-on-failure) || status=1
else
  build build
  (cd build && ctest -j"$jobs" --output-on-failure "$@") || status=1
fi

snapshot > "$after"
leftovers=$(comm -13 "$before" "$after")
if [ -n "$leftovers" ]; then
  echo "test.sh: tests left these behind:" >&2
  echo "$leftovers" >&2
  status=1
fi
exit $status
