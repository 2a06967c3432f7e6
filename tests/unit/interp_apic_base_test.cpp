// IA32_APIC_BASE as kvm-unit-tests' apic test checks it: CPUID.1:EDX.APIC follows the global
// enable, and setting a reserved bit (EXTD included: popek offers no x2APIC) is #GP.
#include "interp_vm_harness.h"

namespace popek::emu::test {
namespace {

using Bytes = std::vector<uint8_t>;

TEST(InterpApicBase, CpuidApicBitFollowsTheGlobalEnable) {
    ProtectedModeVm vm(1, 1, false, Bytes{
        0xb8, 0x01, 0x00, 0x00, 0x00,        // mov $1, %eax
        0x0f, 0xa2,                          // cpuid
        0x89, 0xd6,                          // mov %edx, %esi
        0xb9, 0x1b, 0x00, 0x00, 0x00,        // mov $0x1b, %ecx
        0x0f, 0x32,                          // rdmsr
        0x25, 0xff, 0xf7, 0xff, 0xff,        // and $~0x800, %eax
        0x0f, 0x30,                          // wrmsr: APIC off
        0xb8, 0x01, 0x00, 0x00, 0x00,        // mov $1, %eax
        0x0f, 0xa2,                          // cpuid
        0x89, 0xd7,                          // mov %edx, %edi
        0xf4,                                // hlt
    });
    ASSERT_TRUE(std::holds_alternative<hv::Halt>(vm.run(0)));
    EXPECT_NE(vm.gpr(0, hv::RSI) & (1u << 9), 0u) << "APIC enabled: CPUID.1:EDX bit 9 set";
    EXPECT_EQ(vm.gpr(0, hv::RDI) & (1u << 9), 0u) << "APIC disabled: bit 9 clear";
}

TEST(InterpApicBase, ReservedBitsAndExtdAreGp) {
    // No IDT: the #GP becomes a triple fault, a Shutdown exit; an accepted WRMSR reaches the HLT.
    auto wrmsr_or = [](uint32_t bits_low, uint32_t bits_high) {
        Bytes code{0xb9, 0x1b, 0x00, 0x00, 0x00, 0x0f, 0x32};   // mov $0x1b, %ecx; rdmsr
        code.insert(code.end(), {0x0d});                         // or $bits_low, %eax
        for (int i = 0; i < 4; ++i) code.push_back(static_cast<uint8_t>(bits_low >> (8 * i)));
        code.insert(code.end(), {0x81, 0xca});                   // or $bits_high, %edx
        for (int i = 0; i < 4; ++i) code.push_back(static_cast<uint8_t>(bits_high >> (8 * i)));
        code.insert(code.end(), {0x0f, 0x30, 0xf4});             // wrmsr; hlt
        return code;
    };
    auto triple_fault = [](const hv::VcpuExit& e) {
        auto* sd = std::get_if<hv::Shutdown>(&e);
        return sd != nullptr && sd->reason == hv::Shutdown::TripleFault;
    };
    ProtectedModeVm extd(1, 1, false, wrmsr_or(1u << 10, 0));
    EXPECT_TRUE(triple_fault(extd.run(0))) << "EXTD without x2APIC in CPUID";
    ProtectedModeVm low(1, 1, false, wrmsr_or(1u << 0, 0));
    EXPECT_TRUE(triple_fault(low.run(0))) << "bit 0";
    ProtectedModeVm high(1, 1, false, wrmsr_or(0, 1u << 8));
    EXPECT_TRUE(triple_fault(high.run(0))) << "bit 40, above MAXPHYADDR";
    ProtectedModeVm fine(1, 1, false, wrmsr_or(0, 0x80));
    EXPECT_TRUE(std::holds_alternative<hv::Halt>(fine.run(0))) << "bit 39: a valid base bit";
}

}  // namespace
}  // namespace popek::emu::test
