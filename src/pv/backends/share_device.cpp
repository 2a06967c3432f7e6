#include "pv/backends/share_device.h"

#include <fmt/format.h>

namespace popek::pv {

ShareDevice::ShareDevice(PvDomain& domain, ShareDir dir) : m_dir(std::move(dir)), m_bus(domain, config(domain)) {}

XenbusDevice::Config ShareDevice::config(PvDomain& domain) {
    XenbusDevice::Config c;
    c.type = POPEKFS_DEVICE_TYPE;
    c.devid = POPEKFS_DEVICE_ID;
    c.backend_nodes = {
        {"mode", m_dir.read_only() ? "r" : "w"},
        {"max-handles", fmt::format("{}", POPEKFS_MAX_HANDLES)},
        {"max-data-pages", fmt::format("{}", POPEKFS_MAX_DATA_PAGES)},
    };
    c.start = [this, &grants = domain.grant_table()](std::span<uint8_t> ring) -> std::unique_ptr<RingBackend> {
        return std::make_unique<ShareBackend>(grants, kControlDomain, m_dir, ring);
    };
    c.shut_message = "popekfs ring indices out of range: ring shut";
    return c;
}

ShareBackend::Stats ShareDevice::stats() {
    return m_bus.with_backend([](RingBackend* be) {
        return be ? static_cast<ShareBackend*>(be)->stats() : ShareBackend::Stats{};
    });
}

size_t ShareDevice::open_handles() {
    return m_bus.with_backend([](RingBackend* be) { return be ? static_cast<ShareBackend*>(be)->open_handles() : 0; });
}

}  // namespace popek::pv
