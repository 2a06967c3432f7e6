#pragma once
/// pv::GrantTable: one guest's grant table (xen/grant_table.h), version 1 or 2. The guest writes
/// entries into table frames it placed in its physmap (XENMAPSPACE_grant_table) or learnt from
/// GNTTABOP_setup_table; a backend domain may then map or copy exactly the pages granted to it.
/// - v1 (the default): grant_entry_v1_t {flags, domid, frame}, 512 per frame; GTF_reading and
///   GTF_writing live in `flags`.
/// - v2 (GNTTABOP_set_version 2): grant_entry_v2_t (16 bytes, 256 per frame): `full_page` {hdr,
///   frame (64 bits)} or, with GTF_sub_page, `sub_page` {hdr, page_off, length, frame}, which may
///   be copied within [page_off, page_off + length) but never mapped; GTF_reading/GTF_writing
///   live in the status frames (grant_status_t, 2048 per frame, GNTTABOP_get_status_frames or
///   XENMAPSPACE_grant_table with XENMAPIDX_grant_table_status). Transitive grants are refused
///   (GNTST_general_error).
///
/// Entries are guest memory the guest may rewrite at any moment. As in Xen, a first pin checks
/// GTF_permit_access, the grantee domid and GTF_readonly and sets GTF_reading (and GTF_writing for a
/// writable pin): v1 with one compare-and-swap over {flags, domid}, so the guest cannot change the
/// grant between the check and the pin; v2 (Xen's _set_status_v2) by setting the status bits, a
/// full barrier, and the same check again, undone if it changed. The frame is read once, after
/// pinning, and must be guest RAM.
/// A mapping is a host span of that one page, nothing else. Thread-safe.
#include <cstdint>
#include <expected>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "memory/guest_memory.h"
#include "pv/pv_result.h"
#include "pv/ram_writes.h"
#include "pv/xen_abi.h"
#include "snapshot/snap_codec.h"

namespace popek::pv {

/// A grant operation's outcome: the value or a GNTST_* status (negative), as the guest sees it.
template <class T>
using GntResult = std::expected<T, int16_t>;

class GrantTable {
public:
    static constexpr uint32_t kEntriesPerFrame = kXenPageSize / sizeof(grant_entry_v1_t);
    static constexpr uint32_t kEntriesPerFrameV2 = kXenPageSize / sizeof(grant_entry_v2_t);
    static constexpr uint32_t kStatusPerFrame = kXenPageSize / sizeof(grant_status_t);

    GrantTable(const memory::GuestMemory& mem, DomId domid, uint32_t max_frames = 64, uint32_t max_maps = 1024);

    /// Where every write of guest RAM is reported (pin bits, copies, table frames moved or
    /// cleared); set before any back end runs. A writable mapping's holder reports its own writes
    /// (SharedRing does, with ram_writes()). Not owned; null: nobody.
    void set_ram_writes(const RamWrites* writes) { m_writes = writes; }
    const RamWrites* ram_writes() const { return m_writes; }

    // ---- the owning guest
    /// XENMEM_add_to_physmap(XENMAPSPACE_grant_table, idx, gpfn): frame `idx` appears at `gpfn`
    /// (growing the table to idx+1 frames). With XENMAPIDX_grant_table_status in idx: status
    /// frame idx (v2 only, idx < nr_status_frames). EINVAL otherwise, for idx ≥ max, or a gpfn
    /// outside guest RAM.
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

    /// GNTTABOP_set_version: `version` is what the guest asked; the result says the version in
    /// use afterwards (written back even on error, as Xen) and the error: EINVAL for a version
    /// other than 1 or 2, EBUSY while a grant other than the 8 reserved ones is pinned, ERANGE
    /// for a reserved v2 entry v1 cannot hold (a frame ≥ 2^32, a transitive grant). A switch
    /// clears every entry but the reserved ones, which are converted (grant_table_version.cpp).
    struct VersionResult {
        uint32_t version;
        int error;   ///< 0 or a positive errno
    };
    VersionResult set_version(uint32_t version);
    uint32_t version() const;
    /// v2: status frames for the table's entries (v1: 0).
    uint32_t nr_status_frames() const;
    /// GNTTABOP_get_status_frames: where the first `nr` status frames are placed (~0 for one in
    /// popek's memory); GNTST_general_error for more than nr_status_frames (all of v1's).
    GntResult<std::vector<uint64_t>> status_frames(uint32_t nr) const;

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
    /// Host-held frame `idx` (empty when there is no such frame or it is placed in guest RAM). A
    /// v2 status frame's index has XENMAPIDX_grant_table_status set, as in XENMEM_add_to_physmap.
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
        uint16_t sub_off = 0;           ///< v2 GTF_sub_page: the bytes that may be copied
        uint16_t sub_len = kXenPageSize;
    };
    /// Table frames (shared entries, or v2 status) and where each lives: at a guest gpfn, or in
    /// popek's memory until placed.
    struct Frames {
        std::vector<std::vector<uint8_t>> host;
        std::vector<std::optional<uint64_t>> gpfn;
    };
    struct Map {
        bool used = false;
        grant_ref_t ref = 0;
        bool readonly = false;
    };

    grant_entry_v1_t* entry(grant_ref_t ref);
    grant_entry_v2_t* entry_v2(grant_ref_t ref);
    grant_status_t* status(grant_ref_t ref);
    uint8_t* frame_base(const Frames& frames, uint32_t i) const;
    /// `for_map`: a mapping (refuses v2 sub-page grants); a copy checks the sub-page bounds itself.
    GntResult<std::span<uint8_t>> pin(DomId grantee, grant_ref_t ref, bool readonly, bool for_map = false);
    GntResult<void> pin_flags_v1(DomId grantee, grant_ref_t ref, bool readonly, bool first);
    GntResult<void> pin_flags_v2(DomId grantee, grant_ref_t ref, bool readonly, bool first, bool for_map);
    void unpin(grant_ref_t ref, bool readonly);
    /// Clears pin bits (GTF_reading/GTF_writing) of `ref` where its version keeps them.
    void clear_pin_bits(grant_ref_t ref, uint16_t bits);
    /// Whether [offset, offset + len) lies in what ref's pin allows (a v2 sub-page grant).
    bool within_grant(grant_ref_t ref, uint32_t offset, size_t len) const;
    void grow(uint32_t frames);
    static void save_frames(snapshot::Writer& w, const Frames& frames);
    bool load_frames(snapshot::Reader& r, Frames& out, uint32_t max, const char* what) const;
    PvResult<std::span<uint8_t>> place(Frames& frames, uint32_t i, std::optional<uint64_t> gpfn);
    GntResult<std::span<uint8_t>> own_page(uint64_t gmfn) const;
    void wrote(const void* host, size_t len) const {
        if (m_writes) m_writes->wrote(host, len);
    }

    const memory::GuestMemory& m_mem;
    const DomId m_domid;
    const uint32_t m_max_frames;
    const uint32_t m_max_maps;
    const RamWrites* m_writes = nullptr;

    mutable std::mutex m_lock;
    uint32_t m_version = 1;
    Frames m_shared;                                    ///< the entries
    /// v2's pin status per entry. Storage only grows (a frame shown to the guest outside RAM
    /// stays valid); the first m_nr_status frames are the table's, none under v1.
    Frames m_status;
    uint32_t m_nr_status = 0;
    std::vector<std::optional<Active>> m_active;        ///< pins per ref (grown with the table)
    std::vector<Map> m_maps;                            ///< index = handle
};

}  // namespace popek::pv
