#pragma once
/// pv::GrantTable: one guest's v1 grant table (xen/grant_table.h). The guest writes
/// grant_entry_v1_t entries {flags, domid, frame} into table frames it placed in its physmap
/// (XENMAPSPACE_grant_table) or learnt from GNTTABOP_setup_table; a backend domain may then map or
/// copy exactly the pages granted to it.
///
/// Entries are guest memory the guest may rewrite at any moment. As in Xen, a first pin checks
/// GTF_permit_access, the grantee domid and GTF_readonly and sets GTF_reading (and GTF_writing for a
/// writable pin) with one compare-and-swap over {flags, domid}, so the guest cannot change the grant
/// between the check and the pin; the frame is read once, after pinning, and must be guest RAM.
/// A mapping is a host span of that one page, nothing else. Thread-safe.
#include <cstdint>
#include <expected>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "memory/guest_memory.h"
#include "pv/pv_result.h"
#include "pv/xen_abi.h"
#include "snapshot/snap_codec.h"

namespace popek::pv {

/// A grant operation's outcome: the value or a GNTST_* status (negative), as the guest sees it.
template <class T>
using GntResult = std::expected<T, int16_t>;

class GrantTable {
public:
    static constexpr uint32_t kEntriesPerFrame = kXenPageSize / sizeof(grant_entry_v1_t);

    GrantTable(const memory::GuestMemory& mem, DomId domid, uint32_t max_frames = 64, uint32_t max_maps = 1024);

    // ---- the owning guest
    /// XENMEM_add_to_physmap(XENMAPSPACE_grant_table, idx, gpfn): frame `idx` appears at `gpfn`
    /// (growing the table to idx+1 frames). EINVAL for status frames (v2 only), idx ≥ max, or a
    /// gpfn outside guest RAM.
    PvResult<void> place_frame(uint64_t idx, uint64_t gpfn);
    /// The same for a gpfn that is no guest RAM (Linux PVH puts its grant frames in unpopulated
    /// address space above RAM): frame `idx` stays in popek's memory, and the returned page is
    /// what the caller shows the guest at that gpfn. EINVAL as place_frame for a bad idx.
    PvResult<std::span<uint8_t>> place_frame_in_host(uint64_t idx);
    /// GNTTABOP_query_size for this domain.
    void query_size(gnttab_query_size& op) const;
    /// GNTTABOP_setup_table: grows the table to `nr_frames`; returns where each frame is placed
    /// (gpfn, or ~0 for a frame the guest has not placed: Xen's INVALID_GFN).
    GntResult<std::vector<xen_pfn_t>> setup_table(uint32_t nr_frames);
    /// GNTTABOP_copy issued by the owning guest itself (gmfn sides and grants to itself).
    void copy(gnttab_copy& op);
    uint32_t nr_frames() const;
    uint32_t max_frames() const { return m_max_frames; }

    // ---- a backend domain (`grantee`, normally popek's dom0)
    struct Mapping {
        grant_handle_t handle;
        std::span<uint8_t> page;  ///< the granted page only
        bool readonly;
    };
    /// GNTTABOP_map_grant_ref of `ref` for `grantee`.
    GntResult<Mapping> map(DomId grantee, grant_ref_t ref, bool readonly);
    /// GNTTABOP_unmap_grant_ref.
    GntResult<void> unmap(grant_handle_t handle);
    /// GNTTABOP_copy between a granted page and a host buffer (offset + size within the page).
    GntResult<void> copy_from(DomId grantee, grant_ref_t ref, uint16_t offset, std::span<uint8_t> out);
    GntResult<void> copy_to(DomId grantee, grant_ref_t ref, uint16_t offset, std::span<const uint8_t> in);
    size_t active_mappings() const;
    /// The page of an existing mapping (a restored back end finds its ring again); GNTST_bad_handle
    /// for a handle not in use, GNTST_general_error when its access is not `readonly`'s.
    GntResult<Mapping> mapping(grant_handle_t handle, bool readonly) const;

    // ---- host frames shown through the physmap (XenPhysmap) and snapshots
    /// The index of the host-held frame whose page is `page`, if it is one.
    std::optional<uint32_t> host_frame_index(const uint8_t* page) const;
    /// Host-held frame `idx` (empty when there is no such frame or it is placed in guest RAM).
    std::span<uint8_t> host_frame(uint32_t idx);
    /// docs/snapshot.md "GNTT" (grant_table_snapshot.cpp): the frames (placement, or the contents
    /// of those popek holds), the pins and the back ends' mappings. The entries themselves are
    /// guest RAM or the saved host frames. load() checks every value and that the pins are exactly
    /// what the mappings hold.
    void save(snapshot::Writer& w) const;
    void load(snapshot::Reader& r);

private:
    struct Active {
        uint32_t readers = 0;
        uint32_t writers = 0;
        uint64_t frame = 0;
    };
    struct Map {
        bool used = false;
        grant_ref_t ref = 0;
        bool readonly = false;
    };

    grant_entry_v1_t* entry(grant_ref_t ref);
    GntResult<std::span<uint8_t>> pin(DomId grantee, grant_ref_t ref, bool readonly);
    void unpin(grant_ref_t ref, bool readonly);
    void grow(uint32_t frames);
    GntResult<std::span<uint8_t>> own_page(uint64_t gmfn) const;

    const memory::GuestMemory& m_mem;
    const DomId m_domid;
    const uint32_t m_max_frames;
    const uint32_t m_max_maps;

    mutable std::mutex m_lock;
    std::vector<std::vector<uint8_t>> m_host_frames;   ///< contents of frames not yet placed
    std::vector<std::optional<uint64_t>> m_frame_gpfn;  ///< placement of each frame
    std::vector<std::optional<Active>> m_active;        ///< pins per ref (grown with the table)
    std::vector<Map> m_maps;                            ///< index = handle
};

}  // namespace popek::pv
