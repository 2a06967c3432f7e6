#include "devices/virtio/entropy.h"

#include <sys/random.h>

#include <algorithm>

namespace popek::devices::virtio {

void Entropy::notify(size_t index) {
    process_queue(host(), index, [this](Chain& chain) { return fill(chain); });
}

Result<uint32_t> Entropy::fill(Chain& chain) {
    // 5.4.6.1: the device MUST place one or more random bytes into the buffer; readable parts are
    // ignored. A host getrandom failure fills less: the used length tells the driver how much.
    auto iov = TRY(chain.writable.iovecs(host().memory(), 0, chain.writable.size()));
    uint64_t written = 0;
    for (const iovec& v : iov) {
        auto* p = static_cast<uint8_t*>(v.iov_base);
        for (size_t done = 0; done < v.iov_len;) {
            ssize_t n = ::getrandom(p + done, v.iov_len - done, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return static_cast<uint32_t>(written);
            done += static_cast<size_t>(n);
            written += static_cast<uint64_t>(n);
        }
    }
    return static_cast<uint32_t>(written);
}

}  // namespace popek::devices::virtio
