#include "pv/backends/vbd_device.h"

#include <charconv>

#include <fmt/format.h>

#include "pv/store/store_path.h"

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

VbdDevice::VbdDevice(PvDomain& domain, BlockFile disk, uint32_t devid, std::unique_ptr<BlkifExecutor> executor,
                     DomId backend_domid)
    : m_domain(domain), m_disk(std::move(disk)), m_devid(devid), m_backend_domid(backend_domid),
      m_executor(std::move(executor)) {
    m_domain.event_channels().add_backend_domain(m_backend_domid);
    if (!m_executor) {
        m_local_grants = std::make_unique<LocalGrantAccess>(m_domain.grant_table(), m_backend_domid);
        auto local = std::make_unique<BlkifHandler>(*m_local_grants, m_disk);
        m_local = local.get();
        m_executor = std::move(local);
    }
}

VbdDevice::~VbdDevice() {
    (void)m_domain.remove_control_watch(frontend_path() + "/state", fmt::format("vbd-{}", m_devid));
    disconnect();
}

std::string VbdDevice::frontend_path() const {
    return fmt::format("{}/device/vbd/{}", domain_path(m_domain.domid()), m_devid);
}

std::string VbdDevice::backend_path() const {
    return fmt::format("{}/backend/vbd/{}/{}", domain_path(m_backend_domid), m_domain.domid(), m_devid);
}

PvResult<void> VbdDevice::attach() {
    auto nodes = m_domain.with_store([&](Store& s, ConnId c) { return create_nodes(s, c); });
    if (!nodes) return nodes;
    return m_domain.add_control_watch(frontend_path() + "/state", fmt::format("vbd-{}", m_devid),
                                      [this](Store& s, ConnId c, const WatchEvent&) { on_frontend_change(s, c); });
}

PvResult<void> VbdDevice::create_nodes(Store& s, ConnId c) {
    const DomId guest = m_domain.domid();
    const std::string fe = frontend_path(), be = backend_path();
    {
        auto put = [&](const std::string& path, const std::string& value) {
            return s.write(c, kNoTransaction, path, value);
        };
        // Back end: owned by the back end's domain, readable by the guest.
        TRY_VOID(put(be, ""));
        TRY_VOID(s.set_perms(c, kNoTransaction, be, {{m_backend_domid, Access::None}, {guest, Access::Read}}));
        TRY_VOID(put(be + "/frontend", fe));
        TRY_VOID(put(be + "/frontend-id", fmt::format("{}", guest)));
        TRY_VOID(put(be + "/online", "1"));
        TRY_VOID(put(be + "/removable", "0"));
        TRY_VOID(put(be + "/type", "file"));
        TRY_VOID(put(be + "/params", m_disk.path()));
        TRY_VOID(put(be + "/mode", m_disk.readonly() ? "r" : "w"));
        TRY_VOID(put(be + "/feature-flush-cache", "1"));
        TRY_VOID(put(be + "/feature-barrier", "1"));
        if (!m_disk.readonly()) {
            TRY_VOID(put(be + "/feature-discard", "1"));
            TRY_VOID(put(be + "/discard-granularity", fmt::format("{}", BlockFile::kSectorSize)));
            TRY_VOID(put(be + "/discard-alignment", "0"));
        }
        TRY_VOID(put(be + "/state", fmt::format("{}", static_cast<int>(XenbusStateInitialising))));
        // Front end: owned by the guest, which fills in its half.
        TRY_VOID(put(fe, ""));
        TRY_VOID(s.set_perms(c, kNoTransaction, fe, {{guest, Access::None}, {m_backend_domid, Access::Read}}));
        TRY_VOID(put(fe + "/backend", be));
        TRY_VOID(put(fe + "/backend-id", fmt::format("{}", m_backend_domid)));
        TRY_VOID(put(fe + "/virtual-device", fmt::format("{}", m_devid)));
        TRY_VOID(put(fe + "/device-type", "disk"));
        TRY_VOID(put(fe + "/state", fmt::format("{}", static_cast<int>(XenbusStateInitialising))));
        for (const char* node : {"/backend", "/backend-id", "/virtual-device", "/device-type", "/state"})
            TRY_VOID(s.set_perms(c, kNoTransaction, fe + node, {{guest, Access::None}, {m_backend_domid, Access::Read}}));
        set_state(s, c, XenbusStateInitWait);
        return {};
    }
}

void VbdDevice::set_state(Store& store, ConnId control, XenbusState state) {
    m_state = state;
    (void)store.write(control, kNoTransaction, backend_path() + "/state", fmt::format("{}", static_cast<int>(state)));
}

void VbdDevice::fatal(Store& store, ConnId control, const std::string& message) {
    (void)store.write(control, kNoTransaction, backend_path() + "/error", message);
    disconnect();
    set_state(store, control, XenbusStateClosing);
}

void VbdDevice::on_frontend_change(Store& store, ConnId control) {
    auto fe_state = read_number(store, control, frontend_path() + "/state");
    if (!fe_state) return;  // removed or garbage: nothing to follow
    switch (*fe_state) {
    case XenbusStateInitialising:
        if (m_state == XenbusStateClosed && !m_executor->failure()) set_state(store, control, XenbusStateInitWait);
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

PvResult<void> VbdDevice::connect(Store& store, ConnId control) {
    const std::string fe = frontend_path(), be = backend_path();
    auto ring_ref = read_number(store, control, fe + "/ring-ref");
    auto port = read_number(store, control, fe + "/event-channel");
    if (!ring_ref || !port) return pv_error(EINVAL);
    if (auto order = read_number(store, control, fe + "/ring-page-order"); order && *order != 0)
        return pv_error(EINVAL);  // multi-page rings are not offered
    if (auto proto = store.read(control, kNoTransaction, fe + "/protocol"); proto && *proto != XEN_IO_PROTO_ABI_X86_64)
        return pv_error(EINVAL);
    if (m_executor->failure()) return pv_error(EIO);
    auto mapping = m_domain.grant_table().map(m_backend_domid, *ring_ref, false);
    if (!mapping) return pv_error(EACCES);
    auto backend_port = m_domain.event_channels().backend_bind(*port, [this] { service(); }, m_backend_domid);
    if (!backend_port) {
        (void)m_domain.grant_table().unmap(mapping->handle);
        return pv_error(backend_port.error());
    }
    {
        std::lock_guard lock(m_io_lock);
        m_ring_handle = mapping->handle;
        m_backend_port = *backend_port;
        m_backend = std::make_unique<BlkifBackend>(*m_executor, mapping->page);
    }
    TRY_VOID(store.write(control, kNoTransaction, be + "/sectors", fmt::format("{}", m_disk.sectors())));
    TRY_VOID(store.write(control, kNoTransaction, be + "/sector-size", fmt::format("{}", BlockFile::kSectorSize)));
    TRY_VOID(store.write(control, kNoTransaction, be + "/physical-sector-size", fmt::format("{}", BlockFile::kSectorSize)));
    TRY_VOID(store.write(control, kNoTransaction, be + "/info", fmt::format("{}", m_disk.readonly() ? VDISK_READONLY : 0)));
    return {};
}

void VbdDevice::disconnect() {
    std::lock_guard lock(m_io_lock);
    m_backend.reset();
    if (m_ring_handle) (void)m_domain.grant_table().unmap(*m_ring_handle);
    m_ring_handle.reset();
    if (m_backend_port != 0) (void)m_domain.event_channels().backend_close(m_backend_port);
    m_backend_port = 0;
}

void VbdDevice::service() {
    bool shut = false, failed = false;
    {
        std::lock_guard lock(m_io_lock);
        if (!m_backend) return;
        BlkifBackend::Outcome out;
        do {
            out = m_backend->process();
            if (out.notify) (void)m_domain.event_channels().backend_send(m_backend_port);
        } while (out.more);
        shut = m_backend->shut();
        failed = m_backend->failed();
    }
    // A driver domain that died cannot serve the device again: error node, Closed.
    if (failed) {
        m_domain.with_store([this](Store& store, ConnId control) {
            if (m_state != XenbusStateConnected) return;
            fatal(store, control, "driver domain back end failed: " + m_executor->failure().value_or("unknown"));
            set_state(store, control, XenbusStateClosed);
        });
        return;
    }
    // A ring the front end corrupted is dead: tell the guest the way a Xen back end does (an
    // "error" node and Closing), outside the I/O lock (the store's watch handlers take it).
    if (shut)
        m_domain.with_store([this](Store& store, ConnId control) {
            if (m_state == XenbusStateConnected) fatal(store, control, "blkif ring indices out of range: ring shut");
        });
}

bool VbdDevice::connected() {
    std::lock_guard lock(m_io_lock);
    return m_backend != nullptr;
}

BlkifHandler::Stats VbdDevice::stats() {
    std::lock_guard lock(m_io_lock);
    return m_local ? m_local->stats() : BlkifHandler::Stats{};
}

}  // namespace popek::pv
