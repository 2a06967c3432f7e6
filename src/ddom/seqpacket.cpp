#include "ddom/seqpacket.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include <fmt/format.h>

#include "ddom/ddom_wire.h"

namespace popek::ddom {

Result<void> send_message(int fd, std::span<const uint8_t> datagram) {
    for (;;) {
        ssize_t n = ::send(fd, datagram.data(), datagram.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("driver domain socket: send");
        if (static_cast<size_t>(n) != datagram.size()) return fail("driver domain socket: short send");
        return {};
    }
}

Result<std::span<const uint8_t>> receive_message(int fd, std::vector<uint8_t>& buf, int timeout_ms) {
    buf.resize(kMaxMessage + 1);
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        int ready = ::poll(&p, 1, timeout_ms);
        if (ready < 0 && errno == EINTR) continue;
        if (ready < 0) return fail_errno("driver domain socket: poll");
        if (ready == 0) return fail_as(ErrorKind::Timeout, "driver domain socket: no answer within {} ms", timeout_ms);
        ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_TRUNC);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n < 0) return fail_errno("driver domain socket: receive");
        if (n == 0) return fail_as(ErrorKind::Closed, "driver domain socket: the other end closed");
        if (static_cast<size_t>(n) > kMaxMessage)
            return std::unexpected(
                Error{fmt::format("driver domain socket: datagram of {} bytes", n), EMSGSIZE, ErrorKind::Oversized});
        return std::span<const uint8_t>(buf.data(), static_cast<size_t>(n));
    }
}

Result<std::pair<int, int>> make_socketpair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return fail_errno("socketpair");
    return std::pair{sv[0], sv[1]};
}

}  // namespace popek::ddom
