// IA32_APIC_BASE as kvm-unit-tests' apic test checks it: CPUID.1:EDX.APIC follows the global
// enable, setting a reserved bit is #GP, and so are the mode changes x2APIC forbids (SDM Vol. 3A
// 10.12.5); x2APIC as the core offers it (CPUID, MSRs, the xAPIC page gone).
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
    EXPECT_TRUE(std::holds_alternative<hv::Halt>(extd.run(0))) << "EXTD with EN: x2APIC mode";
    ProtectedModeVm low(1, 1, false, wrmsr_or(1u << 0, 0));
    EXPECT_TRUE(triple_fault(low.run(0))) << "bit 0";
    ProtectedModeVm high(1, 1, false, wrmsr_or(0, 1u << 8));
    EXPECT_TRUE(triple_fault(high.run(0))) << "bit 40, above MAXPHYADDR";
    ProtectedModeVm fine(1, 1, false, wrmsr_or(0, 0x80));
    EXPECT_TRUE(std::holds_alternative<hv::Halt>(fine.run(0))) << "bit 39: a valid base bit";
}

bool triple_fault(const hv::VcpuExit& e) {
    auto* sd = std::get_if<hv::Shutdown>(&e);
    return sd != nullptr && sd->reason == hv::Shutdown::TripleFault;
}

/// mov $0x1b,%ecx; rdmsr; and $~0xc00,%eax; or $bits,%eax; wrmsr (EDX kept).
Bytes set_apic_mode(uint32_t bits) {
    Bytes code{0xb9, 0x1b, 0x00, 0x00, 0x00, 0x0f, 0x32, 0x25, 0xff, 0xf3, 0xff, 0xff, 0x0d};
    for (int i = 0; i < 4; ++i) code.push_back(static_cast<uint8_t>(bits >> (8 * i)));
    code.insert(code.end(), {0x0f, 0x30});
    return code;
}

Bytes operator+(Bytes a, const Bytes& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

TEST(InterpApicBase, ForbiddenModeChangesAreGp) {
    // No IDT: a #GP is a triple fault.
    const Bytes hlt{0xf4};
    ProtectedModeVm extd_alone(1, 1, false, set_apic_mode(0x400) + hlt);
    EXPECT_TRUE(triple_fault(extd_alone.run(0))) << "xAPIC -> EXTD without EN";
    ProtectedModeVm to_xapic(1, 1, false, set_apic_mode(0xc00) + set_apic_mode(0x800) + hlt);
    EXPECT_TRUE(triple_fault(to_xapic.run(0))) << "x2APIC -> xAPIC";
    ProtectedModeVm from_off(1, 1, false, set_apic_mode(0) + set_apic_mode(0xc00) + hlt);
    EXPECT_TRUE(triple_fault(from_off.run(0))) << "disabled -> x2APIC";
    ProtectedModeVm via_off(1, 1, false, set_apic_mode(0xc00) + set_apic_mode(0) + set_apic_mode(0x800) + hlt);
    EXPECT_TRUE(std::holds_alternative<hv::Halt>(via_off.run(0))) << "x2APIC -> disabled -> xAPIC";
}

TEST(InterpApicBase, X2apicIsOfferedAndItsMsrsWorkOnlyInX2apicMode) {
    const Bytes cpuid1{0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2};   // mov $1,%eax; cpuid
    const Bytes cpuidb{0xb8, 0x0b, 0x00, 0x00, 0x00, 0x31, 0xc9, 0x0f, 0xa2};   // mov $0xb,%eax; xor %ecx,%ecx; cpuid
    const Bytes rdmsr_id{0xb9, 0x02, 0x08, 0x00, 0x00, 0x0f, 0x32};   // mov $0x802,%ecx; rdmsr
    ProtectedModeVm vm(1, 1, false, cpuid1 + Bytes{0x89, 0xce} + cpuidb + Bytes{0x89, 0xd7} +   // esi, edi
                                        set_apic_mode(0xc00) + rdmsr_id + Bytes{0x89, 0xc5, 0xf4});  // ebp
    ASSERT_TRUE(std::holds_alternative<hv::Halt>(vm.run(0)));
    EXPECT_NE(vm.gpr(0, hv::RSI) & (1u << 21), 0u) << "CPUID.1:ECX.x2APIC";
    EXPECT_EQ(vm.gpr(0, hv::RDI), 0u) << "CPUID.0BH:EDX: x2APIC ID 0";
    EXPECT_EQ(vm.gpr(0, hv::RBP), 0u) << "MSR 0x802: ID 0";
    ProtectedModeVm xapic(1, 1, false, rdmsr_id + Bytes{0xf4});
    EXPECT_TRUE(triple_fault(xapic.run(0))) << "x2APIC MSR in xAPIC mode";
}

TEST(InterpApicBase, InX2apicModeTheApicPageIsNoLongerTheApic) {
    const Bytes read_version{0xa1, 0x30, 0x00, 0xe0, 0xfe, 0xf4};   // mov 0xfee00030,%eax; hlt
    ProtectedModeVm xapic(1, 1, false, read_version);
    EXPECT_TRUE(std::holds_alternative<hv::Halt>(xapic.run(0))) << "xAPIC: the engine's own device";
    EXPECT_EQ(xapic.gpr(0, hv::RAX), 0x00050014u);
    ProtectedModeVm x2apic(1, 1, false, set_apic_mode(0xc00) + read_version);
    auto e = x2apic.run(0);
    auto* read = std::get_if<hv::MmioRead>(&e);
    ASSERT_NE(read, nullptr) << "exit index " << e.index() << ": x2APIC mode, the VMM's bus";
    EXPECT_EQ(read->gpa, 0xfee00030u);
}

}  // namespace
}  // namespace popek::emu::test
