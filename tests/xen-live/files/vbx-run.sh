#!/bin/bash
# Runs inside dom0 (started by dom0-init). Mode from the kernel command line, vbx.mode=:
#   capture  the fixtures of tests/data/xen: `xl create -n` of each /root/vbx/config/*.cfg (the JSON
#            goldens) and blkback's statistics of a real PV guest that reads 2 MiB and writes 1 MiB;
#            written as a tar onto /dev/vdb, which the host unpacks.
#   live     virtbus-xen registers with the broker at vbx.broker= (the host's loopback through
#            slirp, 10.0.2.2) and serves until QEMU is killed. It is restarted whenever it exits;
#            every 2 s dom0 fetches http://10.0.2.2:vbx.ctl/cmd (the harness's control file) and,
#            when it says `kill9 N`, kills the worker with SIGKILL; `exec N CMD` runs CMD and
#            prints its output as VBX-EXEC lines (diagnostics). Each new text acts once.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
mode=$(arg vbx.mode)
echo "VBX: mode=$mode at $(cut -d' ' -f1 /proc/uptime)s uptime"
mkdir -p /var/lib/xen/images /var/lib/virtbus
for d in guest-disk guest-disk-pw guest-disk-rb; do truncate -s 64M /var/lib/xen/$d.img; done
# the HVM guest's disk: a boot sector that idles (cli; hlt; jmp $-2), signature 55 AA
{ printf '\xfa\xf4\xeb\xfd'; head -c 506 /dev/zero; printf '\x55\xaa'; } > /var/lib/xen/hvm-disk.img
truncate -s 16M /var/lib/xen/hvm-disk.img

if [ "$mode" = capture ]; then
  out=/root/out; mkdir -p $out/config $out/sysfs
  for f in data.raw pv-qdisk.qcow2 hvm-data.qcow2; do truncate -s 64M /var/lib/xen/images/$f; done
  for cfg in /root/vbx/config/*.cfg; do
    n=$(basename $cfg .cfg)
    xl create -n $cfg > $out/config/$n.xl.json 2> $out/config/$n.xl.err
    echo "VBX: xl create -n $n rc=$? ($(wc -c < $out/config/$n.xl.json) bytes)"
  done
  LOOP=$(losetup -f --show /var/lib/xen/guest-disk.img)   # /dev/loop0, as the .cfg says
  echo "VBX: guest disk on $LOOP"
  xl create /root/vbx/config/pv-phy-disk.cfg
  for i in $(seq 1 180); do
    w=$(cat /sys/bus/xen-backend/devices/vbd-*/statistics/wr_sect 2>/dev/null | head -1)
    [ "${w:-0}" -ge 2048 ] && break
    sleep 1
  done
  sleep 2   # the guest's fsync flush lands after its last write
  for d in /sys/bus/xen-backend/devices/vbd-*; do
    b=$(basename $d); mkdir -p $out/sysfs/$b/statistics
    for f in $d/statistics/*; do cat $f > $out/sysfs/$b/statistics/$(basename $f); done
    dom=$(echo $b | cut -d- -f2); dev=$(echo $b | cut -d- -f3)
    xenstore-read /local/domain/0/backend/vbd/$dom/$dev/sector-size > $out/sysfs/$b/sector-size
    xenstore-read /local/domain/0/backend/vbd/$dom/$dev/physical-sector-size \
      > $out/sysfs/$b/physical-sector-size
    xenstore-ls /local/domain/0/backend/vbd/$dom/$dev > $out/sysfs/$b/xenstore-backend.txt
    echo "VBX: captured $b: $(cd $d/statistics && for f in *; do echo -n "$f=$(cat $f) "; done)"
  done
  xl list -l > $out/xl-list-l.json
  xl list > $out/xl-list.txt
  cp /var/log/xen/console/guest-tiny.log $out/ 2>/dev/null
  xl destroy tiny
  losetup -d $LOOP
  uname -r > $out/kernel-release; xl info > $out/xl-info.txt
  tar -C $out -cf /dev/vdb . && sync
  echo "VBX: capture written"
  exit 0
fi

if [ "$mode" = live ]; then
  broker=$(arg vbx.broker)
  ctl=$(arg vbx.ctl)
  start_worker() {
    /root/vbx/virtbus-xen --broker "$broker" --host dom0 --state-dir /var/lib/virtbus \
      --heartbeat-ms "$(arg vbx.hb)" --log-level info >> /var/log/virtbus-xen.out 2>&1 &
    pid=$!
    echo "VBX: virtbus-xen started, pid $pid"
  }
  echo "VBX: starting virtbus-xen, broker $broker"
  : > /var/log/virtbus-xen.out
  start_worker
  for i in $(seq 1 300); do
    grep -q '^ready ' /var/log/virtbus-xen.out && break
    kill -0 $pid 2>/dev/null || break
    sleep 0.5
  done
  echo "VBX: worker: $(grep '^ready ' /var/log/virtbus-xen.out | head -1)"
  # mirror the worker's log onto the console (the harness keeps the console log)
  tail -n +1 -f /var/log/virtbus-xen.out | sed -u 's/^/VBX-LOG: /' &
  # and the guests' consoles (xenconsoled --log=guest), for the harness's diagnostics
  (cd /var/log/xen/console && tail -n +1 -F guest-tiny.log guest-pw.log guest-rb.log \
     2>/dev/null | sed -u 's/^/VBX-GUEST: /') &
  done_cmd=""
  while true; do
    sleep 2
    # (busybox 1.35 wget crashes with -T; coreutils timeout bounds it instead)
    cmd=$(timeout 5 busybox wget -q -O - "http://10.0.2.2:$ctl/cmd" 2>/dev/null)
    if [ -n "$cmd" ] && [ "$cmd" != "$done_cmd" ]; then
      done_cmd=$cmd
      case "$cmd" in
        kill9*) echo "VBX: kill -9 of virtbus-xen (pid $pid)"; kill -9 $pid ;;
        exec\ *) # diagnostics: "exec N CMD..." runs CMD in dom0, output on the console
          echo "${cmd#exec }" | cut -d' ' -f2- | bash 2>&1 | sed 's/^/VBX-EXEC: /' ;;
      esac
    fi
    if ! kill -0 $pid 2>/dev/null; then
      wait $pid; echo "VBX: virtbus-xen exited with $?; starting it again"
      start_worker
    fi
  done
fi
echo "VBX: unknown mode '$mode'"
