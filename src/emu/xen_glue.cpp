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
    if (!m_shared.xen) return false;
    return hv::xen::cpuid(leaf, m_index, static_cast<uint32_t>(m_shared.clock.tsc_hz() / 1000), out);
}

bool Cpu::xen_read_msr(uint32_t msr, uint64_t& value) const {
    return m_shared.xen && hv::xen::read_msr(msr, value).has_value();
}

bool Cpu::xen_write_msr(uint32_t msr, uint64_t value) {
    if (!m_shared.xen) return false;
    std::optional<bool> done = hv::xen::write_msr(m_shared.mem, msr, value);
    if (!done) return false;
    if (!*done) raise(kGp, 0);   // the guest's error: #GP (SDM Vol. 2B WRMSR)
    // The page may hold decoded code (a guest reinstalling it): drop those blocks.
    check_code_write(value & ~0xfffULL, 1);
    return true;
}

bool Cpu::xen_hypercall_out(uint16_t port, unsigned size, uint32_t value) {
    if (!m_shared.xen || !hv::xen::is_hypercall_out(port, size)) return false;
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
