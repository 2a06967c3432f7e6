/// XenBus back ends in a snapshot (docs/snapshot.md "XDEV"): the back end's state (io/xenbus.h
/// XenbusState) and, for a connected device, its ring mappings (grant handles), its dom0 port and
/// its data path's private ring indices (io/ring.h). Loading finds the mapped pages again through
/// the restored grant table and takes the restored dom0 port, so the guest's front end, paused
/// mid-run, goes on with the same rings, grants and channel.
#include "pv/backends/ring_device.h"
#include "pv/backends/vif_device.h"

namespace popek::pv {

void XenbusBackend::save(snapshot::Writer& w) {
    w.u32(static_cast<uint32_t>(m_state));
    w.boolean(m_failed);
    save_connection(w);
}

void XenbusBackend::load(snapshot::Reader& r) {
    const uint32_t state = r.bounded(r.u32(), uint32_t{XenbusStateReconfigured}, "the XenBus state");
    const bool failed = r.boolean();
    if (!r.ok()) return;
    m_state = static_cast<XenbusState>(state);
    m_failed = failed;
    load_connection(r);
}

void RingDevice::save_connection(snapshot::Writer& w) {
    std::lock_guard lock(m_io_lock);
    w.boolean(m_backend != nullptr);
    if (!m_backend) return;
    w.u32(m_ring_handle.value_or(0));
    w.u32(m_backend_port);
    m_backend->save(w);
}

void RingDevice::load_connection(snapshot::Reader& r) {
    if (!r.boolean() || !r.ok()) return;
    const grant_handle_t handle = r.u32();
    const evtchn_port_t port = r.u32();
    if (!r.ok()) return;
    auto mapping = m_domain.grant_table().mapping(handle, false);
    if (!mapping) return r.invalid("{} {}'s ring mapping {} is not in the grant table", m_protocol_name, devid(), handle);
    if (!m_domain.event_channels().rebind_backend(port, [this] { service(); }))
        return r.invalid("{} {}'s dom0 port {} is not bound", m_protocol_name, devid(), port);
    std::lock_guard lock(m_io_lock);
    m_ring_handle = handle;
    m_backend_port = port;
    m_backend = start(mapping->page);
    m_backend->load(r);
}

void VifDevice::save_connection(snapshot::Writer& w) {
    std::lock_guard lock(m_tx_lock);
    w.boolean(m_netif != nullptr);
    if (m_netif) {
        w.u32(m_tx_handle.value_or(0));
        w.u32(m_rx_handle.value_or(0));
        w.u32(m_backend_port);
        w.boolean(m_netif->rx_sg());
        m_netif->save(w);
    }
    const NetifBackend::Stats& last = m_last;
    for (uint64_t v : {last.tx_packets, last.tx_bytes, last.tx_errors, last.rx_packets, last.rx_bytes, last.rx_errors,
                       last.rx_dropped_no_buffer, last.rx_dropped_invalid})
        w.u64(v);
    w.u64(m_dropped_disconnected.load());
}

void VifDevice::load_connection(snapshot::Reader& r) {
    const bool connected = r.boolean();
    if (connected && r.ok()) {
        const grant_handle_t tx = r.u32(), rx = r.u32();
        const evtchn_port_t port = r.u32();
        const bool rx_sg = r.boolean();
        if (!r.ok()) return;
        GrantTable& grants = m_domain.grant_table();
        auto tx_map = grants.mapping(tx, false), rx_map = grants.mapping(rx, false);
        if (!tx_map || !rx_map || tx == rx) return r.invalid("vif {}'s ring mappings {} {} are not in the grant table", devid(), tx, rx);
        if (!m_domain.event_channels().rebind_backend(port, [this] { service(); }))
            return r.invalid("vif {}'s dom0 port {} is not bound", devid(), port);
        std::scoped_lock lock(m_tx_lock, m_rx_lock);
        m_tx_handle = tx;
        m_rx_handle = rx;
        m_backend_port = port;
        m_netif = std::make_unique<NetifBackend>(grants, kControlDomain, tx_map->page, rx_map->page, rx_sg);
        m_netif->load(r);
    }
    NetifBackend::Stats last;
    for (uint64_t* v : {&last.tx_packets, &last.tx_bytes, &last.tx_errors, &last.rx_packets, &last.rx_bytes,
                        &last.rx_errors, &last.rx_dropped_no_buffer, &last.rx_dropped_invalid})
        *v = r.u64();
    const uint64_t dropped = r.u64();
    if (!r.ok()) return;
    m_last = last;
    m_dropped_disconnected.store(dropped);
}

}  // namespace popek::pv
