#pragma once
/// The serial console on popek's terminal: raw mode while the VM runs, an input thread that feeds
/// the guest's UART, and the escape sequence Ctrl-A x that quits popek.
#include <termios.h>

#include <atomic>
#include <functional>
#include <span>
#include <thread>

#include "util/fd.h"
#include "util/result.h"

namespace popek::vmm {

inline constexpr uint8_t kEscapeByte = 0x01;  // Ctrl-A

/// Puts a tty into raw mode for its lifetime and restores it afterwards (also on SIGTERM/SIGINT
/// paths that unwind through main).
class TerminalGuard {
public:
    explicit TerminalGuard(int fd);
    ~TerminalGuard();
    TerminalGuard(const TerminalGuard&) = delete;
    TerminalGuard& operator=(const TerminalGuard&) = delete;
    bool active() const { return m_active; }

private:
    int m_fd;
    bool m_active = false;
    termios m_saved{};
};

/// Reads `fd` on its own thread and hands the bytes to `sink`, which may refuse input when the
/// guest's receiver is full (it returns how many bytes it took; the rest is retried).
/// With `escapes` on, Ctrl-A x calls `on_quit` and Ctrl-A Ctrl-A sends one Ctrl-A.
class InputPump {
public:
    using Sink = std::function<size_t(std::span<const uint8_t>)>;
    /// `on_end` (optional): called once when `fd` reached its end (EOF or an error): no more input.
    static Result<std::unique_ptr<InputPump>> start(int fd, bool escapes, Sink sink, std::function<void()> on_quit,
                                                    std::function<void()> on_end = nullptr);
    ~InputPump();
    InputPump(const InputPump&) = delete;
    InputPump& operator=(const InputPump&) = delete;

private:
    InputPump() = default;
    void loop();
    size_t filter_escapes(std::span<const uint8_t> in, std::span<uint8_t> out);
    int m_fd = -1;
    bool m_escapes = false;
    bool m_saw_escape = false;
    Sink m_sink;
    std::function<void()> m_on_quit;
    std::function<void()> m_on_end;
    UniqueFd m_wake_read, m_wake_write;
    std::thread m_thread;
};

}  // namespace popek::vmm
