#include "devices/virtio/device.h"

#include <algorithm>

namespace popek::devices::virtio {

void read_config_bytes(std::span<const uint8_t> config, uint64_t offset, std::span<uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t at = offset + i;
        data[i] = at < config.size() ? config[at] : 0;
    }
}

void process_queue(DeviceHost& host, size_t index, const std::function<Result<uint32_t>(Chain&)>& handle) {
    const memory::GuestMemory& mem = host.memory();
    Queue& q = host.queue(index);
    Chain chain;
    bool used_any = false;
    for (;;) {
        auto got = q.pop(mem, chain);
        if (!got) {
            host.needs_reset(got.error());
            break;
        }
        if (!*got) break;
        auto written = handle(chain);
        if (!written) {
            host.needs_reset(written.error());
            break;
        }
        if (auto r = q.add_used(mem, chain, *written); !r) {
            host.needs_reset(r.error());
            break;
        }
        used_any = true;
    }
    if (used_any) host.signal_used(index);
}

}  // namespace popek::devices::virtio
