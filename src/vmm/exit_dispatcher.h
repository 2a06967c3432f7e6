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
    void set_hypercall_handler(HypercallHandler h) { m_hypercall = std::move(h); }

    /// Handles an I/O or hypercall exit. Returns false for exits that are not I/O (the vCPU loop
    /// deals with those). `may_write_ram`, if given, says whether the device (or hypercall) may
    /// have written guest RAM: false only for register-only devices (bus::Device::writes_guest_ram).
    bool dispatch(int vcpu, const hv::VcpuExit& exit, bool* may_write_ram = nullptr);
    const ExitCounters& counters() const { return m_counters; }

private:
    bool dispatch_io(int vcpu, const hv::VcpuExit& exit, bool& may_write_ram);
    const bus::Bus& m_pio;
    const bus::Bus& m_mmio;
    HypercallHandler m_hypercall;
    ExitCounters m_counters;
};

}  // namespace popek::vmm
