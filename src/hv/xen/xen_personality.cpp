#include "hv/xen/xen_personality.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace popek::hv::xen {
namespace {

// "XenVMMXenVMM" (arch-x86/cpuid.h XEN_CPUID_SIGNATURE_*).
constexpr uint32_t kSigEbx = 0x566e6558, kSigEcx = 0x65584d4d, kSigEdx = 0x4d4d566e;
constexpr uint32_t kHvmVcpuIdPresent = 1u << 3;  // XEN_HVM_CPUID_VCPU_ID_PRESENT
constexpr uint32_t kHvmDomidPresent = 1u << 4;   // XEN_HVM_CPUID_DOMID_PRESENT
constexpr uint32_t kHvmUpcallVector = 1u << 6;   // XEN_HVM_CPUID_UPCALL_VECTOR
constexpr uint32_t kGuestDomid = 1;              // the guest is domain 1; popek plays domain 0

}  // namespace

std::vector<CpuidLeaf> cpuid_leaves(int vcpu, uint32_t tsc_khz, XenLayout layout) {
    const uint32_t id = static_cast<uint32_t>(vcpu);
    const uint32_t base = layout.cpuid_base;
    return {
        {base + 0, 0, base + 4, kSigEbx, kSigEcx, kSigEdx},
        {base + 1, 0, (kXenMajor << 16) | kXenMinor, 0, 0, 0},
        {base + 2, 0, 1, layout.hypercall_msr, 0, 0},
        // TSC leaf, sub-leaf 0: not emulated, reliable host TSC; ECX = guest TSC kHz.
        {base + 3, 0, 1u << 1, 0, tsc_khz, 0},
        {base + 4, 0, kHvmVcpuIdPresent | kHvmDomidPresent | kHvmUpcallVector, id, kGuestDomid, 0},
    };
}

bool cpuid(uint32_t leaf, int vcpu, uint32_t tsc_khz, uint32_t out[4], XenLayout layout) {
    if ((leaf & 0xffffff00u) != layout.cpuid_base) return false;
    out[0] = out[1] = out[2] = out[3] = 0;   // leaves past the last one read as zero
    for (const CpuidLeaf& l : cpuid_leaves(vcpu, tsc_khz, layout)) {
        if (l.function != leaf) continue;
        out[0] = l.eax;
        out[1] = l.ebx;
        out[2] = l.ecx;
        out[3] = l.edx;
    }
    return true;
}

std::optional<bool> read_msr(uint32_t msr, uint64_t& value, XenLayout layout) {
    if (msr != layout.hypercall_msr) return std::nullopt;
    value = 0;
    return true;
}

std::optional<bool> write_msr(const memory::GuestMemory& mem, uint32_t msr, uint64_t value, XenLayout layout) {
    if (msr != layout.hypercall_msr) return std::nullopt;
    return install_hypercall_page(mem, value).has_value();
}

void fill_hypercall_page(std::span<uint8_t, kPageSize> page) {
    std::fill(page.begin(), page.end(), uint8_t{0xcc});
    for (uint32_t nr = 0; nr < kPageSize / kStubSize; ++nr) {
        uint8_t* stub = page.data() + nr * kStubSize;
        const std::array<uint8_t, 8> code = {
            0xb8, static_cast<uint8_t>(nr), static_cast<uint8_t>(nr >> 8), 0, 0,  // mov $nr, %eax
            0xe7, static_cast<uint8_t>(kHypercallPort),                         // out %eax, $port
            0xc3,                                                               // ret
        };
        std::memcpy(stub, code.data(), code.size());
    }
}

Result<void> install_hypercall_page(const memory::GuestMemory& mem, uint64_t msr_value) {
    uint64_t page_index = msr_value & 0xfff;
    uint64_t gpa = msr_value & ~uint64_t{0xfff};
    if (page_index != 0) return fail("hypercall page index {} does not exist (only page 0)", page_index);
    auto slice = TRY(mem.slice(gpa, kPageSize));
    fill_hypercall_page(std::span<uint8_t, kPageSize>(slice.data(), kPageSize));
    return {};
}

Hypercall hypercall_from_state(uint32_t nr, const CpuState& s, uint64_t* result) {
    // Xen docs/guest-guide/x86/hypercall-abi.rst: a guest in 64-bit mode passes rdi rsi rdx r10
    // r8; a guest in any other mode (a 32-bit PVH kernel, or code still in its 32-bit entry)
    // passes ebx ecx edx esi edi and gets the result in eax.
    if ((s.efer & kEferLma) && s.cs.l)
        return Hypercall{nr, {s.gpr[RDI], s.gpr[RSI], s.gpr[RDX], s.gpr[R10], s.gpr[R8]}, result};
    auto low = [&s](int reg) { return s.gpr[reg] & 0xffffffffu; };
    return Hypercall{nr, {low(RBX), low(RCX), low(RDX), low(RSI), low(RDI)}, result, true};
}

}  // namespace popek::hv::xen
