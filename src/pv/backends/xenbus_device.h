#pragma once
/// The back end's half of a XenBus device with one single-page request ring and one event channel
/// (io/xenbus.h states, docs/misc/xenstore-paths; the handshake of io/blkif.h "Feature and
/// Parameter Negotiation", shared by vbd and popekfs):
///
///   back end:  Initialising → InitWait (its nodes published)
///   front end: writes ring-ref, event-channel, protocol → Initialised / Connected
///   back end:  maps the ring grant, binds the channel, starts the data path → Connected
///   front end: Closing/Closed → back end unmaps and follows; Initialising again → InitWait
///
/// Whatever the front end writes is checked; a bad value leaves an "error" node and the back end in
/// Closing, never a crash. The device type supplies its nodes and its data path (a RingBackend made
/// from the mapped ring page); everything else lives here.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pv/backends/ring_backend.h"
#include "pv/pv_domain.h"

namespace popek::pv {

class XenbusDevice {
public:
    using Nodes = std::vector<std::pair<std::string, std::string>>;
    struct Config {
        std::string type;         ///< "vbd", "popekfs", ...
        uint32_t devid = 0;
        Nodes backend_nodes;      ///< besides frontend, frontend-id, online, state
        Nodes frontend_nodes;     ///< besides backend, backend-id, state
        /// Builds the data path on the mapped ring page (called under the I/O lock).
        std::function<std::unique_ptr<RingBackend>(std::span<uint8_t> ring)> start;
        /// Nodes written once connected (e.g. the disk's size).
        Nodes connected_nodes;
        std::string shut_message = "ring indices out of range: ring shut";
    };

    XenbusDevice(PvDomain& domain, Config config);
    ~XenbusDevice();
    XenbusDevice(const XenbusDevice&) = delete;
    XenbusDevice& operator=(const XenbusDevice&) = delete;

    /// Creates both ends' nodes, enters InitWait, watches the front end's state.
    PvResult<void> attach();

    std::string frontend_path() const;
    std::string backend_path() const;
    XenbusState backend_state() const { return m_state; }
    bool connected();

    /// Runs `f(RingBackend*)` (null when disconnected) with the data path locked.
    template <class F>
    auto with_backend(F&& f) {
        std::lock_guard lock(m_io_lock);
        return f(m_backend.get());
    }

    /// Serves the ring (runs on the event channel's notification).
    void service();

private:
    PvResult<void> create_nodes(Store& store, ConnId control);
    void on_frontend_change(Store& store, ConnId control);
    PvResult<void> connect(Store& store, ConnId control);
    void disconnect();
    void set_state(Store& store, ConnId control, XenbusState state);
    void fatal(Store& store, ConnId control, const std::string& message);
    std::string watch_token() const;

    PvDomain& m_domain;
    const Config m_config;
    XenbusState m_state = XenbusStateInitialising;

    std::mutex m_io_lock;  ///< guards the data path against disconnect
    std::unique_ptr<RingBackend> m_backend;
    std::optional<grant_handle_t> m_ring_handle;
    evtchn_port_t m_backend_port = 0;
};

}  // namespace popek::pv
