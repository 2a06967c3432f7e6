#pragma once
/// The popekfs XenBus device (`--share DIR[,ro]`): device/popekfs/0 for the guest,
/// /local/domain/0/backend/popekfs/<domid>/0 for popek (include/popek/pvabi/fsif.h), with the
/// handshake of XenbusDevice and a ShareBackend on the ring once connected. The back end publishes
/// `mode` (r or w; DIR itself is not revealed), `max-handles` and `max-data-pages`.
#include <string>

#include "pv/backends/share_backend.h"
#include "pv/backends/share_dir.h"
#include "pv/backends/xenbus_device.h"

namespace popek::pv {

class ShareDevice {
public:
    ShareDevice(PvDomain& domain, ShareDir dir);

    PvResult<void> attach() { return m_bus.attach(); }
    std::string frontend_path() const { return m_bus.frontend_path(); }
    std::string backend_path() const { return m_bus.backend_path(); }
    bool connected() { return m_bus.connected(); }
    ShareBackend::Stats stats();
    size_t open_handles();

private:
    XenbusDevice::Config config(PvDomain& domain);

    ShareDir m_dir;  // before m_bus: the data path refers to it
    XenbusDevice m_bus;
};

}  // namespace popek::pv
