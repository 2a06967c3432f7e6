#pragma once
/// A Xen virtual block device: the toolstack's store nodes for both ends, the back end's half of
/// the XenBus handshake (io/xenbus.h states; Xen's docs/misc/xenstore-paths and io/blkif.h
/// "Feature and Parameter Negotiation"), and the data path (BlkifBackend) once connected.
///
///   back end:  Initialising → InitWait (features published)
///   front end: writes ring-ref, event-channel, protocol → Initialised / Connected
///   back end:  maps the ring grant, binds the channel, publishes sectors/info → Connected
///   front end: Closing/Closed → back end unmaps and follows; Initialising again → InitWait
/// Whatever the front end writes is checked; a bad value leaves an "error" node and the back end
/// in Closing, never a crash.
///
/// The requests are carried out by popek itself (a BlkifHandler on the grant table, as dom0) or by
/// a driver domain (an executor proxying to `popek backend`, as domain `backend_domid`): then the
/// back-end nodes live under that domain (/local/domain/<id>/backend/vbd/...), the front end's
/// backend-id names it, and the guest must grant its ring and data pages to it. A driver domain
/// that dies leaves an "error" node and the device Closed; the guest keeps running.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "pv/backends/blkif_backend.h"
#include "pv/backends/block_file.h"
#include "pv/pv_domain.h"

namespace popek::pv {

class VbdDevice {
public:
    /// 202 << 8: the first Xen virtual disk, xvda (docs/misc/vbd-interface).
    static constexpr uint32_t kXvda = 202 << 8;

    /// In-process when `executor` is null; otherwise `executor` runs the requests as `backend_domid`.
    VbdDevice(PvDomain& domain, BlockFile disk, uint32_t devid = kXvda,
              std::unique_ptr<BlkifExecutor> executor = nullptr, DomId backend_domid = kControlDomain);
    ~VbdDevice();
    VbdDevice(const VbdDevice&) = delete;
    VbdDevice& operator=(const VbdDevice&) = delete;

    /// Creates both ends' nodes, publishes the features, enters InitWait, watches the front end.
    PvResult<void> attach();

    std::string frontend_path() const;
    std::string backend_path() const;
    XenbusState backend_state() const { return m_state; }
    bool connected();
    /// Counters of the in-process handler (zero for a driver domain, which keeps its own).
    BlkifHandler::Stats stats();

    /// Serves the ring (runs on the event channel's notification).
    void service();

private:
    PvResult<void> create_nodes(Store& store, ConnId control);
    void on_frontend_change(Store& store, ConnId control);
    PvResult<void> connect(Store& store, ConnId control);
    void disconnect();
    void set_state(Store& store, ConnId control, XenbusState state);
    void fatal(Store& store, ConnId control, const std::string& message);

    PvDomain& m_domain;
    BlockFile m_disk;
    const uint32_t m_devid;
    const DomId m_backend_domid;
    XenbusState m_state = XenbusStateInitialising;

    std::mutex m_io_lock;  ///< guards the data path against disconnect
    std::unique_ptr<LocalGrantAccess> m_local_grants;  ///< in-process only
    BlkifHandler* m_local = nullptr;                   ///< in-process only (owned by m_executor)
    std::unique_ptr<BlkifExecutor> m_executor;
    std::unique_ptr<BlkifBackend> m_backend;
    std::optional<grant_handle_t> m_ring_handle;
    evtchn_port_t m_backend_port = 0;
};

}  // namespace popek::pv
