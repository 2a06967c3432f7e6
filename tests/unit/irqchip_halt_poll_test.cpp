// Halt polling (emu/irqchip/halt_poll.h): the window adapts as KVM's does, a wake-up that comes
// while the vCPU polls ends its wait without a sleep, and the hint that ends the polling never
// ends a wait by itself.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "emu/irqchip/halt_poll.h"
#include "emu/irqchip/platform.h"
#include "emu/irqchip/vcpu_interrupts.h"
#include "irqchip_test_util.h"

namespace popek::emu {
namespace {

using namespace testing;

TEST(HaltPoll, GrowsAfterShortHaltsAndDropsAfterLongOnes) {
    HaltPoll p;
    EXPECT_EQ(p.window_ns(), 0u) << "a vCPU starts without polling, as KVM's do";
    p.update(50'000, true);   // woken 50 us after halting: polling would have caught it
    EXPECT_EQ(p.window_ns(), HaltPoll::kStartNs);
    p.update(50'000, true);
    EXPECT_EQ(p.window_ns(), 2 * HaltPoll::kStartNs);
    p.update(50'000, true);
    p.update(50'000, true);
    EXPECT_EQ(p.window_ns(), 8 * HaltPoll::kStartNs);
    p.update(50'000, true);   // within the 80 us window: kept
    EXPECT_EQ(p.window_ns(), 8 * HaltPoll::kStartNs);
    p.update(150'000, true);
    EXPECT_EQ(p.window_ns(), 16 * HaltPoll::kStartNs);
    p.update(170'000, true);
    EXPECT_EQ(p.window_ns(), HaltPoll::kMaxNs) << "capped";
    p.update(4'000'000, true);   // a 4 ms tick of an idle guest
    EXPECT_EQ(p.window_ns(), 0u) << "an idle vCPU stops polling at once";
    p.update(20'000, true);
    p.update(20'000, false);   // a bare kick (a debugger's pause, a stop request)
    EXPECT_EQ(p.window_ns(), 0u);
    EXPECT_EQ(HaltPoll(0).window_ns(), 0u);
    HaltPoll off(0);
    off.update(50'000, true);
    EXPECT_EQ(off.window_ns(), 0u) << "max 0: never polls";
}

struct HaltPollWait : ::testing::Test {
    InterruptPlatform platform{2, 1'000'000'000};
    VcpuInterrupts& target() { return static_cast<VcpuInterrupts&>(platform.cpu(1)); }
    void SetUp() override {
        enable_apic(platform.cpu(0));
        enable_apic(platform.cpu(1));
    }
    void ipi_to_1(uint8_t vector) {
        apic_write32(platform.cpu(0), 0x310, 1u << 24);
        apic_write32(platform.cpu(0), 0x300, 0x4000u | vector);
    }
};

TEST_F(HaltPollWait, AnIpiWhilePollingEndsTheWaitBeforeItSleeps) {
    target().set_halt_poll(60'000'000'000, 30'000'000'000);   // poll up to 30 s: the IPI comes first
    std::thread sender([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        ipi_to_1(0x81);
    });
    target().wait(UINT64_MAX, WakeOn::AnyEvent);
    sender.join();
    EXPECT_TRUE(target().interrupt_pending());
    EXPECT_EQ(target().acknowledge_interrupt(), 0x81);
    EXPECT_EQ(target().halt_polled_wakes(), 1u) << "the poll saw the IPI: no host sleep";
}

TEST_F(HaltPollWait, PollingWithoutAWakeUpStillEndsAtTheDeadline) {
    target().set_halt_poll(60'000'000'000, 30'000'000'000);
    const uint64_t deadline = steady_now_ns() + 3'000'000;
    target().wait(deadline, WakeOn::AnyEvent);
    EXPECT_GE(steady_now_ns(), deadline);
    EXPECT_LT(steady_now_ns(), deadline + 5'000'000'000) << "polled past the deadline";
}

TEST_F(HaltPollWait, AMaskedInterruptEndsThePollingButNotTheWait) {
    target().set_halt_poll(60'000'000'000, 30'000'000'000);
    target().set_cr8(0xf);   // TPR 15: vector 0x81 cannot be taken
    const uint64_t deadline = steady_now_ns() + 20'000'000;
    std::thread sender([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
        ipi_to_1(0x81);
    });
    target().wait(deadline, WakeOn::AnyEvent);
    sender.join();
    EXPECT_GE(steady_now_ns(), deadline) << "the hint woke the poll, the masked vector must not end the wait";
    EXPECT_EQ(target().halt_polled_wakes(), 0u);
}

}  // namespace
}  // namespace popek::emu
