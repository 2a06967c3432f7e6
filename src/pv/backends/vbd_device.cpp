#include "pv/backends/vbd_device.h"

#include <fmt/format.h>

namespace popek::pv {

VbdDevice::VbdDevice(PvDomain& domain, BlockFile disk, uint32_t devid, std::unique_ptr<BlkifExecutor> executor,
                     DomId backend)
    : XenbusBackend(domain, "vbd", devid, backend), m_disk(std::move(disk)), m_executor(std::move(executor)) {
    if (!m_executor) {
        m_local_grants = std::make_unique<LocalGrantAccess>(m_domain.grant_table(), backend_domid());
        auto local = std::make_unique<BlkifHandler>(*m_local_grants, m_disk);
        m_local = local.get();
        m_executor = std::move(local);
    }
}

VbdDevice::~VbdDevice() { detach(); }

PvResult<void> VbdDevice::write_backend_nodes(Store& s, ConnId c) {
    const std::string be = backend_path();
    auto put = [&](const std::string& node, const std::string& value) {
        return s.write(c, kNoTransaction, be + "/" + node, value);
    };
    TRY_VOID(put("removable", "0"));
    TRY_VOID(put("type", "file"));
    TRY_VOID(put("params", m_disk.path()));
    TRY_VOID(put("mode", m_disk.readonly() ? "r" : "w"));
    TRY_VOID(put("feature-flush-cache", "1"));
    TRY_VOID(put("feature-barrier", "1"));
    if (!m_disk.readonly()) {
        TRY_VOID(put("feature-discard", "1"));
        TRY_VOID(put("discard-granularity", fmt::format("{}", BlockFile::kSectorSize)));
        TRY_VOID(put("discard-alignment", "0"));
    }
    return {};
}

PvResult<void> VbdDevice::write_frontend_nodes(Store& s, ConnId c) {
    TRY_VOID(put_frontend(s, c, "virtual-device", fmt::format("{}", devid())));
    return put_frontend(s, c, "device-type", "disk");
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
    // Outside the I/O lock, as below.
    if (failed) return backend_failed("driver domain back end failed: " + m_executor->failure().value_or("unknown"));
    // A ring the front end corrupted is dead: tell the guest the way a Xen back end does (an
    // "error" node and Closing), outside the I/O lock (the store's watch handlers take it).
    if (shut) ring_shut("blkif ring indices out of range: ring shut");
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
