#include "emu/irqchip/pic.h"

namespace popek::emu {

namespace {
constexpr uint16_t kMasterCommand = 0x20, kMasterData = 0x21, kSlaveCommand = 0xa0,
                   kSlaveData = 0xa1, kElcrMaster = 0x4d0, kElcrSlave = 0x4d1;
constexpr unsigned kCascadeIrq = 2;
}  // namespace

PicPair::PicPair(IntrFn intr) : m_intr(std::move(intr)) { m_master.set_master(true); }

bool PicPair::owns(uint16_t port) {
    return port == kMasterCommand || port == kMasterData || port == kSlaveCommand ||
           port == kSlaveData || port == kElcrMaster || port == kElcrSlave;
}

void PicPair::set_irq(unsigned irq, bool level) {
    if (irq >= 16 || irq == kCascadeIrq) return;
    std::lock_guard lock(m_mutex);
    if (irq < 8) m_master.set_irq(irq, level);
    else m_slave.set_irq(irq - 8, level);
    update();
}

void PicPair::update() {
    m_master.set_irq(kCascadeIrq, m_slave.pending_irq() >= 0);
    bool output = m_master.pending_irq() >= 0;
    if (output == m_output) return;
    m_output = output;
    if (m_intr) m_intr(output);
}

uint8_t PicPair::acknowledge() {
    std::lock_guard lock(m_mutex);
    uint8_t vector;
    int irq = m_master.pending_irq();
    if (irq < 0) {
        vector = static_cast<uint8_t>(m_master.vector_base() + 7);
    } else if (static_cast<unsigned>(irq) != kCascadeIrq) {
        m_master.acknowledge(static_cast<unsigned>(irq));
        vector = static_cast<uint8_t>(m_master.vector_base() + irq);
    } else {
        m_master.acknowledge(kCascadeIrq);
        int slave_irq = m_slave.pending_irq();
        if (slave_irq >= 0) m_slave.acknowledge(static_cast<unsigned>(slave_irq));
        vector = static_cast<uint8_t>(m_slave.vector_base() + (slave_irq >= 0 ? slave_irq : 7));
        // The slave's INT drops during INTA; if it still has a request, that is a new edge.
        m_master.set_irq(kCascadeIrq, false);
    }
    update();
    return vector;
}

bool PicPair::intr() const {
    std::lock_guard lock(m_mutex);
    return m_output;
}

uint8_t PicPair::read_port(uint16_t port) {
    switch (port) {
    case kMasterCommand: return m_master.read_command();
    case kMasterData: return m_master.read_data();
    case kSlaveCommand: return m_slave.read_command();
    case kSlaveData: return m_slave.read_data();
    case kElcrMaster: return m_master.elcr();
    case kElcrSlave: return m_slave.elcr();
    default: return 0xff;
    }
}

void PicPair::write_port(uint16_t port, uint8_t value) {
    switch (port) {
    case kMasterCommand: m_master.write_command(value); break;
    case kMasterData: m_master.write_data(value); break;
    case kSlaveCommand: m_slave.write_command(value); break;
    case kSlaveData: m_slave.write_data(value); break;
    case kElcrMaster: m_master.set_elcr(value); break;
    case kElcrSlave: m_slave.set_elcr(value); break;
    default: break;
    }
}

bool PicPair::pio_read(uint16_t port, std::span<uint8_t> data) {
    if (!owns(port)) return false;
    std::lock_guard lock(m_mutex);
    for (size_t i = 0; i < data.size(); ++i) data[i] = read_port(static_cast<uint16_t>(port + i));
    update();  // a poll read acknowledges
    return true;
}

bool PicPair::pio_write(uint16_t port, std::span<const uint8_t> data) {
    if (!owns(port)) return false;
    std::lock_guard lock(m_mutex);
    for (size_t i = 0; i < data.size(); ++i) write_port(static_cast<uint16_t>(port + i), data[i]);
    update();
    return true;
}

uint16_t PicPair::irr() const {
    std::lock_guard lock(m_mutex);
    return static_cast<uint16_t>(m_slave.irr() << 8 | m_master.irr());
}
uint16_t PicPair::isr() const {
    std::lock_guard lock(m_mutex);
    return static_cast<uint16_t>(m_slave.isr() << 8 | m_master.isr());
}
uint16_t PicPair::imr() const {
    std::lock_guard lock(m_mutex);
    return static_cast<uint16_t>(m_slave.imr() << 8 | m_master.imr());
}

}  // namespace popek::emu
