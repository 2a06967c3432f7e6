#include "drivers/lapic_timer.h"

#include "arch/apic.h"
#include "arch/x86.h"

namespace pos {
namespace {

constexpr uint32_t kPitHz = 1193182;
constexpr uint32_t kGatePitTicks = kPitHz / 25;   // measure over 40 ms

uint16_t read_pit2() {
    x86::outb(0x43, 0x80);   // counter latch command, channel 2 (8254 datasheet, "Read-Back")
    uint8_t lo = x86::inb(0x42);
    return static_cast<uint16_t>(lo | x86::inb(0x42) << 8);
}

/// Reads the LAPIC count between two PIT reads and pairs it with their mean. Port I/O is slow
/// when emulated and the vCPU may be descheduled in between, so a pair further apart than
/// kMaxSpread PIT ticks (~40 us) is read again.
constexpr uint32_t kMaxSpread = 48;
bool sample(uint32_t& pit, uint32_t& apic) {
    for (int attempt = 0; attempt < 100; ++attempt) {
        uint32_t a = read_pit2();
        apic = lapic::read(lapic::kTimerCurrent);
        uint32_t b = read_pit2();
        pit = (a + b) / 2;
        if (a >= b && a - b <= kMaxSpread) return true;
    }
    return false;
}

/// LAPIC timer frequency (divide by 1) measured against PIT channel 2 counting down from
/// 0xffff, or 0 when there is no PIT.
uint64_t measure_against_pit() {
    uint8_t gate = x86::inb(0x61);
    if (gate == 0xff) return 0;   // no port 0x61: no PIT
    x86::outb(0x61, static_cast<uint8_t>((gate & ~0x03)));   // speaker off, gate off
    x86::outb(0x43, 0xb0);   // channel 2, lobyte/hibyte, mode 0
    x86::outb(0x42, 0xff);
    x86::outb(0x42, 0xff);
    x86::outb(0x61, static_cast<uint8_t>((gate & ~0x02) | 0x01));   // gate on: counting starts
    lapic::write(lapic::kTimerInitial, 0xffffffff);
    uint32_t pit0, apic0, pit1 = 0, apic1 = 0;
    if (!sample(pit0, apic0)) return 0;
    for (int spins = 0; spins < 200000; ++spins) {
        if (!sample(pit1, apic1)) return 0;
        if (pit1 > pit0) return 0;                        // not counting down: no usable PIT
        if (pit0 - pit1 >= kGatePitTicks) return uint64_t{apic0 - apic1} * kPitHz / (pit0 - pit1);
    }
    return 0;
}

}  // namespace

uint64_t LapicTimer::calibrate() {
    lapic::write(lapic::kTimerDivide, 0xb);   // divide by 1
    lapic::write(lapic::kLvtTimer, 1u << 16);  // masked, one-shot
    uint64_t hz = measure_against_pit();
    lapic::write(lapic::kTimerInitial, 0);
    if (hz > 1000000) {
        m_source = "lapic timer, calibrated against the PIT";
        return hz;
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
    return program(hz);
}

bool LapicTimer::start_this_cpu(uint32_t hz) { return m_hz != 0 && program(hz); }

bool LapicTimer::program(uint32_t hz) {
    if (hz == 0) return false;
    uint64_t initial = m_hz / hz;
    if (initial == 0 || initial > 0xffffffffu) return false;
    lapic::write(lapic::kTimerDivide, 0xb);
    lapic::write(lapic::kLvtTimer, (1u << 17) | kVectorTimer);   // periodic
    lapic::write(lapic::kTimerInitial, static_cast<uint32_t>(initial));
    return true;
}

}  // namespace pos
