#include "pv/backends/share_device.h"

#include <fmt/format.h>

namespace popek::pv {

ShareDevice::ShareDevice(PvDomain& domain, ShareDir dir, ShareJournal* journal)
    : RingDevice(domain, POPEKFS_DEVICE_TYPE, POPEKFS_DEVICE_ID, "popekfs"), m_dir(std::move(dir)), m_journal(journal) {}

ShareDevice::~ShareDevice() { detach(); }

PvResult<void> ShareDevice::write_backend_nodes(Store& s, ConnId c) {
    const std::string be = backend_path();
    TRY_VOID(s.write(c, kNoTransaction, be + "/mode", m_dir.read_only() ? "r" : "w"));
    TRY_VOID(s.write(c, kNoTransaction, be + "/max-handles", fmt::format("{}", POPEKFS_MAX_HANDLES)));
    return s.write(c, kNoTransaction, be + "/max-data-pages", fmt::format("{}", POPEKFS_MAX_DATA_PAGES));
}

PvResult<void> ShareDevice::write_frontend_nodes(Store&, ConnId) { return {}; }

std::unique_ptr<RingBackend> ShareDevice::start(std::span<uint8_t> ring) {
    return std::make_unique<ShareBackend>(m_domain.grant_table(), kControlDomain, m_dir, ring, POPEKFS_MAX_HANDLES, m_journal);
}

ShareBackend::Stats ShareDevice::stats() {
    return with_backend([](RingBackend* be) {
        return be ? static_cast<ShareBackend*>(be)->stats() : ShareBackend::Stats{};
    });
}

size_t ShareDevice::open_handles() {
    return with_backend([](RingBackend* be) { return be ? static_cast<ShareBackend*>(be)->open_handles() : 0; });
}

std::optional<std::string> ShareDevice::unsaveable() {
    return with_backend([](RingBackend* be) -> std::optional<std::string> {
        return be ? static_cast<ShareBackend*>(be)->unsaveable() : std::nullopt;
    });
}

}  // namespace popek::pv
