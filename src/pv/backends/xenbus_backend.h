#pragma once
/// The back end's half of one XenBus device, shared by every PV device popek offers (vbd, vif):
/// the toolstack's store nodes for both ends (Xen's docs/misc/xenstore-paths), and the XenBus
/// state machine of io/xenbus.h:
///
///   back end:  Initialising → InitWait (features published)
///   front end: writes its ring refs and channel → Initialised / Connected
///   back end:  connect() (maps rings, binds the channel) → Connected
///   front end: Closing/Closed → back end disconnect()s and follows; Initialising again → InitWait
///
/// Whatever the front end writes is checked by connect(); a bad value, or a ring the front end
/// corrupts later (ring_shut()), leaves an "error" node under the back end's path and the back end
/// in Closing, never a crash. Derived classes must call detach() in their destructor.
///
/// The back end is dom0 (popek itself) or a driver domain popek runs for the device (`backend`):
/// then the back-end nodes live under that domain (/local/domain/<id>/backend/...) and are owned
/// by it, the front end's backend-id names it and its nodes are readable by it, and the guest must
/// grant rings and pages to it. A back end that dies (backend_failed()) leaves an "error" node and
/// the device Closed for good.
#include <cstdint>
#include <optional>
#include <string>

#include "pv/pv_domain.h"

namespace popek::pv {

class XenbusBackend {
public:
    /// `type` is the device class in store paths ("vbd", "vif"), `devid` its id there.
    XenbusBackend(PvDomain& domain, std::string type, uint32_t devid, DomId backend = kControlDomain);
    virtual ~XenbusBackend() = default;
    XenbusBackend(const XenbusBackend&) = delete;
    XenbusBackend& operator=(const XenbusBackend&) = delete;

    /// Creates both ends' nodes, publishes the features, enters InitWait, watches the front end.
    PvResult<void> attach();

    /// /local/domain/<guest>/device/<type>/<devid>
    std::string frontend_path() const;
    /// /local/domain/<backend>/backend/<type>/<guest>/<devid>
    std::string backend_path() const;
    DomId backend_domid() const { return m_backend; }
    XenbusState backend_state() const { return m_state; }
    uint32_t devid() const { return m_devid; }

    /// A store node as a decimal number; nullopt when missing or not a number.
    static std::optional<uint32_t> read_number(Store& store, ConnId control, const std::string& path);

    /// Snapshots (docs/snapshot.md "XDEV"; xenbus_backend_snapshot.cpp): the back end's XenBus
    /// state and its connection (rings mapped, channel bound, data path), after the domain's event
    /// channels, grant table and store were loaded. A connected device takes its mapping and its
    /// dom0 port again and goes on with the saved ring indices.
    void save(snapshot::Writer& w);
    void load(snapshot::Reader& r);

protected:
    /// Type-specific nodes under backend_path() (features, parameters); written as dom0.
    virtual PvResult<void> write_backend_nodes(Store& store, ConnId control) = 0;
    /// Type-specific nodes under frontend_path(); write them with put_frontend().
    virtual PvResult<void> write_frontend_nodes(Store& store, ConnId control) = 0;
    /// Reads the front end's half, maps its rings, binds its channel. An error leaves the device in
    /// Closing with an "error" node naming it.
    virtual PvResult<void> connect(Store& store, ConnId control) = 0;
    /// Unmaps and unbinds whatever connect() set up; idempotent.
    virtual void disconnect() = 0;
    /// The connection's part of save()/load().
    virtual void save_connection(snapshot::Writer& w) = 0;
    virtual void load_connection(snapshot::Reader& r) = 0;

    /// A front-end node owned by the guest, readable by dom0 (as the toolstack creates them).
    PvResult<void> put_frontend(Store& store, ConnId control, const std::string& node, const std::string& value);
    /// The data path found a ring the front end corrupted: "error" node and Closing (if connected).
    /// Call it without holding the device's I/O locks (the store's watch handlers take them).
    void ring_shut(const std::string& message);
    /// The back end itself is gone (a driver domain died): "error" node, Closed, and the device
    /// never connects again. Same locking rule as ring_shut().
    void backend_failed(const std::string& message);
    /// Stops following the front end and disconnects; call first thing in the derived destructor.
    void detach();

    PvDomain& m_domain;

private:
    PvResult<void> create_nodes(Store& store, ConnId control);
    void on_frontend_change(Store& store, ConnId control);
    void set_state(Store& store, ConnId control, XenbusState state);
    void fatal(Store& store, ConnId control, const std::string& message);
    std::string watch_token() const;

    const std::string m_type;
    const uint32_t m_devid;
    const DomId m_backend;
    XenbusState m_state = XenbusStateInitialising;
    bool m_attached = false;
    bool m_failed = false;
};

}  // namespace popek::pv
