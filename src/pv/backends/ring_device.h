#pragma once
/// A XenBus device with one single-page request ring and one event channel (vbd, popekfs): the
/// front end publishes ring-ref, event-channel and protocol (io/blkif.h "Front end XenBus nodes";
/// multi-page rings are not offered), the back end maps the ring grant, binds the channel, starts
/// the device's data path (a RingBackend) on the ring and publishes its connected nodes. The
/// handshake itself is XenbusBackend's. A ring the front end corrupts is shut and reported
/// ("error" node, Closing). Derived classes call detach() in their destructor (XenbusBackend).
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "pv/backends/ring_backend.h"
#include "pv/backends/xenbus_backend.h"

namespace popek::pv {

class RingDevice : public XenbusBackend {
public:
    /// `protocol_name` names the ring in the error node ("blkif", "popekfs"); `backend` is the
    /// domain the front end grants its ring to (popek itself, or a driver domain).
    RingDevice(PvDomain& domain, std::string type, uint32_t devid, std::string protocol_name,
               DomId backend = kControlDomain);

    bool connected();
    /// Serves the ring (runs on the event channel's notification).
    void service();

protected:
    /// The data path on the mapped ring page; called with the I/O lock held.
    virtual std::unique_ptr<RingBackend> start(std::span<uint8_t> ring) = 0;
    /// Refuses a connection before the ring is mapped (e.g. the driver domain is gone).
    virtual PvResult<void> can_connect() { return {}; }
    /// Nodes under backend_path() written once connected (e.g. the disk's size).
    virtual PvResult<void> write_connected_nodes(Store&, ConnId) { return {}; }

    /// Runs `f(RingBackend*)` (null when disconnected) with the data path locked.
    template <class F>
    auto with_backend(F&& f) {
        std::lock_guard lock(m_io_lock);
        return f(m_backend.get());
    }

private:
    PvResult<void> connect(Store& store, ConnId control) final;
    void disconnect() final;
    void save_connection(snapshot::Writer& w) final;
    void load_connection(snapshot::Reader& r) final;

    const std::string m_protocol_name;
    std::mutex m_io_lock;  ///< guards the data path against disconnect
    std::unique_ptr<RingBackend> m_backend;
    std::optional<grant_handle_t> m_ring_handle;
    evtchn_port_t m_backend_port = 0;
};

}  // namespace popek::pv
