#include "pv/backends/xenbus_backend.h"

#include <charconv>

#include <fmt/format.h>

#include "pv/store/store_path.h"
#include "pv/store_wire.h"

namespace popek::pv {

XenbusBackend::XenbusBackend(PvDomain& domain, std::string type, uint32_t devid, DomId backend)
    : m_domain(domain), m_type(std::move(type)), m_devid(devid), m_backend(backend) {
    m_domain.event_channels().add_backend_domain(backend);
}

std::optional<uint32_t> XenbusBackend::read_number(Store& store, ConnId control, const std::string& path) {
    auto v = store.read(control, kNoTransaction, path);
    if (!v) return std::nullopt;
    uint32_t n = 0;
    auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (v->empty() || ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
    return n;
}

std::string XenbusBackend::frontend_path() const {
    return fmt::format("{}/device/{}/{}", domain_path(m_domain.domid()), m_type, m_devid);
}

std::string XenbusBackend::backend_path() const {
    return fmt::format("{}/backend/{}/{}/{}", domain_path(m_backend), m_type, m_domain.domid(), m_devid);
}

std::string XenbusBackend::watch_token() const { return fmt::format("{}-{}", m_type, m_devid); }

PvResult<void> XenbusBackend::attach() {
    auto nodes = m_domain.with_store([&](Store& s, ConnId c) { return create_nodes(s, c); });
    if (!nodes) return nodes;
    m_attached = true;
    return m_domain.add_control_watch(frontend_path() + "/state", watch_token(),
                                      [this](Store& s, ConnId c, const WatchEvent&) { on_frontend_change(s, c); });
}

void XenbusBackend::detach() {
    if (m_attached) (void)m_domain.remove_control_watch(frontend_path() + "/state", watch_token());
    m_attached = false;
    disconnect();
}

PvResult<void> XenbusBackend::put_frontend(Store& s, ConnId c, const std::string& node, const std::string& value) {
    const std::string path = frontend_path() + "/" + node;
    TRY_VOID(s.write(c, kNoTransaction, path, value));
    return s.set_perms(c, kNoTransaction, path, {{m_domain.domid(), Access::None}, {m_backend, Access::Read}});
}

PvResult<void> XenbusBackend::create_nodes(Store& s, ConnId c) {
    const DomId guest = m_domain.domid();
    const std::string fe = frontend_path(), be = backend_path();
    auto put = [&](const std::string& path, const std::string& value) { return s.write(c, kNoTransaction, path, value); };
    // Back end: owned by the back end's domain, readable by the guest.
    TRY_VOID(put(be, ""));
    TRY_VOID(s.set_perms(c, kNoTransaction, be, {{m_backend, Access::None}, {guest, Access::Read}}));
    TRY_VOID(put(be + "/frontend", fe));
    TRY_VOID(put(be + "/frontend-id", fmt::format("{}", guest)));
    TRY_VOID(put(be + "/online", "1"));
    TRY_VOID(write_backend_nodes(s, c));
    TRY_VOID(put(be + "/state", fmt::format("{}", static_cast<int>(XenbusStateInitialising))));
    // Front end: owned by the guest, which fills in its half.
    TRY_VOID(put(fe, ""));
    TRY_VOID(s.set_perms(c, kNoTransaction, fe, {{guest, Access::None}, {m_backend, Access::Read}}));
    TRY_VOID(put_frontend(s, c, "backend", be));
    TRY_VOID(put_frontend(s, c, "backend-id", fmt::format("{}", m_backend)));
    TRY_VOID(write_frontend_nodes(s, c));
    TRY_VOID(put_frontend(s, c, "state", fmt::format("{}", static_cast<int>(XenbusStateInitialising))));
    set_state(s, c, XenbusStateInitWait);
    return {};
}

void XenbusBackend::set_state(Store& store, ConnId control, XenbusState state) {
    m_state = state;
    (void)store.write(control, kNoTransaction, backend_path() + "/state", fmt::format("{}", static_cast<int>(state)));
}

void XenbusBackend::fatal(Store& store, ConnId control, const std::string& message) {
    (void)store.write(control, kNoTransaction, backend_path() + "/error", message);
    disconnect();
    set_state(store, control, XenbusStateClosing);
}

void XenbusBackend::ring_shut(const std::string& message) {
    m_domain.with_store([&](Store& store, ConnId control) {
        if (m_state == XenbusStateConnected) fatal(store, control, message);
    });
}

void XenbusBackend::backend_failed(const std::string& message) {
    m_domain.with_store([&](Store& store, ConnId control) {
        if (m_failed) return;
        m_failed = true;
        (void)store.write(control, kNoTransaction, backend_path() + "/error", message);
        disconnect();
        set_state(store, control, XenbusStateClosed);
    });
}

void XenbusBackend::on_frontend_change(Store& store, ConnId control) {
    if (m_failed) return;  // nothing left to connect the front end to
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

}  // namespace popek::pv
