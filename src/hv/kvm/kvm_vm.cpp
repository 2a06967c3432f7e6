#include "hv/kvm/kvm_vm.h"

#include <sys/ioctl.h>

#include "hv/kvm/kvm_vcpu.h"
#include "hv/xen/xen_personality.h"

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
    if (config.xen) TRY_VOID(vm->enable_xen_msr_exits());
    return vm;
}

/// The Xen hypercall-page MSR must reach popek: deny it in KVM's MSR filter, so accesses exit to
/// user space (KVM_CAP_X86_USER_SPACE_MSR, Documentation/virt/kvm/api.rst 7.21 and 4.126).
Result<void> KvmVm::enable_xen_msr_exits() {
    kvm_enable_cap cap{};
    cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
    cap.args[0] = KVM_MSR_EXIT_REASON_FILTER;
    if (::ioctl(m_fd.get(), KVM_ENABLE_CAP, &cap) != 0)
        return fail_errno("--xen needs KVM_CAP_X86_USER_SPACE_MSR (hypercall page MSR)");
    static uint8_t deny_bitmap = 0;  // one MSR, bit clear: denied, i.e. handled by popek
    kvm_msr_filter filter{};
    filter.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
    filter.ranges[0].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
    filter.ranges[0].nmsrs = 1;
    filter.ranges[0].base = xen::kHypercallPageMsr;
    filter.ranges[0].bitmap = &deny_bitmap;
    if (::ioctl(m_fd.get(), KVM_X86_SET_MSR_FILTER, &filter) != 0) return fail_errno("KVM_X86_SET_MSR_FILTER");
    return {};
}

Result<void> KvmVm::set_memory(const memory::GuestMemory& mem) {
    m_mem = &mem;
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
    auto vcpu = TRY(KvmVcpu::create(m_sys, m_fd.get(), index, m_config, m_irqchip, m_mem));
    vcpu->join_pause_gate(m_pause);
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


Result<void> KvmVm::inject_vector(int vcpu, uint8_t vector) {
    if (!m_irqchip) return fail("no in-kernel irqchip: cannot inject vector {:#x}", vector);
    // An MSI to the vCPU's local APIC (SDM Vol. 3A 10.11.1): address 0xfee00000 | dest << 12,
    // data = vector with fixed delivery and edge trigger. APIC ID == vCPU index (set in CPUID).
    kvm_msi msi{};
    msi.address_lo = 0xfee00000u | (static_cast<uint32_t>(vcpu) << 12);
    msi.data = vector;
    if (::ioctl(m_fd.get(), KVM_SIGNAL_MSI, &msi) < 0) return fail_errno("KVM_SIGNAL_MSI vector {:#x}", vector);
    return {};
}

}  // namespace popek::hv::kvm
