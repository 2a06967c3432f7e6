/// The software TLB (emu/mmu/mmu.h): lookup with way promotion, fill, the invalidations of
/// SDM Vol. 3A 4.10.4 and the map generation that cross-page chain slots compare.
#include "emu/mmu/mmu.h"

#include "hv/cpu_state.h"

#include <utility>

namespace popek::emu {
namespace {

/// True when `e` caches `page` for any kind of access.
bool holds_page(const TlbEntry& e, uint64_t page) {
    return e.read_tag == page || e.write_tag == page || e.exec_tag == page;
}

void invalidate(TlbEntry& e) { e.read_tag = e.write_tag = e.exec_tag = kTlbInvalid; }

}  // namespace

std::optional<uint64_t> Mmu::lookup(uint64_t la, Access acc, bool user) {
    TlbSet& s = set(la, user);
    const uint64_t page = la & ~0xfffULL;
    for (int w = 0; w < 2; ++w) {
        const TlbEntry& e = s.way[w];
        const uint64_t tag = acc == Access::Read ? e.read_tag : acc == Access::Write ? e.write_tag : e.exec_tag;
        if (tag != page) continue;
        const uint64_t gpa = (e.gpa_page & ~0xfffULL) | (la & 0xfff);
        if (w == 1) std::swap(s.way[0], s.way[1]);   // most recently used in way 0
        return gpa;
    }
    return std::nullopt;
}

const TlbEntry* Mmu::find(uint64_t la, bool user) const {
    for (const TlbEntry& e : set(la, user).way)
        if (holds_page(e, la & ~0xfffULL)) return &e;
    return nullptr;
}

bool Mmu::global(uint64_t la, bool user) const {
    const TlbEntry* e = find(la, user);
    return e != nullptr && e->exec_tag == (la & ~0xfffULL) && (e->gpa_page & kTlbGlobalBit);
}

void Mmu::fill(uint64_t la, uint64_t gpa, bool user_tlb, uint8_t* host, bool readable, bool writable,
               bool executable, bool global, unsigned page_shift) {
    TlbSet& s = set(la, user_tlb);
    const uint64_t page = la & ~0xfffULL;
    // A refill of way 0's page replaces it in place; any other page pushes way 0 into way 1
    // (dropping way 1, which may be this page with fewer rights: a page stays in one way).
    if (!holds_page(s.way[0], page)) s.way[1] = s.way[0];
    TlbEntry& e = s.way[0];
    if (!host) {
        invalidate(e);
        return;
    }
    e.gpa_page = (gpa & ~0xfffULL) | (global ? kTlbGlobalBit : 0) | (uint64_t{page_shift} << kTlbShiftPos);
    if (page_shift > 12) m_has_large = true;
    e.addend = reinterpret_cast<uintptr_t>(host) - page;
    e.read_tag = readable ? page : kTlbInvalid;
    e.exec_tag = executable ? page : kTlbInvalid;
    e.write_tag = writable ? page : kTlbInvalid;
}

void Mmu::flush_all() {
    for (auto& t : m_tlb)
        for (auto& s : t)
            for (auto& e : s.way) invalidate(e);
    m_has_large = false;
    new_map_gen();
}

void Mmu::flush_non_global() {
    // MOV to CR3 keeps global translations (SDM Vol. 3A 4.10.4.1).
    for (auto& t : m_tlb)
        for (auto& s : t)
            for (auto& e : s.way)
                if (!(e.gpa_page & kTlbGlobalBit)) invalidate(e);
    ++m_map_gen;   // links through global pages stay, so do the pages noted for INVLPG
}

void Mmu::drop_writes() {
    for (auto& t : m_tlb)
        for (auto& s : t)
            for (auto& e : s.way) e.write_tag = kTlbInvalid;
}

bool Mmu::flush_page(uint64_t la) {
    // INVLPG (SDM Vol. 3A 4.10.4.1): the page's translations, global or not, in both privilege
    // classes. Large pages are cached as 4 KiB entries: any entry whose large page holds `la`
    // goes too.
    const uint64_t page = la & ~0xfffULL;
    bool large_hit = false;
    if (may_be_linked(la)) new_map_gen();
    for (auto& t : m_tlb) {
        for (TlbEntry& e : t[(la >> 12) & (kTlbSize - 1)].way)
            if (holds_page(e, page)) invalidate(e);
        if (!m_has_large) continue;
        for (TlbSet& s : t)
            for (TlbEntry& x : s.way) {
                const unsigned shift = static_cast<unsigned>((x.gpa_page >> kTlbShiftPos) & 63);
                if (shift > 12 && x.read_tag != kTlbInvalid && ((x.read_tag ^ la) >> shift) == 0) {
                    invalidate(x);
                    large_hit = true;
                }
            }
    }
    if (large_hit) new_map_gen();   // any page of the large page: maybe a linked one
    return large_hit;
}

bool Mmu::note_linked(uint64_t la, bool user, const memory::GuestMemory& mem, const PagingRegs& regs) {
    const TlbEntry* f = find(la, user);
    unsigned shift = 64;   // not known: every INVLPG may touch it
    bool global = false;
    if (f != nullptr && f->exec_tag == (la & ~0xfffULL)) {
        shift = static_cast<unsigned>((f->gpa_page >> kTlbShiftPos) & 63);
        global = (f->gpa_page & kTlbGlobalBit) != 0;
    } else if (!(regs.cr0 & hv::kCr0Pg)) {
        shift = 12;
    } else {
        // Found through the jump cache, which skips the TLB: the page tables say what maps it now.
        // The 4 KiB page is noted as well, in case the translation the code ran under was smaller.
        const PageWalk w = walk(mem, regs, la, Access::Exec, user, false);
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
