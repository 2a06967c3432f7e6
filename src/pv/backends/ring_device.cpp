#include "pv/backends/ring_device.h"

namespace popek::pv {

RingDevice::RingDevice(PvDomain& domain, std::string type, uint32_t devid, std::string protocol_name, DomId backend)
    : XenbusBackend(domain, std::move(type), devid, backend), m_protocol_name(std::move(protocol_name)) {}

PvResult<void> RingDevice::connect(Store& store, ConnId control) {
    const std::string fe = frontend_path();
    auto ring_ref = read_number(store, control, fe + "/ring-ref");
    auto port = read_number(store, control, fe + "/event-channel");
    if (!ring_ref || !port) return pv_error(EINVAL);
    if (auto order = read_number(store, control, fe + "/ring-page-order"); order && *order != 0)
        return pv_error(EINVAL);  // multi-page rings are not offered
    if (auto proto = store.read(control, kNoTransaction, fe + "/protocol"); proto && *proto != XEN_IO_PROTO_ABI_X86_64)
        return pv_error(EINVAL);
    TRY_VOID(can_connect());
    auto mapping = m_domain.grant_table().map(backend_domid(), *ring_ref, false);
    if (!mapping) return pv_error(EACCES);
    auto backend_port = m_domain.event_channels().backend_bind(*port, [this] { service(); }, backend_domid());
    if (!backend_port) {
        (void)m_domain.grant_table().unmap(mapping->handle);
        return pv_error(backend_port.error());
    }
    {
        std::lock_guard lock(m_io_lock);
        m_ring_handle = mapping->handle;
        m_backend_port = *backend_port;
        m_backend = start(mapping->page);
    }
    return write_connected_nodes(store, control);
}

void RingDevice::disconnect() {
    std::lock_guard lock(m_io_lock);
    m_backend.reset();
    if (m_ring_handle) (void)m_domain.grant_table().unmap(*m_ring_handle);
    m_ring_handle.reset();
    if (m_backend_port != 0) (void)m_domain.event_channels().backend_close(m_backend_port);
    m_backend_port = 0;
}

void RingDevice::service() {
    bool shut = false;
    std::optional<std::string> failure;
    {
        std::lock_guard lock(m_io_lock);
        if (!m_backend) return;
        RingBackend::Outcome out;
        do {
            out = m_backend->process();
            if (out.notify) (void)m_domain.event_channels().backend_send(m_backend_port);
        } while (out.more);
        shut = m_backend->shut();
        failure = m_backend->failure();
    }
    // Outside the I/O lock, as below.
    if (failure) return backend_failed(*failure);
    // A ring the front end corrupted is dead: tell the guest the way a Xen back end does (an
    // "error" node and Closing), outside the I/O lock (the store's watch handlers take it).
    if (shut) ring_shut(m_protocol_name + " ring indices out of range: ring shut");
}

bool RingDevice::connected() {
    std::lock_guard lock(m_io_lock);
    return m_backend != nullptr;
}

}  // namespace popek::pv
