/// The Xen personality on the own engine (hv/xen/xen_personality.h): the CPUID leaves at
/// 0x40000000 are Xen's (public/arch-x86/cpuid.h), MSR 0x40000000 installs the hypercall page, and
/// the stubs' 4-byte OUT to kHypercallPort becomes a hv::Hypercall exit whose result lands in RAX
/// when the VMM resumes the vCPU (the same contract as the KVM backend). VMCALL and VMMCALL (Xen's
/// own transfer instructions, docs/guest-guide/x86/hypercall-abi.rst) become the same exit with
/// the number from EAX: Linux 6.1.119+ (XSA-466) calls Xen that way.
#include "hv/xen/xen_cpu_hooks.h"

#include <cerrno>

#include "emu/cpu.h"
#include "hv/xen/viridian.h"
#include "hv/xen/xen_personality.h"

namespace popek::hv::xen {
namespace {

void start_hypercall(emu::Cpu& cpu, uint32_t nr) {
    cpu.exit_hypercall(hypercall_from_state(nr, cpu.save_state(), nullptr));
}

ViridianClock viridian_clock(emu::Cpu& cpu) {
    const emu::GuestClock& clock = cpu.shared().clock;
    const uint64_t ns = clock.now_ns();
    return {clock.tsc_hz(), clock.tsc_at(ns), ns};
}

class XenCpuHooks final : public emu::CpuHooks {
public:
    /// `viridian` null: Xen's interface alone, at 0x40000000.
    explicit XenCpuHooks(std::unique_ptr<Viridian> viridian = nullptr)
        : m_viridian(std::move(viridian)), m_layout(m_viridian ? kViridianXenLayout : XenLayout{}) {}

    bool cpuid(emu::Cpu& cpu, uint32_t leaf, uint32_t out[4]) override {
        if (m_viridian && m_viridian->cpuid(leaf, out)) return true;
        return xen::cpuid(leaf, cpu.index(), static_cast<uint32_t>(cpu.shared().clock.tsc_hz() / 1000), out, m_layout);
    }
    bool read_msr(emu::Cpu& cpu, uint32_t msr, uint64_t& value) override {
        if (m_viridian) {
            if (auto done = m_viridian->read_msr(cpu.index(), msr, viridian_clock(cpu), value)) {
                if (!*done) cpu.raise(emu::kGp, 0);
                return true;
            }
        }
        return xen::read_msr(msr, value, m_layout).has_value();
    }
    bool write_msr(emu::Cpu& cpu, uint32_t msr, uint64_t value) override {
        std::optional<bool> done;
        if (m_viridian) done = m_viridian->write_msr(cpu.shared().mem, cpu.index(), msr, value, viridian_clock(cpu));
        if (!done) done = xen::write_msr(cpu.shared().mem, msr, value, m_layout);
        if (!done) return false;
        if (!*done) cpu.raise(emu::kGp, 0);   // the guest's error: #GP (SDM Vol. 2B WRMSR)
        // The page may hold decoded code (a guest reinstalling it): drop those blocks.
        cpu.check_code_write(value & ~0xfffULL, 1);
        return true;
    }
    bool port_out(emu::Cpu& cpu, uint16_t port, unsigned size, uint32_t value) override {
        if (!is_hypercall_out(port, size)) return false;
        start_hypercall(cpu, value);
        return true;
    }
    bool vmcall(emu::Cpu& cpu) override {
        // Xen refuses hypercalls from guest user mode with -EPERM (hvm_hypercall: CPL != 0).
        if (cpu.cpl != 0) {
            cpu.gpr[hv::RAX] = static_cast<uint64_t>(-static_cast<int64_t>(EPERM));
            return true;
        }
        start_hypercall(cpu, static_cast<uint32_t>(cpu.gpr[hv::RAX]));
        return true;
    }
    // Xen (hvm_hlt): HLT with IF=0 takes the vCPU down for good, and a domain with no vCPU up is
    // over (hvm_vcpu_down). XTF's crash path ends in `cli; hlt`.
    bool hlt_with_if0_downs_vcpu() const override { return true; }

private:
    std::unique_ptr<Viridian> m_viridian;
    XenLayout m_layout;
};

}  // namespace

emu::CpuHooks& engine_hooks() {
    static XenCpuHooks hooks;
    return hooks;
}

std::unique_ptr<emu::CpuHooks> make_viridian_engine_hooks(int vcpus) {
    return std::make_unique<XenCpuHooks>(std::make_unique<Viridian>(vcpus));
}

}  // namespace popek::hv::xen
