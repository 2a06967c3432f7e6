// Fuzz target for the split-virtqueue parser (virtio 1.2, 2.7): the input becomes the guest's
// descriptor table, rings and buffers; the queue must never crash, hang or touch memory outside
// guest RAM, whatever the driver wrote. Built with libFuzzer (clang-16, tools/fuzz-smoke.sh)
// or, under g++, linked with replay_main.cpp and run by ctest over a seeded pseudo-random corpus.
// fuzz-sources: src/devices/virtio/queue.cpp src/devices/virtio/chain.cpp src/memory/guest_memory.cpp src/util/huge_mapping.cpp
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "devices/virtio/queue.h"
#include "fuzz_virtqueue.h"

using namespace popek::devices::virtio;

namespace {

constexpr uint64_t kRam = 64 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    static auto mem = popek::memory::GuestMemory::create(kRam);
    if (!mem) return 0;
    uint8_t control = data[0];
    FuzzQueueLayout layout = fuzz_queue_layout(control);
    bool indirect = control & 0x10, event_idx = control & 0x20;
    int pops = data[1];
    auto ram = *mem->slice(0, kRam);
    std::memset(ram.data(), 0, ram.size());
    std::memcpy(ram.data(), data + 2, std::min<size_t>(size - 2, ram.size()));

    Queue q(256);
    q.set_size(layout.size);
    q.set_desc_addr(layout.desc);
    q.set_avail_addr(layout.avail);
    q.set_used_addr(layout.used);
    if (!q.enable(*mem, indirect, event_idx)) return 0;
    Chain chain;
    uint8_t scratch[64];
    for (int i = 0; i <= pops; ++i) {
        auto got = q.pop(*mem, chain);
        if (!got || !*got) break;
        // Whatever the chain says, copying through it stays inside RAM or fails cleanly.
        uint64_t r = std::min<uint64_t>(chain.readable.size(), sizeof(scratch));
        (void)chain.readable.read(*mem, chain.readable.size() - r, std::span(scratch, r));
        uint64_t w = std::min<uint64_t>(chain.writable.size(), sizeof(scratch));
        (void)chain.writable.write(*mem, chain.writable.size() - w, std::span(scratch, w));
        (void)chain.writable.iovecs(*mem, 0, chain.writable.size());
        if (!q.add_used(*mem, chain.head, static_cast<uint32_t>(w))) break;
        (void)q.should_interrupt(*mem);
    }
    return 0;
}
