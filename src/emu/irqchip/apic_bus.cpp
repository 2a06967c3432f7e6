#include "emu/irqchip/apic_bus.h"

#include "emu/irqchip/ioapic.h"
#include "emu/irqchip/local_apic.h"

namespace popek::emu {

void ApicBus::attach(std::vector<LocalApic*> apics, IoApic* ioapic) {
    m_apics = std::move(apics);
    m_ioapic = ioapic;
}

unsigned ApicBus::send(const ApicMessage& message) {
    unsigned taken = 0;
    switch (message.shorthand) {
    case DestinationShorthand::Self:
        if (message.source >= 0 && static_cast<size_t>(message.source) < m_apics.size()) {
            taken += m_apics[static_cast<size_t>(message.source)]->accept(message) ? 1 : 0;
        }
        return taken;
    case DestinationShorthand::AllIncludingSelf:
    case DestinationShorthand::AllExcludingSelf:
        for (LocalApic* apic : m_apics) {
            bool self = apic->index() == message.source;
            if (!self || message.shorthand == DestinationShorthand::AllIncludingSelf)
                taken += apic->accept(message) ? 1 : 0;
        }
        return taken;
    case DestinationShorthand::None:
        break;
    }
    if (message.mode == DeliveryMode::LowestPriority) {
        // Any one processor may take it (10.6.2.4); prefer one that can (software-enabled).
        LocalApic* chosen = nullptr;
        for (LocalApic* apic : m_apics) {
            if (!apic->matches(message)) continue;
            if (!chosen) chosen = apic;
            if (apic->enabled()) {
                chosen = apic;
                break;
            }
        }
        return chosen && chosen->accept(message) ? 1 : 0;
    }
    for (LocalApic* apic : m_apics)
        if (apic->matches(message)) taken += apic->accept(message) ? 1 : 0;
    return taken;
}

void ApicBus::broadcast_eoi(uint8_t vector) {
    if (m_ioapic) m_ioapic->eoi(vector);
}

}  // namespace popek::emu
