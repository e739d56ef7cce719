#!/usr/bin/env bash
# Install what virtbus needs from Debian 12's packages, only what is missing.
# Used by run.sh and test.sh; safe to run any number of times.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  libzmq3-dev libczmq-dev libmsgpack-dev libxml2-dev libcmocka-dev libjson-c-dev
  clang valgrind
  qemu-system-x86 qemu-utils
  lxc lxc-dev busybox-static
  libxen-dev
)
# Extra groups, by argument: bench (libvirt for side-by-side figures); xen-live (building the
# dom0 image of tests/xen-live).
for group in "$@"; do
  case "$group" in
    bench) packages+=(libvirt-daemon-system libvirt-clients) ;;
    xen-live) packages+=(debootstrap e2fsprogs cpio) ;;
    *) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps.sh: missing packages: ${missing[*]}; run as root or install them" >&2
  exit 1
fi
echo "deps.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
