// InterruptPlatform: what it claims of port and MMIO space, vCPU count limits, and concurrent use
// from vCPU and device threads.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "emu/irqchip/platform.h"
#include "irqchip_test_util.h"

namespace popek::emu {
namespace {

using namespace testing;

TEST(InterruptPlatform, ClaimsExactlyItsPortsAndMmio) {
    InterruptPlatform platform(1, 1'000'000'000);
    std::array<uint8_t, 1> b{};
    for (int port : {0x20, 0x21, 0xa0, 0xa1, 0x4d0, 0x4d1, 0x40, 0x41, 0x42, 0x43, 0x61}) {
        EXPECT_TRUE(platform.pio_read(static_cast<uint16_t>(port), b)) << port;
        EXPECT_TRUE(platform.pio_write(static_cast<uint16_t>(port), b)) << port;
    }
    for (int port : {0x1f, 0x22, 0x3f, 0x44, 0x60, 0x64, 0x70, 0x80, 0x9f, 0xa2, 0x3f8, 0x4cf, 0x4d2, 0xffff}) {
        EXPECT_FALSE(platform.pio_read(static_cast<uint16_t>(port), b)) << port;
        EXPECT_FALSE(platform.pio_write(static_cast<uint16_t>(port), b)) << port;
    }
    EXPECT_TRUE(platform.mmio_read(0xfec00000, b));
    EXPECT_TRUE(platform.mmio_read(0xfec00fff, b));
    EXPECT_FALSE(platform.mmio_read(0xfec01000, b));
    EXPECT_FALSE(platform.mmio_read(0xfebfffff, b));
    EXPECT_FALSE(platform.mmio_read(0xfee00000, b)) << "the local APIC is per vCPU (apic_read)";
    EXPECT_FALSE(platform.mmio_write(UINT64_MAX, b));
}

TEST(InterruptPlatform, VcpuCountIsClampedAndIndexesChecked) {
    InterruptPlatform none(0, 1'000'000'000);
    EXPECT_EQ(none.vcpu_count(), 1);
    InterruptPlatform many(1000, 1'000'000'000);
    EXPECT_EQ(many.vcpu_count(), InterruptPlatform::kMaxVcpus);
    EXPECT_EQ(apic_read32(many.cpu(254), 0x20), 254u << 24);
    EXPECT_THROW(many.cpu(255), std::out_of_range);
    EXPECT_THROW(many.cpu(-1), std::out_of_range);
}

TEST(InterruptPlatform, TscHzZeroDoesNotDivideByZero) {
    InterruptPlatform platform(1, 0);
    (void)platform.clock().tsc_now();
    apic_write32(platform.cpu(0), 0x320, 0x40000);
    platform.cpu(0).write_msr(0x6e0, 12345);
    (void)platform.cpu(0).poll_timers(steady_now_ns());
}

TEST(InterruptPlatform, ConcurrentDevicesIpisAndVcpus) {
    // Two vCPU threads take and EOI interrupts while device threads toggle lines and send IPIs.
    // Checks for deadlocks and lost wake-ups: every vCPU sees interrupts, and the run ends.
    InterruptPlatform platform(2, 1'000'000'000);
    for (int i = 0; i < 2; ++i) enable_apic(platform.cpu(i));
    std::array<uint8_t, 4> sel{}, val{};
    for (unsigned pin = 3; pin <= 5; ++pin) {  // pins 3..5: level, vector 0x40+pin, to vCPU pin % 2
        sel[0] = static_cast<uint8_t>(0x10 + 2 * pin);
        uint32_t low = 0x8000 | (0x40 + pin);
        for (int i = 0; i < 4; ++i) val[static_cast<size_t>(i)] = static_cast<uint8_t>(low >> (8 * i));
        platform.mmio_write(0xfec00000, sel);
        platform.mmio_write(0xfec00010, val);
        sel[0] = static_cast<uint8_t>(0x11 + 2 * pin);
        uint32_t high = (pin % 2) << 24;
        for (int i = 0; i < 4; ++i) val[static_cast<size_t>(i)] = static_cast<uint8_t>(high >> (8 * i));
        platform.mmio_write(0xfec00000, sel);
        platform.mmio_write(0xfec00010, val);
    }
    std::atomic<bool> stop{false};
    std::array<std::atomic<int>, 2> taken{};
    std::vector<std::thread> threads;
    for (int cpu = 0; cpu < 2; ++cpu) {
        threads.emplace_back([&, cpu] {
            CpuInterrupts& me = platform.cpu(cpu);
            while (!stop.load()) {
                me.wait(steady_now_ns() + 1'000'000, WakeOn::AnyEvent);
                while (me.interrupt_pending()) {
                    if (me.acknowledge_interrupt()) taken[static_cast<size_t>(cpu)]++;
                    apic_write32(me, 0xb0, 0);
                }
            }
        });
    }
    threads.emplace_back([&] {
        for (int i = 0; !stop.load(); ++i) {
            unsigned pin = 3 + static_cast<unsigned>(i % 3);
            platform.set_irq_line(pin, true);
            platform.set_irq_line(pin, false);
        }
    });
    threads.emplace_back([&] {
        for (int i = 0; !stop.load(); ++i) {
            CpuInterrupts& from = platform.cpu(i % 2);
            apic_write32(from, 0x310, static_cast<uint32_t>((i + 1) % 2) << 24);
            apic_write32(from, 0x300, 0x4090);
            if (i % 64 == 0) std::this_thread::yield();
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop.store(true);
    for (int i = 0; i < 2; ++i) platform.cpu(i).kick();
    for (auto& thread : threads) thread.join();
    EXPECT_GT(taken[0].load(), 0);
    EXPECT_GT(taken[1].load(), 0);
}

}  // namespace
}  // namespace popek::emu
