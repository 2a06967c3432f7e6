// The local APIC timer: one-shot, periodic and TSC-deadline modes on an injected clock.
#include <gtest/gtest.h>

#include "emu/irqchip/platform.h"
#include "irqchip_test_util.h"

namespace popek::emu {
namespace {

using namespace testing;

constexpr uint32_t kLvtTimer = 0x320, kInitial = 0x380, kCurrent = 0x390, kDivide = 0x3e0;

struct ApicTimerTest : ::testing::Test {
    FakeClock t;
    InterruptPlatform platform{1, 2'000'000'000, t.fn()};  // TSC 2 GHz, APIC timer 1 GHz
    CpuInterrupts& cpu = platform.cpu(0);

    void SetUp() override { enable_apic(cpu); }
    uint64_t poll() { return cpu.poll_timers(t.now); }
    /// Polls, and takes + EOIs the timer vector if it fired.
    bool fired(uint8_t vector = 0xec) {
        poll();
        if (!cpu.interrupt_pending()) return false;
        auto v = cpu.acknowledge_interrupt();
        apic_write32(cpu, 0xb0, 0);
        return v == vector;
    }
};

TEST_F(ApicTimerTest, DivideConfigurationSelectsTheDivisor) {
    EXPECT_EQ(ApicTimer::divisor_for(0x0), 2u);
    EXPECT_EQ(ApicTimer::divisor_for(0x1), 4u);
    EXPECT_EQ(ApicTimer::divisor_for(0x2), 8u);
    EXPECT_EQ(ApicTimer::divisor_for(0x3), 16u);
    EXPECT_EQ(ApicTimer::divisor_for(0x8), 32u);
    EXPECT_EQ(ApicTimer::divisor_for(0x9), 64u);
    EXPECT_EQ(ApicTimer::divisor_for(0xa), 128u);
    EXPECT_EQ(ApicTimer::divisor_for(0xb), 1u);
    apic_write32(cpu, kDivide, 0xffffffff);
    EXPECT_EQ(apic_read32(cpu, kDivide), 0xbu);
}

TEST_F(ApicTimerTest, OneShotCountsDownAndFiresOnce) {
    apic_write32(cpu, kDivide, 0x3);  // /16: one count per 16 ns
    apic_write32(cpu, kLvtTimer, 0xec);
    apic_write32(cpu, kInitial, 1000);
    EXPECT_EQ(apic_read32(cpu, kInitial), 1000u);
    EXPECT_EQ(apic_read32(cpu, kCurrent), 1000u);
    EXPECT_EQ(poll(), t.now + 16'000) << "deadline = 1000 * 16 ns";
    t.advance(8'000);
    EXPECT_EQ(apic_read32(cpu, kCurrent), 500u);
    EXPECT_FALSE(fired());
    t.advance(7'999);
    EXPECT_FALSE(fired());
    t.advance(1);
    EXPECT_TRUE(fired());
    EXPECT_EQ(apic_read32(cpu, kCurrent), 0u);
    t.advance(1'000'000);
    EXPECT_FALSE(fired()) << "one-shot";
    EXPECT_EQ(poll(), ApicTimer::kNever);
}

TEST_F(ApicTimerTest, AnExpiredOneShotSwitchedToPeriodicStaysAtZero) {
    // kvm-unit-tests apic test_apic_change_mode: "TMCCT should stay at zero".
    apic_write32(cpu, kDivide, 0xb);  // /1
    apic_write32(cpu, kLvtTimer, 0xec);
    apic_write32(cpu, kInitial, 1000);
    t.advance(1000);
    EXPECT_TRUE(fired());
    apic_write32(cpu, kLvtTimer, 0xec | (1u << 17));  // periodic
    EXPECT_EQ(apic_read32(cpu, kCurrent), 0u);
    t.advance(5000);
    EXPECT_EQ(apic_read32(cpu, kCurrent), 0u);
    EXPECT_FALSE(fired()) << "stopped";
    apic_write32(cpu, kInitial, 100'000);   // periods are at least 50 us (README)
    EXPECT_EQ(apic_read32(cpu, kCurrent), 100'000u) << "a TMICT write starts it again, periodic";
    t.advance(100'000);
    EXPECT_TRUE(fired());
    EXPECT_EQ(apic_read32(cpu, kCurrent), 100'000u);
}

TEST_F(ApicTimerTest, ACountingOneShotSwitchedToPeriodicGoesOnAndReloads) {
    // kvm-unit-tests apic test_apic_change_mode, after an earlier one-shot expired.
    apic_write32(cpu, kDivide, 0xb);
    apic_write32(cpu, kLvtTimer, 0xec);
    apic_write32(cpu, kInitial, 100'000);
    t.advance(100'000);
    EXPECT_EQ(apic_read32(cpu, kCurrent), 0u);
    apic_write32(cpu, kInitial, 100'000);   // before any poll saw the first one expire
    EXPECT_TRUE(fired()) << "the first count's interrupt";
    t.advance(60'000);
    apic_write32(cpu, kLvtTimer, 0xec | (1u << 17));  // periodic
    EXPECT_EQ(apic_read32(cpu, kCurrent), 40'000u) << "not reset, not stopped";
    t.advance(50'000);   // (at least 50 us from the switch: periods are limited so, README)
    EXPECT_TRUE(fired());
    t.advance(10'000);
    EXPECT_EQ(apic_read32(cpu, kCurrent), 100'000u - 20'000u) << "reloaded";
}

TEST_F(ApicTimerTest, AOneShotThatReachedZeroUnpolledStillFiresOnceAfterTheSwitch) {
    apic_write32(cpu, kDivide, 0xb);
    apic_write32(cpu, kLvtTimer, 0xec);
    apic_write32(cpu, kInitial, 1000);
    poll();
    t.advance(1500);                                    // reached 0, not polled yet
    apic_write32(cpu, kLvtTimer, 0xec | (1u << 17));    // periodic
    EXPECT_EQ(apic_read32(cpu, kCurrent), 0u);
    EXPECT_TRUE(fired()) << "the one-shot's interrupt";
    t.advance(5000);
    EXPECT_FALSE(fired()) << "and no period after it";
    EXPECT_EQ(apic_read32(cpu, kCurrent), 0u);
}

TEST_F(ApicTimerTest, PeriodicReloadsAndCoalescesMissedPeriods) {
    apic_write32(cpu, kDivide, 0xb);  // /1
    apic_write32(cpu, kLvtTimer, 0x200ec);
    apic_write32(cpu, kInitial, 100'000);  // 100 us
    uint64_t start = t.now;
    for (int period = 1; period <= 3; ++period) {
        t.now = start + period * 100'000 - 1;
        EXPECT_FALSE(fired()) << period;
        t.now += 1;
        EXPECT_TRUE(fired()) << period;
    }
    t.now = start + 350'000;
    EXPECT_EQ(apic_read32(cpu, kCurrent), 50'000u) << "reloaded each period";
    t.now = start + 1'000'000 + 10;  // 7 periods missed
    EXPECT_TRUE(fired());
    EXPECT_FALSE(fired()) << "missed periods coalesce into one interrupt";
    EXPECT_EQ(poll(), start + 1'100'000);
}

TEST_F(ApicTimerTest, TinyPeriodsAreLimited) {
    apic_write32(cpu, kDivide, 0xb);
    apic_write32(cpu, kLvtTimer, 0x200ec);
    apic_write32(cpu, kInitial, 1);
    EXPECT_GE(poll(), t.now + ApicTimer::kMinPeriodNs);
}

TEST_F(ApicTimerTest, MaskedTimerCountsWithoutInterrupting) {
    apic_write32(cpu, kDivide, 0xb);
    apic_write32(cpu, kLvtTimer, 0x300ec);  // periodic, masked
    apic_write32(cpu, kInitial, 100'000);
    t.advance(100'000);
    EXPECT_FALSE(fired());
    apic_write32(cpu, kLvtTimer, 0x200ec);
    t.advance(100'000);
    EXPECT_TRUE(fired());
}

TEST_F(ApicTimerTest, ZeroInitialCountStopsTheTimer) {
    apic_write32(cpu, kDivide, 0xb);
    apic_write32(cpu, kLvtTimer, 0x200ec);
    apic_write32(cpu, kInitial, 100'000);
    apic_write32(cpu, kInitial, 0);
    t.advance(1'000'000);
    EXPECT_FALSE(fired());
    EXPECT_EQ(apic_read32(cpu, kCurrent), 0u);
}

TEST_F(ApicTimerTest, ChangingTheDivisorKeepsTheRemainingCount) {
    apic_write32(cpu, kDivide, 0xb);  // /1
    apic_write32(cpu, kLvtTimer, 0xec);
    apic_write32(cpu, kInitial, 1000);
    t.advance(400);
    apic_write32(cpu, kDivide, 0x0);  // /2: the remaining 600 counts take 1200 ns
    EXPECT_EQ(apic_read32(cpu, kCurrent), 600u);
    t.advance(1'199);
    EXPECT_FALSE(fired());
    t.advance(1);
    EXPECT_TRUE(fired());
}

TEST_F(ApicTimerTest, TscDeadlineFiresAtTheDeadlineAndClearsTheMsr) {
    uint64_t value = 0;
    ASSERT_TRUE(cpu.write_msr(0x6e0, platform.clock().tsc_now() + 1000));
    ASSERT_TRUE(cpu.read_msr(0x6e0, value));
    EXPECT_EQ(value, 0u) << "ignored outside TSC-deadline mode";
    apic_write32(cpu, kLvtTimer, 0x400ec);
    uint64_t deadline = platform.clock().tsc_now() + 2000;  // 1 us at 2 GHz
    ASSERT_TRUE(cpu.write_msr(0x6e0, deadline));
    ASSERT_TRUE(cpu.read_msr(0x6e0, value));
    EXPECT_EQ(value, deadline);
    EXPECT_EQ(poll(), t.now + 1000);
    apic_write32(cpu, kInitial, 5);
    EXPECT_EQ(apic_read32(cpu, kInitial), 0u) << "initial count ignored in TSC-deadline mode";
    EXPECT_EQ(apic_read32(cpu, kCurrent), 0u);
    t.advance(999);
    EXPECT_FALSE(fired());
    t.advance(1);
    EXPECT_TRUE(fired());
    ASSERT_TRUE(cpu.read_msr(0x6e0, value));
    EXPECT_EQ(value, 0u);
    t.advance(1'000'000);
    EXPECT_FALSE(fired());
}

TEST_F(ApicTimerTest, TscDeadlineInThePastFiresAtOnceAndZeroDisarms) {
    apic_write32(cpu, kLvtTimer, 0x400ec);
    t.advance(10'000);
    ASSERT_TRUE(cpu.write_msr(0x6e0, 1));
    EXPECT_TRUE(fired());
    ASSERT_TRUE(cpu.write_msr(0x6e0, platform.clock().tsc_now() + 100));
    ASSERT_TRUE(cpu.write_msr(0x6e0, 0));
    t.advance(1'000);
    EXPECT_FALSE(fired());
}

TEST_F(ApicTimerTest, LeavingTscDeadlineModeDisarms) {
    apic_write32(cpu, kLvtTimer, 0x400ec);
    ASSERT_TRUE(cpu.write_msr(0x6e0, platform.clock().tsc_now() + 100));
    apic_write32(cpu, kLvtTimer, 0x000ec);
    uint64_t value = 1;
    cpu.read_msr(0x6e0, value);
    EXPECT_EQ(value, 0u);
    t.advance(1'000);
    EXPECT_FALSE(fired());
    // And entering it clears a running count-down.
    apic_write32(cpu, kInitial, 10);
    apic_write32(cpu, kLvtTimer, 0x400ec);
    EXPECT_EQ(apic_read32(cpu, kInitial), 0u);
    t.advance(1'000);
    EXPECT_FALSE(fired());
}

TEST_F(ApicTimerTest, GuestTscWriteMovesTheDeadline) {
    apic_write32(cpu, kLvtTimer, 0x400ec);
    platform.clock().set_tsc(1'000'000);
    ASSERT_TRUE(cpu.write_msr(0x6e0, 1'000'000 + 4000));  // 2 us
    t.advance(1'999);
    EXPECT_FALSE(fired());
    t.advance(1);
    EXPECT_TRUE(fired());
}

TEST_F(ApicTimerTest, IllegalTimerVectorRaisesAnErrorInstead) {
    apic_write32(cpu, 0x370, 0xee);
    apic_write32(cpu, kLvtTimer, 0x00003);
    apic_write32(cpu, kInitial, 1);
    t.advance(10);
    EXPECT_TRUE(fired(0xee));
    apic_write32(cpu, 0x280, 0);
    EXPECT_EQ(apic_read32(cpu, 0x280), 0x40u);
}

TEST_F(ApicTimerTest, InitStopsTheTimer) {
    apic_write32(cpu, kLvtTimer, 0x200ec);
    apic_write32(cpu, kInitial, 100'000);
    apic_write32(cpu, 0x300, 0x44500);  // INIT to self
    ASSERT_TRUE(cpu.take_init());
    EXPECT_EQ(poll(), ApicTimer::kNever);
    EXPECT_EQ(apic_read32(cpu, kLvtTimer), 0x10000u);
}

}  // namespace
}  // namespace popek::emu
