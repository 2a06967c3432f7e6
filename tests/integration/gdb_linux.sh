#!/usr/bin/env bash
# gdb_linux.sh POPEK VMLINUX INITRD ACCEL
#
# Debian's gdb against a Linux guest on popek with 2 vCPUs (`--gdb unix:SOCK`).
# - When VMLINUX has symbols: --gdb-wait, `break start_kernel`, continue, bt, a watchpoint on
#   jiffies, continue.
# - Debian's vmlinux is stripped (its symbols are in linux-image-*-dbg), so otherwise: gdb attaches
#   once both vCPUs are up (attaching stops the world), `info threads` shows 2 threads, bt and
#   x/4i on vCPU 1, a breakpoint at vCPU 1's idle-loop address hit on continue, then a hardware
#   watchpoint on the 64 bytes below vCPU 1's stack pointer, hit when its next interrupt frame
#   or call writes there.
# Then gdb detaches and the guest must run to GUEST-NPROC and power off (popek exit status 0).
# Exit 77 (skip) without gdb or without the guest files.
set -uo pipefail
popek=$1 kernel=$2 initrd=$3 accel=$4
command -v gdb >/dev/null || { echo "SKIP: gdb not installed (apt-get install gdb; tools/install-deps.sh)"; exit 77; }
for f in "$kernel" "$initrd"; do
  [ -s "$f" ] || { echo "SKIP: $f missing (tools/fetch-linux-guest.sh could not fetch the guest)"; exit 77; }
done
dir=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null' EXIT
sock=$dir/gdb.sock
symbols=no
nm "$kernel" 2>/dev/null | grep -qw start_kernel && symbols=yes
wait_flag=()
[ "$symbols" = yes ] && wait_flag=(--gdb-wait)
timeout --kill-after=10 540 "$popek" run --accel "$accel" --cpus 2 --kernel "$kernel" --initrd "$initrd" \
  --cmdline "console=ttyS0 popek.init=nproc" --gdb "unix:$sock" "${wait_flag[@]}" </dev/null >"$dir/popek.log" 2>&1 &
pid=$!
fail() { echo "FAIL: $*"; echo "---- gdb"; cat "$dir/gdb.log" 2>/dev/null; echo "---- popek (last 40 lines)"; tail -40 "$dir/popek.log"; exit 1; }
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "popek did not listen on $sock"
if [ "$symbols" = yes ]; then
  timeout 400 gdb -batch -nx "$kernel" -ex "target remote $sock" \
    -ex 'break start_kernel' -ex 'continue' -ex 'bt' -ex 'info threads' \
    -ex 'watch jiffies' -ex 'continue' -ex 'delete' -ex 'detach' >"$dir/gdb.log" 2>&1 || fail "gdb failed"
  grep -q "Breakpoint 1, .*start_kernel" "$dir/gdb.log" || fail "start_kernel not reached"
  grep -q "^#0 .*start_kernel" "$dir/gdb.log" || fail "no backtrace"
  grep -q "Hardware watchpoint 2: jiffies" "$dir/gdb.log" || fail "no watchpoint on jiffies"
  grep -q "New value" "$dir/gdb.log" || fail "jiffies never changed"
else
  # Both vCPUs up: the AP has reached its idle loop.
  for _ in $(seq 400); do grep -q "smp: Brought up" "$dir/popek.log" && break; sleep 1; done
  grep -q "smp: Brought up" "$dir/popek.log" || fail "the guest did not bring up its vCPUs"
  sleep 1
  timeout 400 gdb -batch -nx -ex 'set architecture i386:x86-64' -ex "target remote $sock" \
    -ex 'info threads' -ex 'thread 2' -ex 'bt 3' -ex 'x/4i $pc' \
    -ex 'break *$pc' -ex 'continue' -ex 'printf "HIT-THREAD %d\n", $_thread' -ex 'delete' \
    -ex 'thread 2' -ex 'watch -l *(long (*)[8])($rsp - 64)' -ex 'continue' -ex 'delete' \
    -ex 'detach' >"$dir/gdb.log" 2>&1 || fail "gdb failed"
  grep -q "Thread 2 (vCPU 1)" "$dir/gdb.log" || fail "info threads did not show 2 vCPUs"
  grep -q "^#0 " "$dir/gdb.log" || fail "no backtrace"
  grep -q "Breakpoint 1, " "$dir/gdb.log" || fail "the breakpoint at the idle loop was not hit"
  grep -q "Hardware watchpoint 2" "$dir/gdb.log" || fail "no hardware watchpoint set"
  grep -q "New value" "$dir/gdb.log" || fail "the watchpoint did not trigger"
fi
wait "$pid"
status=$?
pid=
grep -q "GUEST-NPROC 2 online=0-1" "$dir/popek.log" || fail "the guest did not finish after detach"
[ "$status" = 0 ] || fail "popek exited with status $status"
grep -E "Breakpoint 1,|HIT-THREAD|Hardware watchpoint 2|New value|Thread 2 \(vCPU 1\)" "$dir/gdb.log" | sort -u
echo "PASS: gdb on Linux ($( [ $symbols = yes ] && echo with || echo without) symbols), --accel $accel"
