#include "emu/engine_shared.h"

namespace popek::emu {

CodePageMap::CodePageMap(const memory::GuestMemory& mem) {
    auto regions = mem.regions();
    m_ranges = std::make_unique<Range[]>(regions.size());
    for (const memory::Region& r : regions) {
        Range& range = m_ranges[m_count++];
        range.base = r.base;
        range.pages = (r.size + 4095) / 4096;
        range.code = std::make_unique<std::atomic<uint8_t>[]>(range.pages);
        range.gen = std::make_unique<std::atomic<uint32_t>[]>(range.pages);
    }
}

const CodePageMap::Range* CodePageMap::find(uint64_t gpa) const {
    for (size_t i = 0; i < m_count; ++i) {
        const Range& r = m_ranges[i];
        if (gpa >= r.base && (gpa - r.base) / 4096 < r.pages) return &r;
    }
    return nullptr;
}

std::atomic<uint32_t>* CodePageMap::generation(uint64_t gpa) {
    const Range* r = find(gpa);
    return r ? &r->gen[(gpa - r->base) / 4096] : nullptr;
}

bool CodePageMap::is_code(uint64_t gpa) const {
    const Range* r = find(gpa);
    return r && r->code[(gpa - r->base) / 4096].load(std::memory_order_relaxed) != 0;
}

bool CodePageMap::mark_code(uint64_t gpa) {
    const Range* r = find(gpa);
    if (!r) return false;
    if (r->code[(gpa - r->base) / 4096].exchange(1, std::memory_order_acq_rel) != 0) return false;
    m_epoch.fetch_add(1, std::memory_order_acq_rel);
    return true;
}

void CodePageMap::invalidate(uint64_t gpa) {
    const Range* r = find(gpa);
    if (!r) return;
    size_t page = (gpa - r->base) / 4096;
    r->gen[page].fetch_add(1, std::memory_order_acq_rel);
    r->code[page].store(0, std::memory_order_release);
}

}  // namespace popek::emu
