#include "pv/store_connection.h"

#include <charconv>
#include <vector>

#include <fmt/format.h>

#include "pv/store/store_path.h"
#include "pv/store/store_perms.h"

namespace popek::pv {

namespace {

std::optional<uint64_t> parse_number(std::string_view s) {
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

StoreConnection::StoreConnection(Store& store, DomId domid, size_t max_pending)
    : m_store(store), m_domid(domid), m_max_pending(max_pending) {
    m_conn = m_store.connect(domid, [this](const WatchEvent& e) { queue_event(e); });
}

StoreConnection::~StoreConnection() { m_store.disconnect(m_conn); }

void StoreConnection::queue_event(const WatchEvent& event) {
    std::string& target = m_in_request ? m_deferred : m_out;
    if (m_out.size() + m_deferred.size() >= m_max_pending) {
        ++m_dropped_events;
        return;
    }
    std::string payload = event.path;
    payload.push_back('\0');
    payload += event.token;
    payload.push_back('\0');
    if (payload.size() > XENSTORE_PAYLOAD_MAX) {
        ++m_dropped_events;
        return;
    }
    target += StoreWire::frame(XS_WATCH_EVENT, 0, 0, payload);
}

std::string StoreConnection::reply(const XsMessage& msg, std::string_view payload) const {
    if (payload.size() > XENSTORE_PAYLOAD_MAX) return error(msg, E2BIG);
    return StoreWire::frame(msg.type, msg.req_id, msg.tx_id, payload);
}

std::string StoreConnection::ok(const XsMessage& msg) const { return reply(msg, std::string_view("OK", 3)); }

std::string StoreConnection::error(const XsMessage& msg, int err) const {
    return StoreWire::frame_error(msg.req_id, msg.tx_id, err);
}

void StoreConnection::handle(const XsMessage& msg) {
    m_in_request = true;
    std::string r = dispatch(msg);
    m_in_request = false;
    m_out += r;
    m_out += m_deferred;
    m_deferred.clear();
}

std::string StoreConnection::dispatch(const XsMessage& msg) {
    if (msg.oversized) return error(msg, E2BIG);
    const std::string_view payload = msg.payload;
    const TxId tx = msg.tx_id;
    auto done = [&](const XsResult<void>& r) { return r ? ok(msg) : error(msg, r.error()); };
    auto one = StoreWire::strings(payload, 1);
    auto two = StoreWire::strings(payload, 2);

    switch (msg.type) {
    case XS_READ: {
        if (!one) return error(msg, EINVAL);
        auto v = m_store.read(m_conn, tx, (*one)[0]);
        return v ? reply(msg, *v) : error(msg, v.error());
    }
    case XS_WRITE: {
        size_t nul = payload.find('\0');
        if (nul == std::string_view::npos) return error(msg, EINVAL);
        return done(m_store.write(m_conn, tx, payload.substr(0, nul), payload.substr(nul + 1)));
    }
    case XS_MKDIR:
        return one ? done(m_store.mkdir(m_conn, tx, (*one)[0])) : error(msg, EINVAL);
    case XS_RM:
        return one ? done(m_store.rm(m_conn, tx, (*one)[0])) : error(msg, EINVAL);
    case XS_DIRECTORY: {
        if (!one) return error(msg, EINVAL);
        auto l = m_store.directory(m_conn, tx, (*one)[0]);
        return l ? reply(msg, StoreWire::join(l->names)) : error(msg, l.error());
    }
    case XS_DIRECTORY_PART: {
        // Reply: generation, then as many names from `offset` as fit, then an empty string at the end.
        auto offset = two ? parse_number((*two)[1]) : std::nullopt;
        if (!offset) return error(msg, EINVAL);
        auto l = m_store.directory(m_conn, tx, (*two)[0]);
        if (!l) return error(msg, l.error());
        std::string out = fmt::format("{}", l->generation);
        out.push_back('\0');
        size_t i = *offset < l->names.size() ? static_cast<size_t>(*offset) : l->names.size();
        for (; i < l->names.size() && out.size() + l->names[i].size() + 2 <= XENSTORE_PAYLOAD_MAX; ++i) {
            out += l->names[i];
            out.push_back('\0');
        }
        if (i == l->names.size()) out.push_back('\0');
        return reply(msg, out);
    }
    case XS_GET_PERMS: {
        if (!one) return error(msg, EINVAL);
        auto p = m_store.get_perms(m_conn, tx, (*one)[0]);
        if (!p) return error(msg, p.error());
        std::vector<std::string> parts;
        for (const PermEntry& e : *p) parts.push_back(format_perm(e));
        return reply(msg, StoreWire::join(parts));
    }
    case XS_SET_PERMS: {
        auto all = StoreWire::all_strings(payload);
        if (!all || all->size() < 2) return error(msg, EINVAL);
        Perms perms;
        for (size_t i = 1; i < all->size(); ++i) {
            auto e = parse_perm((*all)[i]);
            if (!e) return error(msg, EINVAL);
            perms.push_back(*e);
        }
        return done(m_store.set_perms(m_conn, tx, (*all)[0], std::move(perms)));
    }
    case XS_WATCH:
        return two ? done(m_store.watch(m_conn, (*two)[0], (*two)[1])) : error(msg, EINVAL);
    case XS_UNWATCH:
        return two ? done(m_store.unwatch(m_conn, (*two)[0], (*two)[1])) : error(msg, EINVAL);
    case XS_TRANSACTION_START: {
        if (!one) return error(msg, EINVAL);
        if (tx != kNoTransaction) return error(msg, EBUSY);  // no nesting
        auto id = m_store.transaction_start(m_conn);
        if (!id) return error(msg, id.error());
        std::string out = fmt::format("{}", *id);
        out.push_back('\0');
        return reply(msg, out);
    }
    case XS_TRANSACTION_END: {
        if (!one || ((*one)[0] != "T" && (*one)[0] != "F")) return error(msg, EINVAL);
        return done(m_store.transaction_end(m_conn, tx, (*one)[0] == "T"));
    }
    case XS_GET_DOMAIN_PATH: {
        auto id = one ? parse_number((*one)[0]) : std::nullopt;
        if (!id || *id > DOMID_MASK) return error(msg, EINVAL);
        std::string out = domain_path(static_cast<DomId>(*id));
        out.push_back('\0');
        return reply(msg, out);
    }
    case XS_RESET_WATCHES:
        m_store.reset_connection(m_conn);
        return ok(msg);
    case XS_CONTROL:
    case XS_INTRODUCE:
    case XS_RELEASE:
    case XS_IS_DOMAIN_INTRODUCED:
    case XS_RESUME:
    case XS_SET_TARGET:
        // Toolstack operations: popek's toolstack is in-process, so no client may use them.
        return error(msg, is_privileged(m_domid) ? ENOSYS : EACCES);
    default:
        return error(msg, EINVAL);
    }
}

size_t StoreConnection::feed(std::string_view bytes) {
    size_t used = 0;
    while (used < bytes.size() && !backed_up()) {
        auto chunk = std::span(reinterpret_cast<const uint8_t*>(bytes.data()) + used, bytes.size() - used);
        used += m_wire.feed(chunk);
        if (auto msg = m_wire.next()) handle(*msg);
    }
    return used;
}

bool StoreConnection::pump(StoreRing& ring) {
    bool notify = false;
    for (;;) {
        bool progress = false;
        if (!m_out.empty()) {
            size_t n = ring.write_responses(m_out);
            if (n > 0) {
                consume_output(n);
                progress = notify = true;
            }
        }
        if (m_in.empty() && !backed_up()) {
            uint8_t buf[XENSTORE_RING_SIZE];
            size_t n = ring.read_requests(buf);
            if (n > 0) {
                m_in.assign(reinterpret_cast<const char*>(buf), n);
                progress = notify = true;
            }
        }
        if (!m_in.empty()) {
            size_t taken = feed(m_in);
            m_in.erase(0, taken);
            progress = progress || taken > 0;
        }
        if (!progress || ring.broken()) return notify;
    }
}

}  // namespace popek::pv
