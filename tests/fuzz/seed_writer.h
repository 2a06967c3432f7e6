#pragma once
// The replay runners' `RUNNER ITERATIONS DIR` form: their seeds written into DIR as files
// seed-0, seed-1, ... (tools/fuzz-corpus.sh makes tests/fuzz/corpus/<target>/ from them).
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace popek::fuzz {

/// Writes each seed to `dir`/seed-N; false when a file cannot be written.
inline bool write_seeds(const std::string& dir, const std::vector<std::vector<uint8_t>>& seeds) {
    for (size_t i = 0; i < seeds.size(); ++i) {
        const std::string path = dir + "/seed-" + std::to_string(i);
        FILE* f = std::fopen(path.c_str(), "wb");
        if (!f) return false;
        const bool ok = std::fwrite(seeds[i].data(), 1, seeds[i].size(), f) == seeds[i].size();
        if (std::fclose(f) != 0 || !ok) return false;
    }
    return true;
}

}  // namespace popek::fuzz
