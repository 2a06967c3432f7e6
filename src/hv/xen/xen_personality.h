#pragma once
/// The Xen personality every engine shows a `--xen` guest: the CPUID leaves at 0x40000000
/// (/usr/include/xen/arch-x86/cpuid.h), the hypercall-page MSR, and the page's stubs.
///
/// How a hypercall reaches popek: the guest writes the hypercall page's guest-physical address to
/// MSR 0x40000000 (CPUID 0x40000002 EBX); popek fills that page with 32-byte stubs, stub N being
///     mov $N, %eax ; out %eax, $kHypercallPort ; ret
/// Every engine turns a 4-byte OUT to kHypercallPort into a hv::Hypercall exit with Xen's argument
/// registers (x86-64: rdi rsi rdx r10 r8; a guest not in 64-bit mode: ebx ecx edx esi edi), and
/// puts the result in rax (eax, zero-extended, for a 32-bit caller). On KVM this needs no Xen
/// support in the host kernel (this project's host has KVM_CAP_XEN_HVM = 0): the OUT is an ordinary
/// PIO exit and the MSR write reaches user space through KVM's MSR filter.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "hv/cpu_state.h"
#include "hv/vcpu_exit.h"
#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::hv::xen {

inline constexpr uint32_t kCpuidBase = 0x40000000;
inline constexpr uint32_t kHypercallPageMsr = 0x40000000;
inline constexpr uint16_t kHypercallPort = 0xe5;  // unused on PC chipsets; imm8 form of OUT
/// The Xen version popek reports (CPUID 0x40000001, XENVER_version): the public headers it speaks.
inline constexpr uint32_t kXenMajor = 4, kXenMinor = 17;
inline constexpr size_t kStubSize = 32;
inline constexpr size_t kPageSize = 4096;

/// Where Xen's CPUID leaves and hypercall-page MSR sit. With Viridian (the Hyper-V interface,
/// hv/xen/viridian.h) offered, 0x40000000 belongs to Hyper-V and Xen moves its leaves to
/// 0x40000100 and its MSR to 0x40000200 (Xen's cpuid_hypervisor_leaves; XTF's find_xen_leaves
/// searches in steps of 0x100).
struct XenLayout {
    uint32_t cpuid_base = kCpuidBase;
    uint32_t hypercall_msr = kHypercallPageMsr;
};
inline constexpr XenLayout kViridianXenLayout{0x40000100, 0x40000200};

struct CpuidLeaf {
    uint32_t function, index;
    uint32_t eax, ebx, ecx, edx;
};

/// Leaves 0x40000000..0x40000004 as Xen 4.17 reports them for an HVM/PVH guest on vCPU `vcpu`
/// (leaf 5 advertises the vCPU id; TSC leaf 4 reports `tsc_khz`).
std::vector<CpuidLeaf> cpuid_leaves(int vcpu, uint32_t tsc_khz, XenLayout layout = {});

/// What every engine answers for CPUID `leaf`: false outside the 256 leaves at layout.cpuid_base
/// (the engine's own leaves); inside, Xen's leaf (cpuid_leaves), and zeros past the last one.
/// Sub-leaves are not significant (as KVM_SET_CPUID2 without KVM_CPUID_FLAG_SIGNIFCANT_INDEX).
bool cpuid(uint32_t leaf, int vcpu, uint32_t tsc_khz, uint32_t out[4], XenLayout layout = {});

/// RDMSR/WRMSR of the hypercall-page MSR as every engine handles it. nullopt: not Xen's MSR (the
/// engine's business); true: done (a read gives 0: the MSR is write-only in Xen); false: the
/// guest's error (a page outside RAM, a page index other than 0), answered with #GP.
std::optional<bool> read_msr(uint32_t msr, uint64_t& value, XenLayout layout = {});
std::optional<bool> write_msr(const memory::GuestMemory& mem, uint32_t msr, uint64_t value, XenLayout layout = {});

/// Whether an OUT is a hypercall stub's: one 4-byte OUT to kHypercallPort.
constexpr bool is_hypercall_out(uint16_t port, unsigned size, uint32_t count = 1) {
    return port == kHypercallPort && size == 4 && count == 1;
}

/// Fills `page` with the hypercall stubs (the rest is INT3, so a call into the middle traps).
void fill_hypercall_page(std::span<uint8_t, kPageSize> page);

/// Handles a write to the hypercall-page MSR: the low 12 bits select the page (only page 0
/// exists); writes the stubs at the given guest-physical page. Errors are the guest's fault and
/// are answered with #GP by the engine.
Result<void> install_hypercall_page(const memory::GuestMemory& mem, uint64_t msr_value);

/// The Hypercall exit for a vCPU that executed a stub: nr from the OUT data, arguments from the
/// registers of the caller's mode (64-bit: rdi rsi rdx r10 r8; otherwise ebx ecx edx esi edi,
/// marked `compat`). `result` is where the handler stores rax.
Hypercall hypercall_from_state(uint32_t nr, const CpuState& state, uint64_t* result);

}  // namespace popek::hv::xen
