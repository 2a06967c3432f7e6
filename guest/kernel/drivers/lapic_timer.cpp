#include "drivers/lapic_timer.h"

#include "arch/apic.h"
#include "arch/x86.h"

namespace pos {
namespace {

constexpr uint32_t kPitHz = 1193182;
constexpr uint32_t kCalibrationMs = 10;

/// Counts LAPIC timer ticks (divide by 1) during kCalibrationMs of PIT channel 2, or 0 when the
/// PIT does not answer.
uint64_t count_against_pit() {
    uint8_t gate = x86::inb(0x61);
    if (gate == 0xff) return 0;   // no port 0x61: no PIT
    x86::outb(0x61, static_cast<uint8_t>((gate & ~0x02) | 0x01));   // speaker off, gate on
    x86::outb(0x43, 0xb0);   // channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count)
    uint32_t count = kPitHz * kCalibrationMs / 1000;
    x86::outb(0x42, static_cast<uint8_t>(count));
    x86::outb(0x42, static_cast<uint8_t>(count >> 8));
    // Restart the count by toggling the gate, then start the LAPIC timer from the top.
    gate = x86::inb(0x61);
    x86::outb(0x61, static_cast<uint8_t>(gate & ~0x01));
    x86::outb(0x61, static_cast<uint8_t>(gate | 0x01));
    lapic::write(lapic::kTimerInitial, 0xffffffff);
    for (int spins = 0; spins < 1000000; ++spins) {
        if ((x86::inb(0x61) & 0x20) != 0) return 0xffffffffu - lapic::read(lapic::kTimerCurrent);
    }
    return 0;
}

}  // namespace

uint64_t LapicTimer::calibrate() {
    lapic::write(lapic::kTimerDivide, 0xb);   // divide by 1
    lapic::write(lapic::kLvtTimer, 1u << 16);  // masked, one-shot
    uint64_t ticks = count_against_pit();
    lapic::write(lapic::kTimerInitial, 0);
    if (ticks > 1000) {
        m_source = "lapic timer, calibrated against the PIT";
        return ticks * 1000 / kCalibrationMs;
    }
    auto leaf0 = x86::cpuid(0);
    if (leaf0.eax >= 0x15) {
        auto l15 = x86::cpuid(0x15);
        if (l15.ecx != 0) {
            m_source = "lapic timer, crystal clock from CPUID 0x15";
            return l15.ecx;
        }
    }
    if (leaf0.eax >= 0x16) {
        auto l16 = x86::cpuid(0x16);
        if (l16.ecx != 0) {
            m_source = "lapic timer, bus clock from CPUID 0x16";
            return uint64_t{l16.ecx} * 1000000;
        }
    }
    m_source = "lapic timer, assumed 1 GHz";
    return 1000000000;
}

bool LapicTimer::start(uint32_t hz) {
    m_hz = calibrate();
    uint64_t initial = m_hz / hz;
    if (initial == 0 || initial > 0xffffffffu) return false;
    lapic::write(lapic::kTimerDivide, 0xb);
    lapic::write(lapic::kLvtTimer, (1u << 17) | kVectorTimer);   // periodic
    lapic::write(lapic::kTimerInitial, static_cast<uint32_t>(initial));
    return true;
}

}  // namespace pos
