#pragma once
/// The console the kernel and processes write to and read lines from. Phase 1: the COM1 UART
/// (uart_console.cpp); phase 2: the Xen console ring (xencons), same interface.
#include <stddef.h>

namespace pos {

class Console {
public:
    /// Receives each input byte, from interrupt context.
    using InputHandler = void (*)(char);

    virtual ~Console() = default;
    /// Writes all bytes (blocking, callable with interrupts off).
    virtual void write(const char* data, size_t len) = 0;
    /// Called from the interrupt dispatcher when the console's interrupt fires.
    virtual void handle_interrupt() = 0;
    void set_input_handler(InputHandler h) { m_input = h; }

    static Console* active() { return s_active; }
    static void set_active(Console* c) { s_active = c; }

protected:
    void deliver(char c) {
        if (m_input != nullptr) m_input(c);
    }

private:
    InputHandler m_input = nullptr;
    static inline Console* s_active = nullptr;
};

}  // namespace pos
