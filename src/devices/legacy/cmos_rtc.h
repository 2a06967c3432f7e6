#pragma once
/// MC146818-compatible CMOS RTC at ports 0x70 (index) / 0x71 (data): wall-clock time from the host,
/// status A's update-in-progress bit in the last 2228 us before each second (the datasheet's
/// 244 us before the update cycle plus the 1984 us cycle), the alarm (seconds/minutes/hours alarm
/// registers, "don't care" values 0xc0-0xff), status C's update-ended and alarm flags, and the BIOS
/// memory-size bytes (IBM PC/AT CMOS map: 0x15-0x18, 0x30-0x31, 0x34-0x35, 0x5b-0x5d).
///
/// The flags are computed when looked at (status C read, irq_asserted()): the second boundaries
/// passed since the last look set UF, and AF when one matches the alarm. The RTC raises no
/// interrupt line (IRQ 8): its alarm reaches the guest through status C and as the ACPI S3 wake
/// event (acpi_pm.h, vmm/acpi_sleep.h). The periodic flag (PF) is not modelled.
#include <array>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>

#include "bus/device.h"

namespace popek::snapshot {
class Writer;
class Reader;
}  // namespace popek::snapshot

namespace popek::devices::legacy {

class CmosRtc final : public bus::Device {
public:
    /// The host's wall clock in ns since the Unix epoch.
    using WallClock = std::function<int64_t()>;
    static constexpr int64_t kNsPerSec = 1'000'000'000;
    /// Update-in-progress window before each second boundary (MC146818: tBUC 244 us + update 1984 us).
    static constexpr int64_t kUipNs = 2'228'000;
    /// MC146818 status B/C bits ("Register B", "Register C").
    static constexpr uint8_t kStatusBSet = 0x80, kStatusBAie = 0x20, kStatusBUie = 0x10;
    static constexpr uint8_t kStatusCIrqf = 0x80, kStatusCAf = 0x20, kStatusCUf = 0x10;

    /// `low_ram`/`high_ram`: guest RAM below and above 4 GiB, in bytes.
    CmosRtc(uint64_t low_ram, uint64_t high_ram, WallClock clock = nullptr);
    std::string_view name() const override { return "cmos-rtc"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    bool writes_guest_ram() const override { return false; }   // registers only, no DMA
    void write(uint64_t offset, std::span<const uint8_t> data) override;
    /// The RTC's interrupt output now: IRQF (an enabled alarm or update-ended flag not yet read
    /// from status C). The ACPI sleep logic wakes the VM on it.
    bool irq_asserted();
    /// Snapshot state (docs/snapshot.md; src/snapshot/): every field the guest can observe.
    void save(snapshot::Writer& w);
    /// Hostile input: range-checked, failures recorded in `r`.
    void load(snapshot::Reader& r);

private:
    uint8_t read_data();
    uint8_t encode(unsigned value) const;  // BCD or binary per status B
    uint8_t encode_hours(unsigned hours) const;
    /// Sets UF/AF for the second boundaries passed since the last look; returns IRQF.
    void update_flags(int64_t now_ns);
    bool alarm_matches(std::time_t second) const;

    std::mutex m_mutex;
    WallClock m_clock;
    uint8_t m_index = 0;
    std::array<uint8_t, 128> m_ram{};
    uint8_t m_status_c = 0;
    std::time_t m_seen_second = 0;   ///< the last second boundary update_flags() accounted for
};

}  // namespace popek::devices::legacy
