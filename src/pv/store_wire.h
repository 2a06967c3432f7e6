#pragma once
/// pv::StoreWire: xs_wire framing (io/xs_wire.h). A message is a struct xsd_sockmsg header followed
/// by `len` payload bytes, usually NUL-terminated strings. The parser is incremental (a message may
/// arrive in pieces across ring reads) and never trusts `len`: payloads over XENSTORE_PAYLOAD_MAX are
/// skipped and reported so the caller can answer E2BIG while staying in step with the stream.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pv/xen_abi.h"
#include "snapshot/snap_codec.h"

namespace popek::pv {

/// One xs_wire message (header fields of struct xsd_sockmsg, payload bytes).
struct XsMessage {
    uint32_t type = XS_INVALID;
    uint32_t req_id = 0;
    uint32_t tx_id = 0;
    std::string payload;
    bool oversized = false;  ///< header claimed more than XENSTORE_PAYLOAD_MAX; payload dropped
};

class StoreWire {
public:
    /// Consumes bytes from the stream; returns how many it took (it stops after completing one
    /// message so the caller can apply back-pressure). Call next() after each feed.
    size_t feed(std::span<const uint8_t> bytes);
    /// The message completed by the last feed, if any.
    std::optional<XsMessage> next();
    /// Bytes of a partial message held (header or payload).
    size_t buffered() const { return m_header_fill + m_current.payload.size(); }

    /// Frames a message: header + payload, for the response ring.
    static std::string frame(uint32_t type, uint32_t req_id, uint32_t tx_id, std::string_view payload);
    /// An XS_ERROR reply naming `err` as xenstored does ("EINVAL\0"); unknown errnos become EINVAL.
    static std::string frame_error(uint32_t req_id, uint32_t tx_id, int err);
    /// Name of a positive errno from io/xs_wire.h's xsd_errors table ("EINVAL" if not listed).
    static std::string_view error_name(int err);

    /// Splits a payload into exactly `count` NUL-terminated strings; nullopt if the payload has a
    /// different number of strings or does not end in NUL.
    static std::optional<std::vector<std::string_view>> strings(std::string_view payload, size_t count);
    /// Splits a payload into all its NUL-terminated strings; nullopt if it does not end in NUL.
    static std::optional<std::vector<std::string_view>> all_strings(std::string_view payload);
    /// Joins strings, each followed by NUL.
    static std::string join(std::span<const std::string> parts);

    /// Snapshots (store_connection_snapshot.cpp): the partial message being parsed.
    void save(snapshot::Writer& w) const;
    void load(snapshot::Reader& r);

private:
    uint8_t m_header[sizeof(xsd_sockmsg)] = {};
    size_t m_header_fill = 0;
    uint64_t m_skip = 0;          ///< oversized payload bytes still to drop
    XsMessage m_current;
    uint32_t m_expected = 0;      ///< payload length of the current message
    std::optional<XsMessage> m_done;
};

}  // namespace popek::pv
