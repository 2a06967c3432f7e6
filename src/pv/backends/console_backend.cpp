#include "pv/backends/console_backend.h"

#include "pv/byte_ring.h"

namespace popek::pv {

ConsoleBackend::ConsoleBackend(std::span<uint8_t> page, Sink sink, const RamWrites* writes)
    : m_page(page), m_sink(std::move(sink)), m_writes(writes) {
    if (page.size() < sizeof(xencons_interface)) m_shut = true;
}

bool ConsoleBackend::service() {
    if (m_shut) return false;
    auto* in = iface();
    ByteRing out(in->out, sizeof(in->out), &in->out_cons, &in->out_prod, m_writes);
    bool progress = false;
    for (;;) {
        uint8_t buf[sizeof(in->out)];
        auto n = out.read(buf);
        if (!n) {
            m_shut = true;
            return progress;
        }
        if (*n == 0) break;
        progress = true;
        if (m_sink) m_sink(std::string_view(reinterpret_cast<const char*>(buf), *n));
    }
    return deliver_input() || progress;
}

bool ConsoleBackend::push_input(std::string_view bytes) {
    size_t room = kMaxPendingInput - std::min(kMaxPendingInput, m_pending_input.size());
    m_pending_input.append(bytes.substr(0, room));
    m_dropped_input += bytes.size() - std::min(bytes.size(), room);
    return deliver_input();
}

bool ConsoleBackend::deliver_input() {
    if (m_shut || m_pending_input.empty()) return false;
    auto* in = iface();
    auto n = ByteRing(in->in, sizeof(in->in), &in->in_cons, &in->in_prod, m_writes)
                 .write(std::span(reinterpret_cast<const uint8_t*>(m_pending_input.data()), m_pending_input.size()));
    if (!n) {
        m_shut = true;
        return false;
    }
    m_pending_input.erase(0, *n);
    return *n > 0;
}

}  // namespace popek::pv
