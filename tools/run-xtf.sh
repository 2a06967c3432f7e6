#!/usr/bin/env bash
# Runs a built Xen Test Framework (XTF) checkout's HVM test images on popek as Xen PVH guests:
# every tests/<name>/test-<env>-<name> for env in hvm64, hvm32pae, hvm32pse, hvm32 (or only the
# TESTs named, as <name> or test-<env>-<name>) becomes
#   popek run --xen --accel A --cpus <vcpus> --mem <memory> --kernel tests/<name>/test-<env>-<name>
# with vcpus and memory from the image's .cfg (and --viridian when it asks for viridian), and a timeout. The result is the image's last
# "Test result: X" line, as xtf-runner reads it: SUCCESS, SKIP, FAILURE or ERROR; no such line is
# CRASH (with popek's reason, or "hang" when the timeout killed it). PV images (pv64, pv32pae) are
# not run: popek offers PVH only. Variations (~hap, ~shadow) differ in Xen settings only and run once.
# As xtf-runner, only the functional and xsa categories run unless --all (special, utility,
# in-development too) or the tests are named.
#
# usage: tools/run-xtf.sh XTF_DIR [--accel interp|bt|kvm] [--popek PATH] [--logs DIR]
#                         [--timeout SECONDS] [--all] [TEST...]
set -uo pipefail

usage() { echo "usage: $0 XTF_DIR [--accel interp|bt|kvm] [--popek PATH] [--logs DIR] [--timeout SECONDS] [--all] [TEST...]" >&2; exit 2; }
die() { echo "run-xtf: $*" >&2; exit 2; }

[ $# -ge 1 ] || usage
XTF=$1
shift
ACCEL=interp
POPEK=$(cd "$(dirname "$0")/.." && pwd)/build/popek
LOGS=/tmp/popek-xtf
TIMEOUT=60
ALL=no
ONLY=()
while [ $# -gt 0 ]; do
  case $1 in
    --accel) [ $# -ge 2 ] || usage; ACCEL=$2; shift 2 ;;
    --popek) [ $# -ge 2 ] || usage; POPEK=$2; shift 2 ;;
    --logs) [ $# -ge 2 ] || usage; LOGS=$2; shift 2 ;;
    --timeout) [ $# -ge 2 ] || usage; TIMEOUT=$2; shift 2 ;;
    --all) ALL=yes; shift ;;
    -h|--help) usage ;;
    -*) die "unknown option '$1'" ;;
    *) ONLY+=("$1"); shift ;;
  esac
done
case $ACCEL in interp|bt|kvm) ;; *) die "--accel must be interp, bt or kvm, not '$ACCEL'" ;; esac
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive number of seconds"
[ -d "$XTF/tests" ] || die "$XTF/tests not found: is '$XTF' an XTF checkout?"
[ -x "$POPEK" ] || die "popek binary '$POPEK' not found (build it, or pass --popek)"
mkdir -p "$LOGS" || die "cannot create the log directory '$LOGS'"

declare -A count=([SUCCESS]=0 [SKIP]=0 [FAILURE]=0 [ERROR]=0 [CRASH]=0)
hangs=0
declare -a bad=()

wanted() {  # NAME IMAGE
  [ ${#ONLY[@]} -eq 0 ] && return 0
  local n
  for n in "${ONLY[@]}"; do [ "$n" = "$1" ] || [ "$n" = "$2" ] && return 0; done
  return 1
}

cfg_value() {  # KEY DEFAULT CFGFILE...: the last `KEY = N` (xl takes the last) in the first existing file
  local key=$1 default=$2 f v
  shift 2
  for f in "$@"; do
    [ -f "$f" ] || continue
    v=$(sed -n "s/^[[:space:]]*$key[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p" "$f" | tail -1)
    [ -n "$v" ] && { echo "$v"; return; }
  done
  echo "$default"
}

cfg_viridian() {  # CFGFILE...: 0 when the first existing file's last `viridian = ...` enables it
  local f v
  for f in "$@"; do
    [ -f "$f" ] || continue
    v=$(sed -n "s/^[[:space:]]*viridian[[:space:]]*=[[:space:]]*\(.*\)/\1/p" "$f" | tail -1 | tr -d '[:space:]')
    [ -n "$v" ] && [ "$v" != 0 ] && [ "$v" != '[]' ] && [ "$v" != false ]
    return
  done
  return 1
}

run_image() {  # NAME ENV
  local name=$1 env=$2
  local image=test-$env-$name dir=$XTF/tests/$name
  [ -f "$dir/$image" ] || return 0
  wanted "$name" "$image" || return 0
  local cfgs=("$dir/$image.cfg" "$dir/$image"~*.cfg)
  local vcpus mem
  vcpus=$(cfg_value vcpus 1 "${cfgs[@]}")
  mem=$(cfg_value memory 128 "${cfgs[@]}")
  local log=$LOGS/$image.log
  local -a cmd=("$POPEK" run --xen --accel "$ACCEL" --cpus "$vcpus" --mem "$mem" --kernel "$dir/$image")
  # `viridian = [...]` in the .cfg: the Hyper-V interface, as xl gives it (xsa-472-*).
  cfg_viridian "${cfgs[@]}" && cmd+=(--viridian)
  { printf '%q ' "${cmd[@]}"; echo; } >"$log"
  timeout -k 1 "$TIMEOUT" "${cmd[@]}" </dev/null >>"$log" 2>&1
  local status=$?
  local line result why=""
  line=$(grep -a 'Test result:' "$log" | tail -1 | tr -d '\r')
  result=CRASH
  for r in SUCCESS SKIP FAILURE ERROR; do [[ $line == *"$r"* ]] && { result=$r; break; }; done
  if [ "$result" = CRASH ]; then
    if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
      why="hang: no result after ${TIMEOUT}s"
      hangs=$((hangs + 1))
    else
      why=$(grep -a -m1 '^popek: ' "$log" || echo "exit status $status, no result line")
    fi
  elif [ "$result" != SUCCESS ]; then
    # The line before the result usually says why (xtf_skip/xtf_failure messages).
    why=$(grep -a -v -e 'Test result:' -e '^popek: ' "$log" | tail -1 | tr -d '\r')
  fi
  count[$result]=$((count[$result] + 1))
  [ "$result" = SUCCESS ] || [ "$result" = SKIP ] || bad+=("$image")
  echo "$result $image${why:+ ($why)}"
}

selection="functional and xsa tests"
[ "$ALL" = yes ] && selection="all categories"
[ ${#ONLY[@]} -gt 0 ] && selection="the tests named"
for info in "$XTF"/tests/*/info.json; do
  name=$(basename "$(dirname "$info")")
  category=$(sed -n 's/.*"category": *"\([^"]*\)".*/\1/p' "$info")
  if [ "$ALL" = no ] && [ ${#ONLY[@]} -eq 0 ] && [ "$category" != functional ] && [ "$category" != xsa ]; then
    continue
  fi
  for env in hvm64 hvm32pae hvm32pse hvm32; do run_image "$name" "$env"; done
done

echo "SUMMARY: ${count[SUCCESS]} SUCCESS, ${count[SKIP]} SKIP, ${count[FAILURE]} FAILURE, ${count[ERROR]} ERROR," \
     "${count[CRASH]} CRASH ($hangs hangs) on --accel $ACCEL, $selection (logs in $LOGS)"
[ ${#bad[@]} -eq 0 ] || echo "NOT PASSING: ${bad[*]}"
[ ${#bad[@]} -eq 0 ]
