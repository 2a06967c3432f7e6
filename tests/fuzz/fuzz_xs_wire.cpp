// libFuzzer target: the xs_wire parser, the request dispatcher and the store ring page.
//
// The input's first byte picks a mode: 0 feeds the rest to a StoreConnection as a byte stream in
// pieces of input-chosen size (the parser and every request handler behind it); 1 treats the rest
// as successive states of a hostile guest's ring page (indices and contents) and pumps it.
// fuzz-sources: src/pv/store/*.cpp src/pv/store_wire.cpp src/pv/store_connection.cpp src/pv/store_ring.cpp src/memory/guest_memory.cpp src/util/huge_mapping.cpp
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "pv/store/store_layout.h"
#include "pv/store_connection.h"

using namespace popek::pv;

namespace {

void fuzz_stream(const uint8_t* data, size_t size) {
    Store store(StoreQuota{.nodes_per_domain = 64, .value_bytes = 256, .watches_per_domain = 8,
                           .transactions_per_domain = 4});
    ConnId dom0 = store.connect(0, {});
    if (!create_domain_layout(store, dom0, DomainLayout{1, "fuzz", 1024, 1})) __builtin_trap();
    StoreConnection conn(store, 1, 8192);
    size_t pos = 0;
    while (pos < size) {
        size_t piece = std::min<size_t>(size - pos, 1 + data[pos] % 64);
        ++pos;
        piece = std::min(piece, size - pos);
        std::string_view chunk(reinterpret_cast<const char*>(data + pos), piece);
        conn.feed(chunk);
        pos += piece;
        conn.consume_output(conn.pending_output().size() / 2);  // a slow reader
    }
}

void fuzz_ring(const uint8_t* data, size_t size) {
    Store store;
    ConnId dom0 = store.connect(0, {});
    if (!create_domain_layout(store, dom0, DomainLayout{1, "fuzz", 1024, 1})) __builtin_trap();
    StoreConnection conn(store, 1);
    std::vector<uint8_t> page(4096);
    StoreRing ring(page);
    ring.initialise();
    auto* in = reinterpret_cast<xenstore_domain_interface*>(page.data());
    // Each step: 16 bytes of indices, 32 bytes written at an input-chosen request-ring offset.
    constexpr size_t kStep = 16 + 2 + 32;
    for (size_t pos = 0; pos + kStep <= size; pos += kStep) {
        std::memcpy(&in->req_cons, data + pos, 16);
        uint16_t off = static_cast<uint16_t>((data[pos + 16] | data[pos + 17] << 8) % (XENSTORE_RING_SIZE - 32));
        std::memcpy(in->req + off, data + pos + 18, 32);
        conn.pump(ring);
        if (ring.broken()) ring.initialise();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    if (data[0] & 1)
        fuzz_ring(data + 1, size - 1);
    else
        fuzz_stream(data + 1, size - 1);
    return 0;
}
