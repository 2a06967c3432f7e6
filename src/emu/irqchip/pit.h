#pragma once
/// The 8254 PIT of the PC (8254 datasheet): counters 0-2 at ports 0x40-0x42, the control word
/// register at 0x43 (including counter latch and read-back commands), and the PC's system control
/// port B at 0x61 (bit 0 gate of counter 2, bit 1 speaker data enable, bit 4 refresh toggle,
/// bit 5 OUT of counter 2) that Linux uses to calibrate the TSC. Counter 0's OUT drives IRQ0.
///
/// Ports are 8 bits wide; wider accesses are taken byte by byte on port, port+1, ...; bytes on
/// ports not of the PIT read 0xff and ignore writes. The control port reads 0xff.
/// Thread safety: one mutex; the callbacks run after it is released.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>

#include "emu/irqchip/guest_clock.h"
#include "emu/irqchip/pit_channel.h"

namespace popek::snapshot {
class Writer;
class Reader;
}  // namespace popek::snapshot

namespace popek::emu {

class Pit {
public:
    /// `irq0_edge`: counter 0's OUT rose (pulse IRQ0). `reprogrammed`: counter 0 changed, so
    /// whoever sleeps until next_deadline() must look again.
    Pit(const GuestClock& clock, std::function<void()> irq0_edge, std::function<void()> reprogrammed);

    static bool owns(uint16_t port);
    bool pio_read(uint16_t port, std::span<uint8_t> data);
    bool pio_write(uint16_t port, std::span<const uint8_t> data);

    /// Raises IRQ0 if counter 0's OUT rose by `now_ns`; returns when it rises next.
    uint64_t poll(uint64_t now_ns);
    uint64_t next_deadline() const { return m_deadline.load(std::memory_order_relaxed); }

    /// Counter state for tests and diagnostics.
    uint32_t count(unsigned channel);
    bool output(unsigned channel);
    /// Snapshot state (docs/snapshot.md; src/snapshot/): every field the guest can observe.
    void save(snapshot::Writer& w);
    /// Hostile input: range-checked, failures recorded in `r`.
    void load(snapshot::Reader& r);

private:
    uint8_t read_port(uint16_t port, uint64_t now_ns);
    void write_port(uint16_t port, uint8_t value, uint64_t now_ns);
    void write_control(uint8_t value, uint64_t now_ns);
    void update_deadline(uint64_t now_ns);

    const GuestClock& m_clock;
    std::function<void()> m_irq0_edge;
    std::function<void()> m_reprogrammed;
    std::mutex m_mutex;
    std::array<PitChannel, 3> m_channels{PitChannel{true}, PitChannel{true}, PitChannel{false}};
    uint8_t m_port_b = 0;  ///< port 0x61 bits 3:0 as written
    std::atomic<uint64_t> m_deadline{PitChannel::kNever};
};

}  // namespace popek::emu
