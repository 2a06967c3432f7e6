#include "devices/legacy/uart_8250.h"

namespace popek::devices::legacy {
namespace {

// Register offsets and bits (PC16550D datasheet, table "Summary of Registers").
enum : uint8_t { kRbrThr = 0, kIer = 1, kIirFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5, kMsr = 6, kScr = 7 };
constexpr uint8_t kIerRxAvailable = 0x01, kIerThrEmpty = 0x02;
constexpr uint8_t kIirNone = 0x01, kIirThrEmpty = 0x02, kIirRxAvailable = 0x04, kIirFifoOn = 0xc0;
constexpr uint8_t kLcrDlab = 0x80;
constexpr uint8_t kMcrDtr = 0x01, kMcrRts = 0x02, kMcrOut1 = 0x04, kMcrOut2 = 0x08, kMcrLoop = 0x10;
constexpr uint8_t kLsrDataReady = 0x01, kLsrThrEmpty = 0x20, kLsrTxEmpty = 0x40;
constexpr uint8_t kMsrCts = 0x10, kMsrDsr = 0x20, kMsrRi = 0x40, kMsrDcd = 0x80;

}  // namespace

void Uart8250::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(m_mutex);
    // Wider accesses read consecutive registers, as a byte-wide ISA device would answer them.
    for (size_t i = 0; i < data.size(); ++i) data[i] = offset + i < 8 ? read_register(offset + i) : 0xff;
    update_irq();
}

void Uart8250::write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(m_mutex);
    for (size_t i = 0; i < data.size(); ++i)
        if (offset + i < 8) write_register(offset + i, data[i]);
    update_irq();
}

size_t Uart8250::push_input(std::span<const uint8_t> bytes) {
    std::lock_guard lock(m_mutex);
    size_t room = kRxCapacity - m_rx.size();
    size_t n = std::min(room, bytes.size());
    m_rx.insert(m_rx.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    update_irq();
    return n;
}

uint8_t Uart8250::read_register(uint64_t offset) {
    bool dlab = (m_lcr & kLcrDlab) != 0;
    switch (offset) {
        case kRbrThr: {
            if (dlab) return m_dll;
            if (m_rx.empty()) return 0;
            uint8_t b = m_rx.front();
            m_rx.pop_front();
            return b;
        }
        case kIer: return dlab ? m_dlm : m_ier;
        case kIirFcr: {
            uint8_t iir = interrupt_id();
            if (iir == kIirThrEmpty) m_thr_interrupt = false;  // reading IIR acknowledges THRE
            return static_cast<uint8_t>(iir | ((m_fcr & 0x01) ? kIirFifoOn : 0));
        }
        case kLcr: return m_lcr;
        case kMcr: return m_mcr;
        case kLsr: return line_status();
        case kMsr: return modem_status();
        case kScr: return m_scr;
        default: return 0xff;
    }
}

void Uart8250::write_register(uint64_t offset, uint8_t value) {
    bool dlab = (m_lcr & kLcrDlab) != 0;
    switch (offset) {
        case kRbrThr:
            if (dlab) {
                m_dll = value;
            } else if (m_mcr & kMcrLoop) {
                if (m_rx.size() < kRxCapacity) m_rx.push_back(value);  // loopback: TX feeds RX
                m_thr_interrupt = true;
            } else {
                m_out(value);
                m_thr_interrupt = true;  // transmission is instant: THR is empty again
            }
            break;
        case kIer:
            if (dlab) {
                m_dlm = value;
            } else {
                // Enabling the THRE interrupt while THR is empty raises it at once (16550 behaviour
                // Linux's driver relies on to start transmitting).
                if ((value & kIerThrEmpty) && !(m_ier & kIerThrEmpty)) m_thr_interrupt = true;
                m_ier = value & 0x0f;
            }
            break;
        case kIirFcr:
            m_fcr = value;
            if (value & 0x02) m_rx.clear();  // reset receive FIFO
            break;
        case kLcr: m_lcr = value; break;
        case kMcr: m_mcr = value & 0x1f; break;
        case kScr: m_scr = value; break;
        default: break;  // LSR and MSR are read-only
    }
}

uint8_t Uart8250::interrupt_id() const {
    if ((m_ier & kIerRxAvailable) && !m_rx.empty()) return kIirRxAvailable;
    if ((m_ier & kIerThrEmpty) && m_thr_interrupt) return kIirThrEmpty;
    return kIirNone;
}

uint8_t Uart8250::line_status() const {
    uint8_t lsr = kLsrThrEmpty | kLsrTxEmpty;
    if (!m_rx.empty()) lsr |= kLsrDataReady;
    return lsr;
}

uint8_t Uart8250::modem_status() const {
    if (m_mcr & kMcrLoop) {
        // Loopback wiring: DTR→DSR, RTS→CTS, OUT1→RI, OUT2→DCD (Linux's autoconfig checks this).
        uint8_t msr = 0;
        if (m_mcr & kMcrDtr) msr |= kMsrDsr;
        if (m_mcr & kMcrRts) msr |= kMsrCts;
        if (m_mcr & kMcrOut1) msr |= kMsrRi;
        if (m_mcr & kMcrOut2) msr |= kMsrDcd;
        return msr;
    }
    return kMsrCts | kMsrDsr | kMsrDcd;  // a terminal is always there
}

void Uart8250::update_irq() {
    // On a PC the UART's interrupt reaches the PIC/IOAPIC only when OUT2 is set.
    bool level = interrupt_id() != kIirNone && (m_mcr & kMcrOut2) != 0;
    if (level == m_irq_level) return;
    m_irq_level = level;
    if (m_irq) m_irq(level);
}

}  // namespace popek::devices::legacy
