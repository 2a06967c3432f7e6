#pragma once
/// One client's session with the store over xs_wire: decodes requests (StoreWire), runs them on the
/// Store, frames replies, and queues watch events behind the reply that caused them, as xenstored
/// orders them. pump() moves bytes between this session and a store ring page.
///
/// Output is bounded: while more than `max_pending` bytes wait for the guest to read them, no new
/// request is taken (back-pressure) and further watch events are dropped and counted (a watch flood
/// costs the flooding guest its own events, never popek's memory).
#include <cstdint>
#include <string>

#include "pv/store/store.h"
#include "pv/store_ring.h"
#include "pv/store_wire.h"

namespace popek::pv {

class StoreConnection {
public:
    StoreConnection(Store& store, DomId domid, size_t max_pending = 64 * 1024);
    ~StoreConnection();
    StoreConnection(const StoreConnection&) = delete;
    StoreConnection& operator=(const StoreConnection&) = delete;

    /// Runs one request and queues its framed reply (then any watch events it fired).
    void handle(const XsMessage& msg);
    /// Feeds raw request bytes (as read from a ring or socket); returns how many were taken, which
    /// is less than given when output is backed up.
    size_t feed(std::string_view bytes);
    /// Takes requests from `ring` and writes queued output to it. True if the guest should be
    /// notified (popek consumed requests or produced responses).
    bool pump(StoreRing& ring);

    const std::string& pending_output() const { return m_out; }
    void consume_output(size_t n) { m_out.erase(0, n); }
    uint64_t dropped_events() const { return m_dropped_events; }
    ConnId id() const { return m_conn; }

    /// Snapshots (docs/snapshot.md "XSTR"): output not yet in the ring, request bytes read from it
    /// but not yet parsed, the parser's partial message, the dropped-event count. The store ring's
    /// indices are guest RAM.
    void save(snapshot::Writer& w) const;
    void load(snapshot::Reader& r);

private:
    std::string dispatch(const XsMessage& msg);
    std::string ok(const XsMessage& msg) const;
    std::string reply(const XsMessage& msg, std::string_view payload) const;
    std::string error(const XsMessage& msg, int err) const;
    void queue_event(const WatchEvent& event);
    bool backed_up() const { return m_out.size() >= m_max_pending; }

    Store& m_store;
    DomId m_domid;
    ConnId m_conn;
    size_t m_max_pending;
    StoreWire m_wire;
    std::string m_out;
    std::string m_in;          ///< bytes read from a ring but not yet taken by the parser
    std::string m_deferred;    ///< watch events fired while a request runs; sent after its reply
    bool m_in_request = false;
    uint64_t m_dropped_events = 0;
};

}  // namespace popek::pv
