#pragma once
/// pv::Balloon: which of a domain's RAM frames the guest has given back with
/// XENMEM_decrease_reservation, and their return with XENMEM_populate_physmap /
/// XENMEM_increase_reservation (Xen public memory.h). Resource control: a frame can only come
/// back after it was given back, so the domain never holds more than the RAM it was configured
/// with (Xen: tot_pages <= max_pages). A given-back frame is zeroed; popek's guest RAM is one fixed
/// mapping, so the frame stays addressable (it reads as zeros) where Xen would leave a p2m hole.
/// Thread-safe: vCPUs make hypercalls concurrently.
#include <cstdint>
#include <mutex>
#include <optional>
#include <set>

#include "memory/guest_memory.h"
#include "pv/ram_writes.h"
#include "snapshot/snap_codec.h"

namespace popek::pv {

class Balloon {
public:
    /// A frame given back is zeroed; that write is reported to `writes` (not owned, may be null).
    Balloon(const memory::GuestMemory& mem, uint64_t pages, const RamWrites* writes = nullptr)
        : m_mem(mem), m_pages(pages), m_writes(writes) {}

    /// XENMEM_decrease_reservation of one 4 KiB frame: false when `gfn` is not guest RAM or was
    /// already given back (Xen's guest_remove_page fails; the hypercall stops there).
    bool give_back(uint64_t gfn);
    /// XENMEM_populate_physmap of one frame: false unless `gfn` was given back (popek cannot add
    /// RAM beyond the domain's own, nor replace a populated frame).
    bool repopulate(uint64_t gfn);
    /// XENMEM_increase_reservation of one frame: the lowest given-back frame, repopulated; nullopt
    /// when none is left (the domain is at its maximum reservation).
    std::optional<uint64_t> take_any();
    /// XENMEM_current_reservation: the frames the domain holds now.
    uint64_t current_pages() const;
    uint64_t max_pages() const { return m_pages; }
    /// Snapshots: the frames given back (each must be a frame of guest RAM, once).
    void save(snapshot::Writer& w) const;
    void load(snapshot::Reader& r);

private:
    const memory::GuestMemory& m_mem;
    const uint64_t m_pages;
    const RamWrites* m_writes;
    mutable std::mutex m_lock;
    std::set<uint64_t> m_given_back;
};

}  // namespace popek::pv
