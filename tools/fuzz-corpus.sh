#!/usr/bin/env bash
# (Re)writes tests/fuzz/corpus/<target>/, the seed corpus of every tests/fuzz/fuzz_*.cpp target that
# tools/fuzz-smoke.sh starts from: the seeds of the g++ replay runners (`RUNNER 0 DIR`, built by the
# release preset) and tools/fuzz-seeds.py's hand-made inputs for the targets without one. A target
# with neither fails the script, so a new target cannot go without a corpus.
# Usage: tools/fuzz-corpus.sh [BUILD_DIR]   (default build; run after cmake --build --preset release)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
status=0
for src in tests/fuzz/fuzz_*.cpp; do
  name=$(basename "$src" .cpp)
  dir=tests/fuzz/corpus/$name
  rm -rf "$dir"
  mkdir -p "$dir"
  replay=$BUILD/tests/fuzz/${name}_replay
  # A replay runner that writes no seeds (fuzz_gdb_rsp's only replays) leaves it to fuzz-seeds.py.
  if [ -x "$replay" ]; then
    "$replay" 0 "$dir" >/dev/null
  fi
  if [ -n "$(ls -A "$dir")" ]; then
    :
  elif python3 tools/fuzz-seeds.py "$name" "$dir" 2>/dev/null && [ -n "$(ls -A "$dir")" ]; then
    :
  else
    echo "fuzz-corpus: no seeds for $name (add a replay runner or a tools/fuzz-seeds.py entry)" >&2
    status=1
  fi
  echo "$name: $(find "$dir" -type f | wc -l) seeds, $(du -sb "$dir" | cut -f1) bytes"
done
exit $status
