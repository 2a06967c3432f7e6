#!/usr/bin/env bash
# make_cpu_initrd.sh GUEST_DIR OUT_DIR: builds OUT_DIR/initrd-cpu.cpio.gz for bench/linux_bench's
# "cpu" case: the shared baseline's initrd-min.cpio.gz (busybox) followed by a second archive
# whose /init replaces the baseline's (the kernel unpacks concatenated archives in order, later
# files win: Documentation/driver-api/early-userspace/buffer-format.rst). The new /init prints
# the baseline's marker, then times CPU-bound busybox programs over 32 MiB of /dev/zero inside
# the guest (monotonic clock from /proc/timer_list, as the baseline's blk mode does), prints
# "GUEST-CPU <name> mib=32 ns=<n> out=<first 16 characters of the output>" for each, and
# powers off. Never writes to the repository.
set -euo pipefail
GUEST_DIR=$1 OUT=$2
base=$GUEST_DIR/initrd-min.cpio.gz
[ -s "$base" ] || { echo "make_cpu_initrd: $base missing (run fetch-guest.sh)" >&2; exit 2; }
command -v cpio >/dev/null || { echo "make_cpu_initrd: cpio missing (apt-get install cpio)" >&2; exit 2; }
mkdir -p "$OUT"
stage=$(mktemp -d "$OUT/stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
cat >"$stage/init" <<'INIT'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
read -r up _ </proc/uptime
echo "GUEST-INIT-REACHED uptime=$up nproc=$(grep -c ^processor /proc/cpuinfo)"
mount -t devtmpfs devtmpfs /dev
now_ns() {
  while read -r a b c _; do
    [ "$a $b" = "now at" ] && { echo "$c"; return; }
  done </proc/timer_list
}
timed() { # name command...: the command reads 32 MiB of zeros on stdin
  name=$1; shift
  t0=$(now_ns)
  dd if=/dev/zero bs=1M count=32 2>/tmp/dd.err | "$@" >/tmp/out
  t1=$(now_ns)
  echo "GUEST-CPU $name mib=32 ns=$((t1 - t0)) out=$(head -c 16 /tmp/out) dd=[$(tr '\n' ' ' </tmp/dd.err)]"
}
timed sha256sum sha256sum
timed md5sum md5sum
timed gzip sh -c 'gzip -c | wc -c'
read -r up _ </proc/uptime
echo "GUEST-HALT uptime=$up"
poweroff -f
sleep 10; reboot -f
INIT
chmod 755 "$stage/init"
touch -h -d @0 "$stage/init"
(cd "$stage" && echo init | cpio -o -H newc -R 0:0 --reproducible --quiet) | gzip -9n >"$stage/overlay.cpio.gz"
cat "$base" "$stage/overlay.cpio.gz" >"$OUT/initrd-cpu.cpio.gz.tmp"
mv "$OUT/initrd-cpu.cpio.gz.tmp" "$OUT/initrd-cpu.cpio.gz"
