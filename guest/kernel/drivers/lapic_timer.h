#pragma once
#include "drivers/timer.h"

namespace pos {

/// Local APIC timer in periodic mode (SDM Vol. 3A 11.5.4). Its input clock is calibrated against
/// PIT channel 2 (40 ms, latched reads), else CPUID 0x15 (crystal) or 0x16 (bus MHz), else assumed 1 GHz
/// (KVM's in-kernel LAPIC).
class LapicTimer final : public Timer {
public:
    bool start(uint32_t hz) override;
    /// Starts the calling CPU's own LAPIC timer at the rate start() calibrated (application processors).
    bool start_this_cpu(uint32_t hz);
    void handle_interrupt() override { tick(); }
    const char* describe() const override { return m_source; }
    uint64_t frequency() const { return m_hz; }

private:
    uint64_t calibrate();
    bool program(uint32_t hz);
    uint64_t m_hz = 0;
    const char* m_source = "lapic timer";
};

}  // namespace pos
