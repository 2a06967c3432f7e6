/// The Xen personality on the own engine (hv/xen/xen_personality.h): with EngineShared::xen the
/// CPUID leaves at 0x40000000 are Xen's (public/arch-x86/cpuid.h), MSR 0x40000000 installs the
/// hypercall page, and the stubs' 4-byte OUT to kHypercallPort becomes a hv::Hypercall exit whose
/// result lands in RAX when the VMM resumes the vCPU (the same contract as the KVM backend).
/// VMCALL and VMMCALL (Xen's own transfer instructions, docs/guest-guide/x86/hypercall-abi.rst)
/// become the same exit with the number from EAX: Linux 6.1.119+ (XSA-466) calls Xen that way.
#include <cerrno>

#include "emu/cpu.h"
#include "hv/xen/xen_personality.h"

namespace popek::emu {

bool Cpu::xen_cpuid(uint32_t leaf, uint32_t out[4]) const {
    if (!m_shared.xen || (leaf & 0xffffff00u) != hv::xen::kCpuidBase) return false;
    out[0] = out[1] = out[2] = out[3] = 0;   // leaves past the last one read as zero
    // Sub-leaves are not significant, as on the KVM backend (KVM_SET_CPUID2 without
    // KVM_CPUID_FLAG_SIGNIFCANT_INDEX), so both engines answer alike.
    const auto khz = static_cast<uint32_t>(m_shared.clock.tsc_hz() / 1000);
    for (const hv::xen::CpuidLeaf& l : hv::xen::cpuid_leaves(m_index, khz)) {
        if (l.function != leaf) continue;
        out[0] = l.eax;
        out[1] = l.ebx;
        out[2] = l.ecx;
        out[3] = l.edx;
    }
    return true;
}

bool Cpu::xen_read_msr(uint32_t msr, uint64_t& value) const {
    if (!m_shared.xen || msr != hv::xen::kHypercallPageMsr) return false;
    value = 0;   // write-only in Xen; reads as 0 like on the KVM backend
    return true;
}

bool Cpu::xen_write_msr(uint32_t msr, uint64_t value) {
    if (!m_shared.xen || msr != hv::xen::kHypercallPageMsr) return false;
    // A page outside RAM or a page index other than 0 is the guest's error: #GP (SDM Vol. 2B WRMSR).
    if (!hv::xen::install_hypercall_page(m_shared.mem, value)) raise(kGp, 0);
    // The page may hold decoded code (a guest reinstalling it): drop those blocks.
    check_code_write(value & ~0xfffULL, 1);
    return true;
}

bool Cpu::xen_hypercall_out(uint16_t port, unsigned size, uint32_t value) {
    if (!m_shared.xen || port != hv::xen::kHypercallPort || size != 4) return false;
    start_hypercall(value);
    return true;
}

bool Cpu::xen_vmcall() {
    if (!m_shared.xen) return false;
    // Xen refuses hypercalls from guest user mode with -EPERM (hvm_hypercall: CPL != 0).
    if (cpl != 0) {
        gpr[hv::RAX] = static_cast<uint64_t>(-static_cast<int64_t>(EPERM));
        return true;
    }
    start_hypercall(static_cast<uint32_t>(gpr[hv::RAX]));
    return true;
}

void Cpu::start_hypercall(uint32_t nr) {
    m_hypercall_result = 0;
    m_exit = hv::xen::hypercall_from_state(nr, save_state(), &m_hypercall_result);
    m_hypercall_pending = true;
    m_exit_pending = true;
    brk = true;
}

}  // namespace popek::emu
