#pragma once
/// pv::RamWrites: who hears of guest RAM the Xen side (popek playing Xen and its back ends) wrote,
/// right after each write: the VMM wires it to hv::Vm::device_wrote_ram(gpa, len), so that the own
/// engine drops code it decoded from those bytes (as virtio's Queue::add_used reports its DMA).
/// Every writer of guest RAM under src/pv reports through one of these: grant copies and pins
/// (GrantTable), ring responses and event indices (SharedRing, ByteRing: blkif, netif, popekfs,
/// store, console), shared_info / vcpu_info (EventChannels: pending, selector and upcall bits,
/// masks, time). The driver domain never has guest RAM: its bytes land through GrantTable::copy_to
/// in the VMM (ddom::serve_copy), which reports them like any other grant copy.
///
/// Reports are page-granular in effect (the engine invalidates whole code pages), cost one fence
/// and a code-page lookup per page, and are made on the writer's thread. A default-constructed
/// RamWrites (unit tests, a VMM on KVM) reports nothing. Header-only: the fuzz targets that link
/// the back ends need no extra source.
#include <cstddef>
#include <cstdint>
#include <functional>

#include "memory/guest_memory.h"

namespace popek::pv {

class RamWrites {
public:
    using Sink = std::function<void(uint64_t gpa, uint64_t len)>;

    RamWrites() = default;
    RamWrites(const memory::GuestMemory& mem, Sink sink) : m_mem(&mem), m_sink(std::move(sink)) {}

    explicit operator bool() const { return m_mem != nullptr && static_cast<bool>(m_sink); }

    /// Guest RAM [gpa, gpa + len) was written.
    void wrote_gpa(uint64_t gpa, uint64_t len) const {
        if (len != 0 && *this) m_sink(gpa, len);
    }
    /// `len` bytes at host address `host` were written; only the part inside guest RAM is reported
    /// (a host copy of shared_info, a grant frame popek holds, are nobody's code).
    void wrote(const void* host, size_t len) const {
        if (len == 0 || !*this) return;
        const auto p = reinterpret_cast<uintptr_t>(host);
        for (const memory::Region& r : m_mem->regions()) {
            const auto base = reinterpret_cast<uintptr_t>(r.host);
            if (p < base || p - base >= r.size) continue;
            const uint64_t off = p - base;
            const uint64_t n = len < r.size - off ? len : r.size - off;
            m_sink(r.base + off, n);
            return;
        }
    }

private:
    const memory::GuestMemory* m_mem = nullptr;
    Sink m_sink;
};

}  // namespace popek::pv
