#include "devices/virtio/guest_error.h"

#include <fmt/format.h>

#include <cstdio>

namespace popek::devices::virtio {

void report_guest_error(std::string_view device, std::string_view what) {
    static std::atomic<uint64_t> count{0};
    uint64_t n = count.fetch_add(1, std::memory_order_relaxed);
    if (n < 20 || n % 1000 == 0)
        fmt::print(stderr, "popek: {}: {}{}\n", device, what, n == 19 ? " (further reports rate-limited)" : "");
}

}  // namespace popek::devices::virtio
