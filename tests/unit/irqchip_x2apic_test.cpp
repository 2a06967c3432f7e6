// x2APIC mode of the local APIC (SDM Vol. 3A 10.12): IA32_APIC_BASE transitions, the registers as
// MSRs 0x800-0x8ff with their #GP rules, 32-bit destinations in the 64-bit ICR, logical IDs
// derived from the APIC ID (cluster model), SELF IPI, and the xAPIC page gone.
#include <gtest/gtest.h>

#include "emu/irqchip/platform.h"
#include "irqchip_test_util.h"

namespace popek::emu {
namespace {

using namespace testing;

constexpr uint64_t kXapic = 0xfee00800, kX2apic = 0xfee00c00, kDisabled = 0xfee00000;

struct X2apicTest : ::testing::Test {
    FakeClock t;
    InterruptPlatform platform{4, 1'000'000'000, t.fn()};
    CpuInterrupts& cpu(int i) { return platform.cpu(i); }
    uint64_t base(int i) {
        uint64_t v = 0;
        EXPECT_TRUE(cpu(i).read_msr(0x1b, v));
        return v & ~uint64_t{kApicBaseBsp};
    }
    /// xAPIC -> x2APIC, software-enabled through SVR (MSR 0x80f).
    void to_x2apic(int i) {
        ASSERT_TRUE(cpu(i).write_msr(0x1b, kX2apic));
        ASSERT_TRUE(cpu(i).write_msr(0x80f, 0x1ff));
    }
    uint64_t rd(int i, uint32_t msr) {
        uint64_t v = 0xdead;
        EXPECT_TRUE(cpu(i).read_msr(msr, v)) << std::hex << msr;
        return v;
    }
    /// Which vCPUs have `vector` pending (bit i = vCPU i); takes them and EOIs.
    unsigned takers(uint8_t vector) {
        unsigned mask = 0;
        for (int i = 0; i < 4; ++i) {
            if (!cpu(i).interrupt_pending()) continue;
            if (cpu(i).acknowledge_interrupt() == vector) mask |= 1u << i;
            if (!cpu(i).write_msr(0x80b, 0)) apic_write32(cpu(i), 0xb0, 0);
        }
        return mask;
    }
};

TEST_F(X2apicTest, ApicBaseModeTransitions) {
    // kvm-unit-tests apic test_enable_x2apic, on the local APIC alone (the core adds #GP).
    EXPECT_TRUE(cpu(1).write_msr(0x1b, kX2apic)) << "xAPIC -> x2APIC";
    EXPECT_FALSE(cpu(1).write_msr(0x1b, kDisabled | kApicBaseExtd)) << "x2APIC -> EXTD without EN";
    EXPECT_FALSE(cpu(1).write_msr(0x1b, kXapic)) << "x2APIC -> xAPIC";
    EXPECT_EQ(base(1), kX2apic);
    EXPECT_TRUE(cpu(1).write_msr(0x1b, kDisabled)) << "x2APIC -> disabled";
    EXPECT_FALSE(cpu(1).write_msr(0x1b, kDisabled | kApicBaseExtd)) << "disabled -> EXTD without EN";
    EXPECT_FALSE(cpu(1).write_msr(0x1b, kX2apic)) << "disabled -> x2APIC";
    EXPECT_TRUE(cpu(1).write_msr(0x1b, kXapic)) << "disabled -> xAPIC";
    EXPECT_FALSE(cpu(1).write_msr(0x1b, kDisabled | kApicBaseExtd)) << "xAPIC -> EXTD without EN";
    EXPECT_EQ(base(1), kXapic);
    static_assert(!apic_base_transition_valid(kX2apic, kXapic));
    static_assert(apic_base_transition_valid(kXapic, kX2apic));
}

TEST_F(X2apicTest, MsrsOnlyInX2apicModeAndThePageIsGone) {
    uint64_t v = 0;
    EXPECT_FALSE(cpu(2).read_msr(0x802, v)) << "xAPIC mode: #GP";
    EXPECT_FALSE(cpu(2).write_msr(0x808, 0));
    apic_write32(cpu(2), 0x80, 0x20);
    to_x2apic(2);
    EXPECT_EQ(rd(2, 0x802), 2u) << "x2APIC ID = initial APIC ID";
    EXPECT_EQ(rd(2, 0x803), 0x00050014u);
    EXPECT_EQ(rd(2, 0x808), 0x20u) << "TPR kept across the switch";
    EXPECT_EQ(apic_read32(cpu(2), 0x30), 0u) << "the MMIO page reads nothing";
    apic_write32(cpu(2), 0x80, 0x70);
    EXPECT_EQ(rd(2, 0x808), 0x20u) << "and takes no writes";
    EXPECT_TRUE(cpu(2).write_msr(0x808, 0x30));
    EXPECT_EQ(rd(2, 0x808), 0x30u);
    EXPECT_EQ(cpu(2).cr8(), 3u);
}

TEST_F(X2apicTest, GpRules) {
    to_x2apic(1);
    uint64_t v = 0;
    for (uint32_t msr : {0x80bu, 0x83fu, 0x80eu, 0x809u, 0x80cu, 0x831u, 0x82fu, 0x800u, 0x8ffu})
        EXPECT_FALSE(cpu(1).read_msr(msr, v)) << "read " << std::hex << msr;
    for (uint32_t msr : {0x802u, 0x803u, 0x80du, 0x80au, 0x810u, 0x820u, 0x839u, 0x80eu, 0x809u, 0x831u, 0x82fu})
        EXPECT_FALSE(cpu(1).write_msr(msr, 0)) << "write " << std::hex << msr;
    EXPECT_FALSE(cpu(1).write_msr(0x80b, 1)) << "non-zero EOI";
    EXPECT_FALSE(cpu(1).write_msr(0x828, 1)) << "non-zero ESR";
    EXPECT_FALSE(cpu(1).write_msr(0x808, 1ull << 32)) << "bits 63:32 of a 32-bit register";
    for (uint64_t bits : {0x100ull, 0xff00ull, 0xff000000ull})   // kvm-unit-tests msr
        EXPECT_FALSE(cpu(1).write_msr(0x83f, bits)) << "SELF IPI reserved bits " << std::hex << bits;
    EXPECT_TRUE(cpu(1).write_msr(0x80b, 0));
    EXPECT_TRUE(cpu(1).write_msr(0x828, 0));
    EXPECT_EQ(rd(1, 0x802), 1u) << "the ID did not change";
}

TEST_F(X2apicTest, LogicalIdIsDerivedFromTheApicId) {
    for (int i = 0; i < 4; ++i) to_x2apic(i);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(rd(i, 0x80d), 1u << i) << "cluster 0, bit ID[3:0]";
}

TEST_F(X2apicTest, IcrIsOne64BitRegisterWith32BitDestinations) {
    for (int i = 0; i < 4; ++i) to_x2apic(i);
    ASSERT_TRUE(cpu(0).write_msr(0x830, (2ull << 32) | 0x4030));   // fixed, physical, APIC ID 2
    EXPECT_EQ(rd(0, 0x830), (2ull << 32) | 0x4030) << "reads back whole, no delivery status";
    EXPECT_EQ(takers(0x30), 0b0100u);
    ASSERT_TRUE(cpu(0).write_msr(0x830, (0x0000'000aull << 32) | 0x4831));   // logical: cluster 0, IDs 1, 3
    EXPECT_EQ(takers(0x31), 0b1010u);
    ASSERT_TRUE(cpu(0).write_msr(0x830, (0x0001'000full << 32) | 0x4832));   // cluster 1: nobody
    EXPECT_EQ(takers(0x32), 0u);
    ASSERT_TRUE(cpu(0).write_msr(0x830, (0xffull << 32) | 0x4033));   // 0xff is an ID, not broadcast
    EXPECT_EQ(takers(0x33), 0u);
    ASSERT_TRUE(cpu(0).write_msr(0x830, (0xffffffffull << 32) | 0x4034));
    EXPECT_EQ(takers(0x34), 0b1111u);
}

TEST_F(X2apicTest, SelfIpi) {
    to_x2apic(3);
    ASSERT_TRUE(cpu(3).write_msr(0x83f, 0x55));
    EXPECT_EQ(takers(0x55), 0b1000u);
}

TEST_F(X2apicTest, AnXapicLogicalDestinationMeansCluster0InX2apicMode) {
    // kvm-unit-tests ioapic "logical destination mode": destination 0xd reaches APIC IDs 0, 2, 3.
    for (int i = 0; i < 4; ++i) to_x2apic(i);
    ASSERT_TRUE(platform.deliver_msi(0xfee0'd004, 0x41));   // logical (bit 2), destination 0xd
    EXPECT_EQ(takers(0x41), 0b1101u);
    ASSERT_TRUE(platform.deliver_msi(0xfee0'1000, 0x42));   // physical 1
    EXPECT_EQ(takers(0x42), 0b0010u);
}

TEST_F(X2apicTest, ReenablingResetsTheApicIdButInitKeepsIt) {
    apic_write32(cpu(1), 0x20, 9u << 24);
    ASSERT_TRUE(cpu(1).write_msr(0x1b, kDisabled));
    ASSERT_TRUE(cpu(1).write_msr(0x1b, kXapic));
    EXPECT_EQ(apic_read32(cpu(1), 0x20), 1u << 24) << "kvm-unit-tests apic: correct xapic id after reset";
    apic_write32(cpu(1), 0x20, 9u << 24);
    enable_apic(cpu(0));
    apic_write32(cpu(0), 0x310, 9u << 24);
    apic_write32(cpu(0), 0x300, 0x4500);   // INIT to APIC ID 9
    EXPECT_TRUE(cpu(1).take_init());
    EXPECT_EQ(apic_read32(cpu(1), 0x20), 9u << 24) << "INIT keeps the ID (10.4.7.3)";
}

TEST_F(X2apicTest, SendPhysicalCountsTheApicsThatTookIt) {
    for (int i = 0; i < 4; ++i) to_x2apic(i);
    ASSERT_TRUE(cpu(3).write_msr(0x80f, 0xff));   // software-disabled: drops fixed interrupts
    EXPECT_EQ(platform.local_apic(0).send_physical(2, 0x4060), 1u);
    EXPECT_EQ(platform.local_apic(0).send_physical(3, 0x4060), 0u);
    EXPECT_EQ(platform.local_apic(0).send_physical(7, 0x4060), 0u) << "no such APIC";
    EXPECT_EQ(platform.local_apic(0).send_physical(0xffffffff, 0x4060), 0u) << "not a broadcast";
    EXPECT_EQ(takers(0x60), 0b0100u);
}

}  // namespace
}  // namespace popek::emu
