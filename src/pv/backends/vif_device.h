#pragma once
/// A Xen virtual network interface (vif), single queue: its store nodes for both ends and the
/// netif negotiation (io/netif.h "Feature and Parameter Negotiation"; the XenBus handshake itself is
/// XenbusBackend's), and the data path (NetifBackend) once connected.
///
///   back end publishes:  handle, mac, feature-rx-copy = 1, feature-rx-flip = 0, feature-sg = 1,
///                        feature-no-csum-offload = 1 (front ends send complete checksums)
///   front end writes:    tx-ring-ref, rx-ring-ref, event-channel, request-rx-copy = 1,
///                        optionally feature-sg (it takes frames over several rx requests)
/// Not offered, refused if asked for: rx flipping, split event channels, several queues,
/// multi-page rings, GSO/extra info, the control ring.
///
/// Frames from the host arrive through deliver() (on the host network thread); frames from the
/// guest leave through the `send` function given at construction (on the vCPU thread that notified).
/// While no front end is connected, host frames are dropped and counted.
#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "pv/backends/netif_backend.h"
#include "pv/backends/xenbus_backend.h"

namespace popek::pv {

class VifDevice final : public XenbusBackend {
public:
    using Mac = std::array<uint8_t, 6>;
    struct Stats : NetifBackend::Stats {
        uint64_t rx_dropped_disconnected = 0;
    };

    VifDevice(PvDomain& domain, Mac mac, NetifBackend::Send send, uint32_t devid = 0);
    ~VifDevice() override;

    /// One Ethernet frame from the host for the guest.
    void deliver(std::span<const uint8_t> frame);
    /// Serves the tx ring and checks the rx ring (runs on the event channel's notification).
    void service();
    bool connected();
    Stats stats();
    static std::string mac_text(const Mac& mac);
    /// Holds host frames back while a snapshot is made (save() reads the rx side under it).
    std::unique_lock<std::mutex> hold_rx() { return std::unique_lock(m_rx_lock); }

private:
    PvResult<void> write_backend_nodes(Store& store, ConnId control) override;
    PvResult<void> write_frontend_nodes(Store& store, ConnId control) override;
    PvResult<void> connect(Store& store, ConnId control) override;
    void disconnect() override;
    /// The caller holds hold_rx() (save) or nothing runs yet (load).
    void save_connection(snapshot::Writer& w) override;
    void load_connection(snapshot::Reader& r) override;
    /// Takes the device down if the data path shut a ring; call without the I/O locks.
    void check_shut(bool tx_shut, bool rx_shut);

    const Mac m_mac;
    const NetifBackend::Send m_send;

    // The tx half runs on vCPU threads, the rx half on the host network thread; connect and
    // disconnect take both locks (tx first).
    std::mutex m_tx_lock, m_rx_lock;
    std::unique_ptr<NetifBackend> m_netif;
    std::optional<grant_handle_t> m_tx_handle, m_rx_handle;
    evtchn_port_t m_backend_port = 0;
    std::atomic<uint64_t> m_dropped_disconnected{0};
    NetifBackend::Stats m_last;  ///< the previous connection's figures
};

}  // namespace popek::pv
