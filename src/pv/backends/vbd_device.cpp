#include "pv/backends/vbd_device.h"

#include <fmt/format.h>

namespace popek::pv {

VbdDevice::VbdDevice(PvDomain& domain, BlockFile disk, uint32_t devid)
    : m_disk(std::move(disk)), m_bus(domain, config(domain, devid)) {}

XenbusDevice::Config VbdDevice::config(PvDomain& domain, uint32_t devid) {
    XenbusDevice::Config c;
    c.type = "vbd";
    c.devid = devid;
    const std::string sector = fmt::format("{}", BlockFile::kSectorSize);
    c.backend_nodes = {
        {"removable", "0"},
        {"type", "file"},
        {"params", m_disk.path()},
        {"mode", m_disk.readonly() ? "r" : "w"},
        {"feature-flush-cache", "1"},
        {"feature-barrier", "1"},
    };
    if (!m_disk.readonly()) {
        c.backend_nodes.emplace_back("feature-discard", "1");
        c.backend_nodes.emplace_back("discard-granularity", sector);
        c.backend_nodes.emplace_back("discard-alignment", "0");
    }
    c.frontend_nodes = {{"virtual-device", fmt::format("{}", devid)}, {"device-type", "disk"}};
    c.connected_nodes = {
        {"sectors", fmt::format("{}", m_disk.sectors())},
        {"sector-size", sector},
        {"physical-sector-size", sector},
        {"info", fmt::format("{}", m_disk.readonly() ? VDISK_READONLY : 0)},
    };
    c.shut_message = "blkif ring indices out of range: ring shut";
    c.start = [this, &grants = domain.grant_table()](std::span<uint8_t> ring) -> std::unique_ptr<RingBackend> {
        return std::make_unique<BlkifBackend>(grants, kControlDomain, m_disk, ring);
    };
    return c;
}

BlkifBackend::Stats VbdDevice::stats() {
    return m_bus.with_backend([](RingBackend* be) {
        return be ? static_cast<BlkifBackend*>(be)->stats() : BlkifBackend::Stats{};
    });
}

}  // namespace popek::pv
