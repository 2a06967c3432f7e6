#!/usr/bin/env bash
# Builds every tests/fuzz/fuzz_*.cpp with clang-16 libFuzzer + ASan + UBSan and runs each for
# FUZZ_SECONDS (default 10). Each target names what it links in a comment line
#   // fuzz-sources: <globs relative to the repository root>
# and optionally its seed inputs
#   // fuzz-seeds: <globs>          (e.g. build/guests/*.elf, when the release build exists)
# and optionally extra link flags
#   // fuzz-libs: <flags>           (e.g. -lsodium)
# Every target starts from its committed seed corpus tests/fuzz/corpus/<target>/ (tools/fuzz-corpus.sh
# writes it; a target without one fails the script) plus what earlier runs found.
# Output: build/fuzz/<target> and build/fuzz/corpus-<target>/; crashes fail the script.
# FUZZ_TARGETS="fuzz_share fuzz_blkif" limits the run to those targets.
# FUZZ_BUILD_ONLY=1 builds the targets (and fills build/fuzz/corpus-<target>/ with the fuzz-seeds)
# without fuzzing: tools/fuzz-long.sh builds through it.
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
CXX=${FUZZ_CXX:-clang++-16}
OUT=build/fuzz
mkdir -p "$OUT"
command -v "$CXX" >/dev/null || { echo "fuzz-smoke: $CXX not found (install clang-16 libfuzzer-16-dev)" >&2; exit 1; }
FMT_LIBS=$(pkg-config --libs fmt 2>/dev/null || echo -lfmt)

shopt -s nullglob
status=0
for target_src in tests/fuzz/fuzz_*.cpp; do
  name=$(basename "$target_src" .cpp)
  if [ -n "${FUZZ_TARGETS:-}" ] && [[ " $FUZZ_TARGETS " != *" $name "* ]]; then continue; fi
  seed_corpus=tests/fuzz/corpus/$name
  if [ -z "$(ls -A "$seed_corpus" 2>/dev/null)" ]; then
    echo "fuzz-smoke: $name has no seed corpus in $seed_corpus (run tools/fuzz-corpus.sh)" >&2
    status=1
    continue
  fi
  sources=$(sed -n 's|^// fuzz-sources:||p' "$target_src")
  seeds=$(sed -n 's|^// fuzz-seeds:||p' "$target_src")
  libs=$(sed -n 's|^// fuzz-libs:||p' "$target_src")
  # shellcheck disable=SC2086  # the globs are meant to expand
  srcs=( $sources )
  echo "== $name: building (${#srcs[@]} sources)"
  "$CXX" -std=c++2b -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -Isrc -Iinclude -DPOPEK_VERSION=\"fuzz\" "$target_src" "${srcs[@]}" $FMT_LIBS $libs -o "$OUT/$name"
  corpus="$OUT/corpus-$name"
  mkdir -p "$corpus"
  # shellcheck disable=SC2086
  for s in $seeds; do [ -f "$s" ] && cp -f "$s" "$corpus/"; done
  [ -n "${FUZZ_BUILD_ONLY:-}" ] && continue
  echo "== $name: fuzzing for ${FUZZ_SECONDS}s"
  if ! "$OUT/$name" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 -artifact_prefix="$OUT/$name-" \
       "$corpus" "$seed_corpus" 2>"$OUT/$name.log"; then
    echo "fuzz-smoke: $name FAILED; see $OUT/$name.log" >&2
    tail -40 "$OUT/$name.log" >&2
    status=1
  else
    grep -m1 -E "INITED" "$OUT/$name.log" || true
    grep -E "stat::number_of_executed_(runs|units)|cov:" "$OUT/$name.log" | tail -2
  fi
done
exit $status
