#include "emu/irqchip/ioapic.h"

#include <algorithm>

namespace popek::emu {

namespace {

/// Redirection entry bits (82093AA 3.2.4).
constexpr uint64_t kMasked = 1ull << 16, kLevel = 1ull << 15, kRemoteIrr = 1ull << 14,
                   kDeliveryStatus = 1ull << 12;
/// Vector, delivery mode, destination mode, polarity, trigger mode, mask, destination.
constexpr uint64_t kWritable = 0xff000000'0001afffull;
/// VT-d 3.x §5.1.5.1: the remappable format's interrupt format bit and index[14:8] (bits 55:48).
constexpr uint64_t kRemappableBits = 0x00ff0000'00000000ull;
constexpr unsigned kRegId = 0x00, kRegVersion = 0x01, kRegArbitration = 0x02, kRegTable = 0x10;
constexpr uint64_t kSelectOffset = 0x00, kWindowOffset = 0x10;

}  // namespace

IoApic::IoApic(ApicBusSink& bus) : m_bus(bus) { m_entries.fill(kMasked); }

uint64_t IoApic::redirection_entry(unsigned pin) {
    std::lock_guard lock(m_mutex);
    return pin < kPins ? m_entries[pin] : 0;
}

void IoApic::set_irq(unsigned pin, bool level) {
    if (pin >= kPins) return;
    std::lock_guard lock(m_mutex);
    bool was = line(pin);
    if (level) m_lines |= 1u << pin;
    else m_lines &= ~(1u << pin);
    uint64_t entry = m_entries[pin];
    if (entry & kLevel) {
        if (level) deliver_if_due(pin);
    } else if (level && !was && !(entry & kMasked)) {
        send(pin);  // edge: a rising edge while masked is lost
    }
}

void IoApic::eoi(uint8_t vector) {
    std::lock_guard lock(m_mutex);
    for (unsigned pin = 0; pin < kPins; ++pin) {
        uint64_t& entry = m_entries[pin];
        if ((entry & 0xff) != vector || !(entry & kLevel) || !(entry & kRemoteIrr)) continue;
        entry &= ~kRemoteIrr;
        if (line(pin)) deliver_if_due(pin);
    }
}

void IoApic::deliver_if_due(unsigned pin) {
    uint64_t& entry = m_entries[pin];
    if ((entry & kMasked) || (entry & kRemoteIrr) || !line(pin)) return;
    entry |= kRemoteIrr;  // until the local APIC's EOI for this vector
    send(pin);
}

void IoApic::send(unsigned pin) {
    uint64_t entry = m_entries[pin];
    if (hv::InterruptRemapper* remapper = m_remapper.load(std::memory_order_acquire)) {
        // The MSI an I/O xAPIC sends (VT-d 3.x §5.1.5.1), as QEMU's ioapic_entry_parse forms it.
        hv::MsiMessage msi;
        msi.address = 0xfee00000ull | ((entry >> 48) << 4) | (((entry >> 11) & 1) << 2);
        msi.data = static_cast<uint32_t>((entry & 0xff) | (entry & 0x700) | (entry & kLevel));
        if (auto out = remapper->remap(hv::kNoRequesterId, msi))
            if (auto message = apic_message_from_msi(out->address, out->data)) m_bus.send(*message);
        return;
    }
    ApicMessage message;
    message.vector = static_cast<uint8_t>(entry & 0xff);
    message.mode = static_cast<DeliveryMode>((entry >> 8) & 7);
    message.logical = (entry & (1ull << 11)) != 0;
    message.level_triggered = (entry & kLevel) != 0;
    message.destination = static_cast<uint8_t>(entry >> 56);
    message.source = -1;
    m_bus.send(message);
}

uint32_t IoApic::read_selected() const {
    switch (m_select) {
    case kRegId: return m_id;
    case kRegVersion: return kVersion;
    case kRegArbitration: return m_id;
    default: break;
    }
    if (m_select < kRegTable || m_select >= kRegTable + 2 * kPins) return 0;
    uint64_t entry = m_entries[(m_select - kRegTable) / 2];
    return static_cast<uint32_t>((m_select & 1) ? entry >> 32 : entry);
}

void IoApic::write_selected(uint32_t value) {
    if (m_select == kRegId) {
        m_id = value & 0x0f000000;
        return;
    }
    if (m_select < kRegTable || m_select >= kRegTable + 2 * kPins) return;  // read-only or absent
    unsigned pin = (m_select - kRegTable) / 2;
    uint64_t& entry = m_entries[pin];
    uint64_t written = (m_select & 1) ? (entry & 0xffffffffull) | (uint64_t{value} << 32)
                                      : (entry & 0xffffffff00000000ull) | value;
    const uint64_t writable = kWritable | (m_remapper.load(std::memory_order_acquire) ? kRemappableBits : 0);
    entry = (written & writable) | (entry & (kRemoteIrr | kDeliveryStatus));
    if (!(entry & kLevel)) entry &= ~kRemoteIrr;  // remote IRR means nothing for edge entries
    if (entry & kLevel) deliver_if_due(pin);      // unmasked while asserted: deliver now
}

void IoApic::mmio_read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(m_mutex);
    std::fill(data.begin(), data.end(), uint8_t{0});
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t at = offset + i;
        if (at >= kSelectOffset && at < kSelectOffset + 4)
            data[i] = at == kSelectOffset ? m_select : 0;
        else if (at >= kWindowOffset && at < kWindowOffset + 4)
            data[i] = static_cast<uint8_t>(read_selected() >> (8 * (at - kWindowOffset)));
    }
}

void IoApic::mmio_write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(m_mutex);
    uint32_t window = read_selected();
    bool window_written = false;
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t at = offset + i;
        if (at == kSelectOffset) {
            m_select = data[i];
            window = read_selected();
        } else if (at >= kWindowOffset && at < kWindowOffset + 4) {
            unsigned shift = static_cast<unsigned>(8 * (at - kWindowOffset));
            window = (window & ~(0xffu << shift)) | (uint32_t{data[i]} << shift);
            window_written = true;
        }
    }
    if (window_written) write_selected(window);
}

}  // namespace popek::emu
