#!/usr/bin/env bash
# durability_kill9.sh POPEK GUEST_DIR MODE [TRIALS]
#
# Acknowledged guest writes survive `kill -9` of popek (issue 19, "Keep what was measured").
# Linux (GUEST_DIR/vmlinux, the Debian kernel the other Linux tests boot) runs an /init that
# starts durability_writer.c, which writes numbered 512-byte records to its disk, record N at
# sector N: odd records followed by fdatasync (a flush after the write), even ones through
# O_DIRECT (the write completes when the device does). Only after that returned does the guest
# print "GUEST-ACK N" on its console. At a random moment after the first acknowledgement popek is
# killed with SIGKILL; then every acknowledged record must be in the image, intact (its text,
# zero padding, this trial's random tag).
#
# MODE: virtio   virtio-blk (--disk; /dev/vda)
#       xen      the Xen vbd (--xen --disk; xen-blkfront, /dev/xvda)
#       ddom     the Xen vbd served by the driver domain (--xen --driver-domain --disk)
#       jailed   virtio-blk with popek started as root and told --uid 65534 --gid 65534
#                --chroot EMPTY_DIR: the disk still writes after the privilege drop (as root only)
# TRIALS (default 1; DURABILITY_TRIALS overrides) boots, each killed at a fresh random moment
# (DURABILITY_MAX_S, default 3: up to that many seconds after the first acknowledgement).
# POPEK_ACCEL picks the engine (default bt). Exit 77 (skip) when the guest files are missing.
# DURABILITY_DAMAGE=1 zeroes the last acknowledged record before the check: the test must fail.
set -uo pipefail
popek=$1 guest=$2 mode=$3 trials=${DURABILITY_TRIALS:-${4:-1}}
max_s=${DURABILITY_MAX_S:-3}
mods="virtio_mmio virtio_blk"
case "$mode" in
  virtio|jailed) ;;
  xen|ddom) mods=xen-blkfront ;;
  *) echo "durability_kill9.sh: unknown MODE '$mode' (virtio, xen, ddom or jailed)" >&2; exit 2 ;;
esac
for f in "$guest/vmlinux" "$guest/bbroot/bin/busybox" $(printf "$guest/modules/deps/%s " $mods); do
  [ -e "$f" ] || { echo "SKIP: $f missing (tools/fetch-linux-guest.sh could not fetch the guest)"; exit 77; }
done
[ "$mode" != jailed ] || [ "$(id -u)" = 0 ] || { echo "SKIP: MODE jailed needs root (--uid/--gid/--chroot)"; exit 77; }
work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "${DURABILITY_KEEP:-}" ] && echo "kept $work" || rm -rf "$work"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; echo "---- console (last 30 lines)"; tail -n 30 "$work/console"; exit 1; }

# An initramfs: busybox, the disk driver's modules, an /init that starts the writer
# (durability_writer.c, built static here).
stage=$work/stage
mkdir -p "$stage"/{bin,dev,proc,sys,lib/modules}
cp "$guest/bbroot/bin/busybox" "$stage/bin/busybox"
"${CC:-cc}" -static -O1 -o "$stage/bin/durability_writer" "$(dirname "$0")/durability_writer.c" ||
  fail "cannot build the guest's writer (a static C program: needs cc and libc.a)"
for applet in $("$stage/bin/busybox" --list); do [ "$applet" = busybox ] || ln -sf busybox "$stage/bin/$applet"; done
modules=
for m in $mods; do
  while read -r ko; do
    [[ " $modules " == *" ${ko%.ko} "* ]] && continue
    cp "$guest/modules/$ko" "$stage/lib/modules/"
    modules+=" ${ko%.ko}"
  done <"$guest/modules/deps/$m"
done
cat >"$stage/init" <<INIT
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for ko in$modules; do insmod /lib/modules/\$ko.ko; done
tag=\$(sed -n 's/.*popek\.tag=\([0-9a-f]*\).*/\1/p' /proc/cmdline)
dev=/dev/vda
i=0; while [ \$i -lt 100 ]; do i=\$((i + 1)); [ -b /dev/xvda ] && dev=/dev/xvda; [ -b \$dev ] && break; sleep 0.2; done
/bin/durability_writer \$dev "\$tag"
poweroff -f
INIT
chmod 755 "$stage/init"
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -1 >"$work/initrd.gz"

args=(run --accel "${POPEK_ACCEL:-bt}" --mem 256 --kernel "$guest/vmlinux" --initrd "$work/initrd.gz")
console=ttyS0
case "$mode" in
  xen) args+=(--xen); console=hvc0 ;;
  ddom) args+=(--xen --driver-domain); console=hvc0 ;;
  jailed) mkdir "$work/jail"; args+=(--uid 65534 --gid 65534 --chroot "$work/jail") ;;
esac

# Seconds (fractional) since the epoch, and a random delay in [0, max_s) with millisecond steps.
now() { date +%s.%N; }
total_acked=0
for ((trial = 1; trial <= trials; trial++)); do
  tag=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
  disk=$work/disk.img
  rm -f "$disk"
  truncate -s 4M "$disk"
  : >"$work/console"
  "$popek" "${args[@]}" --disk "$disk" --cmdline "console=$console quiet popek.tag=$tag" \
    </dev/null >"$work/console" 2>"$work/stderr" &
  pid=$!
  start=$(now)
  # Wait (at most 300 s) for the first acknowledgement, then a random while longer.
  for ((w = 0; w < 3000; w++)); do
    grep -q "GUEST-ACK 1" "$work/console" && break
    kill -0 "$pid" 2>/dev/null || fail "popek ended before the first acknowledgement ($(tail -n 2 "$work/stderr"))"
    sleep 0.1
  done
  grep -q "GUEST-ACK 1" "$work/console" || fail "no acknowledgement within 300 s"
  delay=$(awk -v r="$(od -An -N4 -tu4 /dev/urandom)" -v m="$max_s" 'BEGIN { printf "%.3f", (r % (m * 1000)) / 1000 }')
  sleep "$delay"
  kill -9 "$pid"
  wait "$pid" 2>/dev/null
  pid=
  # The driver domain dies with popek (PR_SET_PDEATHSIG); wait until nothing holds the image.
  for ((w = 0; w < 50; w++)); do fuser -s "$disk" 2>/dev/null || break; sleep 0.1; done
  tr -d '\r' <"$work/console" >"$work/console.lf"
  # SIGKILL can cut the console's last line short ("GUEST-ACK 31" of 314): only whole lines count.
  if [ -s "$work/console.lf" ] && [ -n "$(tail -c 1 "$work/console.lf")" ]; then sed -i '$d' "$work/console.lf"; fi
  grep -q "GUEST-NAK" "$work/console.lf" && fail "the guest saw a failed write: $(grep -m1 GUEST-NAK "$work/console.lf")"
  acked=$(grep -c '^GUEST-ACK [0-9]*$' "$work/console.lf")
  last=$(grep '^GUEST-ACK [0-9]*$' "$work/console.lf" | tail -n 1 | cut -d' ' -f2)
  [ "$acked" = "$last" ] || fail "acknowledgements out of order ($acked lines, last $last)"
  # DURABILITY_DAMAGE=1 (a check of this check): zero the last acknowledged record first.
  [ -n "${DURABILITY_DAMAGE:-}" ] && dd if=/dev/zero of="$disk" bs=512 seek="$last" count=1 conv=notrunc status=none
  # Every acknowledged record: sector N holds "REC N TAG END", then zeros.
  bad=$(python3 - "$disk" "$tag" "$last" <<'PY'
import sys
disk, tag, last = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(disk, "rb") as f:
    data = f.read((last + 1) * 512)
for n in range(1, last + 1):
    want = b"REC %06d %s END" % (n, tag.encode())
    want += b"\0" * (512 - len(want))
    got = data[n * 512:(n + 1) * 512]
    if got != want:
        print("%d (%r)" % (n, got[:40]))
PY
)
  [ -z "$bad" ] || fail "trial $trial: acknowledged records missing or damaged after kill -9: $(echo "$bad" | head -n 3 | tr '\n' ' ')"
  printf 'trial %d: killed %.1f s after the first ack (%.1f s after start), %d records acknowledged, all intact\n' \
    "$trial" "$delay" "$(awk -v s="$start" -v e="$(now)" 'BEGIN { print e - s }')" "$acked"
  total_acked=$((total_acked + acked))
done
echo "PASS: $mode: $trials trial(s), $total_acked acknowledged writes, 0 lost or damaged after kill -9"
