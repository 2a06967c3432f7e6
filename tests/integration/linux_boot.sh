#!/usr/bin/env bash
# linux_boot.sh POPEK KERNEL INITRD CPUS EXTRA_CMDLINE EXPECT
#
# Boots KERNEL + INITRD with `popek run --accel interp --cpus CPUS` (POPEK_ACCEL=bt: the block
# translator) and the command line
# "console=ttyS0 EXTRA_CMDLINE". Passes when the console shows the marker
# `GUEST-INIT-REACHED`, then the line EXPECT, then popek exits with status 0 after the guest's
# `poweroff -f` (ACPI S5). Exit 77 (skip) when the guest files are missing.
set -uo pipefail
popek=$1 kernel=$2 initrd=$3 cpus=$4 extra=$5 expect=$6
for f in "$kernel" "$initrd"; do
  [ -s "$f" ] || { echo "SKIP: $f missing (tools/fetch-linux-guest.sh could not fetch the guest)"; exit 77; }
done
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s.%N)
timeout --kill-after=10 "${POPEK_LINUX_TIMEOUT:-540}" \
  "$popek" run --accel "${POPEK_ACCEL:-interp}" --cpus "$cpus" --kernel "$kernel" --initrd "$initrd" \
  --cmdline "console=ttyS0 $extra" </dev/null >"$log" 2>&1
status=$?
end=$(date +%s.%N)
fail() { echo "FAIL: $*"; echo "---- console (last 60 lines)"; tail -n 60 "$log"; exit 1; }
grep -q "GUEST-INIT-REACHED" "$log" || fail "no GUEST-INIT-REACHED (popek status $status)"
grep -qF "$expect" "$log" || fail "no line '$expect'"
grep -q "Kernel panic\|BUG:\|Oops" "$log" && fail "the kernel reported a problem"
[ "$status" = 0 ] || fail "popek exited with status $status, expected 0 (ACPI S5 poweroff)"
grep -E "GUEST-INIT-REACHED|$expect" "$log" | sort -u
awk -v k="$(basename "$kernel")" -v s="$start" -v e="$end" \
  'BEGIN { printf "PASS: %s to the marker and poweroff in %.1f s\n", k, e - s }'
