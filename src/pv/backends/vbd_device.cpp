#include "pv/backends/vbd_device.h"

#include <fmt/format.h>

namespace popek::pv {

VbdDevice::VbdDevice(PvDomain& domain, host::BlockFile disk, uint32_t devid, std::unique_ptr<BlkifExecutor> executor,
                     DomId backend)
    : RingDevice(domain, "vbd", devid, "blkif", backend), m_disk(std::move(disk)), m_executor(std::move(executor)) {
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
        TRY_VOID(put("discard-granularity", fmt::format("{}", host::BlockFile::kSectorSize)));
        TRY_VOID(put("discard-alignment", "0"));
    }
    return {};
}

PvResult<void> VbdDevice::write_frontend_nodes(Store& s, ConnId c) {
    TRY_VOID(put_frontend(s, c, "virtual-device", fmt::format("{}", devid())));
    return put_frontend(s, c, "device-type", "disk");
}

PvResult<void> VbdDevice::can_connect() {
    if (m_executor->failure()) return pv_error(EIO);
    return {};
}

std::unique_ptr<RingBackend> VbdDevice::start(std::span<uint8_t> ring) {
    return std::make_unique<BlkifBackend>(*m_executor, ring, &m_domain.ram_writes());
}

PvResult<void> VbdDevice::write_connected_nodes(Store& store, ConnId control) {
    const std::string be = backend_path();
    const std::string sector = fmt::format("{}", host::BlockFile::kSectorSize);
    TRY_VOID(store.write(control, kNoTransaction, be + "/sectors", fmt::format("{}", m_disk.sectors())));
    TRY_VOID(store.write(control, kNoTransaction, be + "/sector-size", sector));
    TRY_VOID(store.write(control, kNoTransaction, be + "/physical-sector-size", sector));
    return store.write(control, kNoTransaction, be + "/info", fmt::format("{}", m_disk.readonly() ? VDISK_READONLY : 0));
}

BlkifHandler::Stats VbdDevice::stats() {
    return with_backend([this](RingBackend*) { return m_local ? m_local->stats() : BlkifHandler::Stats{}; });
}

}  // namespace popek::pv
