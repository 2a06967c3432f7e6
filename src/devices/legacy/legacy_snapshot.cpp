// Snapshot state of the legacy PC devices (docs/snapshot.md "UART", "CMOS", "KBC ", "ACPI").
#include "devices/legacy/acpi_pm.h"
#include "devices/legacy/cmos_rtc.h"
#include "devices/legacy/i8042.h"
#include "devices/legacy/uart_8250.h"
#include "snapshot/snap_codec.h"

namespace popek::devices::legacy {

/// NS16550A datasheet, register summary: IER, LCR, MCR, SCR, FCR, the divisor latch, the
/// pending THR-empty interrupt, the interrupt line and the receive FIFO as it stands.
void Uart8250::save(snapshot::Writer& w) {
    std::lock_guard lock(m_mutex);
    for (uint8_t v : {m_ier, m_lcr, m_mcr, m_scr, m_fcr, m_dll, m_dlm}) w.u8(v);
    w.boolean(m_thr_interrupt);
    w.boolean(m_irq_level);
    w.u32(static_cast<uint32_t>(m_rx.size()));
    for (uint8_t b : m_rx) w.u8(b);
}

void Uart8250::load(snapshot::Reader& r) {
    std::lock_guard lock(m_mutex);
    for (uint8_t* v : {&m_ier, &m_lcr, &m_mcr, &m_scr, &m_fcr, &m_dll, &m_dlm}) *v = r.u8();
    m_thr_interrupt = r.boolean();
    m_irq_level = r.boolean();
    const uint32_t n = r.bounded<uint32_t>(r.u32(), kRxCapacity, "the UART receive FIFO's length");
    m_rx.clear();
    for (uint32_t i = 0; i < n && r.ok(); ++i) m_rx.push_back(r.u8());
}

/// MC146818 datasheet: the index register and the 128 bytes of CMOS RAM (the clock registers
/// are read from the host's wall clock, as before the snapshot).
void CmosRtc::save(snapshot::Writer& w) {
    std::lock_guard lock(m_mutex);
    w.u8(m_index);
    w.bytes(m_ram);
}

void CmosRtc::load(snapshot::Reader& r) {
    std::lock_guard lock(m_mutex);
    m_index = r.u8() & 0x7f;
    r.bytes(m_ram);
}

/// 8042 controller: the command byte (its KBD interrupt and translation bits), the output buffer,
/// a command awaiting its data byte (0x60 / 0xD1 ...) and the queued scan codes.
void I8042::save(snapshot::Writer& w) {
    std::lock_guard lock(m_mutex);
    w.u8(m_command_byte);
    w.boolean(m_output.has_value());
    w.u8(m_output.value_or(0));
    w.boolean(m_pending_cmd.has_value());
    w.u8(m_pending_cmd.value_or(0));
    w.u32(static_cast<uint32_t>(m_keys.size()));
    for (uint8_t k : m_keys) w.u8(k);
}

void I8042::load(snapshot::Reader& r) {
    std::lock_guard lock(m_mutex);
    const uint8_t command_byte = r.u8();
    const bool has_output = r.boolean();
    const uint8_t output = r.u8();
    const bool has_cmd = r.boolean();
    const uint8_t cmd = r.u8();
    const uint32_t n = r.bounded<uint32_t>(r.u32(), kMaxQueuedKeys, "the queued scan codes");
    std::deque<uint8_t> keys;
    for (uint32_t i = 0; i < n && r.ok(); ++i) keys.push_back(r.u8());
    if (!r.ok()) return;
    m_command_byte = command_byte;
    m_output = has_output ? std::optional<uint8_t>(output) : std::nullopt;
    m_pending_cmd = has_cmd ? std::optional<uint8_t>(cmd) : std::nullopt;
    m_keys = std::move(keys);
}

/// ACPI 6.4 4.8.3: PM1_STS, PM1_EN, PM1_CNT (SCI_EN stays set: ACPI mode from reset).
void AcpiPm::save(snapshot::Writer& w) const {
    w.u16(m_status.load());
    w.u16(m_enable.load());
    w.u16(m_control_reg.load());
}

void AcpiPm::load(snapshot::Reader& r) {
    const uint16_t status = r.u16(), enable = r.u16(), control = r.u16();
    if (!r.ok()) return;
    m_status = status;
    m_enable = enable;
    m_control_reg = static_cast<uint16_t>((control & ~kSlpEn) | kSciEn);
}

}  // namespace popek::devices::legacy
