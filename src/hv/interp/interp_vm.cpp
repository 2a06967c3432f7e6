#include "hv/interp/interp_vm.h"

#include "hv/interp/interp_vcpu.h"

namespace popek::hv::interp {

InterpVm::~InterpVm() = default;

Result<void> InterpVm::set_memory(const memory::GuestMemory& mem) {
    if (m_shared) return fail("interp: guest memory can be set only once");
    m_shared = std::make_unique<emu::EngineShared>(mem, m_config.vcpus, kTscHz);
    m_shared->xen = m_config.xen;
    m_shared->platform = m_platform.get();
    return {};
}

Result<std::unique_ptr<Vcpu>> InterpVm::create_vcpu(int index) {
    if (!m_shared) return fail("interp: create_vcpu before set_memory");
    if (index < 0 || index >= m_config.vcpus) return fail("interp: vCPU index {} out of range", index);
    emu::CpuInterrupts* ints = m_platform ? &m_platform->cpu(index) : nullptr;
    return std::unique_ptr<Vcpu>(new InterpVcpu(*m_shared, index, ints));
}

Result<void> InterpVm::set_irq_line(uint32_t gsi, bool level) {
    (void)level;
    if (!m_platform) return fail("interp: no interrupt controller in this build: cannot raise GSI {}", gsi);
    if (m_shared) m_shared->dma_epoch.fetch_add(1, std::memory_order_acq_rel);
    return fail("interp: interrupt platform not wired");
}

Result<void> InterpVm::inject_vector(int vcpu, uint8_t vector) {
    if (!m_platform) return fail("interp: no interrupt controller in this build: cannot inject vector {:#x}", vector);
    if (vcpu < 0 || vcpu >= m_config.vcpus) return fail("interp: vCPU index {} out of range", vcpu);
    if (!m_platform->inject_vector(vcpu, vector)) return fail("interp: vCPU {} cannot take vector {:#x}", vcpu, vector);
    return {};
}

}  // namespace popek::hv::interp
