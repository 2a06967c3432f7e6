#pragma once
/// The VM's APIC bus: routes interrupt messages from ICRs and the IOAPIC to the local APICs they
/// name (SDM Vol. 3A 10.6.2: physical and logical destinations, shorthands; lowest priority
/// goes to the first enabled APIC that matches) and carries EOI broadcasts to the IOAPIC.
#include <vector>

#include "emu/irqchip/apic_message.h"

namespace popek::emu {

class IoApic;
class LocalApic;

class ApicBus final : public ApicBusSink {
public:
    /// Wires the bus; called once before any message is sent.
    void attach(std::vector<LocalApic*> apics, IoApic* ioapic);

    unsigned send(const ApicMessage& message) override;
    void broadcast_eoi(uint8_t vector) override;

private:
    std::vector<LocalApic*> m_apics;
    IoApic* m_ioapic = nullptr;
};

}  // namespace popek::emu
