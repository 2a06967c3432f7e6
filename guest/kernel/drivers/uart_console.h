#pragma once
/// Console on a 16550-compatible UART (PC16550D datasheet, "Registers"): polled output through
/// the 16-byte transmit FIFO, input through the receive-data interrupt.
#include <stdint.h>

#include "drivers/console.h"
#include "lib/spinlock.h"

namespace pos {

class UartConsole final : public Console {
public:
    explicit UartConsole(uint16_t base) : m_base(base) {}
    void init();
    void write(const char* data, size_t len) override;
    void handle_interrupt() override;

private:
    void put_raw(char c);
    uint16_t m_base;
    int m_fifo_room = 0;
    Spinlock m_lock;
};

}  // namespace pos
