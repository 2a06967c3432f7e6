/// The page walk for 32-bit, PAE and 4-level paging (SDM Vol. 3A 4.3, 4.4, 4.5): access rights
/// (4.6), #PF error codes (4.7) and the A/D updates (4.8). The TLB that caches its results is
/// mmu/mmu.cpp; emu::Cpu::translate (mmu/paging.cpp) raises the #PF it reports.
#include "emu/mmu/mmu.h"

#include "hv/cpu_state.h"
#include "memory/guest_memory.h"

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
constexpr uint32_t kPfP = 1, kPfW = 2, kPfU = 4, kPfRsvd = 8, kPfId = 16, kPfPk = 32;
/// Bits 62:59 of a paging-structure entry that maps a page: its protection key with IA-32e
/// paging (SDM Vol. 3A 4.5, 4.6.2).
constexpr unsigned kPkeyShift = 59;

/// What protection keys allow a data access to a page (SDM Vol. 3A 4.6.2): with CR4.PKE the
/// key of a user-mode page indexes PKRU, with CR4.PKS that of a supervisor-mode page IA32_PKRS
/// (both: AD at bit 2k, WD at bit 2k+1). AD forbids every data access; WD forbids writes by
/// user-mode accesses, and by supervisor-mode ones when CR0.WP = 1. Only IA-32e paging has keys.
struct KeyRights {
    bool read = true, write = true;
};

KeyRights key_rights(const PagingRegs& regs, uint64_t final_entry, bool user_page, bool user_access) {
    KeyRights k;
    if (!regs.long_mode) return k;
    uint32_t keys = 0;
    if (user_page && (regs.cr4 & hv::kCr4Pke)) keys = regs.pkru;
    else if (!user_page && (regs.cr4 & hv::kCr4Pks)) keys = regs.pkrs;
    else return k;
    const unsigned key = static_cast<unsigned>((final_entry >> kPkeyShift) & 15);
    const bool ad = (keys >> (2 * key)) & 1, wd = (keys >> (2 * key + 1)) & 1;
    k.read = !ad;
    k.write = !ad && !(wd && (user_access || (regs.cr0 & hv::kCr0Wp)));
    return k;
}

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

/// One page walk before any side effect: the translation (Mmu's PageWalk) with the entries to
/// mark accessed/dirty.
struct WalkResult : PageWalk {
    EntryRef refs[4] = {EntryRef(), EntryRef(), EntryRef(), EntryRef()};
    int nrefs = 0;
};

/// Walks the guest's page tables for `la` (SDM Vol. 3A 4.3-4.6). Reads only: A/D bits, the TLB
/// and CR2 are left to the caller, so a debugger-style lookup can use it too.
WalkResult walk_page_tables(const memory::GuestMemory& mem, const PagingRegs& regs, uint64_t la, Access acc,
                            bool user_access) {
    const uint64_t cr0 = regs.cr0, cr3 = regs.cr3, cr4 = regs.cr4, efer = regs.efer;
    const bool long_mode = regs.long_mode;
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

    // Protection keys (4.6.2) decide data accesses; instruction fetches are never subject to
    // them. The PK bit of a #PF (4.7) says the key forbids the access, whatever else does too.
    const KeyRights keys = key_rights(regs, final_entry, w.user, user_access);
    const bool key_blocks = acc != Access::Exec && !(write ? keys.write : keys.read);
    if (key_blocks) err |= kPfPk;
    // Access rights (SDM Vol. 3A 4.6): supervisor writes honour CR0.WP; no SMEP (not in CPUID).
    if (user_access && !w.user) return fault(err | kPfP);
    if (write && !w.writable && (user_access || (cr0 & hv::kCr0Wp))) return fault(err | kPfP);
    if (acc == Access::Exec && w.nx) return fault(err | kPfP);
    // SMAP (4.6.1): a supervisor-mode data access to a user-mode page faults unless CPL < 3 and
    // EFLAGS.AC = 1 (an implicit access at CPL 3 never has that override); fetches are SMEP's.
    // What a fetch fills below keeps the data rights this walk found, so the TLB never grants a
    // read or write the walk would refuse.
    const bool smap_blocks = !user_access && w.user && (cr4 & hv::kCr4Smap) && !regs.smap_ac;
    if ((acc != Access::Exec && smap_blocks) || key_blocks) return fault(err | kPfP);

    const bool dirty = write || (final_entry & kDirty);
    r.ok = true;
    r.gpa = w.gpa;
    r.readable = !smap_blocks && keys.read;
    r.can_write = (w.writable || (!user_access && !(cr0 & hv::kCr0Wp))) && dirty && !smap_blocks && keys.write;
    r.executable = !w.nx;
    r.global = (final_entry & kGlobal) && (cr4 & hv::kCr4Pge);
    return r;
}

}  // namespace

PageWalk Mmu::walk(const memory::GuestMemory& mem, const PagingRegs& regs, uint64_t la, Access acc,
                   bool user_access, bool set_accessed) {
    WalkResult w = walk_page_tables(mem, regs, la, acc, user_access);
    if (w.ok && set_accessed) {
        const bool write = acc == Access::Write;
        for (int i = 0; i < w.nrefs; ++i) {
            uint64_t bits = kAccessed | ((write && i == w.nrefs - 1) ? kDirty : 0);
            if ((w.refs[i].load() & bits) != bits) w.refs[i].set_bits(bits);
        }
    }
    return w;   // sliced to the PageWalk
}

}  // namespace popek::emu
