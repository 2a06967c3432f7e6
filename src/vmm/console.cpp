#include "vmm/console.h"
#include "host/thread_confinement.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>

namespace popek::vmm {

TerminalGuard::TerminalGuard(int fd) : m_fd(fd) {
    if (!::isatty(fd) || ::tcgetattr(fd, &m_saved) != 0) return;
    termios raw = m_saved;
    ::cfmakeraw(&raw);
    raw.c_oflag |= OPOST | ONLCR;  // keep "\n" -> "\r\n" on output so guest lines do not stair-step
    if (::tcsetattr(fd, TCSANOW, &raw) == 0) m_active = true;
}

TerminalGuard::~TerminalGuard() {
    if (m_active) ::tcsetattr(m_fd, TCSANOW, &m_saved);
}

Result<std::unique_ptr<InputPump>> InputPump::start(int fd, bool escapes, Sink sink, std::function<void()> on_quit,
                                                    std::function<void()> on_end) {
    std::unique_ptr<InputPump> pump(new InputPump());
    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) != 0) return fail_errno("pipe for console input");
    pump->m_wake_read.reset(pipefd[0]);
    pump->m_wake_write.reset(pipefd[1]);
    pump->m_fd = fd;
    pump->m_escapes = escapes;
    pump->m_sink = std::move(sink);
    pump->m_on_quit = std::move(on_quit);
    pump->m_on_end = std::move(on_end);
    pump->m_thread = std::thread([p = pump.get()] {
        host::confine_this_thread(host::ThreadKind::Device);
        p->loop();
    });
    return pump;
}

InputPump::~InputPump() {
    uint8_t b = 1;
    (void)!::write(m_wake_write.get(), &b, 1);
    if (m_thread.joinable()) m_thread.join();
}

size_t InputPump::filter_escapes(std::span<const uint8_t> in, std::span<uint8_t> out) {
    size_t n = 0;
    for (uint8_t c : in) {
        if (m_saw_escape) {
            m_saw_escape = false;
            if (c == 'x' || c == 'X') {
                m_on_quit();
                continue;
            }
            if (c == kEscapeByte) out[n++] = c;
            continue;  // unknown escape: dropped
        }
        if (c == kEscapeByte) {
            m_saw_escape = true;
            continue;
        }
        out[n++] = c;
    }
    return n;
}

void InputPump::loop() {
    uint8_t raw[512];
    uint8_t buf[512];
    // The input ended (EOF, an error): a recording need not wait for typing (replay/session.h).
    struct AtEnd {
        std::function<void()>& f;
        ~AtEnd() {
            if (f) f();
        }
    } at_end{m_on_end};
    for (;;) {
        pollfd fds[2] = {{m_fd, POLLIN, 0}, {m_wake_read.get(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) {
            if (errno == EINTR) continue;
            return;
        }
        if (fds[1].revents != 0) return;
        if (fds[0].revents == 0) continue;
        ssize_t got = ::read(m_fd, raw, sizeof raw);
        if (got == 0) return;  // EOF: no more input
        if (got < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            return;
        }
        std::span<const uint8_t> in(raw, static_cast<size_t>(got));
        size_t n = m_escapes ? filter_escapes(in, buf) : (std::copy(in.begin(), in.end(), buf), in.size());
        std::span<const uint8_t> pending(buf, n);
        // Back-pressure: the UART's receive queue is bounded; wait until the guest drains it.
        while (!pending.empty()) {
            size_t took = m_sink(pending);
            pending = pending.subspan(took);
            if (pending.empty()) break;
            pollfd w{m_wake_read.get(), POLLIN, 0};
            if (::poll(&w, 1, 5) > 0) return;
        }
    }
}

}  // namespace popek::vmm
