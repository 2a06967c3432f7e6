/// The guest TSC of the own engine as Linux uses it: CPUID advertises an invariant TSC with
/// IA32_TSC_ADJUST (so Linux keeps the TSC as its clocksource without a watchdog), and
/// IA32_TSC / IA32_TSC_ADJUST behave as in SDM Vol. 3B 18.17.3.
#include "emu_harness.h"
#include "emu/irqchip/local_apic.h"

namespace popek::emu::test {
namespace {

using Bytes = std::vector<uint8_t>;

class EmuTsc : public EmuLongModeTest {
protected:
    uint64_t edx_eax() { return (r(hv::RDX) << 32) | (r(hv::RAX) & 0xffffffffu); }
};

TEST_F(EmuTsc, CpuidReportsInvariantTscWithTscAdjust) {
    // One program per test: the harness does not re-verify code it rewrites between runs.
    run({0xb8, 0x07, 0, 0, 0, 0x31, 0xc9, 0x0f, 0xa2, 0x41, 0x89, 0xd8,          // cpuid(7): r8d = ebx
         0xb8, 0x07, 0, 0, 0x80, 0x0f, 0xa2, 0x41, 0x89, 0xd1,                  // cpuid(0x80000007): r9d = edx
         0xb8, 0x15, 0, 0, 0, 0x31, 0xc9, 0x0f, 0xa2,                            // cpuid(0x15)
         0x41, 0x89, 0xc2, 0x41, 0x89, 0xdb, 0x41, 0x89, 0xcc, 0xf4});          // r10d, r11d, r12d = eax, ebx, ecx
    EXPECT_TRUE(r(hv::R8) & (1u << 1)) << "CPUID.7.0:EBX.TSC_ADJUST";
    EXPECT_TRUE(r(hv::R9) & (1u << 8)) << "invariant TSC";
    // TSC = crystal * EBX / EAX: Linux needs no calibration.
    ASSERT_NE(r(hv::R10), 0u);
    EXPECT_EQ(r(hv::R12) * r(hv::R11) / r(hv::R10), h.cpu().shared().clock.tsc_hz());
    // The crystal is the LAPIC timer's input: a guest that sets its tick from it gets real time.
    EXPECT_EQ(r(hv::R12), kApicTimerHz);
}

TEST_F(EmuTsc, TscAdjustStartsAtZeroAndMovesTheTsc) {
    // mov $0x3b,%ecx; rdmsr; mov %eax,%r8d; mov %edx,%r9d;
    // mov $0x10,%edx; xor %eax,%eax; wrmsr (adjust = 2^36); rdtsc; hlt
    run({0xb9, 0x3b, 0, 0, 0, 0x0f, 0x32, 0x41, 0x89, 0xc0, 0x41, 0x89, 0xd1,
         0xba, 0x10, 0, 0, 0, 0x31, 0xc0, 0x0f, 0x30, 0x0f, 0x31, 0xf4});
    EXPECT_EQ(r(hv::R8), 0u);
    EXPECT_EQ(r(hv::R9), 0u);
    EXPECT_GE(edx_eax(), uint64_t{1} << 36);
}

TEST_F(EmuTsc, WritingTheTscChangesTscAdjustByTheSameAmount) {
    // rdtsc; mov %eax,%r8d; mov %edx,%r9d; mov $0x10,%ecx; add $1,%edx; wrmsr;
    // mov $0x3b,%ecx; rdmsr; hlt
    run({0x0f, 0x31, 0x41, 0x89, 0xc0, 0x41, 0x89, 0xd1, 0xb9, 0x10, 0, 0, 0, 0x83, 0xc2, 0x01, 0x0f, 0x30,
         0xb9, 0x3b, 0, 0, 0, 0x0f, 0x32, 0xf4});
    // The TSC moved forward by 2^32 (minus the few ticks between RDTSC and WRMSR).
    uint64_t adjust = edx_eax();
    EXPECT_LE(adjust, uint64_t{1} << 32);
    EXPECT_GT(adjust, (uint64_t{1} << 32) - 2'000'000'000u);
}

}  // namespace
}  // namespace popek::emu::test
