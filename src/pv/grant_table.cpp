#include "pv/grant_table.h"

#include <atomic>
#include <cstring>

namespace popek::pv {

namespace {

/// Xen's INVALID_GFN (not in the public headers): a frame the guest has not placed.
constexpr xen_pfn_t kInvalidGfn = ~xen_pfn_t{0};
/// Attempts at the {flags, domid} compare-and-swap before the entry counts as unstable (Xen: 4).
constexpr int kPinRetries = 4;

}  // namespace

GrantTable::GrantTable(const memory::GuestMemory& mem, DomId domid, uint32_t max_frames, uint32_t max_maps)
    : m_mem(mem), m_domid(domid), m_max_frames(max_frames), m_max_maps(max_maps) {
    grow(1);
}

void GrantTable::grow(uint32_t frames) {
    auto add = [](Frames& f, size_t n) {
        while (f.gpfn.size() < n) {
            f.host.emplace_back(kXenPageSize, 0);
            f.gpfn.emplace_back();
        }
    };
    add(m_shared, frames);
    if (m_version == 2) {
        const size_t n = (size_t{frames} * kEntriesPerFrameV2 + kStatusPerFrame - 1) / kStatusPerFrame;
        add(m_status, n);
        m_nr_status = std::max(m_nr_status, static_cast<uint32_t>(n));
    }
    m_active.resize(m_shared.gpfn.size() * kEntriesPerFrame);   // v1's count: room for either version
}

uint32_t GrantTable::nr_frames() const {
    std::lock_guard lock(m_lock);
    return static_cast<uint32_t>(m_shared.gpfn.size());
}

uint32_t GrantTable::version() const {
    std::lock_guard lock(m_lock);
    return m_version;
}

uint32_t GrantTable::nr_status_frames() const {
    std::lock_guard lock(m_lock);
    return m_nr_status;
}

uint8_t* GrantTable::frame_base(const Frames& frames, uint32_t i) const {
    if (i >= frames.gpfn.size()) return nullptr;
    if (frames.gpfn[i]) return m_mem.host_ptr(*frames.gpfn[i] << XEN_PAGE_SHIFT, kXenPageSize);
    return const_cast<uint8_t*>(frames.host[i].data());
}

PvResult<std::span<uint8_t>> GrantTable::place(Frames& frames, uint32_t i, std::optional<uint64_t> gpfn) {
    // The frame's current contents move to its new home, as a remapped Xen frame would.
    uint8_t* from = frame_base(frames, i);
    uint8_t* to = frames.host[i].data();
    if (gpfn) {
        auto page = m_mem.slice(*gpfn << XEN_PAGE_SHIFT, kXenPageSize);
        if (!page) return pv_error(EINVAL);
        to = page->data();
    }
    if (from != nullptr && from != to) {
        std::memmove(to, from, kXenPageSize);
        wrote(to, kXenPageSize);
    }
    frames.gpfn[i] = gpfn;
    return std::span<uint8_t>(to, kXenPageSize);
}

PvResult<void> GrantTable::place_frame(uint64_t idx, uint64_t gpfn) {
    if (gpfn > (~uint64_t{0} >> XEN_PAGE_SHIFT)) return pv_error(EINVAL);
    if (!m_mem.slice(gpfn << XEN_PAGE_SHIFT, kXenPageSize)) return pv_error(EINVAL);
    std::lock_guard lock(m_lock);
    if (idx & XENMAPIDX_grant_table_status) {
        const uint64_t i = idx & ~uint64_t{XENMAPIDX_grant_table_status};
        if (m_version != 2 || i >= m_nr_status) return pv_error(EINVAL);
        TRY_VOID(place(m_status, static_cast<uint32_t>(i), gpfn));
        return {};
    }
    if (idx >= m_max_frames) return pv_error(EINVAL);
    auto i = static_cast<uint32_t>(idx);
    grow(std::max<uint32_t>(static_cast<uint32_t>(m_shared.gpfn.size()), i + 1));
    TRY_VOID(place(m_shared, i, gpfn));
    return {};
}

PvResult<std::span<uint8_t>> GrantTable::place_frame_in_host(uint64_t idx) {
    std::lock_guard lock(m_lock);
    if (idx & XENMAPIDX_grant_table_status) {
        const uint64_t i = idx & ~uint64_t{XENMAPIDX_grant_table_status};
        if (m_version != 2 || i >= m_nr_status) return pv_error(EINVAL);
        return place(m_status, static_cast<uint32_t>(i), std::nullopt);
    }
    if (idx >= m_max_frames) return pv_error(EINVAL);
    auto i = static_cast<uint32_t>(idx);
    grow(std::max<uint32_t>(static_cast<uint32_t>(m_shared.gpfn.size()), i + 1));
    return place(m_shared, i, std::nullopt);
}

void GrantTable::query_size(gnttab_query_size& op) const {
    if (op.dom != DOMID_SELF && op.dom != m_domid) {
        op.status = GNTST_bad_domain;
        return;
    }
    op.nr_frames = nr_frames();
    op.max_nr_frames = m_max_frames;
    op.status = GNTST_okay;
}

GntResult<std::vector<xen_pfn_t>> GrantTable::setup_table(uint32_t nr_frames) {
    if (nr_frames > m_max_frames) return std::unexpected(int16_t{GNTST_general_error});
    std::lock_guard lock(m_lock);
    grow(std::max<uint32_t>(static_cast<uint32_t>(m_shared.gpfn.size()), nr_frames));
    std::vector<xen_pfn_t> out;
    for (uint32_t i = 0; i < nr_frames; ++i) out.push_back(m_shared.gpfn[i] ? *m_shared.gpfn[i] : kInvalidGfn);
    return out;
}

GntResult<std::vector<uint64_t>> GrantTable::status_frames(uint32_t nr) const {
    std::lock_guard lock(m_lock);
    if (nr > m_nr_status) return std::unexpected(int16_t{GNTST_general_error});
    std::vector<uint64_t> out;
    for (uint32_t i = 0; i < nr; ++i) out.push_back(m_status.gpfn[i] ? *m_status.gpfn[i] : kInvalidGfn);
    return out;
}

grant_entry_v1_t* GrantTable::entry(grant_ref_t ref) {
    if (m_version != 1) return nullptr;
    uint8_t* base = frame_base(m_shared, ref / kEntriesPerFrame);
    return base ? reinterpret_cast<grant_entry_v1_t*>(base) + ref % kEntriesPerFrame : nullptr;
}

grant_entry_v2_t* GrantTable::entry_v2(grant_ref_t ref) {
    if (m_version != 2) return nullptr;
    uint8_t* base = frame_base(m_shared, ref / kEntriesPerFrameV2);
    return base ? reinterpret_cast<grant_entry_v2_t*>(base) + ref % kEntriesPerFrameV2 : nullptr;
}

grant_status_t* GrantTable::status(grant_ref_t ref) {
    if (m_version != 2 || ref / kStatusPerFrame >= m_nr_status) return nullptr;
    uint8_t* base = frame_base(m_status, ref / kStatusPerFrame);
    return base ? reinterpret_cast<grant_status_t*>(base) + ref % kStatusPerFrame : nullptr;
}

GntResult<void> GrantTable::pin_flags_v1(DomId grantee, grant_ref_t ref, bool readonly, bool first) {
    grant_entry_v1_t* e = entry(ref);
    // {flags, domid} as one 32-bit word: check and set GTF_reading/GTF_writing atomically.
    static_assert(offsetof(grant_entry_v1_t, flags) == 0 && offsetof(grant_entry_v1_t, domid) == 2);
    std::atomic_ref<uint32_t> word(*reinterpret_cast<uint32_t*>(e));
    for (int attempt = 0; attempt < kPinRetries; ++attempt) {
        uint32_t old = word.load();
        auto flags = static_cast<uint16_t>(old & 0xFFFF);
        auto dom = static_cast<DomId>(old >> 16);
        if ((flags & GTF_type_mask) != GTF_permit_access || dom != grantee)
            return std::unexpected(int16_t{GNTST_general_error});
        if (!readonly && (flags & GTF_readonly)) return std::unexpected(int16_t{GNTST_general_error});
        uint32_t set = GTF_reading | (readonly ? 0u : uint32_t{GTF_writing});
        if (word.compare_exchange_strong(old, old | set)) {
            if ((old | set) != old) wrote(e, sizeof(uint32_t));
            if (first) m_active[ref] = Active{0, 0, std::atomic_ref<uint32_t>(e->frame).load()};
            return {};
        }
    }
    return std::unexpected(int16_t{GNTST_general_error});  // guest keeps changing it
}

GntResult<void> GrantTable::pin_flags_v2(DomId grantee, grant_ref_t ref, bool readonly, bool first, bool for_map) {
    grant_entry_v2_t* e = entry_v2(ref);
    grant_status_t* st = status(ref);
    if (st == nullptr) return std::unexpected(int16_t{GNTST_bad_gntref});
    std::atomic_ref<uint32_t> word(*reinterpret_cast<uint32_t*>(reinterpret_cast<uint8_t*>(e)));   // {flags, domid}
    // Xen's _set_status_v2: a mapping refuses sub-page grants; transitive ones are not offered.
    const uint16_t mask = static_cast<uint16_t>(GTF_type_mask | (for_map ? GTF_sub_page : 0));
    auto refused = [&](uint32_t w) {
        auto flags = static_cast<uint16_t>(w & 0xFFFF);
        auto dom = static_cast<DomId>(w >> 16);
        if (first && ((flags & mask) != GTF_permit_access || dom != grantee)) return true;
        return !readonly && (flags & GTF_readonly);
    };
    if (refused(word.load())) return std::unexpected(int16_t{GNTST_general_error});
    const auto set = static_cast<uint16_t>(GTF_reading | (readonly ? 0 : GTF_writing));
    std::atomic_ref<uint16_t> status_bits(*st);
    const uint16_t before = status_bits.fetch_or(set);
    if ((before | set) != before) wrote(st, sizeof(*st));
    std::atomic_thread_fence(std::memory_order_seq_cst);   // the guest sees the status before the re-check
    const uint32_t again = word.load();
    if (refused(again)) {
        status_bits.fetch_and(static_cast<uint16_t>(~(set & ~before)));   // only what this pin added
        wrote(st, sizeof(*st));
        return std::unexpected(int16_t{GNTST_general_error});
    }
    if (first) {
        const auto flags = static_cast<uint16_t>(again & 0xFFFF);
        Active a{0, 0, std::atomic_ref<uint64_t>(e->full_page.frame).load()};
        if (flags & GTF_sub_page) {
            a.sub_off = std::atomic_ref<uint16_t>(e->sub_page.page_off).load();
            a.sub_len = std::atomic_ref<uint16_t>(e->sub_page.length).load();
            if (uint32_t{a.sub_off} + a.sub_len > kXenPageSize) {
                status_bits.fetch_and(static_cast<uint16_t>(~set));
                wrote(st, sizeof(*st));
                return std::unexpected(int16_t{GNTST_general_error});
            }
        }
        m_active[ref] = a;
    }
    return {};
}

GntResult<std::span<uint8_t>> GrantTable::pin(DomId grantee, grant_ref_t ref, bool readonly, bool for_map) {
    const bool v2 = m_version == 2;
    if ((v2 ? static_cast<void*>(entry_v2(ref)) : static_cast<void*>(entry(ref))) == nullptr)
        return std::unexpected(int16_t{GNTST_bad_gntref});
    std::optional<Active>& act = m_active[ref];
    bool first = !act || (act->readers == 0 && act->writers == 0);
    if (!first && for_map && act->sub_len != kXenPageSize) return std::unexpected(int16_t{GNTST_general_error});
    if (first || (!readonly && act->writers == 0)) {
        auto r = v2 ? pin_flags_v2(grantee, ref, readonly, first, for_map) : pin_flags_v1(grantee, ref, readonly, first);
        if (!r) return std::unexpected(r.error());
    }
    std::optional<std::span<uint8_t>> page;   // a v2 frame may be any 64-bit number
    if (act->frame <= (~uint64_t{0} >> XEN_PAGE_SHIFT)) {
        if (auto p = m_mem.slice(act->frame << XEN_PAGE_SHIFT, kXenPageSize)) page = *p;
    }
    if (!page) {
        if (act->readers == 0 && act->writers == 0) {
            clear_pin_bits(ref, GTF_reading | GTF_writing);
            act.reset();
        } else if (!readonly && act->writers == 0) {
            clear_pin_bits(ref, GTF_writing);
        }
        return std::unexpected(int16_t{GNTST_general_error});
    }
    (readonly ? act->readers : act->writers)++;
    return *page;
}

void GrantTable::clear_pin_bits(grant_ref_t ref, uint16_t bits) {
    if (m_version == 2) {
        if (grant_status_t* st = status(ref)) {
            if (std::atomic_ref<uint16_t>(*st).fetch_and(static_cast<uint16_t>(~bits)) & bits) wrote(st, sizeof(*st));
        }
    } else if (grant_entry_v1_t* e = entry(ref)) {
        if (std::atomic_ref<uint16_t>(e->flags).fetch_and(static_cast<uint16_t>(~bits)) & bits) wrote(&e->flags, sizeof(e->flags));
    }
}

bool GrantTable::within_grant(grant_ref_t ref, uint32_t offset, size_t len) const {
    const std::optional<Active>& act = m_active[ref];
    return act && offset >= act->sub_off && offset + len <= size_t{act->sub_off} + act->sub_len;
}

void GrantTable::unpin(grant_ref_t ref, bool readonly) {
    std::optional<Active>& act = m_active[ref];
    if (!act) return;
    (readonly ? act->readers : act->writers)--;
    uint16_t clear = 0;
    if (act->writers == 0) clear |= GTF_writing;
    if (act->readers == 0 && act->writers == 0) {
        clear |= GTF_reading;
        act.reset();
    }
    if (clear != 0) clear_pin_bits(ref, clear);
}

GntResult<GrantTable::Mapping> GrantTable::map(DomId grantee, grant_ref_t ref, bool readonly) {
    std::lock_guard lock(m_lock);
    size_t handle = 0;
    while (handle < m_maps.size() && m_maps[handle].used) ++handle;
    if (handle >= m_max_maps) return std::unexpected(int16_t{GNTST_no_space});
    auto page = pin(grantee, ref, readonly, true);
    if (!page) return std::unexpected(page.error());
    if (handle == m_maps.size()) m_maps.emplace_back();
    m_maps[handle] = Map{true, ref, readonly};
    return Mapping{static_cast<grant_handle_t>(handle), *page, readonly};
}

GntResult<void> GrantTable::unmap(grant_handle_t handle) {
    std::lock_guard lock(m_lock);
    if (handle >= m_maps.size() || !m_maps[handle].used) return std::unexpected(int16_t{GNTST_bad_handle});
    unpin(m_maps[handle].ref, m_maps[handle].readonly);
    m_maps[handle] = Map{};
    return {};
}

size_t GrantTable::active_mappings() const {
    std::lock_guard lock(m_lock);
    size_t n = 0;
    for (const Map& m : m_maps) n += m.used ? 1 : 0;
    return n;
}

GntResult<void> GrantTable::copy_from(DomId grantee, grant_ref_t ref, uint16_t offset, std::span<uint8_t> out) {
    if (offset + out.size() > kXenPageSize) return std::unexpected(int16_t{GNTST_bad_copy_arg});
    std::lock_guard lock(m_lock);
    auto page = pin(grantee, ref, true);
    if (!page) return std::unexpected(page.error());
    const bool inside = within_grant(ref, offset, out.size());
    if (inside) std::memcpy(out.data(), page->data() + offset, out.size());
    unpin(ref, true);
    if (!inside) return std::unexpected(int16_t{GNTST_general_error});   // past a v2 sub-page grant
    return {};
}

GntResult<void> GrantTable::copy_to(DomId grantee, grant_ref_t ref, uint16_t offset, std::span<const uint8_t> in) {
    if (offset + in.size() > kXenPageSize) return std::unexpected(int16_t{GNTST_bad_copy_arg});
    std::lock_guard lock(m_lock);
    auto page = pin(grantee, ref, false);
    if (!page) return std::unexpected(page.error());
    const bool inside = within_grant(ref, offset, in.size());
    if (inside) {
        std::memcpy(page->data() + offset, in.data(), in.size());
        wrote(page->data() + offset, in.size());   // before the pin bits drop: the copy is over
    }
    unpin(ref, false);
    if (!inside) return std::unexpected(int16_t{GNTST_general_error});   // past a v2 sub-page grant
    return {};
}

GntResult<std::span<uint8_t>> GrantTable::own_page(uint64_t gmfn) const {
    if (gmfn > (~uint64_t{0} >> XEN_PAGE_SHIFT)) return std::unexpected(int16_t{GNTST_bad_page});
    auto page = m_mem.slice(gmfn << XEN_PAGE_SHIFT, kXenPageSize);
    if (!page) return std::unexpected(int16_t{GNTST_bad_page});
    return *page;
}

void GrantTable::copy(gnttab_copy& op) {
    auto self = [&](DomId d) { return d == DOMID_SELF || d == m_domid; };
    if (!self(op.source.domid) || !self(op.dest.domid)) {
        op.status = GNTST_bad_domain;
        return;
    }
    if (op.source.offset + op.len > kXenPageSize || op.dest.offset + op.len > kXenPageSize) {
        op.status = GNTST_bad_copy_arg;
        return;
    }
    std::lock_guard lock(m_lock);
    const bool src_ref = op.flags & GNTCOPY_source_gref, dst_ref = op.flags & GNTCOPY_dest_gref;
    auto src = src_ref ? pin(m_domid, op.source.u.ref, true) : own_page(op.source.u.gmfn);
    if (!src) {
        op.status = src.error();
        return;
    }
    auto dst = dst_ref ? pin(m_domid, op.dest.u.ref, false) : own_page(op.dest.u.gmfn);
    const bool inside = (!src_ref || within_grant(op.source.u.ref, op.source.offset, op.len)) &&
                        (!dst_ref || !dst || within_grant(op.dest.u.ref, op.dest.offset, op.len));
    if (dst && inside) {
        std::memmove(dst->data() + op.dest.offset, src->data() + op.source.offset, op.len);
        wrote(dst->data() + op.dest.offset, op.len);
    }
    op.status = !dst ? dst.error() : inside ? int16_t{GNTST_okay} : int16_t{GNTST_general_error};
    if (src_ref) unpin(op.source.u.ref, true);
    if (dst_ref && dst) unpin(op.dest.u.ref, false);
}

}  // namespace popek::pv
