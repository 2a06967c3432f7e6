#pragma once
// The replay runners' `RUNNER ITERATIONS DIR` form: their seeds written into DIR as files
// seed-0, seed-1, ... (tools/fuzz-corpus.sh makes tests/fuzz/corpus/<target>/ from them).
#include <cstdint>
#include <cstdio>
#include <random>
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

/// The replay runners' mutation step: one to four bit flips, byte overwrites, truncations or
/// appended bytes; `in` never ends up empty.
inline void mutate(std::vector<uint8_t>& in, std::mt19937& rng) {
    if (in.empty()) in.push_back(0);
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
        size_t at = rng() % in.size();
        switch (rng() % 4) {
            case 0: in[at] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;
            case 1: in[at] = static_cast<uint8_t>(rng()); break;
            case 2: in.resize(rng() % (in.size() + 1)); break;
            default: in.push_back(static_cast<uint8_t>(rng())); break;
        }
        if (in.empty()) in.push_back(0);
    }
}

}  // namespace popek::fuzz
