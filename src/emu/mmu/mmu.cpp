/// The software TLB (emu/mmu/mmu.h): lookup with way promotion, fill, the invalidations of
/// SDM Vol. 3A 4.10.4 and the map generation that cross-page chain slots compare.
#include "emu/mmu/mmu.h"

#include "hv/cpu_state.h"

#include <utility>

namespace popek::emu {
namespace {

/// True when way `w` of set `i` caches the page of tag `tag` for any kind of access.
bool holds(const TlbTable& t, int w, unsigned i, uint64_t tag) {
    return t.read[w][i] == tag || t.write[w][i] == tag || t.exec[w][i] == tag;
}

void invalidate(TlbTable& t, int w, unsigned i) { t.read[w][i] = t.write[w][i] = t.exec[w][i] = kTlbInvalid; }

/// Way `from` of set `i` into way `to` (way 1 is the displaced way 0, or the other way round).
void copy_way(TlbTable& t, unsigned i, int from, int to) {
    t.read[to][i] = t.read[from][i];
    t.write[to][i] = t.write[from][i];
    t.exec[to][i] = t.exec[from][i];
    t.addend[to][i] = t.addend[from][i];
    t.gpa_page[to][i] = t.gpa_page[from][i];
}

void swap_ways(TlbTable& t, unsigned i) {
    std::swap(t.read[0][i], t.read[1][i]);
    std::swap(t.write[0][i], t.write[1][i]);
    std::swap(t.exec[0][i], t.exec[1][i]);
    std::swap(t.addend[0][i], t.addend[1][i]);
    std::swap(t.gpa_page[0][i], t.gpa_page[1][i]);
}

}  // namespace

std::optional<uint64_t> Mmu::lookup(uint64_t la, Access acc, TlbClass cls) {
    TlbTable& t = m_tlb[cls];
    const unsigned i = tlb_set(la);
    const uint64_t tag = tlb_tag(la);
    for (int w = 0; w < 2; ++w) {
        const uint64_t have = acc == Access::Read ? t.read[w][i] : acc == Access::Write ? t.write[w][i] : t.exec[w][i];
        if (have != tag) continue;
        const uint64_t gpa = (t.gpa_page[w][i] & ~0xfffULL) | (la & 0xfff);
        if (w == 1) swap_ways(t, i);   // most recently used in way 0
        return gpa;
    }
    return std::nullopt;
}

int Mmu::find(uint64_t la, TlbClass cls) const {
    const TlbTable& t = m_tlb[cls];
    for (int w = 0; w < 2; ++w)
        if (holds(t, w, tlb_set(la), tlb_tag(la))) return w;
    return -1;
}

bool Mmu::global(uint64_t la, TlbClass cls) const {
    const int w = find(la, cls);
    const TlbTable& t = m_tlb[cls];
    return w >= 0 && t.exec[w][tlb_set(la)] == tlb_tag(la) && (t.gpa_page[w][tlb_set(la)] & kTlbGlobalBit);
}

void Mmu::fill(uint64_t la, uint64_t gpa, TlbClass cls, uint8_t* host, bool readable, bool writable,
               bool executable, bool global, unsigned page_shift) {
    TlbTable& t = m_tlb[cls];
    const unsigned i = tlb_set(la);
    const uint64_t page = la & ~0xfffULL, tag = tlb_tag(la);
    // A refill of way 0's page replaces it in place; any other page pushes way 0 into way 1
    // (dropping way 1, which may be this page with fewer rights: a page stays in one way).
    if (!holds(t, 0, i, tag)) copy_way(t, i, 0, 1);
    if (!host) {
        invalidate(t, 0, i);
        return;
    }
    t.gpa_page[0][i] = (gpa & ~0xfffULL) | (global ? kTlbGlobalBit : 0) | (uint64_t{page_shift} << kTlbShiftPos);
    if (page_shift > 12) {
        m_has_large = true;
        if (page_shift >= 30) {
            m_large_1g.set((la >> 30) & 4095);
        } else {   // 2 MiB, or a 4 MiB page of 32-bit paging: both of its 2 MiB halves
            m_large_2m.set((la >> 21) & 4095);
            if (page_shift == 22) m_large_2m.set(((la >> 21) ^ 1) & 4095);
        }
    }
    t.addend[0][i] = reinterpret_cast<uintptr_t>(host) - page;
    t.read[0][i] = readable ? tag : kTlbInvalid;
    t.exec[0][i] = executable ? tag : kTlbInvalid;
    t.write[0][i] = writable ? tag : kTlbInvalid;
}

void Mmu::flush_all() {
    for (TlbTable& t : m_tlb)
        for (int w = 0; w < 2; ++w)
            for (unsigned i = 0; i < kTlbSize; ++i) invalidate(t, w, i);
    m_has_large = false;
    m_large_2m.reset();
    m_large_1g.reset();
    new_map_gen();
}

void Mmu::flush_non_global() {
    // MOV to CR3 keeps global translations (SDM Vol. 3A 4.10.4.1).
    for (TlbTable& t : m_tlb)
        for (int w = 0; w < 2; ++w)
            for (unsigned i = 0; i < kTlbSize; ++i)
                if (!(t.gpa_page[w][i] & kTlbGlobalBit)) invalidate(t, w, i);
    ++m_map_gen;   // links through global pages stay, so do the pages noted for INVLPG
}

void Mmu::drop_writes() {
    for (TlbTable& t : m_tlb)
        for (auto& way : t.write)
            for (uint64_t& tag : way) tag = kTlbInvalid;
}

bool Mmu::flush_page(uint64_t la) {
    // INVLPG (SDM Vol. 3A 4.10.4.1): the page's translations, global or not, in every privilege
    // class. Large pages are cached as 4 KiB entries: any entry whose large page holds `la`
    // goes too.
    bool large_hit = false;
    if (may_be_linked(la)) new_map_gen();
    for (TlbTable& t : m_tlb) {
        for (int w = 0; w < 2; ++w)
            if (holds(t, w, tlb_set(la), tlb_tag(la))) invalidate(t, w, tlb_set(la));
        if (!m_has_large || !large_region(la)) continue;
        for (int w = 0; w < 2; ++w)
            for (unsigned i = 0; i < kTlbSize; ++i) {
                const unsigned shift = static_cast<unsigned>((t.gpa_page[w][i] >> kTlbShiftPos) & 63);
                const uint64_t tag = t.read[w][i];
                if (shift > 12 && tag != kTlbInvalid && ((tlb_page(tag) ^ la) >> shift) == 0) {
                    invalidate(t, w, i);
                    large_hit = true;
                }
            }
    }
    if (large_hit) new_map_gen();   // any page of the large page: maybe a linked one
    return large_hit;
}

bool Mmu::note_linked(uint64_t la, TlbClass cls, const memory::GuestMemory& mem, const PagingRegs& regs) {
    const int way = find(la, cls);
    const TlbTable& t = m_tlb[cls];
    unsigned shift = 64;   // not known: every INVLPG may touch it
    bool global = false;
    if (way >= 0 && t.exec[way][tlb_set(la)] == tlb_tag(la)) {
        const uint64_t gpa_page = t.gpa_page[way][tlb_set(la)];
        shift = static_cast<unsigned>((gpa_page >> kTlbShiftPos) & 63);
        global = (gpa_page & kTlbGlobalBit) != 0;
    } else if (!(regs.cr0 & hv::kCr0Pg)) {
        shift = 12;
    } else {
        // Found through the jump cache, which skips the TLB: the page tables say what maps it now.
        // The 4 KiB page is noted as well, in case the translation the code ran under was smaller.
        const PageWalk w = walk(mem, regs, la, Access::Exec, cls == kTlbUser, false);
        if (w.ok) {
            shift = w.page_shift;
            global = w.global;
            m_linked_4k.set((la >> 12) & 4095);
        }
    }
    if (shift <= 12) m_linked_4k.set((la >> 12) & 4095);
    else if (shift <= 21) m_linked_2m.set((la >> 21) & 4095);
    else m_linked_huge = true;   // a 1 GiB page, or a walk that failed
    return global;
}

}  // namespace popek::emu
