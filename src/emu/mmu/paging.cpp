/// Linear -> guest-physical translation for the CPU: the software TLB and the page walk
/// (emu/mmu/mmu.h) with what only the CPU knows: CR2 and #PF (SDM Vol. 3A 4.7), what a page may
/// be mapped as, and the decoded-block caches that follow the TLB's invalidations (4.10.4).
#include "emu/cpu.h"
#include "emu/decode/block_cache.h"

namespace popek::emu {

[[noreturn]] void Cpu::page_fault(uint64_t la, uint32_t err) {
    cr2 = la;
    raise(kPfv, err);
}

uint64_t Cpu::translate(uint64_t la, Access acc, bool supervisor) {
    // An implicit supervisor access at CPL 3 (SDM Vol. 3A 4.6) is looked up, walked and cached
    // in the supervisor class that enforces SMAP; every other access in the current class.
    const bool implicit = supervisor && cpl == 3;
    const TlbClass cls = implicit ? kTlbSup : tlb_class();
    if (std::optional<uint64_t> gpa = m_mmu.lookup(la, acc, cls)) return *gpa;
    if (!(cr0 & hv::kCr0Pg)) {
        uint64_t gpa = long_mode ? la : (la & 0xffffffffULL);
        fill_tlb(la, gpa, cls, true, true, true, false, 12);
        return gpa;
    }
    // (paging_regs().smap_ac is false at CPL 3: an implicit access there has no AC override.)
    const PageWalk w = Mmu::walk(m_shared.mem, paging_regs(), la, acc, cls == kTlbUser, true);
    if (!w.ok) page_fault(la, w.error);
    fill_tlb(la, w.gpa, cls, w.readable, w.can_write, w.executable, w.global, w.page_shift);
    return w.gpa;
}

std::optional<uint64_t> Cpu::probe_translate(uint64_t la, Access acc, bool supervisor, uint32_t* pf_error) const {
    const bool user_access = !supervisor && cpl == 3;
    if (!(cr0 & hv::kCr0Pg)) return long_mode ? la : (la & 0xffffffffULL);
    const PageWalk w = Mmu::walk(m_shared.mem, paging_regs(), la, acc, user_access, false);
    if (!w.ok) {
        if (pf_error) *pf_error = w.error;
        return std::nullopt;
    }
    return w.gpa;
}

void Cpu::fill_tlb(uint64_t la, uint64_t gpa, TlbClass cls, bool readable, bool writable, bool executable,
                   bool global, unsigned page_shift) {
    const uint64_t gpa_page = gpa & ~0xfffULL;
    uint8_t* host = m_shared.mem.host_ptr(gpa_page, 4096);
    // The APIC page overlays RAM when enabled (SDM Vol. 3A 10.4.1): never map it directly.
    // A watched page (emu/debug_regs.cpp) is never mapped: its accesses take the checked path.
    if (apic_page(gpa_page) || (m_debug.watch_armed && watched_page(la))) host = nullptr;
    // A code page is never mapped for writes: they must reach check_code_write.
    const bool map_writes = writable && host && !m_shared.code.is_code(gpa_page);
    m_mmu.fill(la, gpa_page, cls, host, readable, map_writes, executable, global, page_shift);
}

void Cpu::flush_tlb() {
    m_mmu.flush_all();
    attention.store(true, std::memory_order_relaxed);   // the executor drops its jump cache
    m_flush_jump_cache = true;
}

void Cpu::flush_tlb_non_global() {
    // The jump cache keeps the blocks it found through global pages (BlockCache::new_address_space).
    m_mmu.flush_non_global();
    m_cache->new_address_space();
}

void Cpu::drop_write_mappings() {
    m_mmu.drop_writes();
    m_code_epoch_seen = m_shared.code.code_epoch();
}

void Cpu::flush_tlb_page(uint64_t la) {
    if (m_mmu.flush_page(la)) {
        // A large page went: the jump cache cannot tell which of its pages were affected.
        attention.store(true, std::memory_order_relaxed);
        m_flush_jump_cache = true;
    } else {
        m_cache->flush_jump_page(la);
    }
}

bool Cpu::tlb_global(uint64_t la, TlbClass cls) const { return m_mmu.global(la, cls); }

}  // namespace popek::emu
