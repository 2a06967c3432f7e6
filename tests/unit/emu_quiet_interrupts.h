#pragma once
/// A CpuInterrupts with nothing to deliver and no APIC behind it, for engine tests that override
/// only what they exercise (an NMI latch, KVM_HC_SEND_IPI's deliveries).
#include <algorithm>

#include "emu/irqchip/cpu_interrupts.h"

namespace popek::emu::test {

struct QuietInterrupts : CpuInterrupts {
    bool interrupt_pending() override { return false; }
    std::optional<uint8_t> acknowledge_interrupt() override { return std::nullopt; }
    bool take_nmi() override { return false; }
    bool take_init() override { return false; }
    std::optional<uint8_t> take_sipi() override { return std::nullopt; }
    uint64_t poll_timers(uint64_t) override { return UINT64_MAX; }
    void wait(uint64_t, WakeOn) override {}
    void kick() override {}
    void apic_read(uint32_t, std::span<uint8_t> data) override { std::fill(data.begin(), data.end(), 0); }
    void apic_write(uint32_t, std::span<const uint8_t>) override {}
    bool read_msr(uint32_t, uint64_t&) override { return false; }
    bool write_msr(uint32_t, uint64_t) override { return false; }
    void set_cr8(uint64_t) override {}
    uint64_t cr8() override { return 0; }
};

}  // namespace popek::emu::test
