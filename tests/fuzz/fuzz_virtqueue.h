// Layout of a fuzz input for fuzz_virtqueue.cpp, shared with the replay driver's seeds.
// Byte 0: control (bits 0-2: queue size 2 << n; bit 4: INDIRECT_DESC; bit 5: EVENT_IDX);
// byte 1: chains to pop; the rest is guest RAM from address 0: the descriptor table, then the
// available ring, then the used ring, packed so that short inputs reach the parser.
#pragma once
#include <cstdint>

struct FuzzQueueLayout {
    uint16_t size;
    uint64_t desc, avail, used;
};

inline FuzzQueueLayout fuzz_queue_layout(uint8_t control) {
    auto size = static_cast<uint16_t>(2u << (control & 7));   // 2..256
    uint64_t avail = 16ull * size;
    uint64_t used = (avail + 6 + 2ull * size + 3) & ~uint64_t{3};
    return {size, 0, avail, used};
}
