// GuestClock::pause/resume (PATCH /vm, docs/api.md): the guest's time stands still while the VM
// is paused and goes on from there, and host waits on guest deadlines are shifted by the pause.
#include <gtest/gtest.h>

#include "emu/irqchip/guest_clock.h"
#include "irqchip_test_util.h"

namespace popek::emu {
namespace {

using testing::FakeClock;

TEST(GuestClockPause, TimeStandsStillWhilePausedAndDoesNotJumpAfter) {
    FakeClock t;
    GuestClock clock(2'000'000'000, t.fn());
    t.advance(1'000'000);   // 1 ms
    const uint64_t tsc_before = clock.tsc_now();
    const uint64_t ns_before = clock.now_ns();
    clock.pause();
    EXPECT_TRUE(clock.paused());
    t.advance(5'000'000'000);   // 5 s paused
    EXPECT_EQ(clock.tsc_now(), tsc_before);
    EXPECT_EQ(clock.now_ns(), ns_before);
    clock.resume();
    EXPECT_FALSE(clock.paused());
    EXPECT_EQ(clock.tsc_now(), tsc_before);   // no jump at the resume
    t.advance(1'000);
    EXPECT_EQ(clock.tsc_now(), tsc_before + 2'000);
}

TEST(GuestClockPause, PauseAndResumeAreIdempotentAndAccumulate) {
    FakeClock t;
    GuestClock clock(1'000'000'000, t.fn());
    clock.resume();   // not paused: nothing
    clock.pause();
    t.advance(100);
    clock.pause();    // already paused: the pause still started 100 ns ago
    t.advance(100);
    clock.resume();
    clock.resume();
    t.advance(10);
    clock.pause();
    t.advance(1'000);
    clock.resume();
    EXPECT_EQ(clock.tsc_now(), 10u);   // only the 10 ns between the two pauses counted
}

TEST(GuestClockPause, HostDeadlinesLeaveOutThePausedTime) {
    FakeClock t;
    GuestClock clock(1'000'000'000, t.fn());
    const uint64_t deadline = clock.now_ns() + 1'000;   // a timer 1 us ahead in guest time
    EXPECT_EQ(clock.host_ns(deadline), t.now + 1'000);
    clock.pause();
    t.advance(7'000);
    clock.resume();
    // 7 us of host time passed without guest time: the host waits 7 us longer.
    EXPECT_EQ(clock.host_ns(deadline), t.now + 1'000);
    EXPECT_EQ(clock.host_ns(UINT64_MAX), UINT64_MAX);   // "no deadline" stays that
}

TEST(GuestClockPause, SetTscWhilePausedHolds) {
    FakeClock t;
    GuestClock clock(1'000'000'000, t.fn());
    clock.pause();
    clock.set_tsc(42);
    t.advance(500);
    EXPECT_EQ(clock.tsc_now(), 42u);
    clock.resume();
    t.advance(8);
    EXPECT_EQ(clock.tsc_now(), 50u);
}

}  // namespace
}  // namespace popek::emu
