// libFuzzer target: netif (io/netif.h) data path with a hostile guest. The input provides the grant
// table frame (which refs are granted to whom, for which frames), the tx and rx ring pages (indices
// and requests), whether the front end takes scatter-gather, and then a script of steps: serve the
// tx ring, deliver a host frame of a given length, or move a producer index. The back end must
// answer or shut the rings, send only well-formed frames, release every grant it pinned, never
// touch memory outside guest RAM, and never crash.
// fuzz-sources: src/pv/grant_table.cpp src/pv/backends/netif_backend.cpp src/memory/guest_memory.cpp src/util/huge_mapping.cpp
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "pv/backends/netif_backend.h"

using namespace popek;
using namespace popek::pv;

namespace {

constexpr uint64_t kTablePfn = 0x10, kTxPfn = 0x11, kRxPfn = 0x12;
constexpr size_t kEntries = 64;

/// Reads input bytes front to back; zeros once it runs out.
struct Input {
    const uint8_t* data;
    size_t size;
    size_t take(uint8_t* out, size_t n) {
        n = std::min(n, size);
        std::memcpy(out, data, n);
        data += n;
        size -= n;
        return n;
    }
    template <class T>
    T get() {
        T v{};
        take(reinterpret_cast<uint8_t*>(&v), sizeof v);
        return v;
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static memory::GuestMemory mem = memory::GuestMemory::create(256 * 4096).value();
    static const std::vector<uint8_t> host_frame = [] {
        std::vector<uint8_t> f(70000);
        for (size_t i = 0; i < f.size(); ++i) f[i] = static_cast<uint8_t>(i * 13);
        return f;
    }();

    GrantTable grants(mem, 1, 4, 64);
    if (!grants.place_frame(0, kTablePfn)) __builtin_trap();
    uint8_t* table = mem.host_ptr(kTablePfn << 12, 4096);
    uint8_t* tx = mem.host_ptr(kTxPfn << 12, 4096);
    uint8_t* rx = mem.host_ptr(kRxPfn << 12, 4096);
    std::memset(table, 0, 4096);
    std::memset(tx, 0, 4096);
    std::memset(rx, 0, 4096);

    Input in{data, size};
    in.take(table, kEntries * sizeof(grant_entry_v1_t));
    // A guest may grant its own grant-table frame and have received frames copied over its
    // entries; legal, but it would defeat the pin check below, so such grants point elsewhere.
    for (auto* e = reinterpret_cast<grant_entry_v1_t*>(table); e < reinterpret_cast<grant_entry_v1_t*>(table) + kEntries; ++e)
        if (e->frame == kTablePfn) e->frame = 0x20;
    grant_entry_v1_t before[kEntries];
    std::memcpy(before, table, sizeof(before));
    in.take(tx, in.get<uint16_t>() % 1024);  // ring header + the first entries
    in.take(rx, in.get<uint16_t>() % 512);
    const bool sg = in.get<uint8_t>() & 1;

    NetifBackend be(grants, 0, std::span(tx, 4096), std::span(rx, 4096), sg);
    size_t frames = 0;
    auto send = [&](std::span<const uint8_t> f) {
        if (f.size() < NetifBackend::kEthernetHeader || f.size() > NetifBackend::kMaxFrame) __builtin_trap();
        ++frames;
    };
    for (int step = 0; step < 64 && in.size > 0; ++step) {
        switch (in.get<uint8_t>() % 4) {
        case 0: be.process_tx(send); break;
        case 1: be.receive(std::span(host_frame).first(in.get<uint16_t>() % host_frame.size())); break;
        case 2: {  // the guest moves a producer index
            auto* sring = reinterpret_cast<netif_tx_sring*>(tx);
            sring->req_prod = in.get<RING_IDX>();
            break;
        }
        case 3: {
            auto* sring = reinterpret_cast<netif_rx_sring*>(rx);
            sring->req_prod = in.get<RING_IDX>();
            be.check_rx_ring();
            break;
        }
        }
    }
    // Every transient pin was released: no entry gained GTF_reading / GTF_writing.
    if (grants.active_mappings() != 0) __builtin_trap();
    auto* after = reinterpret_cast<grant_entry_v1_t*>(table);
    const uint16_t busy = GTF_reading | GTF_writing;
    for (size_t i = 0; i < kEntries; ++i)
        if ((after[i].flags & busy) && !(before[i].flags & busy)) __builtin_trap();
    if (be.stats().tx_packets != frames) __builtin_trap();
    return 0;
}
