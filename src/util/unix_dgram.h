#pragma once
/// A unix datagram socket bound to a local path that sends to one remote path (like QEMU's
/// `-netdev dgram` with unix addresses): two processes wire themselves together without root.
#include <sys/un.h>

#include <optional>
#include <span>
#include <string>

#include "util/fd.h"
#include "util/result.h"

namespace popek {

class UnixDgramSocket {
public:
    /// Binds `local` (a stale socket file nobody listens on is replaced; anything else there is an
    /// error) and remembers `remote`, which need not exist yet.
    static Result<UnixDgramSocket> open(const std::string& local, const std::string& remote);

    UnixDgramSocket(UnixDgramSocket&& o) noexcept;
    UnixDgramSocket& operator=(UnixDgramSocket&&) = delete;
    UnixDgramSocket(const UnixDgramSocket&) = delete;
    ~UnixDgramSocket();   ///< removes the local socket file

    int fd() const { return m_fd.get(); }
    /// Sends one datagram without blocking; false when the remote is absent or its queue is full
    /// (the datagram is lost, as on a congested link).
    bool send(std::span<const uint8_t> datagram) const;
    /// Receives one datagram into `buf`, waiting up to `timeout_ms` (-1: forever); nullopt on
    /// timeout. A datagram longer than `buf` is truncated (reported as its full length is not).
    Result<std::optional<size_t>> receive(std::span<uint8_t> buf, int timeout_ms) const;

private:
    UnixDgramSocket(UniqueFd fd, std::string local, sockaddr_un remote);
    UniqueFd m_fd;
    std::string m_local;
    sockaddr_un m_remote{};
};

/// A unix socket address for `path`; an error names the path when it is empty or too long.
Result<sockaddr_un> unix_address(const std::string& path);

}  // namespace popek
