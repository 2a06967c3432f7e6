#!/usr/bin/env bash
# gdb_demo.sh POPEK DEMO_ELF ACCEL
#
# Debian's gdb in batch mode against `popek run --gdb unix:SOCK --gdb-wait` with the embedded
# demo guest (DEMO_ELF gives gdb its symbols): stops at the entry (_start), stepi, info
# registers, a breakpoint at guest_puts hit by continue, bt, x/4x, a watchpoint on the stack
# slot the first CALL writes; then gdb detaches and the guest runs to its end (exit status 0).
# Exit 77 (skip) without gdb.
set -uo pipefail
popek=$1 elf=$2 accel=$3
command -v gdb >/dev/null || { echo "SKIP: gdb not installed (apt-get install gdb; tools/install-deps.sh)"; exit 77; }
dir=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null' EXIT
sock=$dir/gdb.sock
"$popek" run --accel "$accel" --gdb "unix:$sock" --gdb-wait >"$dir/popek.log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || { echo "FAIL: popek did not listen on $sock"; cat "$dir/popek.log"; exit 1; }
timeout 120 gdb -batch -nx "$elf" ${GDB_DEBUG:+-ex "set debug remote 1"} \
  -ex "target remote $sock" \
  -ex 'printf "AT-ENTRY %#lx\n", $pc' \
  -ex 'stepi' \
  -ex 'printf "AFTER-STEPI %#lx\n", $pc' \
  -ex 'info registers rip rsp eflags cs fs_base cr0' \
  -ex 'break guest_puts' \
  -ex 'continue' \
  -ex 'printf "AT-BREAK %#lx\n", $pc' \
  -ex 'bt' \
  -ex 'x/4x $pc' \
  -ex 'info threads' \
  -ex 'delete' \
  -ex 'watch -l *(long *)($rsp - 8)' \
  -ex 'continue' \
  -ex 'printf "AFTER-WATCH %#lx\n", $pc' \
  -ex 'info registers rip' \
  -ex 'monitor stats' \
  -ex 'delete' \
  -ex 'detach' >"$dir/gdb.log" 2>&1
gdb_status=$?
wait "$pid"
status=$?
pid=
fail() { echo "FAIL: $*"; echo "---- gdb"; cat "$dir/gdb.log"; echo "---- popek"; cat "$dir/popek.log"; exit 1; }
[ "$gdb_status" = 0 ] || fail "gdb exited with status $gdb_status"
entry=$(readelf -h "$elf" | awk '/Entry point/ { print $4 }')
grep -q "AT-ENTRY $entry" "$dir/gdb.log" || fail "not stopped at the entry $entry"
grep -q "AFTER-STEPI 0x" "$dir/gdb.log" && ! grep -q "AFTER-STEPI $entry" "$dir/gdb.log" || fail "stepi did not move"
puts=$(nm "$elf" | awk '$3 == "guest_puts" { print "0x" $1 }' | sed 's/0x0*/0x/')
grep -q "Breakpoint 1, $puts in guest_puts" "$dir/gdb.log" || grep -q "Breakpoint 1, .*guest_puts" "$dir/gdb.log" ||
  fail "the breakpoint at guest_puts ($puts) was not hit"
grep -q "AT-BREAK $puts" "$dir/gdb.log" || fail "not stopped at guest_puts"
grep -q "^#0 .*guest_puts" "$dir/gdb.log" || fail "no backtrace"
grep -qE "^$puts <guest_puts>:\s+0x[0-9a-f]{8}" "$dir/gdb.log" || fail "x/4x printed nothing"
grep -q "Thread 1 (vCPU 0)" "$dir/gdb.log" || fail "info threads"
grep -q "Hardware watchpoint 2" "$dir/gdb.log" || fail "no hardware watchpoint set"
grep -qE "Old value|New value" "$dir/gdb.log" || fail "the watchpoint did not trigger"
grep -q "vCPU 0: [0-9]* instructions" "$dir/gdb.log" || fail "monitor stats"
grep -q "hello from a virtual machine" "$dir/popek.log" || fail "the guest did not run after detach"
[ "$status" = 0 ] || fail "popek exited with status $status"
grep -E "AT-ENTRY|AFTER-STEPI|AT-BREAK|AFTER-WATCH" "$dir/gdb.log"
echo "PASS: gdb session on --accel $accel"
