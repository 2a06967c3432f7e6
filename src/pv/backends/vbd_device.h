#pragma once
/// A Xen virtual block device: its store nodes and features (io/blkif.h "Feature and Parameter
/// Negotiation"; the XenBus handshake is XenbusBackend's, the ring connection RingDevice's), and
/// the data path (BlkifBackend) once connected, after which it publishes sectors/info.
///
/// The requests are carried out by popek itself (a BlkifHandler on the grant table, as dom0) or by
/// a driver domain (an executor proxying to `popek backend`, as domain `backend`; see
/// XenbusBackend for what that changes in the store). A driver domain that fails closes the device.
#include <cstdint>
#include <memory>
#include <string>

#include "pv/backends/blkif_backend.h"
#include "host/block_file.h"
#include "pv/backends/ring_device.h"
#include "pv/grant_access.h"

namespace popek::pv {

class VbdDevice final : public RingDevice {
public:
    /// 202 << 8: the first Xen virtual disk, xvda (docs/misc/vbd-interface).
    static constexpr uint32_t kXvda = 202 << 8;

    /// In-process when `executor` is null; otherwise `executor` runs the requests as `backend`.
    VbdDevice(PvDomain& domain, host::BlockFile disk, uint32_t devid = kXvda,
              std::unique_ptr<BlkifExecutor> executor = nullptr, DomId backend = kControlDomain);
    ~VbdDevice() override;

    /// Counters of the in-process handler (zero for a driver domain, which keeps its own).
    BlkifHandler::Stats stats();

private:
    PvResult<void> write_backend_nodes(Store& store, ConnId control) override;
    PvResult<void> write_frontend_nodes(Store& store, ConnId control) override;
    PvResult<void> can_connect() override;
    std::unique_ptr<RingBackend> start(std::span<uint8_t> ring) override;
    PvResult<void> write_connected_nodes(Store& store, ConnId control) override;

    host::BlockFile m_disk;
    std::unique_ptr<LocalGrantAccess> m_local_grants;  ///< in-process only
    BlkifHandler* m_local = nullptr;                   ///< in-process only (owned by m_executor)
    std::unique_ptr<BlkifExecutor> m_executor;
};

}  // namespace popek::pv
