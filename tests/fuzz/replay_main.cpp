// Runs the fuzz target without libFuzzer (g++ builds, ctest): hand-made seeds for the interesting
// shapes (loops, indirect tables, index jumps) and a deterministic stream of mutated inputs.
// `fuzz_virtqueue_replay 0 DIR` writes the seeds into DIR (the libFuzzer seed corpus).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fuzz_virtqueue.h"
#include "seed_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
};

constexpr size_t kIndirect = 0x1800;

/// A valid starting point: two chains (one through an indirect table), avail idx 2.
std::vector<uint8_t> seed(uint8_t control) {
    FuzzQueueLayout l = fuzz_queue_layout(control);
    std::vector<uint8_t> in(2 + 0x2000, 0);
    in[0] = control;
    in[1] = 8;
    uint8_t* ram = in.data() + 2;
    Desc d[] = {{0x1000, 16, 1, 1}, {0x1100, 64, 3, 2}, {0x1200, 1, 2, 0}, {kIndirect, 32, 4, 0}};
    std::memcpy(ram, d, std::min(sizeof(d), size_t{16} * l.size));
    Desc ind[] = {{0x1300, 8, 1, 1}, {0x1400, 8, 2, 0}};
    std::memcpy(ram + kIndirect, ind, sizeof(ind));
    uint16_t avail[] = {0, 2, 0, static_cast<uint16_t>(l.size > 3 ? 3 : 1)};   // flags, idx, ring[0..1]
    std::memcpy(ram + l.avail, avail, sizeof(avail));
    return in;
}

}  // namespace

int main(int argc, char** argv) {
    long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
    std::mt19937_64 rng(0x706f70656b);   // fixed: the same inputs on every run
    std::vector<std::vector<uint8_t>> seeds = {seed(0x12), seed(0x32), seed(0x02), seed(0x37), seed(0x30)};
    if (argc > 2 && !popek::fuzz::write_seeds(argv[2], seeds)) return 1;  // `0 DIR`: the seed corpus
    for (auto& s : seeds) LLVMFuzzerTestOneInput(s.data(), s.size());
    for (long i = 0; i < iterations; ++i) {
        std::vector<uint8_t> in = seeds[static_cast<size_t>(i) % seeds.size()];
        int flips = 1 + static_cast<int>(rng() % 8);
        FuzzQueueLayout l = fuzz_queue_layout(in[0]);
        for (int f = 0; f < flips; ++f) {
            // Mostly hit the descriptor table, the rings and the indirect table.
            size_t region = rng() % 4;
            size_t base = 2 + (region == 0 ? 0 : region == 1 ? l.avail : region == 2 ? l.used : kIndirect);
            in[base + rng() % 64] = static_cast<uint8_t>(rng());
        }
        if (rng() % 4 == 0) in[0] ^= static_cast<uint8_t>(0x30);   // toggle the features, keep the size
        LLVMFuzzerTestOneInput(in.data(), in.size());
    }
    std::printf("fuzz_virtqueue replay: %ld inputs, no crash\n", iterations + static_cast<long>(seeds.size()));
    return 0;
}
