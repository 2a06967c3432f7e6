#pragma once
/// 16550A-compatible UART (8250 family) as used for COM1: transmit, bounded receive FIFO, modem
/// control loopback, and the interrupt identification logic (PC16550D datasheet, "Registers").
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include "bus/device.h"
#include "devices/irq.h"

namespace popek::snapshot {
class Writer;
class Reader;
}  // namespace popek::snapshot

namespace popek::devices::legacy {

class Uart8250 final : public bus::Device {
public:
    using ByteSink = std::function<void(uint8_t)>;
    static constexpr size_t kRxCapacity = 4096;

    Uart8250(ByteSink out, IrqLine irq) : m_out(std::move(out)), m_irq(std::move(irq)) {}
    std::string_view name() const override { return "uart-8250"; }
    void read(uint64_t offset, std::span<uint8_t> data) override;
    bool writes_guest_ram() const override { return false; }   // registers only, no DMA
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    /// Queues bytes for the guest to read; returns how many were taken (the FIFO is bounded).
    /// Thread-safe: called from the console input thread.
    size_t push_input(std::span<const uint8_t> bytes);
    /// Snapshot state (docs/snapshot.md; src/snapshot/): every field the guest can observe.
    void save(snapshot::Writer& w);
    /// Hostile input: range-checked, failures recorded in `r`.
    void load(snapshot::Reader& r);

private:
    uint8_t read_register(uint64_t offset);
    void write_register(uint64_t offset, uint8_t value);
    uint8_t interrupt_id() const;
    uint8_t line_status() const;
    uint8_t modem_status() const;
    void update_irq();

    ByteSink m_out;
    IrqLine m_irq;
    std::mutex m_mutex;
    std::deque<uint8_t> m_rx;
    uint8_t m_ier = 0, m_lcr = 0x03, m_mcr = 0x08, m_scr = 0, m_fcr = 0;
    uint8_t m_dll = 0x0c, m_dlm = 0;   // 9600 baud, the BIOS default
    bool m_thr_interrupt = false;      // THR-empty interrupt pending (cleared by IIR read or THR write)
    bool m_irq_level = false;
};

}  // namespace popek::devices::legacy
