/// Linear -> guest-physical translation: the page walk for 32-bit, PAE and 4-level paging
/// (SDM Vol. 3A 4.3, 4.4, 4.5), A/D updates (4.8), access rights (4.6), #PF error codes (4.7),
/// and the software TLB that caches the result with a host pointer for RAM pages.
#include <atomic>
#include <utility>

#include "emu/cpu.h"
#include "emu/decode/block_cache.h"

namespace popek::emu {
namespace {

constexpr uint64_t kPresent = 1, kWritable = 2, kUser = 4, kAccessed = 0x20, kDirty = 0x40, kLarge = 0x80,
                   kGlobal = 0x100;
constexpr uint64_t kNx = 1ULL << 63;
/// Physical address width reported in CPUID 0x80000008 (bits above are reserved in entries).
constexpr unsigned kMaxPhysBits = 40;
constexpr uint64_t kAddrMask = ((1ULL << kMaxPhysBits) - 1) & ~0xfffULL;
constexpr uint64_t kRsvdHigh = ((1ULL << 52) - 1) & ~((1ULL << kMaxPhysBits) - 1);

// #PF error code bits (SDM Vol. 3A 4.7).
constexpr uint32_t kPfP = 1, kPfW = 2, kPfU = 4, kPfRsvd = 8, kPfId = 16;

struct Walk {
    uint64_t gpa = 0;
    bool writable = true, user = true, nx = false;
};

/// A page-table entry in guest RAM (entries outside RAM read as not present).
class EntryRef {
public:
    EntryRef() : m_ptr(nullptr), m_wide(true) {}
    EntryRef(const memory::GuestMemory& mem, uint64_t gpa, bool wide) : m_wide(wide) {
        m_ptr = mem.host_ptr(gpa, wide ? 8 : 4);
    }
    uint64_t load() const {
        if (!m_ptr) return 0;
        if (m_wide) return __atomic_load_n(reinterpret_cast<uint64_t*>(m_ptr), __ATOMIC_RELAXED);
        return __atomic_load_n(reinterpret_cast<uint32_t*>(m_ptr), __ATOMIC_RELAXED);
    }
    /// Sets A (and D) atomically: other vCPUs may update the same entry (SDM Vol. 3A 4.8).
    void set_bits(uint64_t bits) const {
        if (!m_ptr) return;
        if (m_wide) __atomic_fetch_or(reinterpret_cast<uint64_t*>(m_ptr), bits, __ATOMIC_RELAXED);
        else __atomic_fetch_or(reinterpret_cast<uint32_t*>(m_ptr), static_cast<uint32_t>(bits), __ATOMIC_RELAXED);
    }

private:
    uint8_t* m_ptr;
    bool m_wide;
};

/// The outcome of one page walk, before any side effect: either the translation with the
/// entries to mark accessed/dirty, or the #PF error code (SDM Vol. 3A 4.7).
struct WalkResult {
    bool ok = false;
    uint32_t error = 0;
    uint64_t gpa = 0;
    bool can_write = false, executable = true;
    bool global = false;      ///< G bit of the final entry with CR4.PGE (SDM Vol. 3A 4.10.2.4)
    unsigned page_shift = 12; ///< size of the page mapped: 12, 21 (2 MiB), 22 (4 MiB) or 30 (1 GiB)
    EntryRef refs[4] = {EntryRef(), EntryRef(), EntryRef(), EntryRef()};
    int nrefs = 0;
};

/// Walks the guest's page tables for `la` (SDM Vol. 3A 4.3-4.6). Reads only: A/D bits, the TLB
/// and CR2 are left to the caller, so a debugger-style lookup can use it too.
WalkResult walk_page_tables(const memory::GuestMemory& mem, uint64_t la, Access acc, bool user_access,
                            uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer, bool long_mode) {
    WalkResult r;
    const bool write = acc == Access::Write;
    const bool nxe = (efer & hv::kEferNxe) != 0;
    uint32_t err = (write ? kPfW : 0) | (user_access ? kPfU : 0);
    if (acc == Access::Exec && nxe && (cr4 & hv::kCr4Pae)) err |= kPfId;
    auto fault = [&](uint32_t e) {
        r.ok = false;
        r.error = e;
        return r;
    };

    Walk w;
    uint64_t final_entry = 0;
    auto rsvd_set = [&](uint64_t entry, uint64_t extra) {
        uint64_t rsvd = kRsvdHigh | extra | (nxe ? 0 : kNx);
        return (entry & rsvd) != 0;
    };

    if (!(cr4 & hv::kCr4Pae)) {
        // 32-bit paging (SDM Vol. 3A 4.3), 4 MiB pages with CR4.PSE.
        uint64_t la32 = la & 0xffffffffULL;
        EntryRef pde_ref(mem, (cr3 & 0xfffff000ULL) + ((la32 >> 22) & 0x3ff) * 4, false);
        uint64_t pde = pde_ref.load();
        if (!(pde & kPresent)) return fault(err);
        r.refs[r.nrefs++] = pde_ref;
        w.writable = pde & kWritable;
        w.user = pde & kUser;
        if ((pde & kLarge) && (cr4 & hv::kCr4Pse)) {
            w.gpa = (pde & 0xffc00000ULL) | ((pde & 0x1fe000ULL) << 19) | (la32 & 0x3fffff);
            final_entry = pde;
            r.page_shift = 22;
        } else {
            EntryRef pte_ref(mem, (pde & 0xfffff000ULL) + ((la32 >> 12) & 0x3ff) * 4, false);
            uint64_t pte = pte_ref.load();
            if (!(pte & kPresent)) return fault(err);
            r.refs[r.nrefs++] = pte_ref;
            w.writable = w.writable && (pte & kWritable);
            w.user = w.user && (pte & kUser);
            w.gpa = (pte & 0xfffff000ULL) | (la32 & 0xfff);
            final_entry = pte;
        }
    } else {
        int levels = long_mode ? 4 : 3;
        uint64_t table = long_mode ? (cr3 & kAddrMask) : (cr3 & 0xffffffe0ULL);
        for (int level = levels; level >= 1; --level) {
            unsigned shift = 12 + 9 * static_cast<unsigned>(level - 1);
            uint64_t idx = (la >> shift) & (level == 3 && !long_mode ? 3 : 0x1ff);
            EntryRef ref(mem, table + idx * 8, true);
            uint64_t entry = ref.load();
            if (!(entry & kPresent)) return fault(err);
            if (level == 3 && !long_mode) {
                // PAE PDPTE: no R/W, U/S, NX bits (SDM Vol. 3A table 4-8).
                if (rsvd_set(entry, 0x1e6 | kNx)) return fault(err | kPfP | kPfRsvd);
                table = entry & kAddrMask;
                continue;
            }
            r.refs[r.nrefs++] = ref;
            w.writable = w.writable && (entry & kWritable);
            w.user = w.user && (entry & kUser);
            w.nx = w.nx || (nxe && (entry & kNx));
            bool large = (entry & kLarge) && (level == 2 || level == 3);
            uint64_t extra = level == 4 ? kLarge : large ? (((1ULL << shift) - 1) & ~0x1fffULL) : 0;
            if (rsvd_set(entry, extra)) return fault(err | kPfP | kPfRsvd);
            if (large || level == 1) {
                uint64_t mask = (1ULL << shift) - 1;
                w.gpa = (entry & kAddrMask & ~mask) | (la & mask);
                final_entry = entry;
                r.page_shift = shift;
                break;
            }
            table = entry & kAddrMask;
        }
    }

    // Access rights (SDM Vol. 3A 4.6): supervisor writes honour CR0.WP; no SMEP/SMAP (not in CPUID).
    if (user_access && !w.user) return fault(err | kPfP);
    if (write && !w.writable && (user_access || (cr0 & hv::kCr0Wp))) return fault(err | kPfP);
    if (acc == Access::Exec && w.nx) return fault(err | kPfP);

    const bool dirty = write || (final_entry & kDirty);
    r.ok = true;
    r.gpa = w.gpa;
    r.can_write = (w.writable || (!user_access && !(cr0 & hv::kCr0Wp))) && dirty;
    r.executable = !w.nx;
    r.global = (final_entry & kGlobal) && (cr4 & hv::kCr4Pge);
    return r;
}

/// True when `e` caches `page` for any kind of access.
bool holds_page(const TlbEntry& e, uint64_t page) {
    return e.read_tag == page || e.write_tag == page || e.exec_tag == page;
}

}  // namespace

[[noreturn]] void Cpu::page_fault(uint64_t la, uint32_t err) {
    cr2 = la;
    raise(kPfv, err);
}

uint64_t Cpu::translate(uint64_t la, Access acc, bool supervisor) {
    const bool user_access = !supervisor && cpl == 3;
    TlbSet& set = tlb_set(la, user_access);
    const uint64_t page = la & ~0xfffULL;
    for (int w = 0; w < 2; ++w) {
        const TlbEntry& e = set.way[w];
        const uint64_t tag = acc == Access::Read ? e.read_tag : acc == Access::Write ? e.write_tag : e.exec_tag;
        if (tag != page) continue;
        const uint64_t gpa = (e.gpa_page & ~0xfffULL) | (la & 0xfff);
        if (w == 1) std::swap(set.way[0], set.way[1]);   // most recently used in way 0
        return gpa;
    }

    if (!(cr0 & hv::kCr0Pg)) {
        uint64_t gpa = long_mode ? la : (la & 0xffffffffULL);
        fill_tlb(la, gpa, user_access, true, true, true, false, 12);
        return gpa;
    }
    WalkResult w = walk_page_tables(m_shared.mem, la, acc, user_access, cr0, cr3, cr4, efer, long_mode);
    if (!w.ok) page_fault(la, w.error);
    const bool write = acc == Access::Write;
    for (int i = 0; i < w.nrefs; ++i) {
        uint64_t bits = kAccessed | ((write && i == w.nrefs - 1) ? kDirty : 0);
        if ((w.refs[i].load() & bits) != bits) w.refs[i].set_bits(bits);
    }
    fill_tlb(la, w.gpa, user_access, true, w.can_write, w.executable, w.global, w.page_shift);
    return w.gpa;
}

std::optional<uint64_t> Cpu::probe_translate(uint64_t la, Access acc, bool supervisor, uint32_t* pf_error) const {
    const bool user_access = !supervisor && cpl == 3;
    if (!(cr0 & hv::kCr0Pg)) return long_mode ? la : (la & 0xffffffffULL);
    WalkResult w = walk_page_tables(m_shared.mem, la, acc, user_access, cr0, cr3, cr4, efer, long_mode);
    if (!w.ok) {
        if (pf_error) *pf_error = w.error;
        return std::nullopt;
    }
    return w.gpa;
}

void Cpu::fill_tlb(uint64_t la, uint64_t gpa, bool user_tlb, bool readable, bool writable, bool executable,
                   bool global, unsigned page_shift) {
    TlbSet& set = tlb_set(la, user_tlb);
    uint64_t gpa_page = gpa & ~0xfffULL;
    uint8_t* host = m_shared.mem.host_ptr(gpa_page, 4096);
    const uint64_t page = la & ~0xfffULL;
    // A refill of way 0's page replaces it in place; any other page pushes way 0 into way 1
    // (dropping way 1, which may be this page with fewer rights: a page stays in one way).
    if (!holds_page(set.way[0], page)) set.way[1] = set.way[0];
    TlbEntry& e = set.way[0];
    // The APIC page overlays RAM when enabled (SDM Vol. 3A 10.4.1): never map it directly.
    bool apic = apic_page(gpa_page);
    // A watched page (emu/debug_regs.cpp) is never mapped: its accesses take the checked path.
    if (!host || apic || (m_watch_armed && watched_page(la))) {
        e.read_tag = e.write_tag = e.exec_tag = kTlbInvalid;
        return;
    }
    e.gpa_page = gpa_page | (global ? kTlbGlobalBit : 0) | (uint64_t{page_shift} << kTlbShiftPos);
    if (page_shift > 12) m_tlb_has_large = true;
    e.addend = reinterpret_cast<uintptr_t>(host) - page;
    e.read_tag = readable ? page : kTlbInvalid;
    e.exec_tag = executable ? page : kTlbInvalid;
    e.write_tag = (writable && !m_shared.code.is_code(gpa_page)) ? page : kTlbInvalid;
}

void Cpu::flush_tlb() {
    for (auto& t : m_tlb)
        for (auto& s : t)
            for (auto& e : s.way) e.read_tag = e.write_tag = e.exec_tag = kTlbInvalid;
    m_tlb_has_large = false;
    new_map_gen();
    attention.store(true, std::memory_order_relaxed);   // the executor drops its jump cache
    m_flush_jump_cache = true;
}

void Cpu::flush_tlb_non_global() {
    // MOV to CR3 keeps global translations (SDM Vol. 3A 4.10.4.1); the jump cache keeps the
    // blocks it found through global pages (BlockCache::new_address_space).
    for (auto& t : m_tlb)
        for (auto& s : t)
            for (auto& e : s.way)
                if (!(e.gpa_page & kTlbGlobalBit)) e.read_tag = e.write_tag = e.exec_tag = kTlbInvalid;
    ++m_map_gen;   // links through global pages stay, so do the pages noted for INVLPG
    m_cache->new_address_space();
}

void Cpu::drop_write_mappings() {
    for (auto& t : m_tlb)
        for (auto& s : t)
            for (auto& e : s.way) e.write_tag = kTlbInvalid;
    m_code_epoch_seen = m_shared.code.code_epoch();
}

void Cpu::flush_tlb_page(uint64_t la) {
    // INVLPG (SDM Vol. 3A 4.10.4.1): the page's translations, global or not, in both privilege
    // classes. Large pages are cached as 4 KiB entries: any entry whose large page holds `la`
    // goes too, and then the jump cache cannot tell which of its pages were affected.
    const uint64_t page = la & ~0xfffULL;
    bool large_hit = false;
    if (may_be_linked(la)) new_map_gen();
    for (auto& t : m_tlb) {
        for (TlbEntry& e : t[(la >> 12) & (kTlbSize - 1)].way)
            if (holds_page(e, page)) e.read_tag = e.write_tag = e.exec_tag = kTlbInvalid;
        if (!m_tlb_has_large) continue;
        for (TlbSet& s : t)
            for (TlbEntry& x : s.way) {
                const unsigned shift = static_cast<unsigned>((x.gpa_page >> kTlbShiftPos) & 63);
                if (shift > 12 && x.read_tag != kTlbInvalid && ((x.read_tag ^ la) >> shift) == 0) {
                    x.read_tag = x.write_tag = x.exec_tag = kTlbInvalid;
                    large_hit = true;
                }
            }
    }
    if (large_hit) {   // any page of the large page: maybe a linked one
        new_map_gen();
        attention.store(true, std::memory_order_relaxed);
        m_flush_jump_cache = true;
    } else {
        m_cache->flush_jump_page(la);
    }
}

const TlbEntry* Cpu::tlb_find(uint64_t la, bool user) const {
    for (const TlbEntry& e : tlb_set(la, user).way)
        if (holds_page(e, la & ~0xfffULL)) return &e;
    return nullptr;
}

bool Cpu::note_linked(uint64_t la) {
    const TlbEntry* f = tlb_find(la, cpl == 3);
    unsigned shift = 64;   // not known: every INVLPG may touch it
    bool global = false;
    if (f != nullptr && f->exec_tag == (la & ~0xfffULL)) {
        shift = static_cast<unsigned>((f->gpa_page >> kTlbShiftPos) & 63);
        global = (f->gpa_page & kTlbGlobalBit) != 0;
    } else if (!(cr0 & hv::kCr0Pg)) {
        shift = 12;
    } else {
        // Found through the jump cache, which skips the TLB: the page tables say what maps it now.
        // The 4 KiB page is noted as well, in case the translation the code ran under was smaller.
        const WalkResult w = walk_page_tables(m_shared.mem, la, Access::Exec, cpl == 3, cr0, cr3, cr4, efer, long_mode);
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

bool Cpu::tlb_global(uint64_t la, bool user) const {
    const TlbEntry* e = tlb_find(la, user);
    return e != nullptr && e->exec_tag == (la & ~0xfffULL) && (e->gpa_page & kTlbGlobalBit);
}

}  // namespace popek::emu
