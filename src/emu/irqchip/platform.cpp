#include "emu/irqchip/platform.h"

#include <algorithm>

namespace popek::emu {

InterruptPlatform::InterruptPlatform(int vcpus, uint64_t tsc_hz)
    : InterruptPlatform(vcpus, tsc_hz, NowFn{}) {}

InterruptPlatform::InterruptPlatform(int vcpus, uint64_t tsc_hz, NowFn now)
    : m_clock(tsc_hz, std::move(now)),
      m_ioapic(m_bus),
      m_pic([this](bool level) {
          if (!m_cpus.empty()) m_cpus[0]->local_apic().set_extint_line(level);
      }),
      m_pit(m_clock, [this] { pit_irq0_edge(); },
            [this] {
                if (!m_cpus.empty()) m_cpus[0]->kick();
            }) {
    int count = std::clamp(vcpus, 1, kMaxVcpus);
    std::vector<LocalApic*> apics;
    for (int i = 0; i < count; ++i) {
        m_cpus.push_back(std::make_unique<VcpuInterrupts>(i, m_clock, m_bus, i == 0 ? &m_pic : nullptr,
                                                          i == 0 ? &m_pit : nullptr));
        apics.push_back(&m_cpus.back()->local_apic());
    }
    m_bus.attach(std::move(apics), &m_ioapic);
}

CpuInterrupts& InterruptPlatform::cpu(int index) { return *m_cpus.at(static_cast<size_t>(index)); }

LocalApic& InterruptPlatform::local_apic(int index) {
    return m_cpus.at(static_cast<size_t>(index))->local_apic();
}

void InterruptPlatform::set_irq_line(uint32_t gsi, bool level) {
    if (gsi < IoApic::kPins) m_ioapic.set_irq(gsi, level);
    if (gsi < 16) m_pic.set_irq(gsi, level);
}

bool InterruptPlatform::inject_vector(int vcpu, uint8_t vector) {
    if (vcpu < 0 || vcpu >= vcpu_count()) return false;
    ApicMessage message;
    message.vector = vector;
    message.destination = static_cast<uint8_t>(vcpu);
    message.shorthand = DestinationShorthand::Self;
    message.source = vcpu;
    m_bus.send(message);
    return true;
}


bool InterruptPlatform::deliver_msi(uint64_t address, uint32_t data) {
    auto message = apic_message_from_msi(address, data);
    if (!message) return false;
    m_bus.send(*message);
    return true;
}

bool InterruptPlatform::deliver_device_msi(uint32_t requester, const hv::MsiMessage& msi, bool remap) {
    hv::MsiMessage out = msi;
    if (hv::InterruptRemapper* remapper = remap ? m_remapper.load(std::memory_order_acquire) : nullptr) {
        auto remapped = remapper->remap(requester, msi);
        if (!remapped) return true;   // blocked; the remapper recorded why
        out = *remapped;
    }
    return deliver_msi(out.address, out.data);
}

void InterruptPlatform::set_interrupt_remapper(hv::InterruptRemapper* remapper) {
    m_remapper.store(remapper, std::memory_order_release);
    m_ioapic.set_remapper(remapper);
}

void InterruptPlatform::pit_irq0_edge() {
    // A pulse: both inputs see a rising edge and rest low again.
    m_pic.set_irq(0, true);
    m_pic.set_irq(0, false);
    m_ioapic.set_irq(kPitGsi, true);
    m_ioapic.set_irq(kPitGsi, false);
}

bool InterruptPlatform::pio_read(uint16_t port, std::span<uint8_t> data) {
    return m_pic.pio_read(port, data) || m_pit.pio_read(port, data);
}

bool InterruptPlatform::pio_write(uint16_t port, std::span<const uint8_t> data) {
    return m_pic.pio_write(port, data) || m_pit.pio_write(port, data);
}

bool InterruptPlatform::mmio_read(uint64_t gpa, std::span<uint8_t> data) {
    if (!in_ioapic(gpa)) return false;
    m_ioapic.mmio_read(gpa - IoApic::kBase, data);
    return true;
}

bool InterruptPlatform::mmio_write(uint64_t gpa, std::span<const uint8_t> data) {
    if (!in_ioapic(gpa)) return false;
    m_ioapic.mmio_write(gpa - IoApic::kBase, data);
    return true;
}

}  // namespace popek::emu
