// libFuzzer target: the driver-domain wire (ddom::parse) and the VMM's grant-copy server behind it,
// with a hostile guest grant table. Input: one mode byte, 64 bytes of grant entries (refs 0..7
// of the table frame), then one datagram as the other side of the socket would send it (an even
// mode byte puts the magic in front of it, so the fuzzer need not find it). Whatever parses must
// re-encode to a datagram that parses the same; a GrantCopy is served against the table and its
// answer must parse; no grant may stay pinned and nothing outside guest RAM may be touched.
// fuzz-sources: src/ddom/ddom_wire.cpp src/ddom/copy_server.cpp src/pv/grant_access.cpp src/pv/grant_table.cpp src/memory/guest_memory.cpp src/util/huge_mapping.cpp
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "ddom/copy_server.h"

using namespace popek;
using namespace popek::ddom;

namespace {

constexpr uint64_t kTablePfn = 0x10;
constexpr size_t kTableBytes = 64;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static memory::GuestMemory mem = memory::GuestMemory::create(64 * 4096).value();
    pv::GrantTable grants(mem, 1, 2, 16);
    check(grants.place_frame(0, kTablePfn).has_value());
    uint8_t* table = mem.host_ptr(kTablePfn << 12, 4096);
    std::memset(table, 0, 4096);
    if (size == 0) return 0;
    const bool add_magic = (data[0] & 1) == 0;
    ++data;
    --size;
    size_t n = size < kTableBytes ? size : kTableBytes;
    std::memcpy(table, data, n);
    std::vector<uint8_t> before(table, table + kTableBytes);
    std::vector<uint8_t> datagram;
    if (add_magic) datagram.resize(sizeof kMagic), std::memcpy(datagram.data(), &kMagic, sizeof kMagic);
    datagram.insert(datagram.end(), data + n, data + size);

    auto msg = parse(datagram);
    if (!msg) return 0;
    switch (msg->type) {
    case MessageType::BlkifRequest: check(parse(encode_request(msg->request)).has_value()); break;
    case MessageType::BlkifResponse: check(parse(encode_response(msg->response)).has_value()); break;
    case MessageType::GrantCopyResult: check(parse(encode_copy_result(msg->status, msg->data)).has_value()); break;
    case MessageType::GrantCopy: {
        check(parse(encode_copy(msg->ops, msg->data)).has_value());
        auto answer = parse(serve_copy(grants, 2, *msg));
        check(answer.has_value() && answer->type == MessageType::GrantCopyResult);
        if (answer->status == GNTST_okay) check(answer->data.size() == op_bytes(msg->ops, false));
        break;
    }
    }
    // Every pin taken for the copies was released again.
    check(grants.active_mappings() == 0);
    const uint16_t busy = GTF_reading | GTF_writing;
    for (size_t i = 0; i < kTableBytes / sizeof(grant_entry_v1_t); ++i) {
        grant_entry_v1_t a, b;
        std::memcpy(&a, table + i * sizeof a, sizeof a);
        std::memcpy(&b, before.data() + i * sizeof b, sizeof b);
        check(!((a.flags & busy) && !(b.flags & busy)));
    }
    return 0;
}

#ifdef POPEK_FUZZ_REPLAY
// g++ builds (ctest): seeds of every message type plus a deterministic stream of mutations.
#include <cstdio>
#include <cstdlib>
#include <random>

#include "seed_writer.h"

int main(int argc, char** argv) {
    long iterations = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 20000;
    std::vector<uint8_t> grants_bytes(kTableBytes, 0);
    for (uint32_t ref = 0; ref < kTableBytes / sizeof(grant_entry_v1_t); ++ref) {
        grant_entry_v1_t e{static_cast<uint16_t>(GTF_permit_access | (ref % 3 == 0 ? GTF_readonly : 0)),
                           static_cast<domid_t>(ref % 4 == 0 ? 0 : 2), 0x20 + ref};
        std::memcpy(grants_bytes.data() + ref * sizeof e, &e, sizeof e);
    }
    std::vector<uint8_t> page(4096, 0x42);
    std::vector<CopyOp> ops{{1, 0, 512, 0, {}}, {2, 100, 300, 1, {}}, {5, 4000, 96, 0, {}}};
    std::vector<std::vector<uint8_t>> seeds = {
        encode_request(blkif_request_t{}), encode_response(blkif_response_t{}),
        encode_copy(ops, std::span(page).first(300)), encode_copy_result(GNTST_okay, std::span(page).first(608))};
    std::mt19937_64 rng(0x64646f6d);
    auto run = [&](const std::vector<uint8_t>& d) {
        std::vector<uint8_t> in{1};  // the datagram carries its own magic
        in.insert(in.end(), grants_bytes.begin(), grants_bytes.end());
        in.insert(in.end(), d.begin(), d.end());
        LLVMFuzzerTestOneInput(in.data(), in.size());
    };
    if (argc > 2) {  // `0 DIR`: the seed corpus, each seed as the fuzzer sees it
        std::vector<std::vector<uint8_t>> inputs;
        for (const auto& d : seeds) {
            inputs.push_back({1});
            inputs.back().insert(inputs.back().end(), grants_bytes.begin(), grants_bytes.end());
            inputs.back().insert(inputs.back().end(), d.begin(), d.end());
        }
        if (!popek::fuzz::write_seeds(argv[2], inputs)) return 1;
    }
    for (auto& s : seeds) run(s);
    for (long i = 0; i < iterations; ++i) {
        std::vector<uint8_t> d = seeds[static_cast<size_t>(i) % seeds.size()];
        int flips = 1 + static_cast<int>(rng() % 6);
        // The header after the magic and the op table, where the structure is.
        for (int f = 0; f < flips; ++f) d[4 + rng() % (std::min<size_t>(d.size(), 64) - 4)] = static_cast<uint8_t>(rng());
        if (rng() % 8 == 0) d.resize(rng() % (d.size() + 1));
        run(d);
    }
    std::printf("fuzz_ddom_wire replay: %ld inputs, no crash\n", iterations + static_cast<long>(seeds.size()));
    return 0;
}
#endif
