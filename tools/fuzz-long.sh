#!/usr/bin/env bash
# fuzz-long.sh SECONDS: the long fuzz run of issue 19, benchmark-style.
#
# Builds every libFuzzer target (tests/fuzz/fuzz_*.cpp, through tools/fuzz-smoke.sh with
# FUZZ_BUILD_ONLY=1: clang-16, libFuzzer + ASan + UBSan) and runs each for SECONDS from its seed
# corpus only (the committed tests/fuzz/corpus/<target>/ plus its fuzz-seeds files, copied into
# a fresh corpus: earlier runs' findings do not count), one target after the other on one core.
# Then prints a table: per target, the executions, executions per second, the coverage libFuzzer
# reports at the start (from the seeds) and at the end (cov: edges, ft: features), the corpus
# size reached, and the findings (crash-/leak-/timeout-/oom- artifacts; libFuzzer stops at the
# first). Exit status 1 when any target found something (the artifacts and logs are kept in
# build/fuzz-long/), 0 otherwise.
#   FUZZ_TARGETS="fuzz_share fuzz_blkif"   only these targets
#   FUZZ_RSS_MB (default 2048)             libFuzzer's -rss_limit_mb
#   FUZZ_REPORT_ONLY=1                     no build, no run: the table from the last run's logs
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:?usage: tools/fuzz-long.sh SECONDS}
[[ "$SECONDS_EACH" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz-long: SECONDS must be a whole number > 0" >&2; exit 2; }
OUT=build/fuzz-long
mkdir -p "$OUT"

if [ -z "${FUZZ_REPORT_ONLY:-}" ]; then
  FUZZ_BUILD_ONLY=1 tools/fuzz-smoke.sh >"$OUT/build.log" 2>&1 || { cat "$OUT/build.log" >&2; exit 1; }
fi

# "cov: N ft: M corp: K/..." of the first line matching $2 in log $1.
stat_of() { grep -m1 -E "$2" "$1" | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/\1 \2 \3/p'; }

rows=() found=0
shopt -s nullglob
for target_src in tests/fuzz/fuzz_*.cpp; do
  name=$(basename "$target_src" .cpp)
  if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $name "* ]]; then continue; fi
  corpus=$OUT/corpus-$name log=$OUT/$name.log
  status=0
  if [ -z "${FUZZ_REPORT_ONLY:-}" ]; then
    rm -rf "$corpus" "$OUT/$name"-*
    mkdir -p "$corpus"
    cp tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null || true
    cp build/fuzz/corpus-"$name"/* "$corpus"/ 2>/dev/null || true   # the fuzz-seeds fuzz-smoke copied
    echo "== $name: ${SECONDS_EACH}s from $(ls "$corpus" | wc -l) seeds" >&2
    build/fuzz/"$name" -max_total_time="$SECONDS_EACH" -print_final_stats=1 -rss_limit_mb="${FUZZ_RSS_MB:-2048}" \
      -artifact_prefix="$OUT/$name-" "$corpus" >"$log" 2>&1 || status=$?
  elif [ ! -s "$log" ]; then
    continue
  fi
  execs=$(sed -n -E 's/^stat::number_of_executed_(runs|units): *//p' "$log" | tail -n 1)
  per_s=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  read -r cov0 ft0 _ <<<"$(stat_of "$log" 'INITED')" || true
  read -r cov ft corp <<<"$(grep -E 'cov: [0-9]+ ft: [0-9]+ corp: ' "$log" | tail -n 1 |
                             sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\) corp: \([0-9]*\).*/\1 \2 \3/p')" || true
  artifacts=("$OUT/$name"-crash-* "$OUT/$name"-leak-* "$OUT/$name"-timeout-* "$OUT/$name"-oom-*)
  findings=${#artifacts[@]}
  [ "$status" = 0 ] || [ "$findings" -gt 0 ] || findings="exit $status"
  [ "$findings" = 0 ] || found=1
  what=$findings
  [ "${#artifacts[@]}" = 0 ] || what="$findings ($(basename "${artifacts[0]}"))"
  rows+=("$(printf '| %s | %s | %s | %s | %s/%s | %s/%s | %s | %s |' "$name" "$SECONDS_EACH" "${execs:-?}" "${per_s:-?}" \
            "${cov0:-?}" "${ft0:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$what")")
done

echo "| target | s | executions | exec/s | cov/ft at start | cov/ft at end | corpus | findings |"
echo "|---|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "fuzz-long: $(clang++-16 --version | head -n 1), $(nproc) cores, $(date -u +%Y-%m-%d)"
exit $found
