#!/usr/bin/env bash
# make-linux-initrd.sh GUEST_DIR [OUT.cpio.gz]
#
# Builds popek's own busybox initramfs from a guest directory made by fetch-guest.sh (it takes
# GUEST_DIR/bbroot/bin/busybox). Its /init prints `GUEST-INIT-REACHED uptime=<s>` like the
# baseline initrds, then acts on `popek.init=` from the kernel command line:
#   marker (default)  power off at once
#   nproc             print `GUEST-NPROC <n> online=<cpu list>`, then power off (SMP check)
#   shell             start an interactive busybox sh on the console (with a controlling tty, so
#                     Ctrl-C reaches the foreground job); the VM powers off when sh exits
#   xenblk            (Linux on `popek run --xen --disk F`) insmod xen-blkfront, wait for
#                     /dev/xvda, print `GUEST-XENBLK-READ <text>` (the NUL-terminated text at byte
#                     4096 of the disk), write `GUEST-XENBLK-WROTE-<popek.tag>` at byte 8192, sync,
#                     drop the page cache, read it back: `GUEST-XENBLK-BACK <text>`
#   xennet            (with `--net user`) insmod xen-netfront, bring eth0 up with udhcpc (DHCP
#                     from popek's slirp), print `GUEST-XENNET-IP <address>`, ping the gateway
#                     x.x.x.2: `GUEST-XENNET-PING ok|fail`
#   xen               xenblk, then xennet
#   net               (with `--net user`, no --xen) insmod virtio_mmio and virtio_net, then as
#                     xennet on eth0: `GUEST-NET-IP <address>`, `GUEST-NET-PING ok|fail`
# The modules (xen-blkfront, xen-netfront, virtio_mmio, virtio_net, from the kernel package) come from
# GUEST_DIR/modules/ as fetch-guest.sh lays them out (modules/deps/<name> = load order); a mode
# whose module is missing prints `GUEST-NO-MODULE <name>`.
# Default OUT: GUEST_DIR/initrd-popek.cpio.gz. Idempotent (rebuilt when this script or busybox
# changes). Needs cpio and gzip; no root (the kernel's built-in initramfs has /dev/console).
set -euo pipefail

GUEST=${1:?usage: make-linux-initrd.sh GUEST_DIR [OUT.cpio.gz]}
OUT=${2:-$GUEST/initrd-popek.cpio.gz}
BB=$GUEST/bbroot/bin/busybox
[ -x "$BB" ] || { echo "make-linux-initrd: no static busybox at $BB (run fetch-guest.sh first)" >&2; exit 1; }

MODULES="xen-blkfront xen-netfront virtio_mmio virtio_net"
mods_sum=$(for m in $MODULES; do [ -f "$GUEST/modules/deps/$m" ] || continue
  while read -r ko; do sha256sum <"$GUEST/modules/$ko"; done <"$GUEST/modules/deps/$m"; done | sha256sum | cut -c1-16)
stamp="$(cat "$0" | sha256sum | cut -c1-16) $(sha256sum <"$BB" | cut -c1-16) $mods_sum"
if [ -s "$OUT" ] && [ -f "$OUT.stamp" ] && [ "$(cat "$OUT.stamp")" = "$stamp" ]; then exit 0; fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,etc,root}
cp "$BB" "$stage/bin/busybox"
for applet in $("$BB" --list); do [ "$applet" = busybox ] || ln -sf busybox "$stage/bin/$applet"; done
ln -s bin "$stage/sbin"
mkdir -p "$stage/lib/modules/deps"
for m in $MODULES; do
  [ -f "$GUEST/modules/deps/$m" ] || continue
  while read -r ko; do cp "$GUEST/modules/$ko" "$stage/lib/modules/"; done <"$GUEST/modules/deps/$m"
  cp "$GUEST/modules/deps/$m" "$stage/lib/modules/deps/"
done
cat >"$stage/init" <<'INIT'
#!/bin/sh
# PID 1 of popek's Linux test guest (busybox ash).
export PATH=/bin HOME=/root TERM=linux
mount -t proc proc /proc
read -r up _ </proc/uptime
echo "GUEST-INIT-REACHED uptime=$up"
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mode=marker tag=none
read -r cmdline </proc/cmdline
for w in $cmdline; do
  case "$w" in popek.init=*) mode=${w#*=} ;; popek.tag=*) tag=${w#*=} ;; esac
done
load() { # load module $1 and its dependencies; false when it is not in the initrd
  [ -f "/lib/modules/deps/$1" ] || { echo "GUEST-NO-MODULE $1"; return 1; }
  while read -r ko; do
    n=${ko%.ko}; n=$(echo "$n" | tr - _)
    [ -d "/sys/module/$n" ] || insmod "/lib/modules/$ko" || echo "GUEST-INSMOD-FAIL $ko"
  done <"/lib/modules/deps/$1"
}
wait_for() { # wait up to $2 tenths of a second for path $1
  i=0; while [ ! -e "$1" ] && [ $i -lt "$2" ]; do sleep 0.1; i=$((i + 1)); done; [ -e "$1" ]
}
text_at() { # the NUL-terminated text at byte $2 of device $1 (one 512-byte sector)
  dd if="$1" bs=512 skip=$(($2 / 512)) count=1 2>/dev/null | tr '\0' '\n' | head -n 1
}
xenblk() {
  if load xen-blkfront && wait_for /dev/xvda 100; then
    echo "GUEST-XENBLK-READ $(text_at /dev/xvda 4096)"
    printf 'GUEST-XENBLK-WROTE-%s\0' "$tag" | dd of=/dev/xvda bs=512 seek=16 conv=sync,fsync 2>/dev/null
    sync; echo 3 >/proc/sys/vm/drop_caches
    echo "GUEST-XENBLK-BACK $(text_at /dev/xvda 8192)"
  else
    echo "GUEST-XENBLK-FAIL no /dev/xvda"
  fi
}
netup() { # netup PREFIX MODULE...: load the modules, DHCP on eth0 from slirp, ping the gateway
  prefix=$1; shift
  for m in "$@"; do load "$m" || return 0; done
  if wait_for /sys/class/net/eth0 100; then
    ip link set lo up; ip link set eth0 up
    udhcpc -i eth0 -n -q -t 5 -T 2 -s /bin/true >/tmp/dhcp 2>&1
    ip=$(sed -n 's/.*lease of \([0-9.]*\) obtained.*/\1/p' /tmp/dhcp | head -n 1)
    echo "GUEST-$prefix-IP ${ip:-none}"
    if [ -n "$ip" ]; then
      ip addr add "$ip/24" dev eth0
      if ping -c 2 -W 3 "${ip%.*}.2" >/dev/null 2>&1; then echo "GUEST-$prefix-PING ok"; else echo "GUEST-$prefix-PING fail"; fi
    fi
  else
    echo "GUEST-$prefix-FAIL no eth0"
  fi
}
xennet() { netup XENNET xen-netfront; }
case "$mode" in
  marker) ;;
  nproc) echo "GUEST-NPROC $(nproc) online=$(cat /sys/devices/system/cpu/online)" ;;
  shell)
    echo "popek: busybox shell on the console; 'exit' or 'poweroff -f' ends the VM"
    # ash forks the command, and the child is no process group leader, so setsid works there;
    # cttyhack then opens the real console device (ttyS0) as the controlling terminal of the new
    # session, so Ctrl-C signals the foreground job. (Not with '&': a background job of a
    # non-interactive shell starts with SIGINT and SIGQUIT ignored, and keeps them ignored.)
    setsid cttyhack sh
    ;;
  xenblk) xenblk ;;
  xennet) xennet ;;
  xen) xenblk; xennet ;;
  net) netup NET virtio_mmio virtio_net ;;
  *) echo "GUEST-UNKNOWN-MODE $mode" ;;
esac
poweroff -f
sleep 10; echo "GUEST-HALT-FAILED"
INIT
chmod 755 "$stage/init"
find "$stage" -exec touch -h -d @0 {} +
mkdir -p "$(dirname "$OUT")"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --reproducible --quiet) |
  gzip -9n >"$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "$stamp" >"$OUT.stamp"
echo "make-linux-initrd: built $OUT" >&2
