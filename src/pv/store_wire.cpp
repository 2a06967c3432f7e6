#include "pv/store_wire.h"

#include <algorithm>
#include <cstring>

namespace popek::pv {

size_t StoreWire::feed(std::span<const uint8_t> bytes) {
    size_t used = 0;
    while (used < bytes.size() && !m_done) {
        auto rest = bytes.subspan(used);
        if (m_header_fill < sizeof(m_header)) {
            size_t n = std::min(rest.size(), sizeof(m_header) - m_header_fill);
            std::memcpy(m_header + m_header_fill, rest.data(), n);
            m_header_fill += n;
            used += n;
            if (m_header_fill < sizeof(m_header)) break;
            xsd_sockmsg h;
            std::memcpy(&h, m_header, sizeof(h));
            m_current = XsMessage{h.type, h.req_id, h.tx_id, {}, false};
            if (h.len > XENSTORE_PAYLOAD_MAX) {
                m_current.oversized = true;
                m_skip = h.len;
                m_expected = 0;
            } else {
                m_expected = h.len;
                m_current.payload.reserve(h.len);
            }
        } else if (m_skip > 0) {
            size_t n = static_cast<size_t>(std::min<uint64_t>(rest.size(), m_skip));
            m_skip -= n;
            used += n;
        } else {
            size_t n = std::min<size_t>(rest.size(), m_expected - m_current.payload.size());
            m_current.payload.append(reinterpret_cast<const char*>(rest.data()), n);
            used += n;
        }
        if (m_header_fill == sizeof(m_header) && m_skip == 0 && m_current.payload.size() == m_expected) {
            m_done = std::move(m_current);
            m_current = {};
            m_header_fill = 0;
        }
    }
    return used;
}

std::optional<XsMessage> StoreWire::next() {
    std::optional<XsMessage> out = std::move(m_done);
    m_done.reset();
    return out;
}

std::string StoreWire::frame(uint32_t type, uint32_t req_id, uint32_t tx_id, std::string_view payload) {
    xsd_sockmsg h{type, req_id, tx_id, static_cast<uint32_t>(payload.size())};
    std::string out(sizeof(h) + payload.size(), '\0');
    std::memcpy(out.data(), &h, sizeof(h));
    std::memcpy(out.data() + sizeof(h), payload.data(), payload.size());
    return out;
}

std::string_view StoreWire::error_name(int err) {
    for (const struct xsd_errors& e : xsd_errors)
        if (e.errnum == err) return e.errstring;
    return "EINVAL";
}

std::string StoreWire::frame_error(uint32_t req_id, uint32_t tx_id, int err) {
    std::string payload(error_name(err));
    payload.push_back('\0');
    return frame(XS_ERROR, req_id, tx_id, payload);
}

std::optional<std::vector<std::string_view>> StoreWire::all_strings(std::string_view payload) {
    if (payload.empty() || payload.back() != '\0') return std::nullopt;
    std::vector<std::string_view> out;
    size_t start = 0;
    while (start < payload.size()) {
        size_t nul = payload.find('\0', start);
        out.push_back(payload.substr(start, nul - start));
        start = nul + 1;
    }
    return out;
}

std::optional<std::vector<std::string_view>> StoreWire::strings(std::string_view payload, size_t count) {
    auto all = all_strings(payload);
    if (!all || all->size() != count) return std::nullopt;
    return all;
}

std::string StoreWire::join(std::span<const std::string> parts) {
    std::string out;
    for (const std::string& p : parts) {
        out += p;
        out.push_back('\0');
    }
    return out;
}

}  // namespace popek::pv
