#pragma once
/// The store ring page (struct xenstore_domain_interface, io/xs_wire.h): the guest produces requests
/// in req[] (req_prod) that popek consumes (req_cons); popek produces replies and watch events in
/// rsp[] (rsp_prod) that the guest consumes (rsp_cons). Indices are free-running, masked with
/// MASK_XENSTORE_IDX. The page is guest memory the guest may rewrite at any moment: every index is
/// read once per step and checked, and an impossible one (more than XENSTORE_RING_SIZE in flight)
/// marks the ring broken (error = XENSTORE_ERROR_RINGIDX) instead of reading out of bounds.
#include <cstdint>
#include <span>
#include <string_view>

#include "pv/ram_writes.h"
#include "pv/xen_abi.h"

namespace popek::pv {

class StoreRing {
public:
    /// `page` must cover a whole xenstore_domain_interface (the caller slices it from guest RAM).
    /// Every write to it is reported to `writes` (not owned, may be null).
    explicit StoreRing(std::span<uint8_t> page, const RamWrites* writes = nullptr);

    /// Advertises the features popek supports (server_features) and resets the connection state.
    void initialise();
    /// Copies up to out.size() request bytes and consumes them. 0 when empty or broken.
    size_t read_requests(std::span<uint8_t> out);
    /// Request bytes the guest has produced and popek not yet consumed (0 when broken).
    size_t requests_available();
    /// Copies as much of `bytes` into the response ring as fits; returns how much.
    size_t write_responses(std::string_view bytes);
    /// Marks the ring broken with an XENSTORE_ERROR_* code that the guest can read.
    void mark_broken(uint32_t error);
    bool broken() const { return m_broken; }
    /// A restored ring broken before the snapshot (its error field is guest RAM already).
    void set_broken(bool broken) { m_broken = broken || m_page.size() < sizeof(xenstore_domain_interface); }

private:
    xenstore_domain_interface* iface() const;

    void report(const void* host, size_t len) const {
        if (m_writes) m_writes->wrote(host, len);
    }

    std::span<uint8_t> m_page;
    const RamWrites* m_writes;
    bool m_broken = false;
};

}  // namespace popek::pv
