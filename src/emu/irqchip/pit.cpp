#include "emu/irqchip/pit.h"

namespace popek::emu {

namespace {
constexpr uint16_t kCounter0 = 0x40, kControl = 0x43, kPortB = 0x61;
/// Port B bit 4 toggles with every DRAM refresh request, about every 15 us (IBM PC/AT).
constexpr uint64_t kRefreshPeriodNs = 15'085;
}  // namespace

Pit::Pit(const GuestClock& clock, std::function<void()> irq0_edge, std::function<void()> reprogrammed)
    : m_clock(clock), m_irq0_edge(std::move(irq0_edge)), m_reprogrammed(std::move(reprogrammed)) {}

bool Pit::owns(uint16_t port) { return (port >= kCounter0 && port <= kControl) || port == kPortB; }

uint8_t Pit::read_port(uint16_t port, uint64_t now_ns) {
    if (port >= kCounter0 && port < kControl) return m_channels[port - kCounter0].read_data(now_ns);
    if (port == kPortB) {
        const PitChannel& speaker = m_channels[2];
        uint8_t refresh = ((now_ns / kRefreshPeriodNs) & 1) != 0 ? 0x10 : 0;
        return static_cast<uint8_t>((m_port_b & 0x0e) | (speaker.gate() ? 1 : 0) | refresh |
                                    (speaker.output(now_ns) ? 0x20 : 0));
    }
    return 0xff;  // the control word register is write-only; not our port
}

void Pit::write_control(uint8_t value, uint64_t now_ns) {
    unsigned select = value >> 6;
    if (select == 3) {  // read-back: bit 5 = 0 latch count, bit 4 = 0 latch status, bits 3:1 counters
        for (unsigned channel = 0; channel < 3; ++channel) {
            if (!(value & (2u << channel))) continue;
            if (!(value & 0x20)) m_channels[channel].latch_count(now_ns);
            if (!(value & 0x10)) m_channels[channel].latch_status(now_ns);
        }
        return;
    }
    if ((value & 0x30) == 0) m_channels[select].latch_count(now_ns);
    else m_channels[select].write_control(value);
}

void Pit::write_port(uint16_t port, uint8_t value, uint64_t now_ns) {
    if (port >= kCounter0 && port < kControl) {
        m_channels[port - kCounter0].write_data(value, now_ns);
    } else if (port == kControl) {
        write_control(value, now_ns);
    } else if (port == kPortB) {
        m_port_b = value & 0x0f;
        m_channels[2].set_gate((value & 1) != 0, now_ns);
    }
}

bool Pit::pio_read(uint16_t port, std::span<uint8_t> data) {
    if (!owns(port)) return false;
    uint64_t now = m_clock.now_ns();
    std::lock_guard lock(m_mutex);
    for (size_t i = 0; i < data.size(); ++i) {
        auto at = static_cast<uint16_t>(port + i);
        data[i] = owns(at) ? read_port(at, now) : 0xff;
    }
    return true;
}

bool Pit::pio_write(uint16_t port, std::span<const uint8_t> data) {
    if (!owns(port)) return false;
    uint64_t now = m_clock.now_ns();
    {
        std::lock_guard lock(m_mutex);
        for (size_t i = 0; i < data.size(); ++i) {
            auto at = static_cast<uint16_t>(port + i);
            if (owns(at)) write_port(at, data[i], now);
        }
        update_deadline(now);
    }
    if (m_reprogrammed) m_reprogrammed();
    return true;
}

void Pit::update_deadline(uint64_t now_ns) {
    m_deadline.store(m_channels[0].next_rising_edge_ns(now_ns), std::memory_order_relaxed);
}

uint64_t Pit::poll(uint64_t now_ns) {
    uint64_t deadline = m_deadline.load(std::memory_order_relaxed);
    if (now_ns < deadline) return deadline;
    bool fired;
    {
        std::lock_guard lock(m_mutex);
        fired = m_channels[0].poll_rising_edge(now_ns);
        update_deadline(now_ns);
        deadline = m_deadline.load(std::memory_order_relaxed);
    }
    if (fired && m_irq0_edge) m_irq0_edge();
    return deadline;
}

uint32_t Pit::count(unsigned channel) {
    std::lock_guard lock(m_mutex);
    return channel < 3 ? m_channels[channel].count(m_clock.now_ns()) : 0;
}

bool Pit::output(unsigned channel) {
    std::lock_guard lock(m_mutex);
    return channel < 3 && m_channels[channel].output(m_clock.now_ns());
}

}  // namespace popek::emu
