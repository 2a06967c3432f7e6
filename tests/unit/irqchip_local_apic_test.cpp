// Local APIC registers, priorities (TPR/PPR, ISR nesting, EOI) and hostile register accesses.
#include <gtest/gtest.h>

#include "emu/irqchip/platform.h"
#include "irqchip_test_util.h"

namespace popek::emu {
namespace {

using namespace testing;

struct LocalApicTest : ::testing::Test {
    FakeClock t;
    InterruptPlatform platform{2, 1'000'000'000, t.fn()};
    CpuInterrupts& bsp = platform.cpu(0);
    CpuInterrupts& ap = platform.cpu(1);

    /// A fixed edge interrupt to vCPU 0 as a device MSI would send it.
    void raise(uint8_t vector) { ASSERT_TRUE(platform.inject_vector(0, vector)); }
    uint32_t esr(CpuInterrupts& cpu) {
        apic_write32(cpu, 0x280, 0);
        return apic_read32(cpu, 0x280);
    }
};

TEST_F(LocalApicTest, PowerUpRegisterValues) {
    EXPECT_EQ(apic_read32(bsp, 0x20), 0u);
    EXPECT_EQ(apic_read32(ap, 0x20), 1u << 24);
    EXPECT_EQ(apic_read32(bsp, 0x30), 0x00050014u) << "version 0x14, max LVT 5";
    EXPECT_EQ(apic_read32(bsp, 0xf0), 0xffu) << "SVR: software-disabled, vector 0xff";
    EXPECT_EQ(apic_read32(bsp, 0xe0), 0xffffffffu);
    for (uint32_t lvt = 0x320; lvt <= 0x370; lvt += 0x10) EXPECT_EQ(apic_read32(bsp, lvt), 0x10000u) << lvt;
    uint64_t base = 0;
    ASSERT_TRUE(bsp.read_msr(0x1b, base));
    EXPECT_EQ(base, 0xfee00900u) << "enabled, BSP";
    ASSERT_TRUE(ap.read_msr(0x1b, base));
    EXPECT_EQ(base, 0xfee00800u);
    EXPECT_FALSE(bsp.interrupt_pending());
    uint64_t ignored = 0;
    EXPECT_FALSE(bsp.read_msr(0x802, ignored)) << "xAPIC mode: the x2APIC MSRs are #GP";
    EXPECT_FALSE(bsp.write_msr(0x10, 0)) << "not an APIC MSR";
}

TEST_F(LocalApicTest, FixedInterruptIsAcknowledgedIntoIsrAndEoiEndsIt) {
    enable_apic(bsp);
    raise(0x41);
    EXPECT_TRUE(bsp.interrupt_pending());
    EXPECT_EQ(apic_read32(bsp, 0x200 + 0x20), 1u << 1) << "IRR bit 0x41";
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x41);
    EXPECT_FALSE(bsp.interrupt_pending());
    EXPECT_EQ(apic_read32(bsp, 0x200 + 0x20), 0u);
    EXPECT_EQ(apic_read32(bsp, 0x100 + 0x20), 1u << 1) << "ISR bit 0x41";
    EXPECT_EQ(apic_read32(bsp, 0xa0), 0x40u) << "PPR follows ISR";
    apic_write32(bsp, 0xb0, 0);
    EXPECT_EQ(apic_read32(bsp, 0x100 + 0x20), 0u);
    EXPECT_EQ(apic_read32(bsp, 0xa0), 0u);
    EXPECT_EQ(bsp.acknowledge_interrupt(), std::nullopt) << "nothing left";
}

TEST_F(LocalApicTest, TprMasksByPriorityClass) {
    enable_apic(bsp);
    apic_write32(bsp, 0x80, 0x50);
    raise(0x45);
    EXPECT_FALSE(bsp.interrupt_pending()) << "class 4 below TPR class 5";
    EXPECT_EQ(bsp.acknowledge_interrupt(), std::nullopt);
    apic_write32(bsp, 0x80, 0x4f);
    EXPECT_FALSE(bsp.interrupt_pending()) << "same class is masked too";
    apic_write32(bsp, 0x80, 0x3f);
    EXPECT_TRUE(bsp.interrupt_pending());
    EXPECT_EQ(apic_read32(bsp, 0xa0), 0x3fu);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x45);
}

TEST_F(LocalApicTest, Cr8IsTprHighNibble) {
    enable_apic(bsp);
    apic_write32(bsp, 0x80, 0x7c);
    EXPECT_EQ(bsp.cr8(), 7u);
    bsp.set_cr8(0x3);
    EXPECT_EQ(apic_read32(bsp, 0x80), 0x30u) << "CR8 write clears TPR[3:0]";
    raise(0x35);
    EXPECT_FALSE(bsp.interrupt_pending());
    bsp.set_cr8(0x2);
    EXPECT_TRUE(bsp.interrupt_pending());
}

TEST_F(LocalApicTest, IsrNestingOnlyLetsHigherClassesThrough) {
    enable_apic(bsp);
    raise(0x50);
    ASSERT_EQ(bsp.acknowledge_interrupt(), 0x50);
    raise(0x40);
    raise(0x55);
    EXPECT_FALSE(bsp.interrupt_pending()) << "0x40 and 0x55 are not above class 5";
    raise(0x61);
    ASSERT_TRUE(bsp.interrupt_pending());
    ASSERT_EQ(bsp.acknowledge_interrupt(), 0x61);
    EXPECT_EQ(apic_read32(bsp, 0xa0), 0x60u);
    apic_write32(bsp, 0xb0, 0);  // EOI ends 0x61, the highest in service
    EXPECT_EQ(apic_read32(bsp, 0x100 + 0x30), 0u);
    EXPECT_EQ(apic_read32(bsp, 0x100 + 0x20), 1u << 16) << "0x50 still in service";
    EXPECT_FALSE(bsp.interrupt_pending());
    apic_write32(bsp, 0xb0, 0);
    EXPECT_TRUE(bsp.interrupt_pending());
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x55) << "highest vector first";
    apic_write32(bsp, 0xb0, 0);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x40);
}

TEST_F(LocalApicTest, AprReflectsTprAndPendingWork) {
    enable_apic(bsp);
    apic_write32(bsp, 0x80, 0x20);
    EXPECT_EQ(apic_read32(bsp, 0x90), 0x20u);
    raise(0x91);
    EXPECT_EQ(apic_read32(bsp, 0x90), 0x90u);
}

TEST_F(LocalApicTest, SoftwareDisabledApicDropsFixedAndKeepsLvtsMasked) {
    raise(0x41);
    EXPECT_FALSE(bsp.interrupt_pending());
    EXPECT_EQ(apic_read32(bsp, 0x200 + 0x20), 0u);
    apic_write32(bsp, 0x320, 0x00030);  // unmask attempt while disabled
    EXPECT_EQ(apic_read32(bsp, 0x320), 0x10030u);
    enable_apic(bsp);
    apic_write32(bsp, 0x320, 0x00030);
    EXPECT_EQ(apic_read32(bsp, 0x320), 0x00030u);
    apic_write32(bsp, 0xf0, 0xff);  // disabling masks every LVT
    EXPECT_EQ(apic_read32(bsp, 0x320), 0x10030u);
}

TEST_F(LocalApicTest, IllegalVectorsAreReportedInEsrAndRaiseTheErrorLvt) {
    enable_apic(bsp);
    apic_write32(bsp, 0x370, 0xee);  // LVT error: vector 0xee, unmasked
    raise(0x05);
    EXPECT_EQ(esr(bsp), 0x40u) << "receive illegal vector";
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0xee);
    apic_write32(bsp, 0xb0, 0);
    apic_write32(bsp, 0x310, 1u << 24);
    apic_write32(bsp, 0x300, 0x0000f);  // fixed IPI with vector 15
    EXPECT_EQ(esr(bsp), 0x20u) << "send illegal vector";
    EXPECT_EQ(esr(bsp), 0u) << "a second write reads what came since the first";
    EXPECT_FALSE(ap.interrupt_pending());
}

TEST_F(LocalApicTest, WritesToReadOnlyRegistersAreIgnored) {
    enable_apic(bsp);
    raise(0x41);
    for (uint32_t offset : {0x30u, 0x90u, 0xa0u, 0xc0u, 0x100u, 0x180u, 0x220u, 0x390u})
        apic_write32(bsp, offset, 0xffffffff);
    EXPECT_EQ(apic_read32(bsp, 0x30), 0x00050014u);
    EXPECT_EQ(apic_read32(bsp, 0x100), 0u);
    EXPECT_EQ(apic_read32(bsp, 0x220), 1u << 1);
    EXPECT_EQ(apic_read32(bsp, 0x390), 0u);
    EXPECT_EQ(esr(bsp), 0u) << "read-only registers exist: no illegal-address error";
    apic_write32(bsp, 0xe0, 0x01234567);
    EXPECT_EQ(apic_read32(bsp, 0xe0), 0x0fffffffu) << "DFR[27:0] read as 1s";
    apic_write32(bsp, 0x20, 0xffffffff);
    EXPECT_EQ(apic_read32(bsp, 0x20), 0xff000000u);
}

TEST_F(LocalApicTest, UnknownOffsetsReadZeroAndSetIllegalRegisterAddress) {
    enable_apic(bsp);
    for (uint32_t offset : {0x00u, 0x10u, 0x40u, 0x2f0u, 0x3a0u, 0x3f0u, 0x400u, 0xff0u}) {
        EXPECT_EQ(apic_read32(bsp, offset), 0u) << offset;
        EXPECT_EQ(esr(bsp), 0x80u) << offset;
        apic_write32(bsp, offset, 0xffffffff);
        EXPECT_EQ(esr(bsp), 0x80u) << offset;
    }
}

TEST_F(LocalApicTest, OddSizesAndUnalignedAccessesHaveDefinedResults) {
    enable_apic(bsp);
    apic_write32(bsp, 0x80, 0x000000a5);
    std::array<uint8_t, 1> byte{};
    bsp.apic_read(0x80, byte);
    EXPECT_EQ(byte[0], 0xa5);
    std::array<uint8_t, 2> half{};
    bsp.apic_read(0x22, half);
    EXPECT_EQ(half[0], 0);  // ID bits 23:16
    std::array<uint8_t, 8> wide{};
    wide.fill(0xcc);
    bsp.apic_read(0x80, wide);
    EXPECT_EQ(wide[0], 0xa5);
    for (size_t i = 4; i < 8; ++i) EXPECT_EQ(wide[i], 0) << "bytes 4..15 of a slot read 0";
    std::array<uint8_t, 16> past_end{};
    past_end.fill(0xcc);
    bsp.apic_read(0xff8, past_end);  // runs past the 4 KiB page
    for (uint8_t b : past_end) EXPECT_EQ(b, 0);
    bsp.apic_read(0xfffffff0u, past_end);  // offset far outside
    // Narrow or unaligned writes are dropped.
    std::array<uint8_t, 1> one{0x11};
    bsp.apic_write(0x80, one);
    std::array<uint8_t, 2> two{0x22, 0};
    bsp.apic_write(0x80, two);
    std::array<uint8_t, 4> four{0x33, 0, 0, 0};
    bsp.apic_write(0x81, four);
    bsp.apic_write(0x84, four);
    bsp.apic_write(0xfffffff0u, four);
    EXPECT_EQ(apic_read32(bsp, 0x80), 0xa5u);
    std::array<uint8_t, 8> eight{0x44, 0, 0, 0, 0xff, 0xff, 0xff, 0xff};
    bsp.apic_write(0x80, eight);
    EXPECT_EQ(apic_read32(bsp, 0x80), 0x44u) << "an aligned 8-byte write uses its low half";
    bsp.apic_write(0x80, std::span<const uint8_t>{});
    bsp.apic_read(0x80, std::span<uint8_t>{});
}

TEST_F(LocalApicTest, HardwareDisableHidesTheApicAndReenableResetsIt) {
    enable_apic(bsp);
    apic_write32(bsp, 0x80, 0x30);
    ASSERT_TRUE(bsp.write_msr(0x1b, 0xfee00000));
    uint64_t base = 0;
    bsp.read_msr(0x1b, base);
    EXPECT_EQ(base, 0xfee00100u) << "BSP bit stays, enable cleared";
    EXPECT_EQ(apic_read32(bsp, 0x30), 0u);
    raise(0x41);
    EXPECT_FALSE(bsp.interrupt_pending());
    ASSERT_TRUE(bsp.write_msr(0x1b, 0xfee00800));
    EXPECT_EQ(apic_read32(bsp, 0x80), 0u) << "power-up state";
    EXPECT_EQ(apic_read32(bsp, 0xf0), 0xffu);
    ASSERT_TRUE(bsp.write_msr(0x1b, 0xfff0'0001'2345'6800ull | 0xff));
    bsp.read_msr(0x1b, base);
    EXPECT_EQ(base, 0x1'2345'6900ull) << "base relocated; reserved bits dropped";
}

TEST_F(LocalApicTest, TwoNmisArrivingTogetherAreBothTakenAThirdIsLost) {
    // kvm-unit-tests apic "multiple nmi": one NMI to take now and one held while its handler runs.
    enable_apic(bsp);
    ApicMessage nmi;
    nmi.mode = DeliveryMode::Nmi;
    for (int k = 0; k < 3; ++k) EXPECT_TRUE(platform.local_apic(0).accept(nmi));
    EXPECT_TRUE(bsp.take_nmi());
    EXPECT_TRUE(bsp.take_nmi());
    EXPECT_FALSE(bsp.take_nmi());
}

TEST_F(LocalApicTest, WhileAnNmiHandlerRunsOnlyOneMoreNmiIsHeld) {
    // kvm-unit-tests apic "pending nmi": the handler sends itself 10 NMIs; one runs after its IRET.
    enable_apic(bsp);
    ApicMessage nmi;
    nmi.mode = DeliveryMode::Nmi;
    platform.local_apic(0).accept(nmi);
    ASSERT_TRUE(bsp.take_nmi());   // the handler runs (the core asks again only after its IRET)
    for (int k = 0; k < 10; ++k) platform.local_apic(0).accept(nmi);
    EXPECT_TRUE(bsp.take_nmi());
    EXPECT_FALSE(bsp.take_nmi());
    platform.local_apic(0).accept(nmi);   // no handler runs any more: two may wait again
    platform.local_apic(0).accept(nmi);
    EXPECT_TRUE(bsp.take_nmi());
    EXPECT_TRUE(bsp.take_nmi());
}

}  // namespace
}  // namespace popek::emu
