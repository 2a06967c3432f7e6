#!/bin/sh
# Builds fuzz_virtqueue with clang-16 + libFuzzer + ASan/UBSan and runs it for SECONDS (default 60).
# libstdc++ 12 hides std::expected from clang 16 (its __cpp_concepts is 201907); clang 16 does
# implement what <expected> needs, so the macro is raised for this build only.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$here/../../src
out=${OUT:-/tmp/popek-fuzz}
mkdir -p "$out/corpus"
clang++-16 -std=gnu++2b -O1 -g -fsanitize=fuzzer,address,undefined -Wno-macro-redefined \
  -D__cpp_concepts=202002L -I"$src" \
  "$here/fuzz_virtqueue.cpp" "$src/devices/virtio/queue.cpp" "$src/devices/virtio/chain.cpp" \
  "$src/memory/guest_memory.cpp" -lfmt -o "$out/fuzz_virtqueue"
# Seed the corpus with the replay driver's hand-made inputs (loops, indirect tables) once.
if [ -z "$(ls -A "$out/corpus")" ]; then
  clang++-16 -std=gnu++2b -O1 -Wno-macro-redefined -D__cpp_concepts=202002L -I"$src" -DPOPEK_WRITE_SEEDS \
    "$here/replay_main.cpp" -o "$out/write_seeds" && "$out/write_seeds" "$out/corpus"
fi
exec "$out/fuzz_virtqueue" -max_total_time="${1:-60}" -max_len=20000 "$out/corpus"
