#pragma once
/// The PC's two cascaded 8259A PICs (master at 0x20-0x21, slave at 0xa0-0xa1 on master IRQ2) and
/// the PIIX ELCR at 0x4d0-0x4d1. Its INTR output goes to the BSP's LINT0 (ExtINT).
///
/// Ports are 8 bits wide; a wider access is taken as consecutive byte accesses to port, port+1,
/// ...; bytes that fall on ports not of the PIC read 0xff and ignore writes.
/// Thread safety: one mutex; the INTR callback runs under it, so it must not call back in here.
#include <cstdint>
#include <functional>
#include <mutex>
#include <span>

#include "emu/irqchip/pic_chip.h"

namespace popek::snapshot {
class Writer;
class Reader;
}  // namespace popek::snapshot

namespace popek::emu {

class PicPair {
public:
    /// Called with the new INTR level whenever it changes.
    using IntrFn = std::function<void(bool level)>;
    explicit PicPair(IntrFn intr);

    /// Drives IRQ `irq` (0..15; 2 is the cascade and cannot be driven from outside).
    void set_irq(unsigned irq, bool level);
    /// INTA cycle: the vector of the highest-priority request, now in service. With no request
    /// left, the 8259A answers with its IRQ7 vector (spurious, nothing in service); a slave with
    /// no request answers with its IRQ15 vector while the master's IRQ2 goes in service.
    uint8_t acknowledge();
    bool intr() const;

    /// True when `port` belongs to the PIC pair or its ELCR.
    static bool owns(uint16_t port);
    bool pio_read(uint16_t port, std::span<uint8_t> data);
    bool pio_write(uint16_t port, std::span<const uint8_t> data);

    /// Register snapshots for tests and diagnostics: (slave << 8) | master.
    uint16_t irr() const;
    uint16_t isr() const;
    uint16_t imr() const;
    /// Snapshot state (docs/snapshot.md; src/snapshot/): every field the guest can observe.
    void save(snapshot::Writer& w);
    /// Hostile input: range-checked, failures recorded in `r`.
    void load(snapshot::Reader& r);

private:
    uint8_t read_port(uint16_t port);
    void write_port(uint16_t port, uint8_t value);
    /// Propagates the slave's output to master IRQ2 and the master's output to INTR.
    void update();

    IntrFn m_intr;
    mutable std::mutex m_mutex;
    PicChip m_master{0xf8};
    PicChip m_slave{0xde};
    bool m_output = false;
};

}  // namespace popek::emu
