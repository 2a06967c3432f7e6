#pragma once
/// One datagram at a time on the driver-domain socket (AF_UNIX, SOCK_SEQPACKET). A datagram
/// larger than ddom::kMaxMessage is consumed and reported as an error, never half-read.
#include <cstdint>
#include <span>
#include <vector>

#include "util/result.h"

namespace popek::ddom {

/// Sends `datagram` whole (no SIGPIPE when the peer is gone: an error instead).
Result<void> send_message(int fd, std::span<const uint8_t> datagram);
/// Waits at most `timeout_ms` (< 0: forever) for one datagram and returns it (a view into `buf`).
/// Errors by kind: Timeout, Closed (the peer closed its end), Oversized (the datagram is gone and
/// the connection still usable; os_errno EMSGSIZE), Os (the socket failed).
Result<std::span<const uint8_t>> receive_message(int fd, std::vector<uint8_t>& buf, int timeout_ms);
/// An AF_UNIX SOCK_SEQPACKET socketpair, both ends close-on-exec.
Result<std::pair<int, int>> make_socketpair();

}  // namespace popek::ddom
