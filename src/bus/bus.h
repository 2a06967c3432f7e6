#pragma once
/// An address space (pio or mmio) of non-overlapping device ranges.
#include <cstdint>
#include <map>
#include <memory>
#include <span>

#include "bus/device.h"
#include "util/result.h"

namespace popek::bus {

struct Range {
    uint64_t base;
    uint64_t size;
    uint64_t last() const { return base + size - 1; }
};

class Bus {
public:
    /// Adds `device` at `range`; fails when the range is empty, wraps or overlaps another device.
    Result<void> insert(Range range, std::shared_ptr<Device> device);
    /// Dispatches an access; returns false when no device claims `addr` (the access is then
    /// ignored for writes, and reads return all ones).
    bool read(uint64_t addr, std::span<uint8_t> data) const;
    bool write(uint64_t addr, std::span<const uint8_t> data) const;
    /// True unless the device at `addr` says it never writes guest RAM (Device::writes_guest_ram);
    /// an unclaimed address writes nothing.
    bool may_write_ram(uint64_t addr) const;
    size_t device_count() const { return m_devices.size(); }

private:
    struct Entry {
        Range range;
        std::shared_ptr<Device> device;
    };
    const Entry* find(uint64_t addr, uint64_t len) const;
    std::map<uint64_t, Entry> m_devices;  // keyed by range.base
};

}  // namespace popek::bus
