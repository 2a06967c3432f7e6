// 8259A pair: initialization, priorities, cascade, EOI, spurious IRQs, ELCR, poll, and ExtINT
// delivery to the BSP.
#include <gtest/gtest.h>

#include "emu/irqchip/platform.h"
#include "irqchip_test_util.h"

namespace popek::emu {
namespace {

using namespace testing;

struct PicTest : ::testing::Test {
    FakeClock t;
    InterruptPlatform platform{2, 1'000'000'000, t.fn()};
    CpuInterrupts& bsp = platform.cpu(0);

    /// Linux's init_8259A: vectors 0x30 / 0x38, cascade on IRQ2, 8086 mode.
    void init(uint8_t icw4 = 0x01) {
        outb(platform, 0x20, 0x11);
        outb(platform, 0x21, 0x30);
        outb(platform, 0x21, 0x04);
        outb(platform, 0x21, icw4);
        outb(platform, 0xa0, 0x11);
        outb(platform, 0xa1, 0x38);
        outb(platform, 0xa1, 0x02);
        outb(platform, 0xa1, icw4);
        outb(platform, 0x21, 0x00);
        outb(platform, 0xa1, 0x00);
    }
    void pulse(unsigned irq) {
        platform.set_irq_line(irq, true);
        platform.set_irq_line(irq, false);
    }
    uint8_t read_isr(uint16_t port) {
        outb(platform, port, 0x0b);
        uint8_t v = inb(platform, port);
        outb(platform, port, 0x0a);
        return v;
    }
};

TEST_F(PicTest, InterruptReachesTheBspWhileItsApicIsDisabled) {
    init();
    EXPECT_FALSE(bsp.interrupt_pending());
    pulse(1);
    EXPECT_TRUE(bsp.interrupt_pending()) << "reset state: INTR goes straight to the core";
    EXPECT_FALSE(platform.cpu(1).interrupt_pending()) << "only the BSP's LINT0 is wired";
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x31);
    EXPECT_FALSE(bsp.interrupt_pending());
    EXPECT_EQ(read_isr(0x20), 0x02);
    outb(platform, 0x20, 0x20);  // non-specific EOI
    EXPECT_EQ(read_isr(0x20), 0x00);
}

TEST_F(PicTest, EnabledApicTakesThePicOnlyThroughLint0ExtInt) {
    init();
    enable_apic(bsp);
    pulse(1);
    EXPECT_FALSE(bsp.interrupt_pending()) << "LINT0 masked";
    apic_write32(bsp, 0x350, 0x700);  // LINT0: ExtINT, unmasked
    EXPECT_TRUE(bsp.interrupt_pending());
    platform.inject_vector(0, 0xf0);  // a higher APIC vector waits behind ExtINT
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x31);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0xf0);
    apic_write32(bsp, 0x350, 0x10700);
    pulse(3);
    EXPECT_FALSE(bsp.interrupt_pending());
    EXPECT_EQ(platform.pic().irr() & 0x08, 0x08) << "still requested at the PIC";
}

TEST_F(PicTest, ImrMasksAndLowerIrqWins) {
    init();
    outb(platform, 0x21, 0x01);  // mask IRQ0
    EXPECT_EQ(inb(platform, 0x21), 0x01);
    pulse(0);
    pulse(4);
    pulse(3);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x33);
    outb(platform, 0x20, 0x20);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x34);
    outb(platform, 0x20, 0x20);
    EXPECT_FALSE(bsp.interrupt_pending());
    outb(platform, 0x21, 0x00);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x30) << "latched while masked";
}

TEST_F(PicTest, FullyNestedInServiceBlocksLowerPriorities) {
    init();
    pulse(3);
    ASSERT_EQ(bsp.acknowledge_interrupt(), 0x33);
    pulse(5);
    EXPECT_FALSE(bsp.interrupt_pending()) << "IRQ5 below IRQ3 in service";
    pulse(1);
    EXPECT_TRUE(bsp.interrupt_pending());
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x31);
    EXPECT_EQ(read_isr(0x20), 0x0a);
    outb(platform, 0x20, 0x63);  // specific EOI for IRQ3: IRQ1 stays in service
    EXPECT_EQ(read_isr(0x20), 0x02);
    EXPECT_FALSE(bsp.interrupt_pending());
    outb(platform, 0x20, 0x20);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x35);
}

TEST_F(PicTest, CascadeThroughIrq2) {
    init();
    pulse(12);
    ASSERT_TRUE(bsp.interrupt_pending());
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x3c);
    EXPECT_EQ(read_isr(0x20), 0x04) << "master IRQ2 in service";
    EXPECT_EQ(read_isr(0xa0), 0x10) << "slave IRQ4 in service";
    pulse(9);
    EXPECT_FALSE(bsp.interrupt_pending()) << "IRQ9 outranks IRQ12 at the slave but master IRQ2 is in service";
    outb(platform, 0xa0, 0x20);
    outb(platform, 0x20, 0x20);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x39);
    outb(platform, 0xa0, 0x20);
    outb(platform, 0x20, 0x20);
    EXPECT_FALSE(bsp.interrupt_pending());
    EXPECT_EQ(platform.pic().isr(), 0u);
}

TEST_F(PicTest, TwoSlaveRequestsAreBothDelivered) {
    init();
    pulse(9);
    pulse(12);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x39);
    outb(platform, 0xa0, 0x20);
    outb(platform, 0x20, 0x20);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x3c);
}

TEST_F(PicTest, SpuriousIrq7AndIrq15) {
    init();
    EXPECT_EQ(platform.pic().acknowledge(), 0x37) << "nothing requested: master IRQ7 vector";
    EXPECT_EQ(read_isr(0x20), 0x00) << "a spurious IRQ7 is not in service";
    // A slave request that vanished between INTR and INTA (level line dropped).
    outb(platform, 0x4d1, 0x02);  // IRQ9 level-triggered
    platform.set_irq_line(9, true);
    ASSERT_TRUE(bsp.interrupt_pending());
    outb(platform, 0xa1, 0x02);  // masked at the slave now: its INT drops, master IRQ2 latched
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x3f) << "slave answers with IRQ15";
    EXPECT_EQ(read_isr(0x20), 0x04) << "master IRQ2 is in service and needs an EOI";
    EXPECT_EQ(read_isr(0xa0), 0x00);
}

TEST_F(PicTest, LevelModeFollowsTheLine) {
    init();
    outb(platform, 0x4d0, 0xff);
    outb(platform, 0x4d1, 0xff);
    EXPECT_EQ(inb(platform, 0x4d0), 0xf8) << "IRQ0-2 are always edge";
    EXPECT_EQ(inb(platform, 0x4d1), 0xde) << "IRQ8 and IRQ13 are always edge";
    platform.set_irq_line(5, true);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x35);
    outb(platform, 0x20, 0x20);
    EXPECT_TRUE(bsp.interrupt_pending()) << "still high: requested again after EOI";
    platform.set_irq_line(5, false);
    EXPECT_FALSE(bsp.interrupt_pending());
    EXPECT_EQ(inb(platform, 0x20) & 0x20, 0) << "IRR bit follows the line";
}

TEST_F(PicTest, AutoEoiLeavesNothingInService) {
    init(0x03);
    pulse(4);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x34);
    EXPECT_EQ(read_isr(0x20), 0x00);
    pulse(12);
    pulse(10);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x3a);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x3c) << "slave still requesting: a new cascade edge";
}

TEST_F(PicTest, RotationAndSetPriority) {
    init();
    outb(platform, 0x20, 0xc4);  // set priority: IRQ4 lowest, so IRQ5 highest
    pulse(1);
    pulse(6);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x36);
    outb(platform, 0x20, 0xa0);  // rotate on non-specific EOI: IRQ6 becomes lowest
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x31);
    outb(platform, 0x20, 0x20);
    pulse(6);
    pulse(7);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x37) << "IRQ7 now outranks IRQ6";
}

TEST_F(PicTest, PollCommandActsAsInta) {
    init();
    outb(platform, 0x21, 0xff);  // masked for the CPU...
    outb(platform, 0x21, 0x00);
    pulse(6);
    outb(platform, 0x20, 0x0c);  // poll
    EXPECT_EQ(inb(platform, 0x20), 0x86);
    EXPECT_EQ(read_isr(0x20), 0x40);
    outb(platform, 0x20, 0x0c);
    EXPECT_EQ(inb(platform, 0x20), 0x00) << "nothing more";
}

TEST_F(PicTest, SpecialMaskModeLetsLowerPrioritiesThrough) {
    init();
    pulse(3);
    ASSERT_EQ(bsp.acknowledge_interrupt(), 0x33);
    outb(platform, 0x21, 0x08);  // mask IRQ3 (in service)
    outb(platform, 0x20, 0x68);  // set special mask mode
    pulse(5);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x35);
}

TEST_F(PicTest, Icw1ResetsMasksAndInService) {
    init();
    outb(platform, 0x21, 0xfe);
    pulse(0);
    ASSERT_EQ(bsp.acknowledge_interrupt(), 0x30);
    init();
    EXPECT_EQ(platform.pic().isr(), 0u);
    EXPECT_EQ(platform.pic().imr(), 0u);
}

TEST_F(PicTest, HostilePortAccesses) {
    init();
    std::array<uint8_t, 2> two{};
    EXPECT_TRUE(platform.pio_read(0x20, two)) << "byte by byte: 0x20, 0x21";
    EXPECT_EQ(two[1], 0x00);
    std::array<uint8_t, 4> four{};
    EXPECT_TRUE(platform.pio_read(0x21, four));
    EXPECT_EQ(four[1], 0xff) << "0x22 is not the PIC's";
    EXPECT_TRUE(platform.pio_read(0x4d1, four));
    EXPECT_FALSE(platform.pio_read(0x22, four));
    EXPECT_FALSE(platform.pio_write(0x4d2, four));
    std::array<uint8_t, 2> imr_and_more{0xfb, 0x55};
    EXPECT_TRUE(platform.pio_write(0x21, imr_and_more));
    EXPECT_EQ(platform.pic().imr() & 0xff, 0xfb);
    platform.set_irq_line(2, true);  // the cascade input is not a device line
    platform.set_irq_line(16, true);
    EXPECT_FALSE(bsp.interrupt_pending());
    // A guest that never finishes initialization, or writes garbage, keeps a consistent PIC.
    for (int v = 0; v < 256; ++v) outb(platform, 0x20, static_cast<uint8_t>(v));
    for (int v = 0; v < 256; ++v) outb(platform, 0xa1, static_cast<uint8_t>(v));
    for (int i = 0; i < 16; ++i) pulse(static_cast<unsigned>(i));
    for (int i = 0; i < 40 && bsp.interrupt_pending(); ++i) {
        (void)bsp.acknowledge_interrupt();
        outb(platform, 0x20, 0x20);
        outb(platform, 0xa0, 0x20);
    }
}

}  // namespace
}  // namespace popek::emu
