#include "bus/bus.h"

#include <algorithm>

namespace popek::bus {

Result<void> Bus::insert(Range range, std::shared_ptr<Device> device) {
    if (!device) return fail("bus insert: null device");
    if (range.size == 0) return fail("bus insert {}: empty range", device->name());
    if (range.base + range.size - 1 < range.base)
        return fail("bus insert {}: range [{:#x}, +{:#x}) wraps around", device->name(), range.base, range.size);
    auto next = m_devices.lower_bound(range.base);
    if (next != m_devices.end() && next->second.range.base <= range.last())
        return fail("bus insert {}: [{:#x}, {:#x}] overlaps {}", device->name(), range.base, range.last(),
                    next->second.device->name());
    if (next != m_devices.begin()) {
        auto prev = std::prev(next);
        if (prev->second.range.last() >= range.base)
            return fail("bus insert {}: [{:#x}, {:#x}] overlaps {}", device->name(), range.base, range.last(),
                        prev->second.device->name());
    }
    m_devices.emplace(range.base, Entry{range, std::move(device)});
    return {};
}

const Bus::Entry* Bus::find(uint64_t addr, uint64_t len) const {
    auto it = m_devices.upper_bound(addr);
    if (it == m_devices.begin()) return nullptr;
    const Entry& e = std::prev(it)->second;
    if (addr > e.range.last()) return nullptr;
    // The access must not straddle the end of the device's range.
    if (len == 0 || len - 1 > e.range.last() - addr) return nullptr;
    return &e;
}

bool Bus::read(uint64_t addr, std::span<uint8_t> data) const {
    const Entry* e = find(addr, data.size());
    if (e == nullptr) {
        std::fill(data.begin(), data.end(), uint8_t{0xff});
        return false;
    }
    e->device->read(addr - e->range.base, data);
    return true;
}

bool Bus::write(uint64_t addr, std::span<const uint8_t> data) const {
    const Entry* e = find(addr, data.size());
    if (e == nullptr) return false;
    e->device->write(addr - e->range.base, data);
    return true;
}

bool Bus::may_write_ram(uint64_t addr) const {
    const Entry* e = find(addr, 1);
    return e != nullptr && e->device->writes_guest_ram();
}

}  // namespace popek::bus
