// GNTTABOP_set_version (xen/grant_table.h; Xen's gnttab_set_version): switching a grant table
// between the v1 and v2 entry layouts.
#include "pv/grant_table.h"

#include <array>
#include <cstring>

namespace popek::pv {

GrantTable::VersionResult GrantTable::set_version(uint32_t version) {
    if (version != 1 && version != 2) return {this->version(), EINVAL};
    std::lock_guard lock(m_lock);
    if (version == m_version) return {m_version, 0};
    // Xen refuses while any grant but the toolstack's reserved ones is in use.
    for (size_t ref = GNTTAB_NR_RESERVED_ENTRIES; ref < m_active.size(); ++ref)
        if (m_active[ref]) return {m_version, EBUSY};
    // The reserved entries survive the switch, converted, with their pin bits.
    std::array<grant_entry_v1_t, GNTTAB_NR_RESERVED_ENTRIES> reserved{};
    std::array<uint64_t, GNTTAB_NR_RESERVED_ENTRIES> frames{};
    for (grant_ref_t i = 0; i < GNTTAB_NR_RESERVED_ENTRIES; ++i) {
        if (m_version == 1) {
            if (grant_entry_v1_t* e = entry(i)) reserved[i] = *e, frames[i] = e->frame;
            continue;
        }
        grant_entry_v2_t* e = entry_v2(i);
        grant_status_t* st = status(i);
        if (e == nullptr) continue;
        const uint16_t flags = e->hdr.flags;
        switch (flags & GTF_type_mask) {
        case GTF_permit_access:
            // v1 holds a 32-bit frame and no sub-page: Xen answers ERANGE for what does not fit.
            if ((e->full_page.frame >> 32) || (flags & GTF_sub_page)) return {m_version, ERANGE};
            reserved[i] = grant_entry_v1_t{static_cast<uint16_t>(flags | (st ? *st : 0)), e->hdr.domid,
                                           static_cast<uint32_t>(e->full_page.frame)};
            frames[i] = e->full_page.frame;
            break;
        case GTF_transitive: return {m_version, ERANGE};
        default: break;   // GTF_invalid (and anything else): dropped, as Xen drops it
        }
    }
    // No crud from the old layout: every entry frame is cleared (Xen's clear_page). Status frames
    // start zeroed in popek's memory for v2 (the guest places them again) and are no longer the
    // table's under v1 (a page in guest RAM is the guest's again; popek's own copies are kept,
    // as the guest may still see one where it placed it outside RAM).
    for (uint32_t f = 0; f < m_shared.gpfn.size(); ++f)
        if (uint8_t* base = frame_base(m_shared, f)) std::memset(base, 0, kXenPageSize);
    for (size_t f = 0; f < m_status.gpfn.size(); ++f) {
        m_status.gpfn[f].reset();
        std::memset(m_status.host[f].data(), 0, kXenPageSize);
    }
    m_nr_status = 0;
    m_version = version;
    grow(static_cast<uint32_t>(m_shared.gpfn.size()));
    for (grant_ref_t i = 0; i < GNTTAB_NR_RESERVED_ENTRIES; ++i) {
        const grant_entry_v1_t& r = reserved[i];
        if (version == 1) {
            if (grant_entry_v1_t* e = entry(i)) *e = r;
        } else if (grant_entry_v2_t* e = entry_v2(i)) {
            e->hdr.flags = static_cast<uint16_t>(r.flags & ~(GTF_reading | GTF_writing));
            e->hdr.domid = r.domid;
            e->full_page.frame = frames[i];
            if (grant_status_t* st = status(i)) *st = static_cast<grant_status_t>(r.flags & (GTF_reading | GTF_writing));
        }
    }
    // Reported once every entry frame holds its final bytes (the reserved entries are in frame 0).
    for (uint32_t f = 0; f < m_shared.gpfn.size(); ++f)
        if (const uint8_t* base = frame_base(m_shared, f)) wrote(base, kXenPageSize);
    return {m_version, 0};
}

}  // namespace popek::pv
