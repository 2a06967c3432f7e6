#include "mm/pmm.h"

#include "common/string.h"
#include "lib/spinlock.h"

namespace pos::pmm {
namespace {

struct Range {
    uint64_t base, end;
};

constexpr int kMaxRanges = 32;
Range g_free[kMaxRanges];     // not yet handed out (bump allocation from the front)
int g_free_count = 0;
Range g_reserved[kMaxRanges];
int g_reserved_count = 0;
uint64_t g_free_list = 0;     // frames given back: a LIFO chained through their first word
size_t g_free_frames = 0, g_total_frames = 0;
Spinlock g_lock;

uint64_t align_up(uint64_t v) { return (v + kPageSize - 1) & ~(kPageSize - 1); }
uint64_t align_down(uint64_t v) { return v & ~(kPageSize - 1); }

void add_free(uint64_t base, uint64_t end) {
    if (base >= end || g_free_count == kMaxRanges) return;
    g_free[g_free_count++] = {base, end};
    g_free_frames += (end - base) / kPageSize;
    g_total_frames += (end - base) / kPageSize;
}

/// Adds [base, end) minus the reserved ranges (splitting recursively around each one).
void add_minus_reserved(uint64_t base, uint64_t end, int from) {
    for (int i = from; i < g_reserved_count && base < end; ++i) {
        const Range& r = g_reserved[i];
        if (r.end <= base || r.base >= end) continue;
        add_minus_reserved(base, r.base > base ? r.base : base, i + 1);
        base = r.end;
    }
    add_free(base, end);
}

}  // namespace

void reserve(uint64_t base, uint64_t size) {
    LockGuard guard(g_lock);
    if (g_reserved_count < kMaxRanges) g_reserved[g_reserved_count++] = {align_down(base), align_up(base + size)};
}

void add_ram(uint64_t base, uint64_t size) {
    LockGuard guard(g_lock);
    uint64_t start = align_up(base < 0x100000 ? 0x100000 : base);
    uint64_t end = align_down(base + size);
    if (end > kDirectMapLimit) end = kDirectMapLimit;
    if (start < end) add_minus_reserved(start, end, 0);
}

uint64_t alloc_frame() {
    LockGuard guard(g_lock);
    if (g_free_list != 0) {
        uint64_t frame = g_free_list;
        g_free_list = *phys_to_virt<uint64_t>(frame);
        --g_free_frames;
        return frame;
    }
    for (int i = 0; i < g_free_count; ++i) {
        if (g_free[i].base < g_free[i].end) {
            uint64_t frame = g_free[i].base;
            g_free[i].base += kPageSize;
            --g_free_frames;
            return frame;
        }
    }
    return 0;
}

uint64_t alloc_zeroed_frame() {
    uint64_t frame = alloc_frame();
    if (frame != 0) memset(phys_to_virt(frame), 0, kPageSize);
    return frame;
}

uint64_t alloc_contiguous(size_t count) {
    LockGuard guard(g_lock);
    for (int i = 0; i < g_free_count; ++i) {
        if ((g_free[i].end - g_free[i].base) / kPageSize >= count) {
            uint64_t base = g_free[i].base;
            g_free[i].base += count * kPageSize;
            g_free_frames -= count;
            return base;
        }
    }
    return 0;
}

void free_frame(uint64_t phys) {
    if (phys == 0) return;
    LockGuard guard(g_lock);
    *phys_to_virt<uint64_t>(phys) = g_free_list;
    g_free_list = phys;
    ++g_free_frames;
}

size_t free_frames() { return g_free_frames; }
size_t total_frames() { return g_total_frames; }

}  // namespace pos::pmm
