// Runs fuzz_share without libFuzzer (g++ builds, ctest): seeds that open, write, read, list and
// attack the share through well-formed grants, then a deterministic stream of mutations of them.
// The seeds are also a starting corpus for the libFuzzer build: `fuzz_share_replay 0 DIR` writes them.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "pv/xen_abi.h"

#include "popek/pvabi/fsif.h"
#include "seed_writer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr uint32_t kDataPfn = 0x12;
constexpr size_t kTable = 1, kRing = kTable + 512, kPage0 = kRing + 4096, kPage1 = kPage0 + 256, kRaw = kPage1 + 256;

/// Grant entries 8 and 9 give the two data pages to domain 0; `path` heads page 0, `bytes` page 1.
std::vector<uint8_t> seed(bool read_only, std::string_view path, std::string_view bytes,
                          const std::vector<popekfs_request>& raw) {
    std::vector<uint8_t> in(kRaw, 0);
    in[0] = read_only ? 1 : 0;
    for (uint32_t i = 0; i < 2; ++i) {
        grant_entry_v1_t e{GTF_permit_access, 0, kDataPfn + i};
        std::memcpy(&in[kTable + (8 + i) * sizeof e], &e, sizeof e);
    }
    std::memcpy(&in[kPage0], path.data(), std::min<size_t>(path.size(), 256));
    std::memcpy(&in[kPage1], bytes.data(), std::min<size_t>(bytes.size(), 256));
    for (const auto& r : raw) {
        const auto* p = reinterpret_cast<const uint8_t*>(&r);
        in.insert(in.end(), p, p + sizeof r);
    }
    return in;
}

popekfs_request req(uint8_t op, uint32_t handle, uint32_t length, uint32_t ref, uint16_t flags = 0, uint64_t offset = 0) {
    popekfs_request r{};
    r.id = op * 100u + handle;
    r.op = op;
    r.nr_pages = 1;
    r.flags = flags;
    r.handle = handle;
    r.offset = offset;
    r.length = length;
    r.data_ref[0] = ref;
    return r;
}

/// The harness false positive of issue 19: grant 10 is the grant table's own frame, and a file
/// whose bytes are the table's first ten entries, entry 9 marked GTF_reading, is read into it.
/// The guest did that to itself; without the harness's remap its pin check trapped.
std::vector<uint8_t> table_overwrite_seed() {
    constexpr uint32_t kTablePfn = 0x10;
    std::string file(10 * sizeof(grant_entry_v1_t), '\0');
    for (uint32_t i = 0; i < 2; ++i) {
        grant_entry_v1_t e{static_cast<uint16_t>(GTF_permit_access | (i == 1 ? GTF_reading : 0)), 0, kDataPfn + i};
        std::memcpy(&file[(8 + i) * sizeof e], &e, sizeof e);
    }
    const uint16_t create = POPEKFS_O_READ | POPEKFS_O_WRITE | POPEKFS_O_CREATE | POPEKFS_O_TRUNCATE;
    const uint32_t first = 1 << 16 | 1;
    const auto len = static_cast<uint32_t>(file.size());
    auto in = seed(false, "t", file, {req(POPEKFS_OP_OPEN, 0, 1, 8, create), req(POPEKFS_OP_WRITE, first, len, 9),
                                      req(POPEKFS_OP_READ, first, len, 10), req(POPEKFS_OP_CLOSE, first, 0, 0),
                                      req(POPEKFS_OP_UNLINK, 0, 1, 8)});
    grant_entry_v1_t table_grant{GTF_permit_access, 0, kTablePfn};
    std::memcpy(&in[kTable + 10 * sizeof table_grant], &table_grant, sizeof table_grant);
    return in;
}

std::vector<std::vector<uint8_t>> seeds() {
    const uint16_t create = POPEKFS_O_READ | POPEKFS_O_WRITE | POPEKFS_O_CREATE | POPEKFS_O_TRUNCATE;
    const uint32_t first = 1 << 16 | 1;  // generation 1, slot 1
    std::vector<std::vector<uint8_t>> out;
    for (bool ro : {false, true}) {
        out.push_back(seed(ro, "new", "fuzzed bytes", {
            req(POPEKFS_OP_OPEN, 0, 3, 8, create), req(POPEKFS_OP_WRITE, first, 12, 9),
            req(POPEKFS_OP_READ, first, 64, 9), req(POPEKFS_OP_FSTAT, first, 0, 0),
            req(POPEKFS_OP_CLOSE, first, 0, 0), req(POPEKFS_OP_UNLINK, 0, 3, 8)}));
        out.push_back(seed(ro, "d", "", {
            req(POPEKFS_OP_OPEN, 0, 1, 8, POPEKFS_O_DIRECTORY), req(POPEKFS_OP_READDIR, first, 256, 9),
            req(POPEKFS_OP_READDIR, first, 16, 9, 0, 1), req(POPEKFS_OP_STAT, 0, 1, 8),
            req(POPEKFS_OP_MKDIR, 0, 1, 8), req(POPEKFS_OP_CLOSE, first, 0, 0)}));
        out.push_back(seed(ro, "l", "", {req(POPEKFS_OP_OPEN, 0, 1, 8, create), req(POPEKFS_OP_STAT, 0, 1, 8),
                                          req(POPEKFS_OP_MKDIR, 0, 1, 8)}));
        out.push_back(seed(ro, "d/../../sentinel", "", {req(POPEKFS_OP_OPEN, 0, 16, 8, create),
                                                         req(POPEKFS_OP_OPEN, 0, 2, 8, POPEKFS_O_READ)}));
    }
    out.push_back(table_overwrite_seed());
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    const long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
    auto corpus = seeds();
    // `fuzz_share_replay 0 DIR`: write the seeds into DIR (a libFuzzer corpus)
    if (argc > 2 && !popek::fuzz::write_seeds(argv[2], corpus)) return 1;
    for (const auto& s : corpus) LLVMFuzzerTestOneInput(s.data(), s.size());
    std::mt19937_64 rng(0x5eed);
    for (long i = 0; i < iterations; ++i) {
        std::vector<uint8_t> in = corpus[rng() % corpus.size()];
        const int flips = 1 + static_cast<int>(rng() % 8);
        for (int f = 0; f < flips; ++f) {
            // Mostly in the raw requests and the paths, where the interesting fields are.
            size_t at = rng() % 4 == 0 ? rng() % in.size() : kPage0 + rng() % (in.size() - kPage0);
            in[at] = static_cast<uint8_t>(rng());
        }
        LLVMFuzzerTestOneInput(in.data(), in.size());
    }
    std::printf("fuzz_share_replay: %zu seeds, %ld mutated inputs, no failure\n", corpus.size(), iterations);
    return 0;
}
