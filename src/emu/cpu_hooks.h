#pragma once
/// The generic hooks through which a layer above the own engine gives its CPU a personality
/// (the Xen layer, hv/xen/xen_cpu_hooks.h): it is asked first for CPUID leaves (SDM Vol. 2A
/// CPUID), RDMSR/WRMSR (Vol. 2B), OUT and VMCALL/VMMCALL (Vol. 3C 25.1.3: a VM exit on hardware),
/// and whatever it does not take is the CPU model's own. The engine itself knows no personality:
/// it holds one CpuHooks (EngineShared::hooks, null for a plain PC) and calls these.
///
/// Hooks run on the vCPU's thread inside an instruction, so they may raise a guest exception
/// (Cpu::raise) or end the instruction with an exit (Cpu::exit_hypercall), as a handler may.
#include <cstdint>

namespace popek::emu {

class Cpu;

class CpuHooks {
public:
    virtual ~CpuHooks() = default;
    /// CPUID `leaf`: true when answered (out = EAX, EBX, ECX, EDX).
    virtual bool cpuid(Cpu& cpu, uint32_t leaf, uint32_t out[4]) = 0;
    /// RDMSR `msr`: true when answered in `value`.
    virtual bool read_msr(Cpu& cpu, uint32_t msr, uint64_t& value) = 0;
    /// WRMSR `msr`: true when taken.
    virtual bool write_msr(Cpu& cpu, uint32_t msr, uint64_t value) = 0;
    /// OUT of `size` bytes: true when taken (the port's devices never see it).
    virtual bool port_out(Cpu& cpu, uint16_t port, unsigned size, uint32_t value) = 0;
    /// VMCALL / VMMCALL: true when taken; false leaves it to the engine (KVM's hypercall ABI,
    /// emu/kvm_hypercall.cpp).
    virtual bool vmcall(Cpu& cpu) = 0;
    /// HLT with RFLAGS.IF=0 takes the vCPU down for good (EngineShared::vcpus_up), and the last
    /// vCPU to go down ends the VM (hv::Shutdown::AllVcpusDown). False: it waits for an NMI.
    virtual bool hlt_with_if0_downs_vcpu() const = 0;
};

}  // namespace popek::emu
