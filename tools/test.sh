#!/usr/bin/env bash
# Builds popek and runs every test: the release build's full ctest suite (unit, backend,
# integration), the ASan+UBSan build's unit tests and hostile command-line table (label hostile),
# and a short smoke run of each fuzz target from its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS=${JOBS:-$(nproc)}
step() { printf '\n== %s\n' "$*"; }

step "release build"
cmake --preset release >/dev/null
cmake --build --preset release -j "$JOBS"
step "release tests"
ctest --preset release -j "$JOBS"

step "ASan+UBSan build"
cmake --preset asan >/dev/null
cmake --build --preset asan -j "$JOBS"
step "ASan+UBSan unit tests and hostile command lines"
ctest --preset asan -j "$JOBS"

if [ -x tools/fuzz-smoke.sh ]; then
  step "fuzz smoke"
  FUZZ_SECONDS=${FUZZ_SECONDS:-10} tools/fuzz-smoke.sh
fi
step "all tests passed"
