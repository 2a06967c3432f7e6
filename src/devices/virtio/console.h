#pragma once
/// virtio-console (virtio 1.2, 5.3) with a single port and no multiport: transmitq bytes go to an
/// output sink, host input is streamed into receiveq buffers, and VIRTIO_CONSOLE_F_EMERG_WRITE
/// lets the guest write a byte through configuration space before the queues work.
#include <cstdint>
#include <deque>
#include <functional>

#include "devices/virtio/device.h"

namespace popek::devices::virtio {

inline constexpr unsigned kConsoleFeatureEmergWrite = 2;   ///< 5.3.3
inline constexpr size_t kConsoleReceiveQueue = 0;          ///< 5.3.2 receiveq(port0)
inline constexpr size_t kConsoleTransmitQueue = 1;         ///< 5.3.2 transmitq(port0)

class Console final : public Device {
public:
    using Sink = std::function<void(std::span<const uint8_t>)>;
    /// Host input waiting for receive buffers is bounded; more is dropped.
    static constexpr size_t kInputCapacity = 64 * 1024;

    explicit Console(Sink out) : m_out(std::move(out)) {}
    std::string_view name() const override { return "virtio-console"; }
    uint32_t device_id() const override { return kDeviceIdConsole; }
    uint64_t device_features() const override { return feature_bit(kConsoleFeatureEmergWrite); }
    size_t queue_count() const override { return 2; }
    void read_config(uint64_t offset, std::span<uint8_t> data) override;
    void write_config(uint64_t offset, std::span<const uint8_t> data) override;
    void activate(uint64_t) override {}
    void notify(size_t index) override;
    void reset() override { m_input.clear(); }

    /// Host input for the guest (any thread). Returns how many bytes were accepted: none while the
    /// driver is not ready, fewer than given when the buffer is full.
    size_t push_input(std::span<const uint8_t> bytes);

private:
    void deliver_input();
    Result<uint32_t> transmit(Chain& chain);

    Sink m_out;
    std::deque<uint8_t> m_input;   // guarded by the transport lock
};

}  // namespace popek::devices::virtio
