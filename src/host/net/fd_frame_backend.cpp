#include "host/net/fd_frame_backend.h"

#include <poll.h>
#include <unistd.h>

#include <array>

namespace popek::host {

Result<void> FdFrameBackend::start(Receive rx) {
    m_rx = std::move(rx);
    return m_thread.start([this] { loop(); });
}

void FdFrameBackend::loop() {
    std::array<uint8_t, 65536> buf;
    while (!m_thread.stopping()) {
        pollfd fds[2] = {{m_fd, POLLIN, 0}, {m_thread.wake_fd(), POLLIN, 0}};
        if (::poll(fds, 2, -1) < 0) continue;
        if (fds[1].revents) m_thread.drain();
        if (!(fds[0].revents & POLLIN)) continue;
        for (;;) {
            ssize_t n = ::read(m_fd, buf.data(), buf.size());
            if (n <= 0) break;
            m_rx(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
        }
    }
}

}  // namespace popek::host
