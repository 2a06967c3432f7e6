#include "hv/kvm/kvm_vm.h"

#include <sys/ioctl.h>

#include "hv/kvm/kvm_vcpu.h"

namespace popek::hv::kvm {

Result<std::unique_ptr<KvmVm>> KvmVm::create(std::shared_ptr<const KvmSystem> sys, const VmConfig& config) {
    int fd = ::ioctl(sys->kvm.get(), KVM_CREATE_VM, 0);
    if (fd < 0) return fail_errno("KVM_CREATE_VM");
    std::unique_ptr<KvmVm> vm(new KvmVm(sys, UniqueFd(fd), config));
    // VMX needs a TSS and identity map page below 4 GiB; other KVM flavours ignore or refuse
    // these, which is harmless, so failures are not fatal.
    (void)::ioctl(fd, KVM_SET_TSS_ADDR, 0xfffbd000UL);
    uint64_t identity = 0xfffbc000;
    (void)::ioctl(fd, KVM_SET_IDENTITY_MAP_ADDR, &identity);
    if (sys->has_irqchip && ::ioctl(fd, KVM_CREATE_IRQCHIP, 0) == 0) {
        vm->m_irqchip = true;
        // In-kernel PIT (i8254) drives IRQ0 for guests that calibrate against it.
        kvm_pit_config pit{};
        pit.flags = KVM_PIT_SPEAKER_DUMMY;
        (void)::ioctl(fd, KVM_CREATE_PIT2, &pit);
    }
    return vm;
}

Result<void> KvmVm::set_memory(const memory::GuestMemory& mem) {
    uint32_t slot = 0;
    for (const memory::Region& r : mem.regions()) {
        kvm_userspace_memory_region region{};
        region.slot = slot++;
        region.guest_phys_addr = r.base;
        region.memory_size = r.size;
        region.userspace_addr = reinterpret_cast<uint64_t>(r.host);
        if (::ioctl(m_fd.get(), KVM_SET_USER_MEMORY_REGION, &region) != 0)
            return fail_errno("KVM_SET_USER_MEMORY_REGION [{:#x}, +{:#x})", r.base, r.size);
    }
    return {};
}

Result<std::unique_ptr<Vcpu>> KvmVm::create_vcpu(int index) {
    auto vcpu = TRY(KvmVcpu::create(m_sys, m_fd.get(), index, m_config, m_irqchip));
    return std::unique_ptr<Vcpu>(std::move(vcpu));
}

Result<void> KvmVm::set_irq_line(uint32_t gsi, bool level) {
    if (!m_irqchip) return fail("no in-kernel irqchip: cannot raise IRQ {}", gsi);
    kvm_irq_level irq{};
    irq.irq = gsi;
    irq.level = level ? 1 : 0;
    if (::ioctl(m_fd.get(), KVM_IRQ_LINE, &irq) != 0) return fail_errno("KVM_IRQ_LINE {}", gsi);
    return {};
}

}  // namespace popek::hv::kvm
