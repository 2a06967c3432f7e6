#pragma once
/// Rate-limited reporting of guest misbehaviour (design: "log it rate-limited").
#include <atomic>
#include <string_view>

namespace popek::devices::virtio {

/// Prints "popek: <device>: <what>" on stderr for the first few reports of the process, then once
/// every 1000. Thread-safe.
void report_guest_error(std::string_view device, std::string_view what);

}  // namespace popek::devices::virtio
