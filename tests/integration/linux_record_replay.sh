#!/usr/bin/env bash
# linux_record_replay.sh POPEK KERNEL INITRD ACCEL [marker|shell|disk|xen|net|smp]
#
# Records the Debian kernel booting with `popek run --accel ACCEL --record`, then replays the log
# twice (docs/record-replay.md). marker (default, initrd-min): the boot to the init marker and
# ACPI power-off. shell (initrd-popek, popek.init=shell): an interactive busybox shell whose input
# the test types (`echo hello-$((6*7))`, `uname -r`, `poweroff -f`); the replays get no stdin.
# Passes when both replays exit 0 like the recording, print the same console output byte for
# byte and report the same guest memory hash; in shell mode also when a replay of the log without
# its console input diverges (status 4, "replay diverged"). disk (initrd-virtio,
# probe.mode=blk): virtio-blk and virtio-rng loaded, 16 MiB read from a random disk with dd; the
# replays run with the disk image removed, and a replay of the log without its Dma events (what
# the disk and the rng wrote into guest RAM) diverges. xen (initrd-popek, popek.init=xen): the
# kernel as a Xen PVH guest, blkfront reading and writing a --disk, netfront getting a DHCP lease
# from slirp (--net user) and pinging; the replays have neither disk nor network, and a replay of
# the log without its Frame events diverges. net (initrd-popek, popek.init=net): virtio-net
# (virtio_mmio, virtio_net) with --net user, a DHCP lease from slirp and a ping of the gateway;
# the replays open no network (strace: no socket, no eventfd of a back end thread), and a replay
# without the Frame events diverges. smp (initrd-popek, popek.init=nproc): two vCPUs, which a
# recording and its replays run in turns on one thread (docs/record-replay.md "Several vCPUs"):
# the AP's start (INIT/SIPI), IPIs and both vCPUs' timers replay as recorded; a replay with the
# Exit events' register checksums changed diverges. Exit 77 (skip) when the guest files are missing.
set -uo pipefail
popek=$1 kernel=$2 initrd=$3 accel=$4 mode=${5:-marker}
here=$(cd "$(dirname "$0")" && pwd)
for f in "$kernel" "$initrd"; do
  [ -s "$f" ] || { echo "SKIP: $f missing (tools/fetch-linux-guest.sh could not fetch the guest)"; exit 77; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cmdline="console=ttyS0"
input=/dev/null
devices=()
if [ "$mode" = disk ]; then
  cmdline="console=ttyS0 quiet probe.mode=blk probe.dd=16 probe.mods=virtio_mmio,virtio_blk,virtio-rng"
  head -c $((16 << 20)) /dev/urandom >"$dir/disk.img"
  devices=(--disk "$dir/disk.img" --rng)
fi
if [ "$mode" = xen ]; then
  cmdline="console=hvc0 popek.init=xen popek.tag=rr"
  truncate -s 16M "$dir/disk.img"
  printf 'HOST-TOKEN-RR\0' | dd of="$dir/disk.img" bs=1 seek=4096 conv=notrunc status=none
  devices=(--xen --disk "$dir/disk.img" --net user)
fi
if [ "$mode" = net ]; then
  cmdline="console=ttyS0 popek.init=net"
  devices=(--net user)
fi
if [ "$mode" = smp ]; then
  cmdline="console=ttyS0 popek.init=nproc"
  devices=(--cpus 2)
fi
if [ "$mode" = shell ]; then
  cmdline="console=ttyS0 popek.init=shell"
  printf 'echo hello-$((6*7))\nuname -r\npoweroff -f\n' >"$dir/typed"
  input=$dir/typed
fi
tracer=()   # net: the first replay runs under strace, which lists any socket or eventfd it opens
run() {   # run NAME MODE LOG STDIN: console to $dir/NAME.out, stderr to .err, status to .rc
  timeout --kill-after=10 "${POPEK_LINUX_TIMEOUT:-540}" "${tracer[@]}" \
    "$popek" run --accel "$accel" --kernel "$kernel" --initrd "$initrd" --cmdline "$cmdline" "${devices[@]}" \
    "$2" "$3" <"$4" >"$dir/$1.out" 2>"$dir/$1.err"
  echo $? >"$dir/$1.rc"
}
hash_of() { grep -o 'guest memory blake2b [0-9a-f]*' "$dir/$1.err"; }
fail() { echo "FAIL: $*"; for f in "$dir"/*.err; do echo "---- $f"; cat "$f"; done; echo "---- console"; tail -20 "$dir/rec.out"; exit 1; }
run rec --record "$dir/boot.rr" "$input"
[ "$(cat "$dir/rec.rc")" = 0 ] || fail "the recording exited with status $(cat "$dir/rec.rc")"
grep -q "GUEST-INIT-REACHED" "$dir/rec.out" || fail "the recording did not reach the init marker"
if [ "$mode" = shell ]; then grep -q "^hello-42" "$dir/rec.out" || fail "the shell did not run the typed command"; fi
if [ "$mode" = disk ]; then
  grep -q "^GUEST-DD mib=16 .*16+0 records in" "$dir/rec.out" || fail "the guest did not read the disk"
fi
if [ "$mode" = xen ]; then
  grep -q "^GUEST-XENBLK-READ HOST-TOKEN-RR" "$dir/rec.out" || fail "blkfront did not read the host's token"
  grep -q "^GUEST-XENNET-PING ok" "$dir/rec.out" || fail "no ping reply through netfront"
fi
if [ "$mode" = smp ]; then
  grep -q "^GUEST-NPROC 2 online=0-1" "$dir/rec.out" || fail "the recording did not bring up both vCPUs"
fi
if [ "$mode" = net ]; then
  grep -q "^GUEST-NET-IP 10\." "$dir/rec.out" || fail "virtio-net got no DHCP lease"
  grep -q "^GUEST-NET-PING ok" "$dir/rec.out" || fail "no ping reply through virtio-net"
fi
if [ "$mode" = disk ] || [ "$mode" = xen ]; then rm "$dir/disk.img"; fi   # the replays read nothing from it
[ -n "$(hash_of rec)" ] || fail "the recording printed no memory hash"
for i in 1 2; do
  if [ "$mode" = net ] && [ "$i" = 1 ] && command -v strace >/dev/null; then
    # (the recording's slirp back end makes an eventfd for its thread; tap and dgram, sockets)
    tracer=(strace -f -qq --seccomp-bpf -e trace=socket,socketpair,eventfd2 -o "$dir/strace")
  fi
  run "rep$i" --replay "$dir/boot.rr" /dev/null
  tracer=()
  if [ -s "$dir/strace" ]; then fail "the replay started a network back end: $(head -3 "$dir/strace")"; fi
  [ "$(cat "$dir/rep$i.rc")" = 0 ] || fail "replay $i exited with status $(cat "$dir/rep$i.rc")"
  cmp -s "$dir/rec.out" "$dir/rep$i.out" || fail "replay $i's console output differs: $(diff "$dir/rec.out" "$dir/rep$i.out" | head -5)"
  [ "$(hash_of rec)" = "$(hash_of "rep$i")" ] || fail "replay $i's memory hash differs"
done
if [ "$mode" = shell ]; then
  dropped=$(python3 "$here/rr_log_drop.py" "$dir/boot.rr" "$dir/noinput.rr" 4) || fail "could not rewrite the log"
  [ "$dropped" -ge 1 ] || fail "the log holds no console input"
  run noinput --replay "$dir/noinput.rr" /dev/null
  [ "$(cat "$dir/noinput.rc")" = 4 ] || fail "a replay without the typed input exited with $(cat "$dir/noinput.rc"), expected 4"
  grep -q "replay diverged at instruction" "$dir/noinput.err" || fail "a replay without the typed input did not report the divergence"
fi
if [ "$mode" = xen ] || [ "$mode" = net ]; then
  dropped=$(python3 "$here/rr_log_drop.py" "$dir/boot.rr" "$dir/noframes.rr" 7) || fail "could not rewrite the log"
  [ "$dropped" -ge 2 ] || fail "the log holds only $dropped Frame events"
  run noframes --replay "$dir/noframes.rr" /dev/null
  [ "$(cat "$dir/noframes.rc")" = 4 ] || fail "a replay without the Frame events exited with $(cat "$dir/noframes.rc"), expected 4"
  grep -q "replay diverged at instruction" "$dir/noframes.err" || fail "a replay without the Frame events did not report the divergence"
fi
if [ "$mode" = smp ]; then
  python3 - "$dir/boot.rr" "$dir/tampered.rr" <<'PY' || fail "could not rewrite the log"
import struct, sys
data = bytearray(open(sys.argv[1], "rb").read())
_, n = struct.unpack_from("<II", data, 8)
pos, exits = 16 + n, 0
while pos < len(data):   # the 5000th Exit event's register checksum, one bit flipped
    kind = data[pos]
    if kind == 1:
        exits += 1
        if exits == 5000:
            data[pos + 9 + 8 + 1 + 8 + 4] ^= 1
            break
        pos += 9 + 8 + 1 + 8 + 4 + 8
    elif kind in (2, 4, 6, 7, 8):
        off = {2: 0, 4: 8, 6: 8, 7: 9, 8: 8}[kind]
        (length,) = struct.unpack_from("<I", data, pos + 9 + off)
        pos += 9 + off + 4 + length
    elif kind == 3:
        pos += 9 + 2 + data[pos + 9]
    else:
        sys.exit("no 5000th exit")
open(sys.argv[2], "wb").write(data)
PY
  run tampered --replay "$dir/tampered.rr" /dev/null
  [ "$(cat "$dir/tampered.rc")" = 4 ] || fail "a replay of a tampered log exited with $(cat "$dir/tampered.rc"), expected 4"
  grep -q "replay diverged at instruction .*registers differ" "$dir/tampered.err" || fail "a tampered log's replay did not report the divergence"
fi
if [ "$mode" = disk ]; then
  [ ! -e "$dir/disk.img" ] || fail "a replay created the disk image"
  dropped=$(python3 "$here/rr_log_drop.py" "$dir/boot.rr" "$dir/nodma.rr" 6) || fail "could not rewrite the log"
  [ "$dropped" -ge 256 ] || fail "the log holds only $dropped Dma events for 16 MiB"
  run nodma --replay "$dir/nodma.rr" /dev/null
  [ "$(cat "$dir/nodma.rc")" = 4 ] || fail "a replay without the Dma events exited with $(cat "$dir/nodma.rc"), expected 4"
  grep -q "replay diverged at instruction" "$dir/nodma.err" || fail "a replay without the Dma events did not report the divergence"
fi
echo "PASS: $(basename "$kernel") ($mode) on $accel recorded ($(stat -c %s "$dir/boot.rr") log bytes) and replayed twice: same console ($(wc -l <"$dir/rec.out") lines), $(hash_of rec)"
