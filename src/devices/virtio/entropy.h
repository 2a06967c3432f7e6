#pragma once
/// virtio-rng, the entropy device (virtio 1.2, 5.4): every device-writable buffer of its one
/// request queue is filled from getrandom(2).
#include "devices/virtio/device.h"

namespace popek::devices::virtio {

class Entropy final : public Device {
public:
    std::string_view name() const override { return "virtio-rng"; }
    uint32_t device_id() const override { return kDeviceIdEntropy; }
    uint64_t device_features() const override { return 0; }   // 5.4.3: none
    size_t queue_count() const override { return 1; }          // 5.4.2: requestq
    void read_config(uint64_t, std::span<uint8_t> data) override { std::fill(data.begin(), data.end(), uint8_t{0}); }
    void activate(uint64_t) override {}
    void notify(size_t index) override;
    void reset() override {}

private:
    Result<uint32_t> fill(Chain& chain);
};

}  // namespace popek::devices::virtio
