/// GrantTable in a snapshot (docs/snapshot.md "GNTT"). The version in use; the entries (grant_table.h
/// grant_entry_v1_t or grant_entry_v2_t) and v2's status frames (grant_status_t) are in the guest's frames: guest RAM placed with XENMAPSPACE_grant_table, or
/// frames popek holds (not yet placed, or shown above RAM through the physmap), whose contents are
/// saved here. Then the active pins (Xen's active grant entries) and the back ends' map handles.
#include <cstring>
#include <map>

#include "pv/grant_table.h"

namespace popek::pv {

namespace {
/// Host frame indices as the physmap knows them: a status frame's with XENMAPIDX_grant_table_status.
constexpr uint32_t kStatusIndex = XENMAPIDX_grant_table_status;
}  // namespace

void GrantTable::save_frames(snapshot::Writer& w, const Frames& frames) {
    w.u32(static_cast<uint32_t>(frames.gpfn.size()));
    for (size_t i = 0; i < frames.gpfn.size(); ++i) {
        w.boolean(frames.gpfn[i].has_value());
        if (frames.gpfn[i]) w.u64(*frames.gpfn[i]);
        else w.bytes(frames.host[i]);
    }
}

bool GrantTable::load_frames(snapshot::Reader& r, Frames& out, uint32_t max, const char* what) const {
    const uint32_t frames = r.bounded(r.u32(), max, what);
    out.host.assign(frames, std::vector<uint8_t>(kXenPageSize, 0));
    out.gpfn.assign(frames, std::nullopt);
    for (uint32_t i = 0; i < frames && r.ok(); ++i) {
        if (r.boolean()) {
            const uint64_t gpfn = r.bounded(r.u64(), ~uint64_t{0} >> XEN_PAGE_SHIFT, "a frame's gpfn");
            if (r.ok() && !m_mem.slice(gpfn << XEN_PAGE_SHIFT, kXenPageSize))
                r.invalid("{} frame {} at gpfn {:#x} is not guest RAM", what, i, gpfn);
            out.gpfn[i] = gpfn;
        } else {
            r.bytes(out.host[i]);
        }
    }
    return r.ok();
}

void GrantTable::save(snapshot::Writer& w) const {
    std::lock_guard lock(m_lock);
    w.u32(m_max_frames);
    w.u32(m_version);
    save_frames(w, m_shared);
    w.u32(m_nr_status);
    save_frames(w, m_status);
    uint32_t active = 0;
    for (const auto& a : m_active) active += a ? 1 : 0;
    w.u32(active);
    for (size_t ref = 0; ref < m_active.size(); ++ref) {
        if (!m_active[ref]) continue;
        w.u32(static_cast<uint32_t>(ref));
        w.u32(m_active[ref]->readers);
        w.u32(m_active[ref]->writers);
        w.u64(m_active[ref]->frame);
        w.u32(m_active[ref]->sub_off);
        w.u32(m_active[ref]->sub_len);
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
    const uint32_t version = r.u32();
    if (r.ok() && version != 1 && version != 2) r.invalid("grant table version {}", version);
    Frames shared, status;
    if (!load_frames(r, shared, m_max_frames, "grant table")) return;
    if (shared.gpfn.empty()) r.invalid("a table of no frames");
    // v2 status frames: at most what the largest v2 table needs (their storage only grows).
    const uint32_t max_status = (m_max_frames * kEntriesPerFrameV2 + kStatusPerFrame - 1) / kStatusPerFrame;
    const uint32_t nr_status = r.bounded(r.u32(), max_status, "the status frames in use");
    if (!load_frames(r, status, max_status, "grant status")) return;
    if (r.ok() && nr_status > status.gpfn.size()) r.invalid("{} status frames in use of {}", nr_status, status.gpfn.size());
    if (r.ok() && version == 1 && nr_status != 0) r.invalid("status frames in use under grant table v1");
    const size_t refs = shared.gpfn.size() * kEntriesPerFrame;   // as grow(): room for either version
    std::vector<std::optional<Active>> active(refs);
    const uint32_t nactive = r.bounded(r.u32(), static_cast<uint32_t>(refs), "the number of active grants");
    for (uint32_t i = 0; i < nactive && r.ok(); ++i) {
        const uint32_t ref = r.u32();
        Active a{r.u32(), r.u32(), r.u64(), 0, 0};
        const uint32_t sub_off = r.u32(), sub_len = r.u32();
        if (!r.ok()) break;
        if (ref >= refs || active[ref]) r.invalid("active grant {} is out of range or listed twice", ref);
        else if (a.frame > (~uint64_t{0} >> XEN_PAGE_SHIFT) || !m_mem.slice(a.frame << XEN_PAGE_SHIFT, kXenPageSize))
            r.invalid("grant {} is pinned to frame {:#x}, which is not guest RAM", ref, a.frame);
        else if (sub_off > kXenPageSize || sub_len > kXenPageSize - sub_off)
            r.invalid("grant {} allows bytes {}+{} of its page", ref, sub_off, sub_len);
        else {
            a.sub_off = static_cast<uint16_t>(sub_off);
            a.sub_len = static_cast<uint16_t>(sub_len);
            active[ref] = a;
        }
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
    m_version = version;
    m_shared = std::move(shared);
    m_status = std::move(status);
    m_nr_status = nr_status;
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
    for (size_t i = 0; i < m_shared.host.size(); ++i)
        if (m_shared.host[i].data() == page) return static_cast<uint32_t>(i);
    for (size_t i = 0; i < m_status.host.size(); ++i)
        if (m_status.host[i].data() == page) return static_cast<uint32_t>(i) | kStatusIndex;
    return std::nullopt;
}

std::span<uint8_t> GrantTable::host_frame(uint32_t idx) {
    std::lock_guard lock(m_lock);
    Frames& f = (idx & kStatusIndex) ? m_status : m_shared;
    const uint32_t i = idx & ~kStatusIndex;
    if (i >= f.host.size() || f.gpfn[i]) return {};
    return f.host[i];
}

}  // namespace popek::pv
