#pragma once
/// A Xen virtual block device: its store nodes and features (io/blkif.h "Feature and Parameter
/// Negotiation"; the XenBus handshake itself is XenbusBackend's), and the data path (BlkifBackend)
/// once connected: the front end writes ring-ref, event-channel, protocol; the back end maps the
/// ring grant, binds the channel and publishes sectors/info.
///
/// The requests are carried out by popek itself (a BlkifHandler on the grant table, as dom0) or by
/// a driver domain (an executor proxying to `popek backend`, as domain `backend`; see
/// XenbusBackend for what that changes in the store). A driver domain that fails closes the device.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "pv/backends/blkif_backend.h"
#include "pv/backends/block_file.h"
#include "pv/backends/xenbus_backend.h"
#include "pv/pv_domain.h"

namespace popek::pv {

class VbdDevice final : public XenbusBackend {
public:
    /// 202 << 8: the first Xen virtual disk, xvda (docs/misc/vbd-interface).
    static constexpr uint32_t kXvda = 202 << 8;

    /// In-process when `executor` is null; otherwise `executor` runs the requests as `backend`.
    VbdDevice(PvDomain& domain, BlockFile disk, uint32_t devid = kXvda,
              std::unique_ptr<BlkifExecutor> executor = nullptr, DomId backend = kControlDomain);
    ~VbdDevice() override;

    bool connected();
    /// Counters of the in-process handler (zero for a driver domain, which keeps its own).
    BlkifHandler::Stats stats();

    /// Serves the ring (runs on the event channel's notification).
    void service();

private:
    PvResult<void> write_backend_nodes(Store& store, ConnId control) override;
    PvResult<void> write_frontend_nodes(Store& store, ConnId control) override;
    PvResult<void> connect(Store& store, ConnId control) override;
    void disconnect() override;

    BlockFile m_disk;

    std::mutex m_io_lock;  ///< guards the data path against disconnect
    std::unique_ptr<LocalGrantAccess> m_local_grants;  ///< in-process only
    BlkifHandler* m_local = nullptr;                   ///< in-process only (owned by m_executor)
    std::unique_ptr<BlkifExecutor> m_executor;
    std::unique_ptr<BlkifBackend> m_backend;
    std::optional<grant_handle_t> m_ring_handle;
    evtchn_port_t m_backend_port = 0;
};

}  // namespace popek::pv
