#pragma once
#include "drivers/timer.h"

namespace pos {

/// Local APIC timer in periodic mode (SDM Vol. 3A 11.5.4). Its input clock is calibrated against
/// PIT channel 2 (40 ms, latched reads), else CPUID 0x15 (crystal) or 0x16 (bus MHz), else assumed 1 GHz
/// (KVM's in-kernel LAPIC).
class LapicTimer final : public Timer {
public:
    bool start(uint32_t hz) override;
    void handle_interrupt() override { tick(); }
    const char* describe() const override { return m_source; }
    uint64_t frequency() const { return m_hz; }

private:
    uint64_t calibrate();
    uint64_t m_hz = 0;
    const char* m_source = "lapic timer";
};

}  // namespace pos
