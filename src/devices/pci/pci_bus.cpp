#include "devices/pci/pci_bus.h"

#include <algorithm>
#include <vector>

namespace popek::devices::pci {

Result<void> PciBus::plug(unsigned slot, std::shared_ptr<PciDevice> device, uint8_t interrupt_line) {
    if (!device) return fail("pci: null device");
    if (slot >= kSlots) return fail("pci: slot {} does not exist (0..{})", slot, kSlots - 1);
    if (m_slots[slot].device) return fail("pci: slot {} is taken by {}", slot, m_slots[slot].device->name());
    device->set_requester_id(static_cast<uint16_t>(slot << 3));
    m_slots[slot] = Slot{std::move(device), interrupt_line};
    return {};
}

Result<void> PciBus::assign_resources(uint64_t base, uint64_t size) {
    // Largest BARs first, each naturally aligned: what firmware does, and nothing is wasted
    // between power-of-two sizes placed in decreasing order.
    struct Want {
        unsigned slot;
        int bar;
        uint32_t size;
    };
    std::vector<Want> wants;
    for (unsigned s = 0; s < kSlots; ++s) {
        if (!m_slots[s].device) continue;
        for (int b = 0; b < PciConfigSpace::kBars; ++b)
            if (uint32_t sz = m_slots[s].device->bar_size(b)) wants.push_back({s, b, sz});
    }
    std::stable_sort(wants.begin(), wants.end(), [](const Want& a, const Want& b) { return a.size > b.size; });
    std::array<std::vector<std::pair<int, uint64_t>>, kSlots> placed;
    uint64_t next = base;
    for (const Want& w : wants) {
        const uint64_t at = (next + w.size - 1) & ~(uint64_t{w.size} - 1);
        if (at + w.size > base + size || at + w.size > (uint64_t{1} << 32))
            return fail("pci: BAR {} of {} ({} bytes) does not fit in the MMIO window", w.bar,
                        m_slots[w.slot].device->name(), w.size);
        placed[w.slot].push_back({w.bar, at});
        next = at + w.size;
    }
    for (unsigned s = 0; s < kSlots; ++s)
        if (m_slots[s].device) m_slots[s].device->firmware_setup(placed[s], m_slots[s].interrupt_line);
    return {};
}

PciDevice* PciBus::function(unsigned bus, unsigned slot, unsigned function) const {
    if (bus != 0 || function != 0 || slot >= kSlots) return nullptr;
    return m_slots[slot].device.get();
}

void PciBus::config_read(unsigned bus, unsigned slot, unsigned fn, unsigned offset, std::span<uint8_t> data) const {
    std::fill(data.begin(), data.end(), uint8_t{0xff});
    PciDevice* dev = function(bus, slot, fn);
    if (!dev || offset >= PciConfigSpace::kSize) return;
    const size_t inside = std::min<size_t>(data.size(), PciConfigSpace::kSize - offset);
    dev->config_read(static_cast<uint16_t>(offset), data.first(inside));
}

void PciBus::config_write(unsigned bus, unsigned slot, unsigned fn, unsigned offset,
                          std::span<const uint8_t> data) const {
    PciDevice* dev = function(bus, slot, fn);
    if (!dev || offset >= PciConfigSpace::kSize) return;
    const size_t inside = std::min<size_t>(data.size(), PciConfigSpace::kSize - offset);
    dev->config_write(static_cast<uint16_t>(offset), data.first(inside));
}

bool PciBus::mmio_read(uint64_t gpa, std::span<uint8_t> data) const {
    for (const Slot& s : m_slots) {
        if (!s.device) continue;
        if (auto hit = s.device->decode(gpa, data.size())) {
            s.device->bar_read(hit->first, hit->second, data);
            return true;
        }
    }
    return false;
}

bool PciBus::mmio_write(uint64_t gpa, std::span<const uint8_t> data) const {
    for (const Slot& s : m_slots) {
        if (!s.device) continue;
        if (auto hit = s.device->decode(gpa, data.size())) {
            s.device->bar_write(hit->first, hit->second, data);
            return true;
        }
    }
    return false;
}

void PciConfigPorts::read(uint64_t offset, std::span<uint8_t> data) {
    std::fill(data.begin(), data.end(), uint8_t{0xff});
    if (offset >= 4) {
        const uint32_t a = m_address.load();
        if (!(a & 0x80000000u)) return;
        m_bus.config_read((a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7, (a & 0xff) | static_cast<unsigned>(offset - 4),
                          data);
        return;
    }
    if (offset == 0 && data.size() == 4) {
        bus::u64_to_span(m_address.load(), data);
        return;
    }
    if (offset == 1 && data.size() == 1 && m_reset) m_reset->read(0, data);
}

void PciConfigPorts::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset >= 4) {
        const uint32_t a = m_address.load();
        if (!(a & 0x80000000u)) return;
        m_bus.config_write((a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7, (a & 0xff) | static_cast<unsigned>(offset - 4),
                           data);
        return;
    }
    if (offset == 0 && data.size() == 4) {
        m_address.store(static_cast<uint32_t>(bus::span_to_u64(data)) & 0x80ffffffu);
        return;
    }
    if (offset == 1 && data.size() == 1 && m_reset) m_reset->write(0, data);
}

HostBridge::HostBridge() : PciDevice(PciConfigSpace(0x8086, 0x29c0, 0x060000, 0x02)) {
    m_config.set_subsystem(0x1af4, 0x1100);
}

}  // namespace popek::devices::pci
