#!/usr/bin/env bash
# gdb_reverse.sh POPEK RR_TIMER_ELF ACCEL
#
# Reverse debugging (docs/debugging.md "Reverse debugging") with Debian's gdb in batch mode: the
# rr_timer guest (timer interrupts, RDTSC, RDRAND, device reads, HLT) is recorded, then replayed
# under `--gdb --gdb-wait` with small snapshot intervals, and gdb
#   - reverse-stepi at the start: "No more reverse-execution history" (replaylog:begin);
#   - stepi x 3000 (past a poll point and snapshots), reverse-stepi x 1000 and x 2000: the same
#     registers as seen going forward at those points;
#   - breaks at timer_isr twice (ticks 0, then 1), reverse-continue: back at the first hit with
#     the registers seen there going forward;
#   - watches `ticks`, continues to its writes 0 -> 1, 1 -> 2, 2 -> 3, then reverse-continue:
#     stops before the increment that wrote 3, with Old value = 3, New value = 2;
#   - deletes everything and continues: the replay stops at the end of the recording (replaylog:end,
#     "No more reverse-execution history"); reverse-stepi goes one instruction back from there,
#     stepi returns to the end; continue: the guest ends as recorded (gdb sees the exit, popek
#     prints the recording's serial output once, exit status 1, the End checks pass).
# Exit 77 (skip) without gdb.
set -uo pipefail
popek=$1 elf=$2 accel=$3
command -v gdb >/dev/null || { echo "SKIP: gdb not installed (apt-get install gdb; tools/install-deps.sh)"; exit 77; }
dir=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"; [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null' EXIT
fail() { echo "FAIL: $*"; for f in gdb.log replay.out replay.err record.out; do [ -f "$dir/$f" ] && { echo "---- $f"; tail -c 6000 "$dir/$f"; }; done; exit 1; }

"$popek" run --accel "$accel" --kernel "$elf" --record "$dir/run.rr" >"$dir/record.out" 2>"$dir/record.err"
[ $? = 1 ] || fail "the recording did not end with status 1"
grep -q "rr_timer: done" "$dir/record.out" || fail "the recording did not finish"

sock=$dir/gdb.sock
"$popek" run --accel "$accel" --kernel "$elf" --replay "$dir/run.rr" --gdb "unix:$sock" --gdb-wait \
  --rr-snapshot-interval 5000 --rr-snapshots 16 >"$dir/replay.out" 2>"$dir/replay.err" &
pid=$!
for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
[ -S "$sock" ] || fail "popek did not listen on $sock"

regs='info registers rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip eflags'
timeout 600 gdb -batch -nx "$elf" ${GDB_DEBUG:+-ex "set debug remote 1"} \
  -ex "target remote $sock" \
  -ex 'echo ==REVERSE-AT-START\n' -ex 'reverse-stepi' \
  -ex 'printf "==AT %#lx\n", $pc' \
  -ex 'stepi 1000' -ex 'echo ==REGS-1000\n' -ex "$regs" \
  -ex 'stepi 2000' -ex 'echo ==REGS-3000\n' -ex "$regs" \
  -ex 'reverse-stepi 2000' -ex 'echo ==REGS-BACK-1000\n' -ex "$regs" \
  -ex 'reverse-stepi 1000' -ex 'echo ==REGS-BACK-0\n' -ex 'printf "==AT %#lx\n", $pc' \
  -ex 'break timer_isr' \
  -ex 'continue' -ex 'echo ==HIT1\n' -ex 'printf "==TICKS %d\n", *(long *)&ticks' -ex "$regs" \
  -ex 'continue' -ex 'printf "==TICKS %d\n", *(long *)&ticks' \
  -ex 'reverse-continue' -ex 'echo ==REV-HIT1\n' -ex 'printf "==TICKS %d\n", *(long *)&ticks' -ex "$regs" \
  -ex 'delete' \
  -ex 'watch -l *(long *)&ticks' \
  -ex 'continue' -ex 'continue' -ex 'continue' \
  -ex 'echo ==REVERSE-WATCH\n' -ex 'reverse-continue' \
  -ex 'printf "==TICKS %d\n", *(long *)&ticks' -ex 'x/i $pc' \
  -ex 'monitor history' \
  -ex 'delete' \
  -ex 'echo ==TO-THE-END\n' -ex 'continue' -ex 'monitor stats' \
  -ex 'reverse-stepi' -ex 'echo ==BACK-FROM-END\n' -ex 'monitor stats' \
  -ex 'echo ==STEP-TO-END\n' -ex 'stepi' -ex 'monitor stats' \
  -ex 'echo ==EXIT\n' -ex 'continue' >"$dir/gdb.log" 2>&1
gdb_status=$?
wait "$pid"
status=$?
pid=
[ "$gdb_status" = 0 ] || fail "gdb exited with status $gdb_status"
log=$dir/gdb.log
section() {   # the register lines (and ==TICKS) of gdb.log between ==$1 and the next section
  awk -v want="==$1" '$0 == want { on = 1; next } /^==[A-Z]/ && $1 != "==TICKS" { on = 0 } on && /^(==TICKS|[a-z0-9]+ +0x)/' "$log"
}
grep -A3 "==REVERSE-AT-START" "$log" | grep -q "No more reverse-execution history" || fail "reverse-stepi at the start"
entry=$(readelf -h "$elf" | awk '/Entry point/ { print $4 }')
[ "$(grep -c "==AT $entry" "$log")" = 2 ] || fail "not back at the entry $entry after reverse-stepi x 3000"
r1000=$(section REGS-1000) back=$(section REGS-BACK-1000)
[ -n "$r1000" ] && [ "$r1000" = "$back" ] || fail "registers after stepi 1000 and after reverse-stepi back to it differ:
$r1000
----
$back"
[ "$(section REGS-1000)" != "$(section REGS-3000)" ] || fail "stepi did not move"
hit1=$(section HIT1 | grep -v "^==TICKS") rev=$(section REV-HIT1 | grep -v "^==TICKS")
grep -q "Breakpoint 1, .*timer_isr" "$log" || fail "the breakpoint at timer_isr was not hit"
[ -n "$hit1" ] && [ "$hit1" = "$rev" ] || fail "reverse-continue did not come back to the first hit:
$hit1
----
$rev"
section HIT1 | grep -q "==TICKS 0" || fail "ticks at the first hit"
section REV-HIT1 | grep -q "==TICKS 0" || fail "ticks after reverse-continue"
grep -A8 "==REVERSE-WATCH" "$log" | grep -q "Old value = 3" || fail "reverse watchpoint: Old value"
grep -A8 "==REVERSE-WATCH" "$log" | grep -q "New value = 2" || fail "reverse watchpoint: New value"
grep -A12 "==REVERSE-WATCH" "$log" | grep -q "==TICKS 2" || fail "ticks after the reverse watchpoint"
grep -A12 "==REVERSE-WATCH" "$log" | grep -qE "=> 0x[0-9a-f]+ <timer_isr\+[0-9]+>:\s+incq" || fail "not stopped at the increment"
grep -q "reverse execution: [0-9]* snapshots" "$log" || fail "monitor history"
grep -A3 "==TO-THE-END" "$log" | grep -q "No more reverse-execution history" || fail "continue did not stop at the end of the recording"
count_after() { grep -A8 "==$1" "$log" | grep -o "vCPU 0: [0-9]* instructions" | head -1 | awk "{ print \$3 }"; }
end=$(count_after TO-THE-END) back=$(count_after BACK-FROM-END) again=$(count_after STEP-TO-END)
[ -n "$end" ] && [ "$back" = $((end - 1)) ] || fail "reverse-stepi from the end (instruction $end) went to $back"
[ "$again" = "$end" ] || fail "stepi back to the end reached instruction $again, not $end"
grep -A3 "==STEP-TO-END" "$log" | grep -q "No more reverse-execution history" || fail "stepi to the end did not stop there"
grep -A4 "==EXIT" "$log" | grep -q "exited with code 01" || fail "gdb did not see the guest exit"
[ "$status" = 1 ] || fail "popek exited with status $status (the recording's: 1)"
cmp -s "$dir/record.out" "$dir/replay.out" || fail "the replay's serial output differs from the recording's"
grep -q "replayed [0-9]* instructions" "$dir/replay.err" || fail "the replay's End checks"
grep -E "^==|Old value|New value|exited" "$log"
echo "PASS: reverse debugging on --accel $accel"
