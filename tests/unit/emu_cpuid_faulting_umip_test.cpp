/// CPUID faulting (MSR_PLATFORM_INFO 0xce bit 31, MSR_MISC_FEATURES_ENABLES 0x140 bit 0: CPUID at
/// CPL > 0 is #GP) and UMIP (CPUID.7.0:ECX bit 2, CR4.UMIP: SGDT SIDT SLDT SMSW STR at CPL > 0
/// are #GP, SDM Vol. 3A 2.5) — XTF cpuid-faulting and umip, kvm-unit-tests umip.
#include "emu_harness.h"

namespace popek::emu::test {
namespace {

using Bytes = std::vector<uint8_t>;

/// pushq $0x23; pushq $0x70000; pushq $2; pushq $0x2b; lea u(%rip),%rax; push %rax; iretq; u:
const Bytes kToRing3 = {0x6a, 0x23, 0x68, 0x00, 0x00, 0x07, 0x00, 0x6a, 0x02, 0x6a, 0x2b, 0x48, 0x8d,
                        0x05, 0x03, 0x00, 0x00, 0x00, 0x50, 0x48, 0xcf};
const Bytes kEnableCpuidFaulting = {0xb9, 0x40, 0x01, 0, 0,   // mov $0x140, %ecx
                                    0xb8, 0x01, 0, 0, 0,      // mov $1, %eax
                                    0x31, 0xd2, 0x0f, 0x30};  // xor %edx, %edx; wrmsr
const Bytes kEnableUmip = {0x0f, 0x20, 0xe0,                     // mov %cr4, %rax
                           0x48, 0x0d, 0x00, 0x08, 0x00, 0x00,   // or $0x800, %rax
                           0x0f, 0x22, 0xe0};                    // mov %rax, %cr4

class EmuCpuidFaultingUmip : public EmuLongModeTest {
protected:
    /// Runs kernel code, drops to ring 3 and runs `user` there, then HLT (itself #GP at ring 3).
    /// Returns the offset into `user` of the instruction that faulted.
    uint64_t user_fault_offset(const Bytes& kernel, const Bytes& user) {
        h.setup_long_mode();
        Bytes code = kernel;
        for (uint8_t b : kToRing3) code.push_back(b);
        const uint64_t user_start = code.size();
        for (uint8_t b : user) code.push_back(b);
        code.push_back(0xf4);
        h.load_code(code);
        h.cpu().shared().dma_epoch.fetch_add(1);
        EXPECT_TRUE(is_halt(h.run()));
        EXPECT_TRUE(h.reported());
        EXPECT_EQ(h.reported_error(), 0u);
        return h.reported_rip() - kCode - user_start;
    }
};

TEST_F(EmuCpuidFaultingUmip, PlatformInfoOffersCpuidFaulting) {
    run({0xb9, 0xce, 0, 0, 0, 0x0f, 0x32, 0xf4});   // mov $0xce, %ecx; rdmsr
    EXPECT_EQ(r(hv::RAX), 1ull << 31);
}

TEST_F(EmuCpuidFaultingUmip, CpuidFaultsOutsideRing0WhenEnabled) {
    const Bytes cpuid = {0x31, 0xc0, 0x0f, 0xa2};   // xor %eax, %eax; cpuid
    EXPECT_EQ(user_fault_offset({}, cpuid), cpuid.size()) << "faulting off: CPUID runs, HLT faults";
    Bytes kernel = kEnableCpuidFaulting;
    for (uint8_t b : cpuid) kernel.push_back(b);   // ring 0 still runs CPUID
    EXPECT_EQ(user_fault_offset(kernel, cpuid), 2u);
    EXPECT_EQ(h.cpu().misc_features_enables, 1u);
    // Other bits of MSR_MISC_FEATURES_ENABLES are reserved.
    h.setup_long_mode();
    h.load_code({0xb9, 0x40, 0x01, 0, 0, 0xb8, 0x02, 0, 0, 0, 0x31, 0xd2, 0x0f, 0x30, 0xf4});
    h.cpu().shared().dma_epoch.fetch_add(1);
    EXPECT_TRUE(is_halt(h.run()));
    EXPECT_TRUE(h.reported());
}

TEST_F(EmuCpuidFaultingUmip, CpuidOffersUmip) {
    run({0xb8, 0x07, 0, 0, 0, 0x31, 0xc9, 0x0f, 0xa2, 0xf4});   // mov $7, %eax; xor %ecx, %ecx; cpuid
    EXPECT_TRUE(r(hv::RCX) & (1u << 2));
}

TEST_F(EmuCpuidFaultingUmip, UmipMakesDescriptorStoresFaultOutsideRing0) {
    for (const Bytes& insn : {Bytes{0x0f, 0x01, 0x44, 0x24, 0xf0},   // sgdt -0x10(%rsp)
                              Bytes{0x0f, 0x01, 0x4c, 0x24, 0xf0},   // sidt -0x10(%rsp)
                              Bytes{0x0f, 0x00, 0xc0},               // sldt %eax
                              Bytes{0x0f, 0x00, 0xc8},               // str %eax
                              Bytes{0x0f, 0x01, 0xe0}}) {            // smsw %eax
        SCOPED_TRACE(static_cast<int>(insn[2]));
        EXPECT_EQ(user_fault_offset({}, insn), insn.size()) << "UMIP off: runs at ring 3";
        Bytes kernel = kEnableUmip;
        for (uint8_t b : insn) kernel.push_back(b);   // ring 0 is not affected
        EXPECT_EQ(user_fault_offset(kernel, insn), 0u);
    }
}

}  // namespace
}  // namespace popek::emu::test
