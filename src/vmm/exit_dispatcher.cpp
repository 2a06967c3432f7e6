#include "vmm/exit_dispatcher.h"

namespace popek::vmm {
namespace {

constexpr uint64_t kEnosys = static_cast<uint64_t>(-38);  // -ENOSYS in the guest's rax

}  // namespace

bool ExitDispatcher::dispatch(int vcpu, const hv::VcpuExit& exit, bool* may_write_ram) {
    bool ram = true;
    const bool handled = dispatch_io(vcpu, exit, ram);
    if (may_write_ram) *may_write_ram = ram;
    return handled;
}

bool ExitDispatcher::dispatch_io(int vcpu, const hv::VcpuExit& exit, bool& may_write_ram) {
    if (auto* in = std::get_if<hv::PioIn>(&exit)) {
        may_write_ram = m_pio.may_write_ram(in->port);
        m_counters.pio.fetch_add(1, std::memory_order_relaxed);
        size_t step = in->size == 0 ? in->data.size() : in->size;
        for (size_t off = 0; off + step <= in->data.size(); off += step)
            if (!m_pio.read(in->port, in->data.subspan(off, step))) m_counters.unclaimed.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    if (auto* out = std::get_if<hv::PioOut>(&exit)) {
        may_write_ram = m_pio.may_write_ram(out->port);
        m_counters.pio.fetch_add(1, std::memory_order_relaxed);
        size_t step = out->size == 0 ? out->data.size() : out->size;
        for (size_t off = 0; off + step <= out->data.size(); off += step)
            if (!m_pio.write(out->port, out->data.subspan(off, step))) m_counters.unclaimed.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    if (auto* rd = std::get_if<hv::MmioRead>(&exit)) {
        may_write_ram = m_mmio.may_write_ram(rd->gpa);
        m_counters.mmio.fetch_add(1, std::memory_order_relaxed);
        if (!m_mmio.read(rd->gpa, rd->data)) m_counters.unclaimed.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    if (auto* wr = std::get_if<hv::MmioWrite>(&exit)) {
        may_write_ram = m_mmio.may_write_ram(wr->gpa);
        m_counters.mmio.fetch_add(1, std::memory_order_relaxed);
        if (!m_mmio.write(wr->gpa, wr->data)) m_counters.unclaimed.fetch_add(1, std::memory_order_relaxed);
        return true;
    }
    if (auto* hc = std::get_if<hv::Hypercall>(&exit)) {
        may_write_ram = m_hypercall && !m_hypercall_reports;
        m_counters.hypercalls.fetch_add(1, std::memory_order_relaxed);
        const uint64_t r = m_hypercall ? m_hypercall(vcpu, *hc) : kEnosys;
        *hc->result = hc->compat ? (r & 0xffffffffu) : r;   // a 32-bit caller gets eax
        return true;
    }
    return false;
}

}  // namespace popek::vmm
