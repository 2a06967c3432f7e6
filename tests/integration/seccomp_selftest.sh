#!/usr/bin/env bash
# seccomp_selftest.sh POPEK DEMO_ELF KIND ACCEL
#
# popek's per-thread seccomp allow-lists (docs/seccomp.md), one thread KIND (vcpu, device, api,
# main) at a time: POPEK_SECCOMP_SELFTEST=KIND makes the first thread of that kind call execve(2),
# which is on no list, right after it confined itself. Passes when
#   - by default popek is killed by SIGSYS (status 159 = 128 + 31), not the guest's status 0;
#   - with --no-seccomp the same run survives the call (execve fails with ENOENT, popek says the
#     thread is not confined) and the demo guest runs to its end (status 0).
set -uo pipefail
popek=$1 elf=$2 kind=$3 accel=$4
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
ulimit -c 0
fails=0
check() { if eval "$2"; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi; }
run() {   # run LABEL [extra popek args...]: status in $status, output in $dir/LABEL.{out,err}
    local label=$1; shift
    local extra=()
    [ "$kind" = api ] && extra=(--api-sock "$dir/$label.sock")
    POPEK_SECCOMP_SELFTEST=$kind timeout --kill-after=10 120 \
        "$popek" run --accel "$accel" --kernel "$elf" "${extra[@]}" "$@" </dev/null >"$dir/$label.out" 2>"$dir/$label.err"
    status=$?
}

run confined
check "$kind thread's execve kills popek with SIGSYS (status $status, expected 159)" '[ "$status" = 159 ]'
check "no 'not confined' line" '! grep -q "not confined" "$dir/confined.err"'

run unconfined --no-seccomp
check "--no-seccomp: popek survives the call (status $status, expected 0)" '[ "$status" = 0 ]'
check "--no-seccomp: the $kind thread reports it is not confined" \
    'grep -q "seccomp selftest: execve from a $kind thread returned -1 (No such file or directory): not confined" "$dir/unconfined.err"'
check "--no-seccomp: the demo guest ran to its end" 'grep -q "hello from a virtual machine" "$dir/unconfined.out"'
if [ "$fails" -ne 0 ]; then
    for f in "$dir"/*.err; do echo "---- $f"; tail -n 20 "$f"; done
    exit 1
fi
echo "PASS: seccomp selftest for the $kind thread"
