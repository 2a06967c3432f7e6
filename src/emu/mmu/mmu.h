#pragma once
/// The own engine's MMU state for one vCPU: the software TLB that caches linear-to-guest-physical
/// translations with a host pointer for RAM pages, the page walk that fills it (SDM Vol. 3A ch. 4
/// "Paging"), and the map generation that tells translated code (emu/bt/block_chain.cpp) when a
/// cross-page link may lead elsewhere. It knows nothing of segments, devices or exceptions:
/// emu::Cpu owns one, decides what a page may be mapped as (RAM, not the APIC page, not watched,
/// not code for writes) and raises the #PF a failed walk reports.
#include <bitset>
#include <cstdint>
#include <optional>

namespace popek::memory { class GuestMemory; }

namespace popek::emu {

enum class Access : uint8_t { Read, Write, Exec };

inline constexpr uint64_t kTlbInvalid = 1;   ///< no page's tag (see tlb_tag)
inline constexpr uint64_t kTlbGlobalBit = 1;
inline constexpr unsigned kTlbShiftPos = 4;   ///< gpa_page bits 9:4: page size shift (12, 21, 22, 30)
inline constexpr unsigned kTlbSize = 256;   ///< sets per privilege class

/// The privilege classes the software TLB caches translations for. What a data access may do
/// differs between them under SMAP (SDM Vol. 3A 4.6: CR4.SMAP, EFLAGS.AC): a supervisor access
/// reaches a user-mode page only with CPL < 3 and AC = 1, so that case is a class of its own and
/// STAC/CLAC switch classes instead of flushing. Implicit supervisor accesses at CPL 3
/// (descriptor tables, a TSS, an interrupt frame) always use kTlbSup, which enforces SMAP.
enum TlbClass : unsigned {
    kTlbSup = 0,     ///< CPL < 3 (SMAP enforced when CR4.SMAP), or an implicit access at CPL 3
    kTlbUser = 1,    ///< CPL 3
    kTlbSupAc = 2,   ///< CPL < 3 with CR4.SMAP and EFLAGS.AC: SMAP overridden
};
inline constexpr unsigned kTlbClasses = 3;

/// The tag a linear page is cached under: its negated page number, 0 - (la >> 12). Translated
/// code tests a hit as (page number of the access's last byte) + tag == 0, with LEA (no flags
/// written) or ADD; a page-crossing access looks in its first byte's set for its last byte's page,
/// which lives in the next set, so it misses. kTlbInvalid (1) is no page's tag: la >> 12 < 2^52.
constexpr uint64_t tlb_tag(uint64_t la) { return 0 - (la >> 12); }
/// The linear page address a valid tag stands for.
constexpr uint64_t tlb_page(uint64_t tag) { return (0 - tag) << 12; }
/// The set of `la`'s page.
constexpr unsigned tlb_set(uint64_t la) { return static_cast<unsigned>(la >> 12) & (kTlbSize - 1); }

/// One privilege class of the 2-way software TLB, as arrays of [way][set] (translated code
/// indexes every field with the set number scaled by 8, and finds way 1 kTlbWay1 bytes further):
/// a tag per access kind (tlb_tag of the page, or kTlbInvalid), the offset that turns a linear
/// address into a host pointer, and the guest-physical page whose low 12 bits hold what
/// invalidation needs (kTlbGlobalBit, the log2 size of the page the translation came from).
/// Way 0 holds the page filled last, way 1 the one it displaced, so two streams whose pages share
/// a set (arrays a multiple of 1 MiB apart) both stay cached. A page is in at most one way.
struct TlbTable {
    uint64_t read[2][kTlbSize];
    uint64_t write[2][kTlbSize];
    uint64_t exec[2][kTlbSize];
    uintptr_t addend[2][kTlbSize];
    uint64_t gpa_page[2][kTlbSize];
};
inline constexpr int32_t kTlbWay1 = kTlbSize * 8;
static_assert(sizeof(TlbTable::read[0]) == kTlbWay1, "emu/bt/memory_ops.cpp finds way 1 at +kTlbWay1");

/// The registers that select the paging mode and root a walk (SDM Vol. 3A 4.1.1, table 4-1),
/// and those that decide access rights besides the entries (4.6).
struct PagingRegs {
    uint64_t cr0 = 0, cr3 = 0, cr4 = 0, efer = 0;
    bool long_mode = false;   ///< EFER.LMA: 4-level paging
    /// CPL < 3 and EFLAGS.AC: supervisor data accesses may reach user-mode pages under CR4.SMAP
    /// (SDM Vol. 3A 4.6.1). False for implicit supervisor accesses made at CPL 3.
    bool smap_ac = false;
    uint32_t pkru = 0;        ///< PKRU: keys of user-mode pages (SDM Vol. 3A 4.6.2)
    uint32_t pkrs = 0;        ///< IA32_PKRS: keys of supervisor-mode pages
};

/// The outcome of one page walk (SDM Vol. 3A 4.3-4.6): the translation and what the TLB may
/// cache of it, or the #PF error code (4.7).
struct PageWalk {
    bool ok = false;
    uint32_t error = 0;        ///< #PF error code when !ok
    uint64_t gpa = 0;
    bool can_write = false;    ///< writable at this privilege and already dirty (or being written)
    bool readable = true;      ///< data reads allowed (SMAP and protection keys, SDM Vol. 3A 4.6)
    bool executable = true;
    bool global = false;       ///< G bit of the final entry with CR4.PGE (SDM Vol. 3A 4.10.2.4)
    unsigned page_shift = 12;  ///< size of the page mapped: 12, 21 (2 MiB), 22 (4 MiB) or 30 (1 GiB)
};

class Mmu {
public:
    Mmu() { flush_all(); }

    /// Walks the guest's page tables for `la` (mmu/page_walk.cpp). With `set_accessed`, a
    /// successful walk sets the A bits of the entries it used and D of the final one for a write
    /// (SDM Vol. 3A 4.8, atomically: other vCPUs share the tables); without, it only reads (a
    /// debugger's lookup). Paging must be enabled (CR0.PG).
    static PageWalk walk(const memory::GuestMemory& mem, const PagingRegs& regs, uint64_t la, Access acc,
                         bool user_access, bool set_accessed);

    // ---- lookups ----
    /// The privilege class the inline fast paths look up (emu::Cpu::update_tlb_class). A switch
    /// flushes nothing: each class only ever caches what its own walks allowed.
    void set_class(TlbClass cls) {
        m_class = cls;
        m_active = &m_tlb[cls];
    }
    TlbClass tlb_class() const { return m_class; }
    /// The host address of `la` when way 0 of the current class caches its page for `acc` (Read
    /// or Write), else nullptr: the inline fast paths look there only (a way-1 hit is promoted to
    /// way 0 by lookup()). The caller checks that the access stays in the page.
    uint8_t* fast(uint64_t la, Access acc) const {
        const unsigned i = tlb_set(la);
        const uint64_t tag = acc == Access::Write ? m_active->write[0][i] : m_active->read[0][i];
        return tag == tlb_tag(la) ? reinterpret_cast<uint8_t*>(m_active->addend[0][i] + la) : nullptr;
    }
    /// The linear page that way `way` of `la`'s set in the current class caches for reading, or
    /// nullopt (tests and diagnostics).
    std::optional<uint64_t> read_page(uint64_t la, int way) const {
        const uint64_t tag = m_active->read[way][tlb_set(la)];
        if (tag == kTlbInvalid) return std::nullopt;
        return tlb_page(tag);
    }
    /// The guest-physical address of `la` when either way caches it for `acc` (a way-1 hit
    /// moves to way 0), else nullopt: the caller walks and fill()s.
    std::optional<uint64_t> lookup(uint64_t la, Access acc, TlbClass cls);
    /// The way of `la`'s set caching its page (any tag), or -1.
    int find(uint64_t la, TlbClass cls) const;
    /// The host address of [la, la + len) when it lies in one page that either way of the current
    /// class maps for `acc` (Read or Write), else nullptr. Ways are not swapped: a copy whose
    /// source and destination pages share a set (REP MOVS by a multiple of 1 MiB) finds both.
    uint8_t* span(uint64_t la, uint64_t len, Access acc) const {
        if (len == 0 || (la & 0xfff) + len > 4096) return nullptr;
        const unsigned i = tlb_set(la);
        const auto& tags = acc == Access::Write ? m_active->write : m_active->read;
        for (int w = 0; w < 2; ++w)
            if (tags[w][i] == tlb_tag(la)) return reinterpret_cast<uint8_t*>(m_active->addend[w][i] + la);
        return nullptr;
    }
    /// True when the cached instruction-fetch translation of `la` is global.
    bool global(uint64_t la, TlbClass cls) const;

    // ---- fill and invalidation (SDM Vol. 3A 4.10.4) ----
    /// Caches `la` -> `gpa` in way 0 of its set. `host`: the host address of gpa's 4 KiB page,
    /// or nullptr to leave the page unmapped (every access takes the slow path).
    void fill(uint64_t la, uint64_t gpa, TlbClass cls, uint8_t* host, bool readable, bool writable,
              bool executable, bool global, unsigned page_shift);
    /// Drops every translation.
    void flush_all();
    /// MOV to CR3: drops every non-global translation.
    void flush_non_global();
    /// INVLPG: drops the translations of the page holding `la`, global or not, in every class.
    /// True when a large page holding `la` went too (then the caller cannot tell which 4 KiB
    /// pages of it were in use).
    bool flush_page(uint64_t la);
    /// Drops every write mapping (a page became code somewhere: writes must be seen).
    void drop_writes();

    // ---- map generation (for cross-page chain slots, emu/bt/block_chain.cpp) ----
    /// Moves whenever a linear-to-physical translation this vCPU caches may change: the low half
    /// on every TLB flush, MOV to CR3 and INVLPG that may matter, the high half on those that
    /// also drop global translations (all but MOV to CR3, SDM Vol. 3A 4.10.4.1). Chain slots
    /// compare it: all of it, or only the high half when their target was reached through a
    /// global page.
    uint64_t map_gen() const { return m_map_gen; }
    static constexpr uint64_t kMapGenGlobal = uint64_t{1} << 32;
    /// A cross-page slot is being linked to linear address `la` (the code just ran from there,
    /// at privilege class `cls`). True when `la` was reached through a global page (a link
    /// MOV to CR3 leaves alone). A target found through the jump cache (not in the TLB) is
    /// looked up in the page tables `regs` root, so that it is noted by its page's size.
    bool note_linked(uint64_t la, TlbClass cls, const memory::GuestMemory& mem, const PagingRegs& regs);

    /// The fields translated code reads at fixed offsets from the Cpu (emu/bt/translator.cpp).
    TlbTable* const* active_field() const { return &m_active; }
    const uint64_t* map_gen_field() const { return &m_map_gen; }

private:
    void new_map_gen() {
        m_map_gen += kMapGenGlobal + 1;
        m_linked_4k.reset();
        m_linked_2m.reset();
        m_linked_huge = false;
    }
    bool may_be_linked(uint64_t la) const {
        return m_linked_huge || m_linked_4k.test((la >> 12) & 4095) || m_linked_2m.test((la >> 21) & 4095);
    }

    TlbTable m_tlb[kTlbClasses]{};
    TlbClass m_class = kTlbSup;
    bool m_has_large = false;   ///< an entry from a 2 MiB+ page was filled since the last full flush
    /// m_tlb[m_class], for translated code's inline TLB probe (emu/bt/memory_ops.cpp).
    TlbTable* m_active = &m_tlb[0];
    uint64_t m_map_gen = 0;
    /// Linear pages that cross-page chain slots were linked to under m_map_gen (hashed 4 KiB and
    /// 2 MiB page numbers, by the size of the page that mapped them; `m_linked_huge`: a 1 GiB
    /// page, or a size not known): an INVLPG that cannot touch any of them (SDM Vol. 3A 4.10.4.1:
    /// the whole page holding its address) leaves m_map_gen alone.
    std::bitset<4096> m_linked_4k, m_linked_2m;
    bool m_linked_huge = false;
    /// The 2 MiB and 1 GiB linear regions (hashed) that large-page entries were filled from since
    /// the last full flush: an INVLPG outside all of them has no large page to look for, so it
    /// skips the scan of every set (a kernel mapped with large pages invalidates user pages).
    std::bitset<4096> m_large_2m, m_large_1g;
    bool large_region(uint64_t la) const {
        return m_large_2m.test((la >> 21) & 4095) || m_large_1g.test((la >> 30) & 4095);
    }
};

}  // namespace popek::emu
