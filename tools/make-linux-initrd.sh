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
# Default OUT: GUEST_DIR/initrd-popek.cpio.gz. Idempotent (rebuilt when this script or busybox
# changes). Needs cpio and gzip; no root (the kernel's built-in initramfs has /dev/console).
set -euo pipefail

GUEST=${1:?usage: make-linux-initrd.sh GUEST_DIR [OUT.cpio.gz]}
OUT=${2:-$GUEST/initrd-popek.cpio.gz}
BB=$GUEST/bbroot/bin/busybox
[ -x "$BB" ] || { echo "make-linux-initrd: no static busybox at $BB (run fetch-guest.sh first)" >&2; exit 1; }

stamp="$(cat "$0" | sha256sum | cut -c1-16) $(sha256sum <"$BB" | cut -c1-16)"
if [ -s "$OUT" ] && [ -f "$OUT.stamp" ] && [ "$(cat "$OUT.stamp")" = "$stamp" ]; then exit 0; fi

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,etc,root}
cp "$BB" "$stage/bin/busybox"
for applet in $("$BB" --list); do [ "$applet" = busybox ] || ln -sf busybox "$stage/bin/$applet"; done
ln -s bin "$stage/sbin"
cat >"$stage/init" <<'INIT'
#!/bin/sh
# PID 1 of popek's Linux test guest (busybox ash).
export PATH=/bin HOME=/root TERM=linux
mount -t proc proc /proc
read -r up _ </proc/uptime
echo "GUEST-INIT-REACHED uptime=$up"
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mode=marker
read -r cmdline </proc/cmdline
for w in $cmdline; do
  case "$w" in popek.init=*) mode=${w#*=} ;; esac
done
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
