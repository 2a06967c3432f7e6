/// A store client's session in a snapshot (docs/snapshot.md "XSTR"): what popek has read from the
/// guest's store ring (io/xs_wire.h) but not yet answered, and what it answered but could not yet
/// put into the ring. A guest paused between two ring writes of one request resumes the request.
#include <cstring>

#include "pv/store_connection.h"

namespace popek::pv {

void StoreWire::save(snapshot::Writer& w) const {
    w.bytes(std::span(m_header, sizeof(m_header)));
    w.u32(static_cast<uint32_t>(m_header_fill));
    w.u64(m_skip);
    w.u32(m_current.type);
    w.u32(m_current.req_id);
    w.u32(m_current.tx_id);
    w.str(m_current.payload);
    w.boolean(m_current.oversized);
    w.u32(m_expected);
}

void StoreWire::load(snapshot::Reader& r) {
    uint8_t header[sizeof(m_header)];
    r.bytes(header);
    const uint32_t fill = r.bounded(r.u32(), static_cast<uint32_t>(sizeof(m_header)), "the header bytes held");
    const uint64_t skip = r.bounded(r.u64(), uint64_t{UINT32_MAX}, "the payload bytes to skip");
    XsMessage current;
    current.type = r.u32();
    current.req_id = r.u32();
    current.tx_id = r.u32();
    current.payload = r.str(XENSTORE_PAYLOAD_MAX);
    current.oversized = r.boolean();
    const uint32_t expected = r.bounded(r.u32(), uint32_t{XENSTORE_PAYLOAD_MAX}, "the payload length");
    if (r.ok() && current.payload.size() > expected) r.invalid("a partial payload longer than its message");
    if (!r.ok()) return;
    std::memcpy(m_header, header, sizeof(m_header));
    m_header_fill = fill;
    m_skip = skip;
    m_current = std::move(current);
    m_expected = expected;
    m_done.reset();
}

void StoreConnection::save(snapshot::Writer& w) const {
    w.str(m_out);
    w.str(m_in);
    w.str(m_deferred);
    w.u64(m_dropped_events);
    m_wire.save(w);
}

void StoreConnection::load(snapshot::Reader& r) {
    // Output is bounded by max_pending plus one reply; input by one ring's worth.
    std::string out = r.str(m_max_pending + 2 * (XENSTORE_PAYLOAD_MAX + sizeof(xsd_sockmsg)));
    std::string in = r.str(XENSTORE_RING_SIZE);
    std::string deferred = r.str(m_max_pending);
    const uint64_t dropped = r.u64();
    m_wire.load(r);
    if (!r.ok()) return;
    m_out = std::move(out);
    m_in = std::move(in);
    m_out += deferred;   // events waiting behind a reply that is already queued
    m_deferred.clear();
    m_in_request = false;
    m_dropped_events = dropped;
}

}  // namespace popek::pv
