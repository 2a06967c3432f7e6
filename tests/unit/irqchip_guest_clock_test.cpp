// GuestClock: guest TSC from the host clock at tsc_hz, and the conversions timers rely on.
#include <gtest/gtest.h>

#include "emu/irqchip/guest_clock.h"
#include "irqchip_test_util.h"

namespace popek::emu {
namespace {

using testing::FakeClock;

TEST(GuestClock, TscCountsAtTscHzFromCreation) {
    FakeClock t;
    GuestClock clock(2'000'000'000, t.fn());
    EXPECT_EQ(clock.tsc_now(), 0u);
    t.advance(1'000);  // 1 us at 2 GHz
    EXPECT_EQ(clock.tsc_now(), 2'000u);
    t.advance(1'000'000'000);
    EXPECT_EQ(clock.tsc_now(), 2'000'002'000u);
}

TEST(GuestClock, NsForTscIsTheFirstInstantTheTscReachesIt) {
    FakeClock t;
    GuestClock clock(3'000'000'000, t.fn());  // 3 ticks per ns: rounding matters
    uint64_t origin = t.now;
    for (uint64_t tsc : {1ull, 2ull, 3ull, 4ull, 1'000'000ull, 7'777'777'777ull}) {
        uint64_t at = clock.ns_for_tsc(tsc);
        EXPECT_GE(clock.tsc_at(at), tsc) << tsc;
        EXPECT_LT(clock.tsc_at(at - 1), tsc) << tsc;
        EXPECT_GT(at, origin);
    }
}

TEST(GuestClock, DeadlineInThePastIsDueNow) {
    FakeClock t;
    GuestClock clock(1'000'000'000, t.fn());
    t.advance(500);
    EXPECT_EQ(clock.ns_for_tsc(100), t.now);
    EXPECT_EQ(clock.ns_for_tsc(0), t.now);
}

TEST(GuestClock, SetTscMovesTheCounterAndDeadlinesWithIt) {
    FakeClock t;
    GuestClock clock(1'000'000'000, t.fn());
    t.advance(10'000);
    clock.set_tsc(1'000'000);
    EXPECT_EQ(clock.tsc_now(), 1'000'000u);
    t.advance(5);
    EXPECT_EQ(clock.tsc_now(), 1'000'005u);
    EXPECT_EQ(clock.ns_for_tsc(1'000'100), t.now + 95);
    clock.set_tsc(0);  // backwards
    EXPECT_EQ(clock.tsc_now(), 0u);
    EXPECT_EQ(clock.ns_for_tsc(50), t.now + 50);
}

TEST(GuestClock, ConversionsSaturateInsteadOfOverflowing) {
    EXPECT_EQ(GuestClock::ticks_in(UINT64_MAX, 4'000'000'000), UINT64_MAX);
    EXPECT_EQ(GuestClock::ns_for_ticks(UINT64_MAX, 1), UINT64_MAX);
    EXPECT_EQ(GuestClock::ns_for_ticks(1, 0), UINT64_MAX);
    EXPECT_EQ(GuestClock::ticks_in(1'000'000'000, 1'193'182), 1'193'182u);
    FakeClock t;
    GuestClock clock(1'000'000'000, t.fn());
    EXPECT_EQ(clock.ns_for_tsc(UINT64_MAX), UINT64_MAX);
}

TEST(GuestClock, SteadyClockVersionAdvances) {
    GuestClock clock(1'000'000'000);
    uint64_t a = clock.tsc_now();
    uint64_t b = clock.tsc_now();
    EXPECT_LE(a, b);
    EXPECT_GT(steady_now_ns(), 0u);
}

}  // namespace
}  // namespace popek::emu
