// 8254 PIT: counters from the clock, access modes, latches, read-back, gate and OUT of counter 2
// through port 0x61 (Linux's TSC calibration), and IRQ0 from counter 0.
#include <gtest/gtest.h>

#include "emu/irqchip/platform.h"
#include "irqchip_test_util.h"

namespace popek::emu {
namespace {

using namespace testing;

/// Nanoseconds for `ticks` PIT ticks, rounded up (the first instant the count has moved that far).
uint64_t ns(uint64_t ticks) { return GuestClock::ns_for_ticks(ticks, PitChannel::kHz); }

struct PitTest : ::testing::Test {
    FakeClock t;
    InterruptPlatform platform{1, 1'000'000'000, t.fn()};
    CpuInterrupts& bsp = platform.cpu(0);

    void program(unsigned channel, uint8_t mode, uint16_t count, bool bcd = false) {
        outb(platform, 0x43, static_cast<uint8_t>(channel << 6 | 0x30 | mode << 1 | (bcd ? 1 : 0)));
        outb(platform, static_cast<uint16_t>(0x40 + channel), static_cast<uint8_t>(count));
        outb(platform, static_cast<uint16_t>(0x40 + channel), static_cast<uint8_t>(count >> 8));
    }
    uint16_t read_count(unsigned channel) {
        auto port = static_cast<uint16_t>(0x40 + channel);
        uint8_t lo = inb(platform, port);
        return static_cast<uint16_t>(lo | inb(platform, port) << 8);
    }
    uint16_t latched_count(unsigned channel) {
        outb(platform, 0x43, static_cast<uint8_t>(channel << 6));
        return read_count(channel);
    }
    void init_pic() {
        outb(platform, 0x20, 0x11);
        outb(platform, 0x21, 0x30);
        outb(platform, 0x21, 0x04);
        outb(platform, 0x21, 0x01);
        outb(platform, 0x21, 0x00);
    }
};

TEST_F(PitTest, LinuxTscCalibrationOnChannel2) {
    // pit_calibrate_tsc(): gate high, speaker off, mode 0, LSB/MSB, wait for OUT2 in port 0x61.
    outb(platform, 0x61, static_cast<uint8_t>((inb(platform, 0x61) & ~0x02) | 0x01));
    const uint16_t latch = 59659;  // 50 ms
    program(2, 0, latch);
    EXPECT_EQ(inb(platform, 0x61) & 0x20, 0) << "OUT2 low while counting";
    EXPECT_EQ(inb(platform, 0x61) & 0x01, 1) << "gate reads back";
    t.advance(ns(latch) - 1);
    EXPECT_EQ(inb(platform, 0x61) & 0x20, 0);
    t.advance(1);
    EXPECT_EQ(inb(platform, 0x61) & 0x20, 0x20) << "terminal count";
    t.advance(1'000'000);
    EXPECT_EQ(inb(platform, 0x61) & 0x20, 0x20) << "stays high in mode 0";
}

TEST_F(PitTest, QuickCalibrationReadsTheMsbGoingDown) {
    // quick_pit_calibrate(): mode 0, count 0xffff, reads LSB then MSB without latching.
    outb(platform, 0x61, 0x01);
    program(2, 0, 0xffff);
    uint16_t previous = read_count(2);
    EXPECT_EQ(previous, 0xffff);
    for (int step = 1; step <= 20; ++step) {
        t.advance(ns(256));
        uint16_t now = read_count(2);
        EXPECT_LT(now, previous) << step;
        EXPECT_NEAR(double(previous - now), 256.0, 1.0) << step;
        previous = now;
    }
}

TEST_F(PitTest, GateLowPausesMode0) {
    outb(platform, 0x61, 0x01);
    program(2, 0, 1000);
    t.advance(ns(300));
    outb(platform, 0x61, 0x00);
    uint16_t frozen = latched_count(2);
    EXPECT_EQ(frozen, 700);
    t.advance(ns(5000));
    EXPECT_EQ(latched_count(2), 700) << "no counting with the gate low";
    outb(platform, 0x61, 0x01);
    t.advance(ns(100));
    EXPECT_EQ(latched_count(2), 600);
}

TEST_F(PitTest, LatchFreezesTheValueUntilRead) {
    program(0, 2, 10000);
    t.advance(ns(1000));
    outb(platform, 0x43, 0x00);  // latch counter 0
    t.advance(ns(2000));
    outb(platform, 0x43, 0x00);  // a second latch before reading is ignored
    EXPECT_EQ(read_count(0), 9000);
    EXPECT_EQ(read_count(0), 7000) << "live again after the latch was read";
}

TEST_F(PitTest, AccessModesLsbOnlyAndMsbOnly) {
    outb(platform, 0x43, 0x14);  // counter 0, LSB only, mode 2
    outb(platform, 0x40, 200);
    t.advance(ns(50));
    EXPECT_EQ(inb(platform, 0x40), 150);
    EXPECT_EQ(inb(platform, 0x40), 150) << "LSB only: every read is the LSB";
    outb(platform, 0x43, 0x24);  // MSB only
    outb(platform, 0x40, 0x10);  // count 0x1000
    t.advance(ns(0x100));
    EXPECT_EQ(inb(platform, 0x40), 0x0f);
}

TEST_F(PitTest, ReadBackStatusAndCount) {
    program(1, 3, 1000);
    outb(platform, 0x43, 0xc4);  // read-back: count and status of counter 1
    uint8_t status = inb(platform, 0x41);
    EXPECT_EQ(status & 0x3f, 0x36) << "LSB/MSB, mode 3, binary";
    EXPECT_EQ(status & 0x80, 0x80) << "OUT high at the start of mode 3";
    EXPECT_EQ(status & 0x40, 0) << "count loaded";
    EXPECT_EQ(read_count(1), 1000);
    outb(platform, 0x43, 0x74);  // control word without a count: null count
    outb(platform, 0x43, 0xe4);  // read-back status only
    EXPECT_EQ(inb(platform, 0x41) & 0x40, 0x40);
}

TEST_F(PitTest, Mode3IsASquareWave) {
    program(2, 3, 1000);
    outb(platform, 0x61, 0x01);  // gate rising edge starts it
    EXPECT_TRUE(platform.pit().output(2));
    t.advance(ns(499));
    EXPECT_TRUE(platform.pit().output(2));
    EXPECT_EQ(platform.pit().count(2), 2u);
    t.advance(ns(501) - ns(499));
    EXPECT_FALSE(platform.pit().output(2));
    t.advance(ns(1000) - ns(501));
    EXPECT_TRUE(platform.pit().output(2));
}

TEST_F(PitTest, BcdCounting) {
    program(0, 2, 0x1234, true);
    t.advance(ns(34));
    EXPECT_EQ(read_count(0), 0x1200);
    program(0, 0, 0x0000, true);  // 0 means 10000 in BCD
    t.advance(ns(1));
    EXPECT_EQ(read_count(0), 0x9999);
}

TEST_F(PitTest, Mode1And5WaitForAGateTrigger) {
    outb(platform, 0x61, 0x00);
    program(2, 1, 100);
    t.advance(ns(500));
    EXPECT_TRUE(platform.pit().output(2)) << "not triggered";
    outb(platform, 0x61, 0x01);
    EXPECT_FALSE(platform.pit().output(2)) << "one-shot pulse low";
    t.advance(ns(100));
    EXPECT_TRUE(platform.pit().output(2));
    outb(platform, 0x61, 0x00);
    program(2, 5, 100);
    outb(platform, 0x61, 0x01);
    t.advance(ns(100));
    EXPECT_FALSE(platform.pit().output(2)) << "strobe at terminal count";
    t.advance(ns(101) - ns(100));
    EXPECT_TRUE(platform.pit().output(2));
}

TEST_F(PitTest, Channel0RateGeneratorDrivesIrq0ThroughThePic) {
    init_pic();
    program(0, 2, 11932);  // ~100 Hz
    uint64_t start = t.now;
    EXPECT_EQ(bsp.poll_timers(t.now), start + ns(11932));
    EXPECT_FALSE(bsp.interrupt_pending());
    t.now = start + ns(11932);
    bsp.poll_timers(t.now);
    ASSERT_TRUE(bsp.interrupt_pending());
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x30);
    outb(platform, 0x20, 0x20);
    EXPECT_FALSE(bsp.interrupt_pending());
    t.now = start + ns(5 * 11932) + 10;  // several periods late: one interrupt
    EXPECT_EQ(bsp.poll_timers(t.now), start + ns(6 * 11932));
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x30);
    outb(platform, 0x20, 0x20);
    bsp.poll_timers(t.now);
    EXPECT_FALSE(bsp.interrupt_pending());
}

TEST_F(PitTest, Channel0OneShotModes) {
    init_pic();
    program(0, 0, 100);  // mode 0: IRQ0 once at terminal count
    t.advance(ns(100));
    bsp.poll_timers(t.now);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x30);
    outb(platform, 0x20, 0x20);
    t.advance(ns(100'000));
    EXPECT_EQ(bsp.poll_timers(t.now), PitChannel::kNever);
    EXPECT_FALSE(bsp.interrupt_pending());
    // Linux's i8253 oneshot clockevent: mode 4, the edge one tick after terminal count.
    program(0, 4, 100);
    EXPECT_EQ(bsp.poll_timers(t.now), t.now + ns(101));
    t.advance(ns(101));
    bsp.poll_timers(t.now);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x30);
}

TEST_F(PitTest, Channel0ReachesIoApicPin2AsTheMadtOverrideSays) {
    static_assert(InterruptPlatform::kPitGsi == 2);
    enable_apic(bsp);
    std::array<uint8_t, 4> sel{0x14, 0, 0, 0}, low{0x50, 0, 0, 0};  // pin 2 low dword: vector 0x50, edge
    platform.mmio_write(0xfec00000, sel);
    platform.mmio_write(0xfec00010, low);
    program(0, 2, 1193);
    t.advance(ns(1193));
    bsp.poll_timers(t.now);
    EXPECT_EQ(bsp.acknowledge_interrupt(), 0x50);
}

TEST_F(PitTest, TinyPeriodsDoNotFloodTheVcpu) {
    program(0, 2, 2);
    EXPECT_GE(bsp.poll_timers(t.now), t.now + PitChannel::kMinPeriodNs);
}

TEST_F(PitTest, RefreshBitToggles) {
    uint8_t a = inb(platform, 0x61) & 0x10;
    t.advance(15'085);
    uint8_t b = inb(platform, 0x61) & 0x10;
    EXPECT_NE(a, b);
}

TEST_F(PitTest, HostilePortAccesses) {
    EXPECT_EQ(inb(platform, 0x43), 0xff) << "control word register is write-only";
    std::array<uint8_t, 4> four{};
    four.fill(0);
    EXPECT_TRUE(platform.pio_read(0x42, four));
    EXPECT_EQ(four[2], 0xff) << "0x44 is not the PIT's";
    EXPECT_FALSE(platform.pio_read(0x44, four));
    EXPECT_FALSE(platform.pio_read(0x60, four));
    outb(platform, 0x61, 0xff);
    EXPECT_EQ(inb(platform, 0x61) & 0xcf, 0x0f) << "only bits 0-3 are writable";
    // Random control words and data bytes leave every channel readable and pollable.
    for (int v = 0; v < 256; ++v) {
        outb(platform, 0x43, static_cast<uint8_t>(v));
        outb(platform, static_cast<uint16_t>(0x40 + v % 3), static_cast<uint8_t>(v * 7));
        outb(platform, static_cast<uint16_t>(0x40 + v % 3), 0);
        t.advance(997);
        for (uint16_t port = 0x40; port <= 0x42; ++port) (void)inb(platform, port);
        (void)bsp.poll_timers(t.now);
    }
}

}  // namespace
}  // namespace popek::emu
