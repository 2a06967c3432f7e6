// Snapshot state of the legacy PC devices (docs/snapshot.md "UART", "CMOS").
#include "devices/legacy/cmos_rtc.h"
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

}  // namespace popek::devices::legacy
