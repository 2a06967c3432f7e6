#pragma once
/// Routes a vCPU's I/O exits to the pio and mmio buses (and, with --xen, hypercalls to the PV layer).
#include <atomic>
#include <cstdint>
#include <functional>

#include "bus/bus.h"
#include "hv/vcpu_exit.h"

namespace popek::vmm {

struct ExitCounters {
    std::atomic<uint64_t> pio{0}, mmio{0}, hypercalls{0}, unclaimed{0};
};

class ExitDispatcher {
public:
    using HypercallHandler = std::function<uint64_t(int vcpu, const hv::Hypercall&)>;
    ExitDispatcher(const bus::Bus& pio, const bus::Bus& mmio) : m_pio(pio), m_mmio(mmio) {}
    /// `reports_ram_writes`: the handler reports every guest RAM write it makes itself
    /// (hv::Vm::device_wrote_ram: popek's Xen side, pv::RamWrites), so its exits count as
    /// register-only.
    void set_hypercall_handler(HypercallHandler h, bool reports_ram_writes = false) {
        m_hypercall = std::move(h);
        m_hypercall_reports = reports_ram_writes;
    }

    /// Handles an I/O or hypercall exit. Returns false for exits that are not I/O (the vCPU loop
    /// deals with those). `may_write_ram`, if given, says whether the device (or hypercall) may
    /// have written guest RAM without reporting it: false for register-only devices
    /// (bus::Device::writes_guest_ram), a hypercall handler that reports its writes, and a
    /// hypercall nobody handles (-ENOSYS).
    bool dispatch(int vcpu, const hv::VcpuExit& exit, bool* may_write_ram = nullptr);
    const ExitCounters& counters() const { return m_counters; }

private:
    bool dispatch_io(int vcpu, const hv::VcpuExit& exit, bool& may_write_ram);
    const bus::Bus& m_pio;
    const bus::Bus& m_mmio;
    HypercallHandler m_hypercall;
    bool m_hypercall_reports = false;
    ExitCounters m_counters;
};

}  // namespace popek::vmm
