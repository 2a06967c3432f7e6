#!/usr/bin/env bash
# linux_record_replay.sh POPEK KERNEL INITRD ACCEL
#
# Records the Debian kernel + initrd booting to its marker and ACPI power-off with
# `popek run --accel ACCEL --record`, then replays the log twice (docs/record-replay.md). Passes
# when both replays exit 0 like the recording, print the same console output byte for byte and
# report the same guest memory hash. Exit 77 (skip) when the guest files are missing.
set -uo pipefail
popek=$1 kernel=$2 initrd=$3 accel=$4
for f in "$kernel" "$initrd"; do
  [ -s "$f" ] || { echo "SKIP: $f missing (tools/fetch-linux-guest.sh could not fetch the guest)"; exit 77; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
run() {   # run NAME MODE: console to $dir/NAME.out, stderr to $dir/NAME.err, status to $dir/NAME.rc
  timeout --kill-after=10 "${POPEK_LINUX_TIMEOUT:-540}" \
    "$popek" run --accel "$accel" --kernel "$kernel" --initrd "$initrd" --cmdline "console=ttyS0" \
    "$2" "$dir/boot.rr" </dev/null >"$dir/$1.out" 2>"$dir/$1.err"
  echo $? >"$dir/$1.rc"
}
hash_of() { grep -o 'guest memory blake2b [0-9a-f]*' "$dir/$1.err"; }
fail() { echo "FAIL: $*"; for f in "$dir"/*.err; do echo "---- $f"; cat "$f"; done; exit 1; }
run rec --record
[ "$(cat "$dir/rec.rc")" = 0 ] || fail "the recording exited with status $(cat "$dir/rec.rc")"
grep -q "GUEST-INIT-REACHED" "$dir/rec.out" || fail "the recording did not reach the init marker"
[ -n "$(hash_of rec)" ] || fail "the recording printed no memory hash"
for i in 1 2; do
  run "rep$i" --replay
  [ "$(cat "$dir/rep$i.rc")" = 0 ] || fail "replay $i exited with status $(cat "$dir/rep$i.rc")"
  cmp -s "$dir/rec.out" "$dir/rep$i.out" || fail "replay $i's console output differs: $(diff "$dir/rec.out" "$dir/rep$i.out" | head -5)"
  [ "$(hash_of rec)" = "$(hash_of "rep$i")" ] || fail "replay $i's memory hash differs"
done
echo "PASS: $(basename "$kernel") on $accel recorded ($(stat -c %s "$dir/boot.rr") log bytes) and replayed twice: same console ($(wc -l <"$dir/rec.out") lines), $(hash_of rec)"
