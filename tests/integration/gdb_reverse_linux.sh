#!/usr/bin/env bash
# gdb_reverse_linux.sh POPEK KERNEL INITRD ACCEL
#
# Reverse debugging from the end of a recorded Linux boot (docs/debugging.md "Reverse
# debugging"), with Debian's gdb in batch mode (its Python API drives the session):
# - the Debian kernel boots with initrd-min to its ACPI power-off under `--record`;
# - replay A under `--gdb --gdb-wait`: `continue` runs to the end of the recording, where gdb
#   stops ("No more reverse-execution history", the stub's `replaylog:end`) instead of seeing the
#   VM exit; `watch` on the kernel's `jiffies` (Debian's vmlinux is stripped: its address comes
#   from the kernel's export table, __ksymtab), `reverse-continue`: gdb stops before the last
#   write of jiffies (x/i shows the instruction addressing it; Old value the later, New value the
#   earlier); `stepi` makes that write again (the watchpoint reports it); `continue` with the
#   watchpoint still armed reaches the end without another write (so it was the last one), at the
#   same instruction count as the first time; a last `continue` ends the VM as recorded (gdb
#   sees it exit, popek's replay checks pass: same status, memory hash as the recording's);
# - replay B, forward only: `monitor stop-at K` (K: the count reverse-continue landed at) and
#   `continue` run the replay from its start to K without any restore; the registers there must
#   be those replay A showed after going back, and `stepi` must make the same write.
# Exit 77 (skip) without gdb or without the guest files.
set -uo pipefail
popek=$1 kernel=$2 initrd=$3 accel=$4
here=$(cd "$(dirname "$0")" && pwd)
command -v gdb >/dev/null || { echo "SKIP: gdb not installed (apt-get install gdb; tools/install-deps.sh)"; exit 77; }
for f in "$kernel" "$initrd"; do
  [ -s "$f" ] || { echo "SKIP: $f missing (tools/fetch-linux-guest.sh could not fetch the guest)"; exit 77; }
done
dir=$(mktemp -d)
pid=
trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"; [ -n "$pid" ] && kill "$pid" 2>/dev/null' EXIT
fail() {
  echo "FAIL: $*"
  for f in gdb-a.log gdb-b.log rep-a.err rep-b.err rec.err; do [ -f "$dir/$f" ] && { echo "---- $f"; tail -c 5000 "$dir/$f"; }; done
  exit 1
}
jiffies=$(python3 "$here/ksymtab_lookup.py" "$kernel" jiffies) || fail "jiffies is not in $kernel's export table"
cmdline="console=ttyS0"
run_popek() {   # run_popek NAME ARGS...: console to NAME.out, stderr to NAME.err
  local name=$1
  shift
  timeout --kill-after=10 600 "$popek" run --accel "$accel" --kernel "$kernel" --initrd "$initrd" --cmdline "$cmdline" \
    "$@" </dev/null >"$dir/$name.out" 2>"$dir/$name.err"
}
start=$(date +%s)
run_popek rec --record "$dir/boot.rr" || fail "the recording exited with status $?"
grep -q "GUEST-INIT-REACHED" "$dir/rec.out" || fail "the recording did not reach the init marker"
rec_hash=$(grep -o 'guest memory blake2b [0-9a-f]*' "$dir/rec.err")

cat >"$dir/common.py" <<EOF
import gdb, re
ADDR = $jiffies
REGS = "info registers rax rbx rcx rdx rsi rdi rbp rsp r8 r9 r10 r11 r12 r13 r14 r15 rip eflags cs ss fs_base gs_base cr3"
stops = []   # gdb's stop events: BreakpointEvent (a watchpoint), StopEvent (replaylog), SignalEvent
gdb.events.stop.connect(lambda ev: stops.append(type(ev).__name__))
def go(cmd):   # a resuming command (gdb's report goes to the log): the kind of stop it ended in
    n = len(stops)
    print("==CMD " + cmd, flush=True)
    gdb.execute(cmd)
    return stops[n] if len(stops) > n else "none"
def ex(cmd):
    out = gdb.execute(cmd, to_string=True)
    print("==CMD " + cmd + "\n" + out, end="", flush=True)
    return out
def count():
    return int(re.search(r"vCPU 0: (\d+) instructions", ex("monitor stats")).group(1))
def jiffies():
    return int(gdb.parse_and_eval("*(unsigned long *)%#x" % ADDR))
def put(name, text):
    open("$dir/" + name, "w").write(text if text.endswith("\n") else text + "\n")
EOF

replay() {   # replay NAME SCRIPT: a replay under gdb driven by SCRIPT (gdb's log NAME.log)
  local name=$1 script=$2 sock=$dir/$1.sock
  timeout --kill-after=10 600 "$popek" run --accel "$accel" --kernel "$kernel" --initrd "$initrd" --cmdline "$cmdline" \
    --replay "$dir/boot.rr" --gdb "unix:$sock" --gdb-wait </dev/null >"$dir/rep-$name.out" 2>"$dir/rep-$name.err" &
  pid=$!
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
  [ -S "$sock" ] || fail "popek did not listen on $sock"
  SOCK=$sock timeout 600 gdb -batch -nx -ex 'set architecture i386:x86-64' -ex "target remote $sock" \
    -ex "source $dir/common.py" -ex "source $script" >"$dir/gdb-$name.log" 2>&1
  local gdb_status=$?
  wait "$pid"
  local status=$?
  pid=
  [ "$gdb_status" = 0 ] || fail "gdb ($name) exited with status $gdb_status"
  ! grep -q "^Traceback" "$dir/gdb-$name.log" || fail "gdb ($name): $(grep -E "^[A-Za-z]*Error" "$dir/gdb-$name.log")"
  [ "$status" = 0 ] || fail "replay $name exited with status $status (the recording: 0)"
  grep -q "exited normally" "$dir/gdb-$name.log" || fail "gdb ($name) did not see the VM exit"
  cmp -s "$dir/rec.out" "$dir/rep-$name.out" || fail "replay $name's console output differs from the recording's"
  [ "$(grep -o 'guest memory blake2b [0-9a-f]*' "$dir/rep-$name.err")" = "$rec_hash" ] || fail "replay $name's memory hash differs"
}

cat >"$dir/a.py" <<'EOF'
kind = go("continue")
assert kind == "StopEvent", "continue did not stop at the end of the recording: " + kind
end, at_end = count(), jiffies()
ex("watch *(unsigned long *)%#x" % ADDR)
kind = go("reverse-continue")
assert kind == "BreakpointEvent", "reverse-continue did not stop at a write of jiffies: " + kind
k, before = count(), jiffies()
put("a-count", str(k))
put("a-regs", ex(REGS))
put("a-insn", ex("x/i $pc"))
kind = go("stepi")
put("a-step", "%s %d %d %d" % (kind, before, jiffies(), count()))
kind = go("continue")
assert kind == "StopEvent", "continue with the watchpoint did not reach the end: " + kind
put("a-end", "%d %d %d" % (end, count(), at_end))
ex("delete")
go("continue")
EOF
replay a "$dir/a.py"
k=$(cat "$dir/a-count")
read -r end end2 at_end <"$dir/a-end"
read -r step_kind before after step_count <"$dir/a-step"
[ "$end" = "$end2" ] || fail "the end of the recording moved: instruction $end, then $end2"
[ "$k" -lt "$end" ] || fail "reverse-continue did not go back (at $k, the end at $end)"
[ "$step_kind" = BreakpointEvent ] || fail "stepi over the write: no watchpoint stop ($step_kind)"
[ "$after" -gt "$before" ] || fail "stepi over the write: jiffies $before -> $after"
[ "$after" = "$at_end" ] || fail "jiffies is $at_end at the end, $after after the write reverse-continue found: not the last write"
[ "$step_count" = $((k + 1)) ] || fail "stepi went from instruction $k to $step_count"
awk '/^==CMD reverse-continue/ { on = 1; next } /^==CMD / { on = 0 } on' "$dir/gdb-a.log" >"$dir/a-back"
grep -q "Old value = $after" "$dir/a-back" && grep -q "New value = $before" "$dir/a-back" ||
  fail "reverse-continue did not show the write going back ($after -> $before): $(cat "$dir/a-back")"
grep -qi "$(printf '%x' "$jiffies")" "$dir/a-insn" || fail "the instruction reverse-continue stopped at does not address jiffies: $(cat "$dir/a-insn")"

cat >"$dir/b.py" <<EOF
ex("monitor stop-at $k")
go("continue")
put("b-count", str(count()))
put("b-regs", ex(REGS))
ex("watch *(unsigned long *)%#x" % ADDR)
before = jiffies()
kind = go("stepi")
put("b-step", "%s %d %d %d" % (kind, before, jiffies(), count()))
ex("delete")
kind = go("continue")
assert kind == "StopEvent", "continue did not stop at the end: " + kind
go("continue")
EOF
replay b "$dir/b.py"
[ "$(cat "$dir/b-count")" = "$k" ] || fail "monitor stop-at $k stopped at $(cat "$dir/b-count")"
cmp -s "$dir/a-regs" "$dir/b-regs" || fail "the registers after reverse-continue differ from those going forward at instruction $k:
$(diff "$dir/a-regs" "$dir/b-regs")"
[ "$(cat "$dir/b-step")" = "BreakpointEvent $before $after $step_count" ] ||
  fail "stepi going forward from $k: $(cat "$dir/b-step"), after going back: BreakpointEvent $before $after $step_count"
grep -o "=> .*" "$dir/a-insn" | head -1
echo "PASS: $(basename "$kernel") on $accel, $end instructions recorded: reverse-continue from the end to the last write of jiffies ($jiffies: $before -> $after) at instruction $k, registers as going forward there; $(( $(date +%s) - start )) s"
