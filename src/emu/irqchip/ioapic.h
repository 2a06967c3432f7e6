#pragma once
/// The I/O APIC (Intel 82093AA datasheet): 24 interrupt input pins, each with a 64-bit redirection
/// table entry (3.2.4) that turns an edge or level on the pin into a message to local APICs.
/// Registers are reached indirectly through IOREGSEL (offset 0x00) and IOWIN (offset 0x10) at
/// MMIO 0xfec00000 (3.1).
///
/// Hostile-guest rules: IOREGSEL and IOWIN are 32 bits wide; an access of any size is taken byte
/// by byte: bytes 0..3 of IOREGSEL/IOWIN hit that register (a write updates only the bytes
/// written of the selected register), all other bytes of the 4 KiB window read 0 and ignore
/// writes. Unknown register indexes read 0 and ignore writes. Read-only bits keep their value.
/// Pin polarity (bit 13) is stored but the pin levels given to set_irq() are logical
/// (true = asserted), as the rest of popek drives them.
///
/// With an interrupt remapper (VT-d, hv/msi.h) the I/O APIC sends its interrupts as MSIs through
/// it, as an I/O xAPIC does on a platform with interrupt remapping: the entry's bits 63:48 become
/// address bits 19:4 and its destination mode bit 11 address bit 2, so an entry in the remappable
/// format of VT-d 3.x §5.1.5.1 (interrupt format bit 48, interrupt_index[14:0] in bits 63:49,
/// interrupt_index[15] in bit 11) carries its handle; bits 55:48 are then writable (reserved
/// without a remapper). These MSIs carry no requester ID (hv::kNoRequesterId), as QEMU's.
#include <array>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <span>

#include "emu/irqchip/apic_message.h"
#include "hv/msi.h"

namespace popek::snapshot {
class Writer;
class Reader;
}  // namespace popek::snapshot

namespace popek::emu {

class IoApic {
public:
    static constexpr uint64_t kBase = 0xfec00000;
    static constexpr uint64_t kSize = 0x1000;
    static constexpr unsigned kPins = 24;
    /// 82093AA 3.2.2: version 0x11, maximum redirection entry 23.
    static constexpr uint32_t kVersion = 0x00170011;

    explicit IoApic(ApicBusSink& bus);
    /// Sends every interrupt through `remapper` from now on (null: straight to the APIC bus).
    void set_remapper(hv::InterruptRemapper* remapper) { m_remapper.store(remapper, std::memory_order_release); }

    /// Drives pin `pin` (ignored when out of range). Callable from any thread.
    void set_irq(unsigned pin, bool level);
    /// EOI broadcast from a local APIC for a level-triggered vector: clears remote IRR of the
    /// entries with that vector and delivers again those whose pin is still asserted.
    void eoi(uint8_t vector);

    /// `offset` is relative to kBase.
    void mmio_read(uint64_t offset, std::span<uint8_t> data);
    void mmio_write(uint64_t offset, std::span<const uint8_t> data);

    /// The current redirection entry (tests and diagnostics).
    uint64_t redirection_entry(unsigned pin);
    /// Snapshot state (docs/snapshot.md; src/snapshot/): every field the guest can observe.
    void save(snapshot::Writer& w);
    /// Hostile input: range-checked, failures recorded in `r`.
    void load(snapshot::Reader& r);

private:
    uint32_t read_selected() const;
    void write_selected(uint32_t value);
    void deliver_if_due(unsigned pin);
    void send(unsigned pin);
    bool line(unsigned pin) const { return (m_lines >> pin) & 1; }

    ApicBusSink& m_bus;
    std::atomic<hv::InterruptRemapper*> m_remapper{nullptr};
    std::mutex m_mutex;
    uint8_t m_select = 0;
    uint32_t m_id = 0;
    uint32_t m_lines = 0;  ///< asserted pins
    std::array<uint64_t, kPins> m_entries{};
};

}  // namespace popek::emu
