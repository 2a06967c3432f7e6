#pragma once
/// Where a guest NIC's frames go on the host, for virtio-net and the Xen vif alike: user networking
/// (libslirp), a host tap device, or a unix datagram socket.
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "util/result.h"

namespace popek::host {

class NetBackend {
public:
    /// Receives one Ethernet frame for the guest; called on the backend's own thread.
    using Receive = std::function<void(std::span<const uint8_t> frame)>;
    virtual ~NetBackend() = default;
    virtual std::string_view name() const = 0;
    /// Starts delivering frames to `rx` from the backend's thread.
    virtual Result<void> start(Receive rx) = 0;
    /// Sends one Ethernet frame from the guest. Never blocks: frames are dropped when the backend
    /// is congested (the guest's TCP retransmits, as on a real link).
    virtual void send(std::span<const uint8_t> frame) = 0;
    /// Stops the thread; `rx` is not called once this returns. Idempotent.
    virtual void stop() = 0;
};

/// libslirp user networking: 10.0.2.0/24, gateway 10.0.2.2, DNS 10.0.2.3, DHCP from 10.0.2.15.
Result<std::unique_ptr<NetBackend>> make_slirp_backend();
/// The host tap interface `ifname` (created if absent; needs CAP_NET_ADMIN).
Result<std::unique_ptr<NetBackend>> make_tap_backend(const std::string& ifname);
/// A unix datagram socket bound to `local_path` that sends to `remote_path` (one frame per
/// datagram; QEMU's `-netdev dgram`). No privileges needed.
Result<std::unique_ptr<NetBackend>> make_dgram_backend(const std::string& local_path, const std::string& remote_path);

}  // namespace popek::host
