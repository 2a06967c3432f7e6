#pragma once
/// The popekfs XenBus device (`--share DIR[,ro]`): device/popekfs/0 for the guest,
/// /local/domain/0/backend/popekfs/<domid>/0 for popek (include/popek/pvabi/fsif.h). The handshake
/// is XenbusBackend's and the ring connection RingDevice's; once connected a ShareBackend serves the
/// ring. The back end publishes `mode` (r or w; DIR itself is not revealed), `max-handles` and
/// `max-data-pages`.
#include <string>

#include "pv/backends/ring_device.h"
#include "pv/backends/share_backend.h"
#include "pv/backends/share_dir.h"

namespace popek::pv {

class ShareDevice final : public RingDevice {
public:
    /// `journal`: `--record` / `--replay` of the directory's answers (ShareJournal), or null.
    ShareDevice(PvDomain& domain, ShareDir dir, ShareJournal* journal = nullptr);
    ~ShareDevice() override;

    ShareBackend::Stats stats();
    size_t open_handles();
    /// Why the device cannot be snapshotted now (ShareBackend::unsaveable), or nullopt.
    std::optional<std::string> unsaveable();

private:
    PvResult<void> write_backend_nodes(Store& store, ConnId control) override;
    PvResult<void> write_frontend_nodes(Store& store, ConnId control) override;
    std::unique_ptr<RingBackend> start(std::span<uint8_t> ring) override;

    ShareDir m_dir;
    ShareJournal* m_journal;
};

}  // namespace popek::pv
