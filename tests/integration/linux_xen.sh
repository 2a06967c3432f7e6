#!/usr/bin/env bash
# linux_xen.sh POPEK KERNEL INITRD [CPUS]
#
# The stock Debian kernel as a Xen PVH guest: `popek run --accel interp --xen --disk F --net user`
# with popek's initrd in mode xen (xenblk, then xennet). Passes when
#   - the kernel says it runs on Xen PVH, uses the Xen clocksource and event-channel upcalls;
#   - xen-blkfront (insmod from the initrd) attaches xvda, reads the text the host put at byte
#     4096 of F (a fresh random token), writes its own token at byte 8192 and reads it back
#     after dropping the page cache;
#   - after popek exits (status 0: the guest powered off through ACPI S5), F holds the guest's
#     token at byte 8192 (the write reached the host file);
#   - xen-netfront brings up eth0 on popek's vif: a DHCP lease from slirp and replies to ping.
# The console is hvc0, Linux's Xen console driver on popek's xencons ring (not COM1).
# Exit 77 (skip) when the guest files or the xen-blkfront module are missing.
set -uo pipefail
popek=$1 kernel=$2 initrd=$3 cpus=${4:-1}
for f in "$kernel" "$initrd"; do
  [ -s "$f" ] || { echo "SKIP: $f missing (tools/fetch-linux-guest.sh could not fetch the guest)"; exit 77; }
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/console disk=$work/disk.img
host_token="HOST-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
guest_token="$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
truncate -s 16M "$disk"
printf '%s\0' "$host_token" | dd of="$disk" bs=1 seek=4096 conv=notrunc status=none

start=$(date +%s.%N)
timeout --kill-after=10 "${POPEK_LINUX_TIMEOUT:-540}" \
  env POPEK_XEN_TRACE=1 "$popek" run --accel interp --xen --cpus "$cpus" --kernel "$kernel" --initrd "$initrd" --disk "$disk" \
  --net user --cmdline "console=hvc0 popek.init=xen popek.tag=$guest_token" </dev/null >"$log" 2>"$work/trace"
status=$?
end=$(date +%s.%N)
tr -d '\r' <"$log" >"$log.lf" && mv "$log.lf" "$log"   # the console (a tty) ends lines with CRLF
fail() {
  echo "FAIL: $*"; echo "---- console (last 60 lines)"; tail -n 60 "$log"
  echo "---- popek stderr (last 10 lines)"; tail -n 10 "$work/trace"; exit 1
}
grep -q "GUEST-NO-MODULE xen-" "$log" && { echo "SKIP: the initrd lacks a Xen front-end module"; exit 77; }
grep -q "GUEST-INIT-REACHED" "$log" || fail "no GUEST-INIT-REACHED (popek status $status)"
grep -q "Booting kernel on Xen PVH" "$log" || fail "the kernel does not say it boots on Xen PVH"
grep -q "clocksource: Switched to clocksource xen" "$log" || fail "the kernel does not use the Xen clocksource"
grep -q "Xen HVM callback vector for event delivery is enabled" "$log" || fail "no event-channel upcall vector"
grep -q "printk: console \[hvc0\] enabled" "$log" || fail "the kernel log does not come through hvc0"
grep -q "GUEST-XENBLK-READ $host_token\$" "$log" || fail "blkfront did not read the host's token $host_token"
grep -q "GUEST-XENBLK-BACK GUEST-XENBLK-WROTE-$guest_token\$" "$log" || fail "blkfront did not read back its write"
grep -q "GUEST-XENNET-IP 10\.0\.2\.[0-9]*\$" "$log" || fail "netfront got no DHCP lease from slirp"
grep -q "GUEST-XENNET-PING ok" "$log" || fail "no ping reply through netfront"
# Linux's hvc0 writes through the ring and its event channel, not CONSOLEIO_write.
grep -q "hypercall 18 (0x0," "$work/trace" && fail "the guest console used CONSOLEIO_write, not the xencons ring"
grep -q "Kernel panic\|BUG:\|Oops\|WARNING:" "$log" && fail "the kernel reported a problem"
[ "$status" = 0 ] || fail "popek exited with status $status, expected 0 (ACPI S5 poweroff)"
on_disk=$(dd if="$disk" bs=512 skip=16 count=1 status=none | tr '\0' '\n' | head -n 1)
[ "$on_disk" = "GUEST-XENBLK-WROTE-$guest_token" ] || fail "host file holds '$on_disk' at byte 8192"
grep -E "Booting kernel on Xen PVH|Switched to clocksource xen|blkfront: xvda|GUEST-XEN" "$log"
awk -v s="$start" -v e="$end" -v c="$cpus" \
  'BEGIN { printf "PASS: Linux on --xen (%s vCPU): blkfront wrote and read xvda, netfront passed traffic, %.1f s\n", c, e - s }'
