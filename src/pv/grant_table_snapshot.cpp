/// GrantTable in a snapshot (docs/snapshot.md "GNTT"). A v1 table's entries (grant_table.h
/// grant_entry_v1_t) are in the guest's frames: guest RAM placed with XENMAPSPACE_grant_table, or
/// frames popek holds (not yet placed, or shown above RAM through the physmap), whose contents are
/// saved here. Then the active pins (Xen's active grant entries) and the back ends' map handles.
#include <cstring>
#include <map>

#include "pv/grant_table.h"

namespace popek::pv {

void GrantTable::save(snapshot::Writer& w) const {
    std::lock_guard lock(m_lock);
    w.u32(m_max_frames);
    w.u32(static_cast<uint32_t>(m_frame_gpfn.size()));
    for (size_t i = 0; i < m_frame_gpfn.size(); ++i) {
        w.boolean(m_frame_gpfn[i].has_value());
        if (m_frame_gpfn[i]) w.u64(*m_frame_gpfn[i]);
        else w.bytes(m_host_frames[i]);
    }
    uint32_t active = 0;
    for (const auto& a : m_active) active += a ? 1 : 0;
    w.u32(active);
    for (size_t ref = 0; ref < m_active.size(); ++ref) {
        if (!m_active[ref]) continue;
        w.u32(static_cast<uint32_t>(ref));
        w.u32(m_active[ref]->readers);
        w.u32(m_active[ref]->writers);
        w.u64(m_active[ref]->frame);
    }
    w.u32(static_cast<uint32_t>(m_maps.size()));
    for (const Map& m : m_maps) {
        w.boolean(m.used);
        w.u32(m.ref);
        w.boolean(m.readonly);
    }
}

void GrantTable::load(snapshot::Reader& r) {
    std::lock_guard lock(m_lock);
    const uint32_t max_frames = r.u32();
    if (r.ok() && max_frames != m_max_frames) r.invalid("a table of {} frames at most, this one {}", max_frames, m_max_frames);
    const uint32_t frames = r.bounded(r.u32(), m_max_frames, "the number of frames");
    if (r.ok() && frames == 0) r.invalid("a table of no frames");
    std::vector<std::vector<uint8_t>> host(frames, std::vector<uint8_t>(kXenPageSize, 0));
    std::vector<std::optional<uint64_t>> gpfns(frames);
    for (uint32_t i = 0; i < frames && r.ok(); ++i) {
        if (r.boolean()) {
            const uint64_t gpfn = r.bounded(r.u64(), ~uint64_t{0} >> XEN_PAGE_SHIFT, "a frame's gpfn");
            if (r.ok() && !m_mem.slice(gpfn << XEN_PAGE_SHIFT, kXenPageSize))
                r.invalid("grant frame {} at gpfn {:#x} is not guest RAM", i, gpfn);
            gpfns[i] = gpfn;
        } else {
            r.bytes(host[i]);
        }
    }
    const size_t refs = size_t{frames} * kEntriesPerFrame;
    std::vector<std::optional<Active>> active(refs);
    const uint32_t nactive = r.bounded(r.u32(), static_cast<uint32_t>(refs), "the number of active grants");
    for (uint32_t i = 0; i < nactive && r.ok(); ++i) {
        const uint32_t ref = r.u32();
        Active a{r.u32(), r.u32(), r.u64()};
        if (!r.ok()) break;
        if (ref >= refs || active[ref]) r.invalid("active grant {} is out of range or listed twice", ref);
        else if (a.frame > (~uint64_t{0} >> XEN_PAGE_SHIFT) || !m_mem.slice(a.frame << XEN_PAGE_SHIFT, kXenPageSize))
            r.invalid("grant {} is pinned to frame {:#x}, which is not guest RAM", ref, a.frame);
        else active[ref] = a;
    }
    const uint32_t nmaps = r.bounded(r.u32(), m_max_maps, "the number of map handles");
    std::vector<Map> maps(nmaps);
    std::map<grant_ref_t, std::pair<uint32_t, uint32_t>> held;   // ref -> {readonly maps, writable maps}
    for (Map& m : maps) {
        m.used = r.boolean();
        m.ref = r.u32();
        m.readonly = r.boolean();
        if (m.used) ++(m.readonly ? held[m.ref].first : held[m.ref].second);
    }
    // At an instruction boundary every pin belongs to a mapping (copies pin and unpin at once).
    for (size_t ref = 0; ref < refs && r.ok(); ++ref) {
        const auto h = held.find(static_cast<grant_ref_t>(ref));
        const std::pair<uint32_t, uint32_t> maps_of = h == held.end() ? std::pair<uint32_t, uint32_t>{0, 0} : h->second;
        const std::pair<uint32_t, uint32_t> pins = active[ref] ? std::pair{active[ref]->readers, active[ref]->writers}
                                                               : std::pair<uint32_t, uint32_t>{0, 0};
        if (maps_of != pins || (active[ref] && pins == std::pair<uint32_t, uint32_t>{0, 0}))
            r.invalid("grant {} has {}+{} pins but {}+{} mappings", ref, pins.first, pins.second, maps_of.first,
                      maps_of.second);
    }
    for (const auto& [ref, counts] : held)
        if (r.ok() && ref >= refs) r.invalid("a mapping of grant {}, past the table", ref);
    if (!r.ok()) return;
    m_host_frames = std::move(host);
    m_frame_gpfn = std::move(gpfns);
    m_active = std::move(active);
    m_maps = std::move(maps);
}

GntResult<GrantTable::Mapping> GrantTable::mapping(grant_handle_t handle, bool readonly) const {
    std::lock_guard lock(m_lock);
    if (handle >= m_maps.size() || !m_maps[handle].used) return std::unexpected(int16_t{GNTST_bad_handle});
    const Map& m = m_maps[handle];
    if (m.readonly != readonly || m.ref >= m_active.size() || !m_active[m.ref])
        return std::unexpected(int16_t{GNTST_general_error});
    auto page = m_mem.slice(m_active[m.ref]->frame << XEN_PAGE_SHIFT, kXenPageSize);
    if (!page) return std::unexpected(int16_t{GNTST_general_error});
    return Mapping{handle, *page, readonly};
}

std::optional<uint32_t> GrantTable::host_frame_index(const uint8_t* page) const {
    std::lock_guard lock(m_lock);
    for (size_t i = 0; i < m_host_frames.size(); ++i)
        if (m_host_frames[i].data() == page) return static_cast<uint32_t>(i);
    return std::nullopt;
}

std::span<uint8_t> GrantTable::host_frame(uint32_t idx) {
    std::lock_guard lock(m_lock);
    if (idx >= m_host_frames.size() || m_frame_gpfn[idx]) return {};
    return m_host_frames[idx];
}

}  // namespace popek::pv
