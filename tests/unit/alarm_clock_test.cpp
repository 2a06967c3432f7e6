/// emu/alarm_clock.h: the host thread that raises a vCPU's attention flag at its next timer
/// deadline (so translated code need not poll the clock every few thousand instructions).
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "emu/alarm_clock.h"

namespace popek::emu::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

uint64_t in_ns(std::chrono::nanoseconds d) {
    return static_cast<uint64_t>((Clock::now() + d).time_since_epoch().count());
}

/// Waits up to `limit` for `flag`; returns the time it took (limit if never).
Clock::duration wait_for_flag(const std::atomic<bool>& flag, Clock::duration limit) {
    const auto start = Clock::now();
    while (!flag.load() && Clock::now() - start < limit) std::this_thread::sleep_for(1ms);
    return Clock::now() - start;
}

TEST(AlarmClock, RaisesTheFlagAtTheDeadlineNotBefore) {
    AlarmClock alarms;
    std::atomic<bool> flag{false};
    const auto start = Clock::now();
    alarms.arm(0, in_ns(50ms), &flag);
    EXPECT_FALSE(flag.load()) << "raised at once";
    wait_for_flag(flag, 5s);
    EXPECT_TRUE(flag.load()) << "never raised";
    EXPECT_GE(Clock::now() - start, 50ms) << "raised before its deadline";
    EXPECT_EQ(alarms.fired(), 1u);
}

TEST(AlarmClock, AnEarlierDeadlineReplacesALaterOne) {
    // The thread sleeps until the 1 h alarm; the new 20 ms one must wake it.
    AlarmClock alarms;
    std::atomic<bool> flag{false};
    alarms.arm(0, in_ns(1h), &flag);
    std::this_thread::sleep_for(10ms);
    alarms.arm(0, in_ns(20ms), &flag);
    EXPECT_LT(wait_for_flag(flag, 5s), 4s) << "the earlier alarm did not wake the sleeping thread";
}

TEST(AlarmClock, EachSlotHasItsOwnAlarmAndDisarmCancels) {
    AlarmClock alarms;
    std::atomic<bool> first{false}, second{false};
    alarms.arm(0, in_ns(30ms), &first);
    alarms.arm(3, in_ns(30ms), &second);
    alarms.disarm(0);
    wait_for_flag(second, 5s);
    std::this_thread::sleep_for(50ms);
    EXPECT_TRUE(second.load());
    EXPECT_FALSE(first.load()) << "a disarmed alarm went off";
    EXPECT_EQ(alarms.fired(), 1u);
}

TEST(AlarmClock, BadArgumentsAreIgnored) {
    AlarmClock alarms;
    std::atomic<bool> flag{false};
    alarms.arm(-1, in_ns(1ms), &flag);
    alarms.arm(0, 0, &flag);
    alarms.arm(0, in_ns(1ms), nullptr);
    alarms.disarm(-5);
    alarms.disarm(100);
    std::this_thread::sleep_for(20ms);
    EXPECT_FALSE(flag.load());
    EXPECT_EQ(alarms.fired(), 0u);
}

}  // namespace
}  // namespace popek::emu::test
