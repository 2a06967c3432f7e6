#pragma once
/// A Xen virtual block device: the toolstack's store nodes for both ends (docs/misc/xenstore-paths;
/// io/blkif.h "Feature and Parameter Negotiation") and the data path (BlkifBackend) once connected.
/// The XenBus handshake itself is XenbusDevice's.
#include <cstdint>
#include <string>

#include "pv/backends/blkif_backend.h"
#include "pv/backends/block_file.h"
#include "pv/backends/xenbus_device.h"

namespace popek::pv {

class VbdDevice {
public:
    /// 202 << 8: the first Xen virtual disk, xvda (docs/misc/vbd-interface).
    static constexpr uint32_t kXvda = 202 << 8;

    VbdDevice(PvDomain& domain, BlockFile disk, uint32_t devid = kXvda);

    /// Creates both ends' nodes, publishes the features, enters InitWait, watches the front end.
    PvResult<void> attach() { return m_bus.attach(); }

    std::string frontend_path() const { return m_bus.frontend_path(); }
    std::string backend_path() const { return m_bus.backend_path(); }
    XenbusState backend_state() const { return m_bus.backend_state(); }
    bool connected() { return m_bus.connected(); }
    BlkifBackend::Stats stats();

    /// Serves the ring (runs on the event channel's notification).
    void service() { m_bus.service(); }

private:
    XenbusDevice::Config config(PvDomain& domain, uint32_t devid);

    BlockFile m_disk;     // before m_bus: the data path refers to it
    XenbusDevice m_bus;
};

}  // namespace popek::pv
