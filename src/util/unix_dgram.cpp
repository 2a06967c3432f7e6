#include "util/unix_dgram.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cstring>

namespace popek {
namespace {

Result<UniqueFd> dgram_socket() {
    int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail_errno("socket(AF_UNIX, SOCK_DGRAM)");
    return UniqueFd(fd);
}

/// A socket file whose owner is gone refuses connections: it may be replaced.
bool is_stale_socket(const std::string& path, const sockaddr_un& addr) {
    struct stat st{};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return false;
    auto probe = dgram_socket();
    if (!probe) return false;
    int rc = ::connect(probe->get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
    return rc != 0 && errno == ECONNREFUSED;
}

}  // namespace

Result<sockaddr_un> unix_address(const std::string& path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty()) return fail("unix socket path is empty");
    if (path.size() >= sizeof addr.sun_path)
        return fail("unix socket path '{}' is too long ({} bytes, at most {})", path, path.size(),
                    sizeof addr.sun_path - 1);
    if (path.find('\0') != std::string::npos) return fail("unix socket path contains a NUL byte");
    std::memcpy(addr.sun_path, path.data(), path.size());
    return addr;
}

Result<UnixDgramSocket> UnixDgramSocket::open(const std::string& local, const std::string& remote) {
    sockaddr_un local_addr = TRY(unix_address(local));
    sockaddr_un remote_addr = TRY(unix_address(remote));
    if (local == remote) return fail("local and remote socket paths are the same ('{}')", local);
    UniqueFd fd = TRY(dgram_socket());
    if (is_stale_socket(local, local_addr)) ::unlink(local.c_str());
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local_addr), sizeof local_addr) != 0)
        return fail_errno("bind unix socket '{}'", local);
    return UnixDgramSocket(std::move(fd), local, remote_addr);
}

UnixDgramSocket::UnixDgramSocket(UniqueFd fd, std::string local, sockaddr_un remote)
    : m_fd(std::move(fd)), m_local(std::move(local)), m_remote(remote) {}

UnixDgramSocket::UnixDgramSocket(UnixDgramSocket&& o) noexcept
    : m_fd(std::move(o.m_fd)), m_local(std::move(o.m_local)), m_remote(o.m_remote) {
    o.m_local.clear();
}

UnixDgramSocket::~UnixDgramSocket() {
    if (m_fd.valid() && !m_local.empty()) ::unlink(m_local.c_str());
}

bool UnixDgramSocket::send(std::span<const uint8_t> datagram) const {
    ssize_t n = ::sendto(m_fd.get(), datagram.data(), datagram.size(), MSG_DONTWAIT,
                         reinterpret_cast<const sockaddr*>(&m_remote), sizeof m_remote);
    return n == static_cast<ssize_t>(datagram.size());
}

Result<std::optional<size_t>> UnixDgramSocket::receive(std::span<uint8_t> buf, int timeout_ms) const {
    for (;;) {
        ssize_t n = ::recv(m_fd.get(), buf.data(), buf.size(), MSG_DONTWAIT);
        if (n >= 0) return std::optional<size_t>(static_cast<size_t>(n));
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK) return fail_errno("recv on '{}'", m_local);
        pollfd pfd{m_fd.get(), POLLIN, 0};
        int rc = ::poll(&pfd, 1, timeout_ms);
        if (rc < 0 && errno != EINTR) return fail_errno("poll on '{}'", m_local);
        if (rc == 0) return std::optional<size_t>();
    }
}

}  // namespace popek
