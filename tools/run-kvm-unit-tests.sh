#!/usr/bin/env bash
# Runs a built kvm-unit-tests checkout's x86 tests on popek, the way the suite's run_tests.sh runs
# them on QEMU: every entry of DIR/x86/unittests.cfg (or only the TESTs named) becomes
#   popek run --test-dev --accel A --cpus <smp> --mem <-m, default 128> --kernel DIR/x86/<file>
#             [--cmdline '<test_args>'] --initrd <environment file>
# with the entry's timeout (default 90 s, times --timeout-factor), and prints PASS/FAIL/SKIP per
# entry and a summary. The status is read as the suite reads QEMU's isa-debug-exit status:
# 1 = PASS (exit(0)), 77 = SKIP (report_summary's exit(77 >> 1)), anything else FAIL.
# popek has its own CPU model: of qemu_params only -m and two -devices are translated:
# `-device edu` becomes --device edu and `-device intel-iommu[,...]` --iommu intel (popek's VT-d
# is QEMU's intel-iommu,intremap=on,eim=off; q35 is popek's board when either is given). Other
# options (-cpu models, -machine options, other -devices) are not.
# Entries are skipped as run_tests.sh skips them: another arch, `accel = kvm` when not on
# --accel kvm, `nodefault` unless named, a `check` file that does not match (only on --accel kvm:
# those are host KVM module parameters, which the own engines do not use).
#
# usage: tools/run-kvm-unit-tests.sh DIR [--accel interp|bt|kvm] [--popek PATH] [--logs DIR]
#                                    [--timeout-factor N] [TEST...]
set -uo pipefail

usage() { echo "usage: $0 KVM_UNIT_TESTS_DIR [--accel interp|bt|kvm] [--popek PATH] [--logs DIR] [--timeout-factor N] [TEST...]" >&2; exit 2; }
die() { echo "run-kvm-unit-tests: $*" >&2; exit 2; }

[ $# -ge 1 ] || usage
KUT=$1
shift
ACCEL=interp
POPEK=$(cd "$(dirname "$0")/.." && pwd)/build/popek
LOGS=/tmp/popek-kvm-unit-tests
FACTOR=1
ONLY=()
while [ $# -gt 0 ]; do
  case $1 in
    --accel) [ $# -ge 2 ] || usage; ACCEL=$2; shift 2 ;;
    --popek) [ $# -ge 2 ] || usage; POPEK=$2; shift 2 ;;
    --logs) [ $# -ge 2 ] || usage; LOGS=$2; shift 2 ;;
    --timeout-factor) [ $# -ge 2 ] || usage; FACTOR=$2; shift 2 ;;
    -h|--help) usage ;;
    -*) die "unknown option '$1'" ;;
    *) ONLY+=("$1"); shift ;;
  esac
done
case $ACCEL in interp|bt|kvm) ;; *) die "--accel must be interp, bt or kvm, not '$ACCEL'" ;; esac
[[ $FACTOR =~ ^[1-9][0-9]*$ ]] || die "--timeout-factor must be a positive integer"
CFG=$KUT/x86/unittests.cfg
[ -f "$CFG" ] || die "$CFG not found: is '$KUT' a kvm-unit-tests checkout?"
[ -f "$KUT/config.mak" ] || die "$KUT/config.mak not found: run ./configure && make there first"
[ -x "$POPEK" ] || die "popek binary '$POPEK' not found (build it, or pass --popek)"
ARCH=$(sed -n 's/^ARCH=//p' "$KUT/config.mak")
mkdir -p "$LOGS" || die "cannot create the log directory '$LOGS'"
ENVFILE=$(mktemp)
trap 'rm -f "$ENVFILE"' EXIT
# The environment the suite's scripts pass as the initrd; no x86 test reads more than these.
printf 'TARGET=popek\nPOPEK_ACCEL=%s\n' "$ACCEL" >"$ENVFILE"

pass=0 fail=0 skip=0
declare -a failed=()

result() {  # STATUS NAME TEXT
  echo "$1 $2${3:+ ($3)}"
  case $1 in PASS) pass=$((pass + 1)) ;; FAIL) fail=$((fail + 1)); failed+=("$2") ;; SKIP) skip=$((skip + 1)) ;; esac
}

named() { local n; for n in "${ONLY[@]}"; do [ "$n" = "$1" ] && return 0; done; return 1; }

# -m SIZE in QEMU's notation (MiB by default, k/M/G/T suffixes) to MiB; empty when absent.
mem_from_params() {
  local m
  m=$(grep -oE -- '(^|[[:space:]])-m[[:space:]]+[0-9]+[kKmMgGtT]?[bB]?' <<<"$1" | tail -1 | awk '{print $2}')
  [ -n "$m" ] || return 0
  local n=${m%%[!0-9]*} unit=${m#"${m%%[!0-9]*}"}
  case ${unit:0:1} in
    k|K) echo $(( (n + 1023) / 1024 )) ;;
    ''|m|M) echo "$n" ;;
    g|G) echo $(( n * 1024 )) ;;
    t|T) echo $(( n * 1024 * 1024 )) ;;
  esac
}

# The -device options popek offers, as popek options: edu -> --device edu, intel-iommu -> --iommu intel.
devices_from_params() {
  local -a words out=()
  read -r -a words <<<"$1"
  local i name
  for ((i = 0; i < ${#words[@]}; i++)); do
    [ "${words[i]}" = -device ] || continue
    name=${words[i + 1]:-}
    name=${name%%,*}
    case $name in
      edu) out+=(--device edu) ;;
      intel-iommu) out+=(--iommu intel) ;;
    esac
  done
  echo "${out[*]}"
}

seconds() {  # a timeout in the cfg's notation (90, 90s, 2m) to seconds
  local t=$1
  case $t in *m) echo $(( ${t%m} * 60 )) ;; *s) echo "${t%s}" ;; *) echo "$t" ;; esac
}

run_entry() {
  local name=$1 file=$2 smp=$3 args=$4 params=$5 arch=$6 accel=$7 check=$8 timeout=$9 groups=${10}
  [ -n "$name" ] || return 0
  if [ ${#ONLY[@]} -gt 0 ] && ! named "$name"; then return 0; fi
  if [[ " $groups " == *" nodefault "* ]] && ! named "$name"; then result SKIP "$name" "test marked as manual run only"; return 0; fi
  if [ -n "$arch" ] && [ "$arch" != "$ARCH" ]; then result SKIP "$name" "$arch only"; return 0; fi
  if [ -n "$accel" ] && [ "$accel" != "$ACCEL" ]; then result SKIP "$name" "$accel only, popek runs --accel $ACCEL"; return 0; fi
  if [ -n "$check" ] && [ "$ACCEL" = kvm ]; then
    local c path value
    for c in $check; do
      path=${c%%=*} value=${c#*=}
      if [ ! -f "$path" ] || [ "$(cat "$path")" != "$value" ]; then result SKIP "$name" "$path not equal to $value"; return 0; fi
    done
  fi
  local kernel=$KUT/x86/$file
  [ -f "$kernel" ] || { result SKIP "$name" "test file '$kernel' not found"; return 0; }
  local mem
  mem=$(mem_from_params "$params")
  local -a cmd=("$POPEK" run --test-dev --accel "$ACCEL" --cpus "${smp:-1}" --mem "${mem:-128}" --kernel "$kernel"
                --initrd "$ENVFILE")
  local -a devices
  read -r -a devices <<<"$(devices_from_params "$params")"
  cmd+=("${devices[@]}")
  if [ -n "$args" ]; then
    local -a words
    eval "words=($args)" || { result FAIL "$name" "cannot parse test_args"; return 0; }
    cmd+=(--cmdline "${words[*]}")
  fi
  local secs
  secs=$(( $(seconds "${timeout:-90}") * FACTOR ))
  local log=$LOGS/$name.log
  { printf '%q ' "${cmd[@]}"; echo; } >"$log"
  timeout -k 1 "$secs" "${cmd[@]}" </dev/null >>"$log" 2>&1
  local status=$?
  echo "run-kvm-unit-tests: exit status $status" >>"$log"
  local summary
  summary=$(tail -6 "$log" | grep '^SUMMARY: ' | sed 's/^SUMMARY: //; s/\r$//')
  case $status in
    1) result PASS "$name" "$summary" ;;
    77) result SKIP "$name" "${summary:-the test skipped itself}" ;;
    124|137) result FAIL "$name" "timeout; duration=${secs}s" ;;
    0) result FAIL "$name" "the guest ended without debug-exit: $(tail -1 "$log")" ;;
    2|4) result FAIL "$name" "popek: $(grep -m1 '^popek: ' "$log" || tail -1 "$log")" ;;
    *) result FAIL "$name" "${summary:-exit status $status}" ;;
  esac
}

# The parser follows the suite's scripts/common.bash (for_each_unittest): [name] starts an entry,
# `key = value` lines fill it, qemu_params may span lines between triple quotes.
name="" file="" smp="" args="" params="" arch="" accel="" check="" timeout="" groups=""
exec {cfg}<"$CFG"
while IFS= read -r -u "$cfg" line; do
  if [[ $line =~ ^\[(.*)\]$ ]]; then
    run_entry "$name" "$file" "$smp" "$args" "$params" "$arch" "$accel" "$check" "$timeout" "$groups"
    name=${BASH_REMATCH[1]} file="" smp="" args="" params="" arch="" accel="" check="" timeout="" groups=""
  elif [[ $line =~ ^file\ *=\ *(.*)$ ]]; then file=${BASH_REMATCH[1]}
  elif [[ $line =~ ^smp\ *=\ *(.*)$ ]]; then smp=${BASH_REMATCH[1]}
  elif [[ $line =~ ^(test_args|extra_params)\ *=\ *(.*)$ ]]; then
    # extra_params: the older name, QEMU options with -append inside
    if [ "${BASH_REMATCH[1]}" = extra_params ]; then
      params=${BASH_REMATCH[2]}
      [[ $params =~ -append\ *(\'[^\']*\'|\"[^\"]*\"|[^ ]+) ]] && args=${BASH_REMATCH[1]}
    else
      args=${BASH_REMATCH[2]}
    fi
  elif [[ $line =~ ^qemu_params\ *=\ *\"\"\"(.*)$ ]]; then
    params=${BASH_REMATCH[1]}
    while IFS= read -r -u "$cfg" more; do
      if [[ $more =~ ^(.*)\"\"\"[[:blank:]]*$ ]]; then params+=" ${BASH_REMATCH[1]}"; break; fi
      params+=" $more"
    done
  elif [[ $line =~ ^qemu_params\ *=\ *(.*)$ ]]; then params=${BASH_REMATCH[1]}
  elif [[ $line =~ ^arch\ *=\ *(.*)$ ]]; then arch=${BASH_REMATCH[1]}
  elif [[ $line =~ ^accel\ *=\ *(.*)$ ]]; then accel=${BASH_REMATCH[1]}
  elif [[ $line =~ ^check\ *=\ *(.*)$ ]]; then check=${BASH_REMATCH[1]}
  elif [[ $line =~ ^timeout\ *=\ *(.*)$ ]]; then timeout=${BASH_REMATCH[1]}
  elif [[ $line =~ ^groups\ *=\ *(.*)$ ]]; then groups=${BASH_REMATCH[1]}
  fi
done
run_entry "$name" "$file" "$smp" "$args" "$params" "$arch" "$accel" "$check" "$timeout" "$groups"
exec {cfg}<&-

echo "SUMMARY: $pass PASS, $fail FAIL, $skip SKIP on --accel $ACCEL (logs in $LOGS)"
[ ${#failed[@]} -eq 0 ] || echo "FAILED: ${failed[*]}"
[ "$fail" -eq 0 ]
