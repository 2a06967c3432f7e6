#include "devices/legacy/cmos_rtc.h"

#include <algorithm>
#include <chrono>

namespace popek::devices::legacy {
namespace {

// MC146818 register indices (datasheet "Address Map").
enum : uint8_t {
    kSeconds = 0x00, kSecondsAlarm = 0x01, kMinutes = 0x02, kMinutesAlarm = 0x03, kHours = 0x04,
    kHoursAlarm = 0x05, kWeekday = 0x06, kDay = 0x07, kMonth = 0x08, kYear = 0x09, kStatusA = 0x0a,
    kStatusB = 0x0b, kStatusC = 0x0c, kStatusD = 0x0d, kCentury = 0x32,
};
constexpr uint8_t kStatusAUip = 0x80, kStatusB24Hour = 0x02, kStatusBBinary = 0x04;
/// An alarm register with its two high bits set matches every value (datasheet "alarm" section).
constexpr uint8_t kDontCare = 0xc0;
/// A day holds every alarm pattern: a longer gap is looked at as its last day.
constexpr std::time_t kMaxScan = 24 * 60 * 60;

void put16(std::array<uint8_t, 128>& ram, uint8_t index, uint64_t value) {
    value = std::min<uint64_t>(value, 0xffff);
    ram[index] = static_cast<uint8_t>(value);
    ram[index + 1] = static_cast<uint8_t>(value >> 8);
}

int64_t host_wall_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::time_t second_of(int64_t ns) { return static_cast<std::time_t>(ns / CmosRtc::kNsPerSec); }

}  // namespace

CmosRtc::CmosRtc(uint64_t low_ram, uint64_t high_ram, WallClock clock) : m_clock(std::move(clock)) {
    if (!m_clock) m_clock = host_wall_ns;
    m_seen_second = second_of(m_clock());
    m_ram[kStatusA] = 0x26;  // 32.768 kHz time base, 1024 Hz rate
    m_ram[kStatusB] = kStatusB24Hour;
    m_ram[kStatusD] = 0x80;  // valid RAM and time
    put16(m_ram, 0x15, 640);                                            // base memory, KiB
    uint64_t ext_kib = low_ram > (1u << 20) ? (low_ram - (1u << 20)) >> 10 : 0;
    put16(m_ram, 0x17, ext_kib);                                        // memory above 1 MiB, KiB
    put16(m_ram, 0x30, ext_kib);
    uint64_t over16m = low_ram > (16u << 20) ? (low_ram - (16u << 20)) >> 16 : 0;
    put16(m_ram, 0x34, over16m);                                        // above 16 MiB, 64 KiB units
    uint64_t over4g = high_ram >> 16;                                   // above 4 GiB, 64 KiB units
    m_ram[0x5b] = static_cast<uint8_t>(over4g);
    m_ram[0x5c] = static_cast<uint8_t>(over4g >> 8);
    m_ram[0x5d] = static_cast<uint8_t>(over4g >> 16);
}

void CmosRtc::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(m_mutex);
    std::fill(data.begin(), data.end(), uint8_t{0xff});
    if (data.empty()) return;
    data[0] = offset == 0 ? m_index : read_data();
}

void CmosRtc::write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(m_mutex);
    if (data.empty()) return;
    if (offset == 0) {
        m_index = data[0] & 0x7f;  // bit 7 is the NMI mask, not part of the index
        return;
    }
    // Time registers are read-only here (the guest's clock follows the host); status C/D are
    // read-only by definition. Everything else (the alarm registers too) is plain CMOS RAM.
    if (m_index <= kYear && m_index != kSecondsAlarm && m_index != kMinutesAlarm && m_index != kHoursAlarm) return;
    if (m_index == kStatusC || m_index == kStatusD || m_index == kCentury) return;
    // Flags of boundaries already passed belong to the old settings.
    if (m_index == kStatusB || m_index == kSecondsAlarm || m_index == kMinutesAlarm || m_index == kHoursAlarm)
        update_flags(m_clock());
    uint8_t v = data[0];
    if (m_index == kStatusA) v &= 0x7f;  // UIP is read-only
    m_ram[m_index] = v;
}

uint8_t CmosRtc::encode(unsigned value) const {
    if (m_ram[kStatusB] & kStatusBBinary) return static_cast<uint8_t>(value);
    return static_cast<uint8_t>(((value / 10) << 4) | (value % 10));
}

uint8_t CmosRtc::encode_hours(unsigned h) const {
    if (m_ram[kStatusB] & kStatusB24Hour) return encode(h);
    uint8_t pm = h >= 12 ? 0x80 : 0;
    h %= 12;
    return static_cast<uint8_t>(encode(h == 0 ? 12 : h) | pm);
}

bool CmosRtc::alarm_matches(std::time_t second) const {
    std::tm t{};
    gmtime_r(&second, &t);
    // Compared in the registers' current format, as the chip compares its register bytes.
    auto match = [](uint8_t alarm, uint8_t now) { return (alarm & kDontCare) == kDontCare || alarm == now; };
    return match(m_ram[kSecondsAlarm], encode(static_cast<unsigned>(t.tm_sec))) &&
           match(m_ram[kMinutesAlarm], encode(static_cast<unsigned>(t.tm_min))) &&
           match(m_ram[kHoursAlarm], encode_hours(static_cast<unsigned>(t.tm_hour)));
}

void CmosRtc::update_flags(int64_t now_ns) {
    const std::time_t now = second_of(now_ns);
    if (now > m_seen_second && !(m_ram[kStatusB] & kStatusBSet)) {   // SET stops the updates
        m_status_c |= kStatusCUf;
        for (std::time_t s = std::max(m_seen_second + 1, now - kMaxScan + 1); s <= now; ++s) {
            if (alarm_matches(s)) {
                m_status_c |= kStatusCAf;
                break;
            }
        }
    }
    m_seen_second = std::max(m_seen_second, now);
    const uint8_t enabled = m_ram[kStatusB] & (kStatusBAie | kStatusBUie);
    // Flag bits sit where their enables sit in status B (AF/AIE bit 5, UF/UIE bit 4).
    if (m_status_c & enabled) m_status_c |= kStatusCIrqf;
}

bool CmosRtc::irq_asserted() {
    std::lock_guard lock(m_mutex);
    update_flags(m_clock());
    return (m_status_c & kStatusCIrqf) != 0;
}

uint8_t CmosRtc::read_data() {
    const int64_t now_ns = m_clock();
    std::time_t now = second_of(now_ns);
    std::tm t{};
    gmtime_r(&now, &t);
    switch (m_index) {
        case kSeconds: return encode(static_cast<unsigned>(t.tm_sec));
        case kMinutes: return encode(static_cast<unsigned>(t.tm_min));
        case kHours: return encode_hours(static_cast<unsigned>(t.tm_hour));
        case kWeekday: return encode(static_cast<unsigned>(t.tm_wday + 1));
        case kDay: return encode(static_cast<unsigned>(t.tm_mday));
        case kMonth: return encode(static_cast<unsigned>(t.tm_mon + 1));
        case kYear: return encode(static_cast<unsigned>(t.tm_year % 100));
        case kCentury: return encode(static_cast<unsigned>((t.tm_year + 1900) / 100));
        case kStatusA: {
            const bool uip = !(m_ram[kStatusB] & kStatusBSet) && now_ns % kNsPerSec >= kNsPerSec - kUipNs;
            return static_cast<uint8_t>(m_ram[kStatusA] | (uip ? kStatusAUip : 0));
        }
        case kStatusC: {   // reading clears every flag (datasheet "Register C")
            update_flags(now_ns);
            const uint8_t c = m_status_c;
            m_status_c = 0;
            return c;
        }
        default: return m_ram[m_index];
    }
}

}  // namespace popek::devices::legacy
