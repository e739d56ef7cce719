#!/bin/bash
# setup-libvirt.sh - idempotently bring up libvirt (incumbent) on a
# systemd-less Debian 12 host so the benchmarks can run.
#
# Copied from the project's shared reference scripts
# (reference/libvirt-bench/setup-libvirt.sh, written for virtbus's benchmarks);
# changes: libvirt-dev/gcc are not installed (nothing is compiled against
# libvirt here) and the pids of the daemons this script started are written to
# $LIBVIRT_PIDFILE (if set) so bench/stats/run.sh can stop exactly those.
#
#   - installs libvirt/qemu packages (and libvirt-dev for stats_bench.c) if missing
#   - creates runtime dirs and the libvirt-qemu user/group
#   - makes qemu run as root with no security driver / no chown games
#   - starts virtlogd and libvirtd (daemonised with setsid) only if not running
#   - waits until `virsh -c qemu:///system version` answers
#
# Safe to run any number of times; it never restarts a running daemon.
set -euo pipefail

URI=qemu:///system
PKGS=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients
      qemu-system-x86 qemu-utils)

log() { echo "[setup-libvirt] $*" >&2; }

if [ "$(id -u)" -ne 0 ]; then
    echo "must run as root" >&2
    exit 1
fi

# ---- 1. packages -----------------------------------------------------------
missing=()
for p in "${PKGS[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    if [ "$st" != "install ok installed" ]; then
        missing+=("$p")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # update the package lists first if they are absent or older than a day
    if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages' -mtime -1 2>/dev/null | head -n1)" ]; then
        apt-get update
    fi
    if ! apt-get install -y --no-install-recommends "${missing[@]}"; then
        apt-get update
        apt-get install -y --no-install-recommends "${missing[@]}"
    fi
else
    log "packages already installed"
fi

# ---- 2. runtime directories ---------------------------------------------------
mkdir -p /var/log/libvirt /var/run/libvirt /var/lib/libvirt/qemu /var/cache/libvirt

# ---- 3. users / groups ----------------------------------------------------------
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent group kvm          >/dev/null || groupadd -r kvm
id -u libvirt-qemu >/dev/null 2>&1  || useradd -r -g libvirt-qemu libvirt-qemu

# ---- 4. qemu.conf -----------------------------------------------------------------
CONF=/etc/libvirt/qemu.conf
touch "$CONF"
conf_changed=0
set_conf() {   # set_conf key value-as-written
    local key=$1 val=$2
    if ! grep -Eq "^[[:space:]]*${key}[[:space:]]*=[[:space:]]*${val}[[:space:]]*$" "$CONF"; then
        echo "${key} = ${val}" >> "$CONF"
        conf_changed=1
    fi
}
set_conf user '"root"'
set_conf group '"root"'
set_conf dynamic_ownership 0
set_conf remember_owner 0
set_conf security_driver '"none"'

# ---- 5. daemons ---------------------------------------------------------------------
running() { pgrep -x "$1" >/dev/null 2>&1; }

started() {   # record the pid of a daemon this script started
    [ -n "${LIBVIRT_PIDFILE:-}" ] || return 0
    local pid
    for _ in $(seq 1 50); do
        pid=$(pgrep -x -n "$1" || true)
        [ -n "$pid" ] && { echo "$1 $pid" >> "$LIBVIRT_PIDFILE"; return 0; }
        sleep 0.1
    done
}

if ! running virtlogd; then
    log "starting virtlogd"
    setsid /usr/sbin/virtlogd -d
    started virtlogd
else
    log "virtlogd already running (pid $(pgrep -x virtlogd | tr '\n' ' '))"
fi

if ! running libvirtd; then
    log "starting libvirtd"
    setsid /usr/sbin/libvirtd -d
    started libvirtd
else
    log "libvirtd already running (pid $(pgrep -x libvirtd | tr '\n' ' '))"
    if [ "$conf_changed" = 1 ]; then
        log "WARNING: $CONF was changed but libvirtd was already running;"
        log "         restart libvirtd yourself for the change to take effect"
    fi
fi

# ---- 6. wait for the API -------------------------------------------------------------
for i in $(seq 1 60); do
    if virsh -c "$URI" version >/dev/null 2>&1; then
        virsh -c "$URI" version
        log "libvirt ready"
        exit 0
    fi
    sleep 0.5
done
echo "libvirtd did not answer on $URI within 30 s" >&2
exit 1
