#pragma once
/// virtio-net (virtio 1.2, 5.1): one receive and one transmit queue, the MAC address and link
/// status in configuration space, no offloads and no mergeable receive buffers, so every frame
/// travels with a zeroed 12-byte struct virtio_net_hdr (5.1.6).
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "devices/virtio/device.h"
#include "host/net/net_backend.h"

namespace popek::devices::virtio {

inline constexpr unsigned kNetFeatureMac = 5;       ///< 5.1.3 VIRTIO_NET_F_MAC
inline constexpr unsigned kNetFeatureStatus = 16;   ///< 5.1.3 VIRTIO_NET_F_STATUS
inline constexpr size_t kNetReceiveQueue = 0;       ///< 5.1.2 receiveq1
inline constexpr size_t kNetTransmitQueue = 1;      ///< 5.1.2 transmitq1
inline constexpr uint16_t kNetStatusLinkUp = 1;

/// 5.1.6 struct virtio_net_hdr, as laid out with VIRTIO_F_VERSION_1 (num_buffers always present).
struct NetHeader {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
};
static_assert(sizeof(NetHeader) == 12);

using MacAddress = std::array<uint8_t, 6>;

class Net final : public Device {
public:
    /// Received frames waiting for guest buffers; more are dropped.
    static constexpr size_t kMaxPendingFrames = 256;
    /// No GSO is offered, so a frame is at most an Ethernet MTU frame; allow jumbo frames anyway.
    static constexpr size_t kMaxFrame = 65535;

    Net(std::unique_ptr<host::NetBackend> backend, MacAddress mac);
    ~Net() override;

    std::string_view name() const override { return "virtio-net"; }
    uint32_t device_id() const override { return kDeviceIdNet; }
    uint64_t device_features() const override { return feature_bit(kNetFeatureMac) | feature_bit(kNetFeatureStatus); }
    size_t queue_count() const override { return 2; }
    void read_config(uint64_t offset, std::span<uint8_t> data) override;
    void activate(uint64_t features) override;
    void notify(size_t index) override;
    void reset() override { m_pending.clear(); }
    void shutdown() override;

    /// Starts the backend (once): at set-up, so that no thread needs to open sockets or create
    /// threads once the VM runs (the vCPU's seccomp list has neither: docs/seccomp.md); frames
    /// before the driver resets the device are queued (bounded) and cleared by that reset.
    Result<void> start_backend();

    /// A frame from the network (the backend's thread). Dropped when the driver is not ready.
    void receive(std::span<const uint8_t> frame);
    uint64_t dropped_frames() const { return m_dropped; }
    /// Frames and bytes each way, for FlushMetrics (docs/metrics.md); read from another thread.
    struct Stats {
        uint64_t tx_frames = 0, tx_bytes = 0, rx_frames = 0, rx_bytes = 0, dropped = 0;
    };
    Stats stats() const { return {m_tx_frames.load(), m_tx_bytes.load(), m_rx_frames.load(), m_rx_bytes.load(), m_dropped.load()}; }

private:
    void deliver();
    Result<uint32_t> transmit(Chain& chain);

    std::unique_ptr<host::NetBackend> m_backend;
    MacAddress m_mac;
    bool m_started = false;
    std::deque<std::vector<uint8_t>> m_pending;   // guarded by the transport lock
    std::vector<uint8_t> m_tx_frame;
    std::atomic<uint64_t> m_dropped{0};
    std::atomic<uint64_t> m_tx_frames{0}, m_tx_bytes{0}, m_rx_frames{0}, m_rx_bytes{0};
};

}  // namespace popek::devices::virtio
