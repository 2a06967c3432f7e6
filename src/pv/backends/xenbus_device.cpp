#include "pv/backends/xenbus_device.h"

#include <charconv>

#include <fmt/format.h>

#include "pv/store/store_path.h"
#include "pv/store_wire.h"

namespace popek::pv {

namespace {

std::optional<uint32_t> read_number(Store& store, ConnId control, const std::string& path) {
    auto v = store.read(control, kNoTransaction, path);
    if (!v) return std::nullopt;
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (v->empty() || ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
    return n;
}

}  // namespace

XenbusDevice::XenbusDevice(PvDomain& domain, Config config) : m_domain(domain), m_config(std::move(config)) {}

XenbusDevice::~XenbusDevice() {
    (void)m_domain.remove_control_watch(frontend_path() + "/state", watch_token());
    disconnect();
}

std::string XenbusDevice::watch_token() const { return fmt::format("{}-{}", m_config.type, m_config.devid); }

std::string XenbusDevice::frontend_path() const {
    return fmt::format("{}/device/{}/{}", domain_path(m_domain.domid()), m_config.type, m_config.devid);
}

std::string XenbusDevice::backend_path() const {
    return fmt::format("{}/backend/{}/{}/{}", domain_path(kControlDomain), m_config.type, m_domain.domid(),
                       m_config.devid);
}

PvResult<void> XenbusDevice::attach() {
    auto nodes = m_domain.with_store([&](Store& s, ConnId c) { return create_nodes(s, c); });
    if (!nodes) return nodes;
    return m_domain.add_control_watch(frontend_path() + "/state", watch_token(),
                                      [this](Store& s, ConnId c, const WatchEvent&) { on_frontend_change(s, c); });
}

PvResult<void> XenbusDevice::create_nodes(Store& s, ConnId c) {
    const DomId guest = m_domain.domid();
    const std::string fe = frontend_path(), be = backend_path();
    auto put = [&](const std::string& path, const std::string& value) {
        return s.write(c, kNoTransaction, path, value);
    };
    const std::string initialising = fmt::format("{}", static_cast<int>(XenbusStateInitialising));
    // Back end: owned by dom0, readable by the guest.
    TRY_VOID(put(be, ""));
    TRY_VOID(s.set_perms(c, kNoTransaction, be, {{kControlDomain, Access::None}, {guest, Access::Read}}));
    TRY_VOID(put(be + "/frontend", fe));
    TRY_VOID(put(be + "/frontend-id", fmt::format("{}", guest)));
    TRY_VOID(put(be + "/online", "1"));
    for (const auto& [node, value] : m_config.backend_nodes) TRY_VOID(put(be + "/" + node, value));
    TRY_VOID(put(be + "/state", initialising));
    // Front end: owned by the guest, which fills in its half.
    TRY_VOID(put(fe, ""));
    TRY_VOID(s.set_perms(c, kNoTransaction, fe, {{guest, Access::None}, {kControlDomain, Access::Read}}));
    Nodes fe_nodes = {{"backend", be}, {"backend-id", "0"}};
    fe_nodes.insert(fe_nodes.end(), m_config.frontend_nodes.begin(), m_config.frontend_nodes.end());
    fe_nodes.emplace_back("state", initialising);
    for (const auto& [node, value] : fe_nodes) {
        TRY_VOID(put(fe + "/" + node, value));
        TRY_VOID(s.set_perms(c, kNoTransaction, fe + "/" + node, {{guest, Access::None}, {kControlDomain, Access::Read}}));
    }
    set_state(s, c, XenbusStateInitWait);
    return {};
}

void XenbusDevice::set_state(Store& store, ConnId control, XenbusState state) {
    m_state = state;
    (void)store.write(control, kNoTransaction, backend_path() + "/state", fmt::format("{}", static_cast<int>(state)));
}

void XenbusDevice::fatal(Store& store, ConnId control, const std::string& message) {
    (void)store.write(control, kNoTransaction, backend_path() + "/error", message);
    disconnect();
    set_state(store, control, XenbusStateClosing);
}

void XenbusDevice::on_frontend_change(Store& store, ConnId control) {
    auto fe_state = read_number(store, control, frontend_path() + "/state");
    if (!fe_state) return;  // removed or garbage: nothing to follow
    switch (*fe_state) {
    case XenbusStateInitialising:
        if (m_state == XenbusStateClosed) set_state(store, control, XenbusStateInitWait);
        break;
    case XenbusStateInitialised:
    case XenbusStateConnected:
        if (m_state == XenbusStateConnected || m_state == XenbusStateClosing) break;
        if (auto r = connect(store, control); !r) {
            fatal(store, control, fmt::format("{} connecting the front end", StoreWire::error_name(r.error())));
            break;
        }
        set_state(store, control, XenbusStateConnected);
        break;
    case XenbusStateClosing:
        disconnect();
        set_state(store, control, XenbusStateClosing);
        break;
    case XenbusStateClosed:
        disconnect();
        set_state(store, control, XenbusStateClosed);
        break;
    default: break;
    }
}

PvResult<void> XenbusDevice::connect(Store& store, ConnId control) {
    const std::string fe = frontend_path(), be = backend_path();
    auto ring_ref = read_number(store, control, fe + "/ring-ref");
    auto port = read_number(store, control, fe + "/event-channel");
    if (!ring_ref || !port) return pv_error(EINVAL);
    if (auto order = read_number(store, control, fe + "/ring-page-order"); order && *order != 0)
        return pv_error(EINVAL);  // multi-page rings are not offered
    if (auto proto = store.read(control, kNoTransaction, fe + "/protocol"); proto && *proto != XEN_IO_PROTO_ABI_X86_64)
        return pv_error(EINVAL);
    auto mapping = m_domain.grant_table().map(kControlDomain, *ring_ref, false);
    if (!mapping) return pv_error(EACCES);
    auto backend_port = m_domain.event_channels().backend_bind(*port, [this] { service(); });
    if (!backend_port) {
        (void)m_domain.grant_table().unmap(mapping->handle);
        return pv_error(backend_port.error());
    }
    {
        std::lock_guard lock(m_io_lock);
        m_ring_handle = mapping->handle;
        m_backend_port = *backend_port;
        m_backend = m_config.start(mapping->page);
    }
    for (const auto& [node, value] : m_config.connected_nodes) TRY_VOID(store.write(control, kNoTransaction, be + "/" + node, value));
    return {};
}

void XenbusDevice::disconnect() {
    std::lock_guard lock(m_io_lock);
    m_backend.reset();
    if (m_ring_handle) (void)m_domain.grant_table().unmap(*m_ring_handle);
    m_ring_handle.reset();
    if (m_backend_port != 0) (void)m_domain.event_channels().backend_close(m_backend_port);
    m_backend_port = 0;
}

void XenbusDevice::service() {
    bool shut = false;
    {
        std::lock_guard lock(m_io_lock);
        if (!m_backend) return;
        RingBackend::Outcome out;
        do {
            out = m_backend->process();
            if (out.notify) (void)m_domain.event_channels().backend_send(m_backend_port);
        } while (out.more);
        shut = m_backend->shut();
    }
    // A ring the front end corrupted is dead: tell the guest the way a Xen back end does (an
    // "error" node and Closing), outside the I/O lock (the store's watch handlers take it).
    if (shut)
        m_domain.with_store([this](Store& store, ConnId control) {
            if (m_state == XenbusStateConnected) fatal(store, control, m_config.shut_message);
        });
}

bool XenbusDevice::connected() {
    std::lock_guard lock(m_io_lock);
    return m_backend != nullptr;
}

}  // namespace popek::pv
