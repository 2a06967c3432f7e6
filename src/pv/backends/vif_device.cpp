#include "pv/backends/vif_device.h"

#include <fmt/format.h>

namespace popek::pv {

VifDevice::VifDevice(PvDomain& domain, Mac mac, NetifBackend::Send send, uint32_t devid)
    : XenbusBackend(domain, "vif", devid), m_mac(mac), m_send(std::move(send)) {}

VifDevice::~VifDevice() { detach(); }

std::string VifDevice::mac_text(const Mac& m) {
    return fmt::format("{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
}

PvResult<void> VifDevice::write_backend_nodes(Store& s, ConnId c) {
    const std::string be = backend_path();
    auto put = [&](const std::string& node, const std::string& value) {
        return s.write(c, kNoTransaction, be + "/" + node, value);
    };
    TRY_VOID(put("handle", fmt::format("{}", devid())));
    TRY_VOID(put("mac", mac_text(m_mac)));
    TRY_VOID(put("feature-rx-copy", "1"));
    TRY_VOID(put("feature-rx-flip", "0"));
    // io/netif.h: IPv4 TCP/UDP checksum offload is on unless the back end says otherwise. popek
    // hands frames to slirp/tap as they are, so front ends must fill in their checksums.
    TRY_VOID(put("feature-no-csum-offload", "1"));
    return put("feature-sg", "1");
}

PvResult<void> VifDevice::write_frontend_nodes(Store& s, ConnId c) {
    TRY_VOID(put_frontend(s, c, "handle", fmt::format("{}", devid())));
    return put_frontend(s, c, "mac", mac_text(m_mac));
}

PvResult<void> VifDevice::connect(Store& store, ConnId control) {
    const std::string fe = frontend_path();
    auto number = [&](const char* node) { return read_number(store, control, fe + "/" + node); };
    auto tx_ref = number("tx-ring-ref"), rx_ref = number("rx-ring-ref"), port = number("event-channel");
    if (!tx_ref || !rx_ref || !port) return pv_error(EINVAL);
    // Only what was offered: copying receive, one queue, one channel, no control ring.
    if (number("request-rx-copy") != std::optional<uint32_t>(1)) return pv_error(EINVAL);
    if (auto queues = number("multi-queue-num-queues"); queues && *queues > 1) return pv_error(EINVAL);
    const bool rx_sg = number("feature-sg") == std::optional<uint32_t>(1);

    GrantTable& grants = m_domain.grant_table();
    auto tx = grants.map(kControlDomain, *tx_ref, false);
    if (!tx) return pv_error(EACCES);
    auto rx = grants.map(kControlDomain, *rx_ref, false);
    if (!rx) {
        (void)grants.unmap(tx->handle);
        return pv_error(EACCES);
    }
    auto backend_port = m_domain.event_channels().backend_bind(*port, [this] { service(); });
    if (!backend_port) {
        (void)grants.unmap(tx->handle);
        (void)grants.unmap(rx->handle);
        return pv_error(backend_port.error());
    }
    std::scoped_lock lock(m_tx_lock, m_rx_lock);
    m_tx_handle = tx->handle;
    m_rx_handle = rx->handle;
    m_backend_port = *backend_port;
    m_netif = std::make_unique<NetifBackend>(grants, kControlDomain, tx->page, rx->page, rx_sg);
    return {};
}

void VifDevice::disconnect() {
    std::scoped_lock lock(m_tx_lock, m_rx_lock);
    if (m_netif) m_last = m_netif->stats();
    m_netif.reset();
    for (auto* handle : {&m_tx_handle, &m_rx_handle}) {
        if (*handle) (void)m_domain.grant_table().unmap(**handle);
        handle->reset();
    }
    if (m_backend_port != 0) (void)m_domain.event_channels().backend_close(m_backend_port);
    m_backend_port = 0;
}

void VifDevice::service() {
    bool tx_shut = false, rx_shut = false;
    {
        std::lock_guard lock(m_tx_lock);
        if (!m_netif) return;
        NetifBackend::Outcome out;
        do {
            out = m_netif->process_tx(m_send);
            if (out.notify) (void)m_domain.event_channels().backend_send(m_backend_port);
        } while (out.more);
        tx_shut = m_netif->tx_shut();
    }
    {
        std::lock_guard lock(m_rx_lock);
        if (!m_netif) return;
        m_netif->check_rx_ring();
        rx_shut = m_netif->rx_shut();
    }
    check_shut(tx_shut, rx_shut);
}

void VifDevice::deliver(std::span<const uint8_t> frame) {
    bool rx_shut = false;
    {
        std::lock_guard lock(m_rx_lock);
        if (!m_netif) {
            m_dropped_disconnected.fetch_add(1, std::memory_order_relaxed);
            return;
        }
        if (m_netif->receive(frame)) (void)m_domain.event_channels().backend_send(m_backend_port);
        rx_shut = m_netif->rx_shut();
    }
    check_shut(false, rx_shut);
}

void VifDevice::check_shut(bool tx_shut, bool rx_shut) {
    // A ring the front end corrupted is dead: say so the way a Xen back end does.
    if (tx_shut) ring_shut("netif tx ring indices out of range: ring shut");
    else if (rx_shut) ring_shut("netif rx ring indices out of range: ring shut");
}

bool VifDevice::connected() {
    std::lock_guard lock(m_tx_lock);
    return m_netif != nullptr;
}

VifDevice::Stats VifDevice::stats() {
    std::scoped_lock lock(m_tx_lock, m_rx_lock);
    Stats s;
    static_cast<NetifBackend::Stats&>(s) = m_netif ? m_netif->stats() : m_last;
    s.rx_dropped_disconnected = m_dropped_disconnected.load(std::memory_order_relaxed);
    return s;
}

}  // namespace popek::pv
