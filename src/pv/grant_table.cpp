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
    while (m_frame_gpfn.size() < frames) {
        m_host_frames.emplace_back(kXenPageSize, 0);
        m_frame_gpfn.emplace_back();
    }
    m_active.resize(static_cast<size_t>(frames) * kEntriesPerFrame);
}

uint32_t GrantTable::nr_frames() const {
    std::lock_guard lock(m_lock);
    return static_cast<uint32_t>(m_frame_gpfn.size());
}

PvResult<void> GrantTable::place_frame(uint64_t idx, uint64_t gpfn) {
    if (idx & XENMAPIDX_grant_table_status) return pv_error(EINVAL);  // v2 status frames
    if (idx >= m_max_frames) return pv_error(EINVAL);
    if (gpfn > (~uint64_t{0} >> XEN_PAGE_SHIFT)) return pv_error(EINVAL);
    auto page = m_mem.slice(gpfn << XEN_PAGE_SHIFT, kXenPageSize);
    if (!page) return pv_error(EINVAL);
    std::lock_guard lock(m_lock);
    auto i = static_cast<uint32_t>(idx);
    grow(std::max<uint32_t>(static_cast<uint32_t>(m_frame_gpfn.size()), i + 1));
    // The frame's current contents move to its new home, as a remapped Xen frame would.
    uint8_t* from = m_frame_gpfn[i] ? m_mem.host_ptr(*m_frame_gpfn[i] << XEN_PAGE_SHIFT, kXenPageSize)
                                    : m_host_frames[i].data();
    if (from != page->data()) std::memmove(page->data(), from, kXenPageSize);
    m_frame_gpfn[i] = gpfn;
    return {};
}

PvResult<std::span<uint8_t>> GrantTable::place_frame_in_host(uint64_t idx) {
    if (idx & XENMAPIDX_grant_table_status) return pv_error(EINVAL);
    if (idx >= m_max_frames) return pv_error(EINVAL);
    std::lock_guard lock(m_lock);
    auto i = static_cast<uint32_t>(idx);
    grow(std::max<uint32_t>(static_cast<uint32_t>(m_frame_gpfn.size()), i + 1));
    std::vector<uint8_t>& host = m_host_frames[i];
    if (m_frame_gpfn[i]) {
        // Moving out of guest RAM: the contents come back to the host copy.
        if (uint8_t* from = m_mem.host_ptr(*m_frame_gpfn[i] << XEN_PAGE_SHIFT, kXenPageSize))
            std::memmove(host.data(), from, kXenPageSize);
        m_frame_gpfn[i].reset();
    }
    return std::span<uint8_t>(host.data(), host.size());
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
    grow(std::max<uint32_t>(static_cast<uint32_t>(m_frame_gpfn.size()), nr_frames));
    std::vector<xen_pfn_t> out;
    for (uint32_t i = 0; i < nr_frames; ++i) out.push_back(m_frame_gpfn[i] ? *m_frame_gpfn[i] : kInvalidGfn);
    return out;
}

grant_entry_v1_t* GrantTable::entry(grant_ref_t ref) {
    uint32_t frame = ref / kEntriesPerFrame;
    if (frame >= m_frame_gpfn.size()) return nullptr;
    uint8_t* base = m_frame_gpfn[frame] ? m_mem.host_ptr(*m_frame_gpfn[frame] << XEN_PAGE_SHIFT, kXenPageSize)
                                        : m_host_frames[frame].data();
    if (base == nullptr) return nullptr;
    return reinterpret_cast<grant_entry_v1_t*>(base) + ref % kEntriesPerFrame;
}

GntResult<std::span<uint8_t>> GrantTable::pin(DomId grantee, grant_ref_t ref, bool readonly) {
    grant_entry_v1_t* e = entry(ref);
    if (e == nullptr) return std::unexpected(int16_t{GNTST_bad_gntref});
    std::optional<Active>& act = m_active[ref];
    bool first = !act || (act->readers == 0 && act->writers == 0);
    if (first || (!readonly && act->writers == 0)) {
        // {flags, domid} as one 32-bit word: check and set GTF_reading/GTF_writing atomically.
        static_assert(offsetof(grant_entry_v1_t, flags) == 0 && offsetof(grant_entry_v1_t, domid) == 2);
        std::atomic_ref<uint32_t> word(*reinterpret_cast<uint32_t*>(e));
        bool pinned = false;
        for (int attempt = 0; attempt < kPinRetries && !pinned; ++attempt) {
            uint32_t old = word.load();
            auto flags = static_cast<uint16_t>(old & 0xFFFF);
            auto dom = static_cast<DomId>(old >> 16);
            if ((flags & GTF_type_mask) != GTF_permit_access || dom != grantee)
                return std::unexpected(int16_t{GNTST_general_error});
            if (!readonly && (flags & GTF_readonly)) return std::unexpected(int16_t{GNTST_general_error});
            uint32_t set = GTF_reading | (readonly ? 0u : uint32_t{GTF_writing});
            pinned = word.compare_exchange_strong(old, old | set);
        }
        if (!pinned) return std::unexpected(int16_t{GNTST_general_error});  // guest keeps changing it
        if (first) {
            uint32_t frame = std::atomic_ref<uint32_t>(e->frame).load();
            act = Active{0, 0, frame};
        }
    }
    auto page = m_mem.slice(act->frame << XEN_PAGE_SHIFT, kXenPageSize);
    if (!page) {
        if (act->readers == 0 && act->writers == 0) {
            std::atomic_ref<uint16_t>(e->flags).fetch_and(static_cast<uint16_t>(~(GTF_reading | GTF_writing)));
            act.reset();
        } else if (!readonly && act->writers == 0) {
            std::atomic_ref<uint16_t>(e->flags).fetch_and(static_cast<uint16_t>(~GTF_writing));
        }
        return std::unexpected(int16_t{GNTST_general_error});
    }
    (readonly ? act->readers : act->writers)++;
    return *page;
}

void GrantTable::unpin(grant_ref_t ref, bool readonly) {
    std::optional<Active>& act = m_active[ref];
    if (!act) return;
    (readonly ? act->readers : act->writers)--;
    grant_entry_v1_t* e = entry(ref);
    uint16_t clear = 0;
    if (act->writers == 0) clear |= GTF_writing;
    if (act->readers == 0 && act->writers == 0) {
        clear |= GTF_reading;
        act.reset();
    }
    if (e != nullptr && clear != 0) std::atomic_ref<uint16_t>(e->flags).fetch_and(static_cast<uint16_t>(~clear));
}

GntResult<GrantTable::Mapping> GrantTable::map(DomId grantee, grant_ref_t ref, bool readonly) {
    std::lock_guard lock(m_lock);
    size_t handle = 0;
    while (handle < m_maps.size() && m_maps[handle].used) ++handle;
    if (handle >= m_max_maps) return std::unexpected(int16_t{GNTST_no_space});
    auto page = pin(grantee, ref, readonly);
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
    std::memcpy(out.data(), page->data() + offset, out.size());
    unpin(ref, true);
    return {};
}

GntResult<void> GrantTable::copy_to(DomId grantee, grant_ref_t ref, uint16_t offset, std::span<const uint8_t> in) {
    if (offset + in.size() > kXenPageSize) return std::unexpected(int16_t{GNTST_bad_copy_arg});
    std::lock_guard lock(m_lock);
    auto page = pin(grantee, ref, false);
    if (!page) return std::unexpected(page.error());
    std::memcpy(page->data() + offset, in.data(), in.size());
    unpin(ref, false);
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
    if (dst) std::memmove(dst->data() + op.dest.offset, src->data() + op.source.offset, op.len);
    op.status = dst ? int16_t{GNTST_okay} : dst.error();
    if (src_ref) unpin(op.source.u.ref, true);
    if (dst_ref && dst) unpin(op.dest.u.ref, false);
}

}  // namespace popek::pv
