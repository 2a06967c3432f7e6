#include "emu/irqchip/pic_chip.h"

namespace popek::emu {

namespace {
uint8_t bit(unsigned irq) { return static_cast<uint8_t>(1u << (irq & 7)); }
}  // namespace

void PicChip::set_irq(unsigned irq, bool level) {
    if (irq > 7) return;
    uint8_t mask = bit(irq);
    bool was = (m_line & mask) != 0;
    if (level) m_line |= mask;
    else m_line = static_cast<uint8_t>(m_line & ~mask);
    if (m_elcr & mask) {
        if (level) m_irr |= mask;
        else m_irr = static_cast<uint8_t>(m_irr & ~mask);
    } else if (level && !was) {
        m_irr |= mask;  // edge requests stay latched until INTA, even if the line drops again
    }
}

int PicChip::priority_of(uint8_t mask) const {
    for (int rank = 0; rank < 8; ++rank)
        if (mask & bit(static_cast<unsigned>(rank + m_lowest_priority_plus1))) return rank;
    return 8;
}

int PicChip::pending_irq() const {
    int request = priority_of(static_cast<uint8_t>(m_irr & ~m_imr));
    if (request == 8) return -1;
    uint8_t in_service = m_isr;
    if (m_special_mask) in_service = static_cast<uint8_t>(in_service & ~m_imr);
    if (m_special_fully_nested && m_master) in_service = static_cast<uint8_t>(in_service & ~bit(2));
    if (request >= priority_of(in_service)) return -1;
    return (request + m_lowest_priority_plus1) & 7;
}

void PicChip::acknowledge(unsigned irq) {
    uint8_t mask = bit(irq);
    if (m_auto_eoi) {
        if (m_rotate_on_auto_eoi) m_lowest_priority_plus1 = static_cast<uint8_t>((irq + 1) & 7);
    } else {
        m_isr |= mask;
    }
    if (!(m_elcr & mask)) m_irr = static_cast<uint8_t>(m_irr & ~mask);
}

void PicChip::initialize(uint8_t icw1) {
    // ICW1 (datasheet "Initialization Command Words"): IMR and ISR cleared, IR7 lowest priority,
    // special mask off, IRR selected for reads, ICW4 functions zero unless IC4.
    m_isr = m_imr = 0;
    m_irr &= m_elcr;
    m_lowest_priority_plus1 = 0;
    m_special_mask = m_read_isr = m_poll = false;
    m_auto_eoi = m_rotate_on_auto_eoi = m_special_fully_nested = false;
    m_single = (icw1 & 0x02) != 0;
    m_needs_icw4 = (icw1 & 0x01) != 0;
    m_init = InitStep::Icw2;
}

void PicChip::end_of_interrupt(uint8_t command) {
    // OCW2 bits 7:5 = R, SL, EOI.
    switch (command >> 5) {
    case 1:    // non-specific EOI
    case 5: {  // rotate on non-specific EOI
        int rank = priority_of(m_isr);
        if (rank == 8) return;
        unsigned irq = static_cast<unsigned>(rank + m_lowest_priority_plus1) & 7;
        m_isr = static_cast<uint8_t>(m_isr & ~bit(irq));
        if (command >> 5 == 5) m_lowest_priority_plus1 = static_cast<uint8_t>((irq + 1) & 7);
        return;
    }
    case 3:    // specific EOI
    case 7: {  // rotate on specific EOI
        unsigned irq = command & 7;
        m_isr = static_cast<uint8_t>(m_isr & ~bit(irq));
        if (command >> 5 == 7) m_lowest_priority_plus1 = static_cast<uint8_t>((irq + 1) & 7);
        return;
    }
    case 6:  // set priority: the named IRQ becomes the lowest
        m_lowest_priority_plus1 = static_cast<uint8_t>(((command & 7) + 1) & 7);
        return;
    case 4: m_rotate_on_auto_eoi = true; return;
    case 0: m_rotate_on_auto_eoi = false; return;
    default: return;  // 2: no operation
    }
}

void PicChip::write_command(uint8_t value) {
    if (value & 0x10) {
        initialize(value);
    } else if ((value & 0x18) == 0x08) {  // OCW3
        if (value & 0x04) m_poll = true;
        if (value & 0x02) m_read_isr = (value & 0x01) != 0;
        if (value & 0x40) m_special_mask = (value & 0x20) != 0;
    } else {  // OCW2
        end_of_interrupt(value);
    }
}

void PicChip::write_data(uint8_t value) {
    switch (m_init) {
    case InitStep::Icw2:
        m_vector_base = value & 0xf8;
        m_init = m_single ? (m_needs_icw4 ? InitStep::Icw4 : InitStep::Ready) : InitStep::Icw3;
        return;
    case InitStep::Icw3:  // cascade wiring is fixed: slave on master IRQ2
        m_init = m_needs_icw4 ? InitStep::Icw4 : InitStep::Ready;
        return;
    case InitStep::Icw4:
        m_auto_eoi = (value & 0x02) != 0;
        m_special_fully_nested = (value & 0x10) != 0;
        m_init = InitStep::Ready;
        return;
    case InitStep::Ready:
        m_imr = value;  // OCW1
        return;
    }
}

uint8_t PicChip::poll() {
    // Poll command (OCW3 P=1): the next read acts as INTA and returns 0x80 | level, or 0.
    m_poll = false;
    int irq = pending_irq();
    if (irq < 0) return 0;
    acknowledge(static_cast<unsigned>(irq));
    return static_cast<uint8_t>(0x80 | irq);
}

uint8_t PicChip::read_command() {
    if (m_poll) return poll();
    return m_read_isr ? m_isr : m_irr;
}

uint8_t PicChip::read_data() {
    if (m_poll) return poll();
    return m_imr;
}

}  // namespace popek::emu
