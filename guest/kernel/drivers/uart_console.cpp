#include "drivers/uart_console.h"

#include "arch/x86.h"

namespace pos {
namespace {
// Register offsets and bits (PC16550D, table II).
constexpr uint16_t kData = 0, kIer = 1, kFcr = 2, kLcr = 3, kMcr = 4, kLsr = 5;
constexpr uint8_t kLsrDataReady = 0x01, kLsrThrEmpty = 0x20;
constexpr uint8_t kIerRxData = 0x01;
constexpr uint8_t kMcrDtrRtsOut2 = 0x0b;   // OUT2 gates the UART's interrupt line on a PC
constexpr int kFifoSize = 16;
}  // namespace

void UartConsole::init() {
    x86::outb(static_cast<uint16_t>(m_base + kIer), 0);
    x86::outb(static_cast<uint16_t>(m_base + kLcr), 0x80);   // DLAB: divisor 1 = 115200 baud
    x86::outb(static_cast<uint16_t>(m_base + kData), 1);
    x86::outb(static_cast<uint16_t>(m_base + kIer), 0);
    x86::outb(static_cast<uint16_t>(m_base + kLcr), 0x03);   // 8N1
    // FIFOs on, transmit FIFO cleared; the receive FIFO keeps what arrived before boot.
    x86::outb(static_cast<uint16_t>(m_base + kFcr), 0x05);
    x86::outb(static_cast<uint16_t>(m_base + kMcr), kMcrDtrRtsOut2);
    x86::outb(static_cast<uint16_t>(m_base + kIer), kIerRxData);
}

void UartConsole::put_raw(char c) {
    // One LSR read per FIFO's worth of bytes: every port access is a VM exit.
    while (m_fifo_room == 0) {
        if ((x86::inb(static_cast<uint16_t>(m_base + kLsr)) & kLsrThrEmpty) != 0) m_fifo_room = kFifoSize;
        else x86::pause();
    }
    x86::outb(m_base, static_cast<uint8_t>(c));
    --m_fifo_room;
}

void UartConsole::write(const char* data, size_t len) {
    LockGuard guard(m_lock);
    for (size_t i = 0; i < len; ++i) {
        if (data[i] == '\n') put_raw('\r');
        put_raw(data[i]);
    }
}

void UartConsole::handle_interrupt() {
    // Drain the receive FIFO; bound the loop so a stuck LSR cannot wedge the kernel.
    for (int i = 0; i < 4096; ++i) {
        if ((x86::inb(static_cast<uint16_t>(m_base + kLsr)) & kLsrDataReady) == 0) break;
        deliver(static_cast<char>(x86::inb(m_base)));
    }
}

}  // namespace pos
