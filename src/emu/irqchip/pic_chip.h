#pragma once
/// One Intel 8259A programmable interrupt controller (8259A datasheet): IRR/ISR/IMR, the
/// initialization sequence ICW1-ICW4, operation commands OCW1-OCW3 (EOI, rotation, special mask,
/// poll, register reads), fully nested priorities with rotation, auto-EOI, and the PIIX edge/level
/// control register (ELCR). Pure logic, no locking: PicPair serializes it.
#include <cstdint>

namespace popek::snapshot {
class Writer;
class Reader;
}  // namespace popek::snapshot

namespace popek::emu {

class PicChip {
public:
    /// `elcr_writable`: the ELCR bits this chip has (0xf8 master: IRQ0-2 are always edge; 0xde
    /// slave: IRQ8 and IRQ13 are always edge).
    explicit PicChip(uint8_t elcr_writable) : m_elcr_writable(elcr_writable) {}

    /// Drives input `irq` (0..7): a rising edge latches IRR in edge mode; in level mode IRR follows
    /// the line.
    void set_irq(unsigned irq, bool level);
    /// The input this chip would present to the CPU now, or -1: the highest-priority unmasked
    /// request above everything in service (fully nested mode, special mask mode).
    int pending_irq() const;
    /// INTA for `irq`: in service (unless auto-EOI), edge request cleared.
    void acknowledge(unsigned irq);
    uint8_t vector_base() const { return m_vector_base; }

    /// Port A (0x20 / 0xa0) and port B (0x21 / 0xa1).
    void write_command(uint8_t value);
    void write_data(uint8_t value);
    uint8_t read_command();
    uint8_t read_data();
    uint8_t elcr() const { return m_elcr; }
    void set_elcr(uint8_t value) { m_elcr = value & m_elcr_writable; }

    uint8_t irr() const { return m_irr; }
    uint8_t isr() const { return m_isr; }
    uint8_t imr() const { return m_imr; }

    /// Whether this chip is the master (special fully nested mode then ignores in-service IRQ2).
    void set_master(bool master) { m_master = master; }
    /// Snapshot state (docs/snapshot.md; src/snapshot/): every field the guest can observe.
    void save(snapshot::Writer& w);
    /// Hostile input: range-checked, failures recorded in `r`.
    void load(snapshot::Reader& r);

private:
    enum class InitStep : uint8_t { Ready, Icw2, Icw3, Icw4 };

    /// Priority rank of the highest-priority bit of `mask` (0 highest), 8 if none.
    int priority_of(uint8_t mask) const;
    void initialize(uint8_t icw1);
    void end_of_interrupt(uint8_t command);
    uint8_t poll();

    const uint8_t m_elcr_writable;
    bool m_master = false;
    uint8_t m_irr = 0, m_isr = 0, m_imr = 0;
    uint8_t m_line = 0;  ///< current input levels, for edge detection
    uint8_t m_elcr = 0;
    uint8_t m_vector_base = 0;
    uint8_t m_lowest_priority_plus1 = 0;  ///< the IRQ with the highest priority (rotation)
    InitStep m_init = InitStep::Ready;
    bool m_single = false, m_needs_icw4 = false;
    bool m_auto_eoi = false, m_rotate_on_auto_eoi = false, m_special_fully_nested = false;
    bool m_read_isr = false, m_poll = false, m_special_mask = false;
};

}  // namespace popek::emu
