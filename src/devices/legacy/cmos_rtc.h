#pragma once
/// MC146818-compatible CMOS RTC at ports 0x70 (index) / 0x71 (data): wall-clock time from the host,
/// a status A that never reports update-in-progress (so guests never spin waiting for it), and the
/// BIOS memory-size bytes (IBM PC/AT CMOS map: 0x15-0x18, 0x30-0x31, 0x34-0x35, 0x5b-0x5d).
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
    using WallClock = std::function<std::time_t()>;
    /// `low_ram`/`high_ram`: guest RAM below and above 4 GiB, in bytes.
    CmosRtc(uint64_t low_ram, uint64_t high_ram, WallClock clock = nullptr);
    std::string_view name() const override { return "cmos-rtc"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    bool writes_guest_ram() const override { return false; }   // registers only, no DMA
    void write(uint64_t offset, std::span<const uint8_t> data) override;
    /// Snapshot state (docs/snapshot.md; src/snapshot/): every field the guest can observe.
    void save(snapshot::Writer& w);
    /// Hostile input: range-checked, failures recorded in `r`.
    void load(snapshot::Reader& r);

private:
    uint8_t read_data();
    uint8_t encode(unsigned value) const;  // BCD or binary per status B

    std::mutex m_mutex;
    WallClock m_clock;
    uint8_t m_index = 0;
    std::array<uint8_t, 128> m_ram{};
};

}  // namespace popek::devices::legacy
