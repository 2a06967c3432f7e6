#include "pv/backends/netif_backend.h"

#include <cstring>

namespace popek::pv {

NetifBackend::NetifBackend(GrantTable& grants, DomId backend, std::span<uint8_t> tx_ring, std::span<uint8_t> rx_ring,
                           bool rx_sg)
    : m_grants(grants), m_backend(backend), m_tx(tx_ring, grants.ram_writes()), m_rx(rx_ring, grants.ram_writes()), m_rx_sg(rx_sg) {
    m_chain.reserve(kMaxTxSlots + 1);
    m_frame.resize(kMaxFrame);
}

NetifBackend::Outcome NetifBackend::process_tx(const Send& send) {
    Outcome out;
    uint32_t handled = 0;
    do {
        while (handled < kBatch) {
            auto req = m_tx.next_request();
            if (!req) break;
            ++handled;
            take_tx_slot(*req, send);
        }
        out.notify |= m_tx.publish_responses();
        if (handled >= kBatch) {
            out.more = m_tx.unconsumed_requests() > 0;
            return out;
        }
    } while (m_tx.final_check_for_requests());
    return out;
}

void NetifBackend::respond_tx(uint16_t id, int16_t status) {
    netif_tx_response rsp{};
    rsp.id = id;
    rsp.status = status;
    m_tx.push_response(rsp);
}

void NetifBackend::take_tx_slot(const netif_tx_request& req, const Send& send) {
    if (m_discarding) {
        // The rest of an overlong chain: refused slot by slot until its last one.
        ++m_stats.tx_errors;
        respond_tx(req.id, NETIF_RSP_ERROR);
        m_discarding = (req.flags & NETTXF_more_data) != 0;
        return;
    }
    if (m_extras_follow) {
        // io/netif.h "Guest transmit": extra-info slots follow the first request, chained by
        // XEN_NETIF_EXTRA_FLAG_MORE. popek offers no extras; the packet fails in transmit().
        netif_extra_info extra;
        static_assert(sizeof(extra) <= sizeof(req));
        std::memcpy(&extra, &req, sizeof(extra));
        m_chain.push_back({req, true});
        m_extras_follow = (extra.flags & XEN_NETIF_EXTRA_FLAG_MORE) != 0;
    } else {
        const bool first = m_chain.empty();
        m_chain.push_back({req, false});
        m_more = (req.flags & NETTXF_more_data) != 0;
        if (first) m_extras_follow = (req.flags & NETTXF_extra_info) != 0;
    }
    const bool open = m_more || m_extras_follow;
    if (m_chain.size() > kMaxTxSlots) {
        answer_chain(NETIF_RSP_ERROR);
        m_discarding = open;
        m_more = m_extras_follow = false;
        return;
    }
    if (!open) answer_chain(transmit(send));
}

void NetifBackend::answer_chain(int16_t status) {
    if (status == NETIF_RSP_OKAY) ++m_stats.tx_packets;
    else ++m_stats.tx_errors;
    for (const Slot& s : m_chain) respond_tx(s.extra ? 0 : s.req.id, s.extra ? int16_t{NETIF_RSP_NULL} : status);
    m_chain.clear();
}

int16_t NetifBackend::transmit(const Send& send) {
    // Validate the whole chain before reading any guest data.
    uint32_t fragments = 0;  // bytes in slots 2..N
    const netif_tx_request* first = nullptr;
    for (const Slot& s : m_chain) {
        if (s.extra) return NETIF_RSP_ERROR;  // extras (GSO, multicast, hash) are not offered
        if (s.req.offset >= kXenPageSize) return NETIF_RSP_ERROR;
        if (!first) {  // its size is the packet's; its own share is checked below
            first = &s.req;
            continue;
        }
        if (s.req.size == 0 || s.req.size > kXenPageSize - s.req.offset) return NETIF_RSP_ERROR;
        fragments += s.req.size;
    }
    if (!first) return NETIF_RSP_ERROR;
    const uint32_t total = first->size;
    if (total < kEthernetHeader || fragments >= total) return NETIF_RSP_ERROR;
    const uint32_t head = total - fragments;  // the first slot's share (io/netif.h NOTE)
    if (head > kXenPageSize - first->offset) return NETIF_RSP_ERROR;

    size_t at = 0;
    for (const Slot& s : m_chain) {
        const size_t len = &s.req == first ? head : s.req.size;
        auto part = std::span(m_frame).subspan(at, len);
        if (!m_grants.copy_from(m_backend, s.req.gref, s.req.offset, part)) return NETIF_RSP_ERROR;
        at += len;
    }
    send(std::span<const uint8_t>(m_frame.data(), total));
    m_stats.tx_bytes += total;
    return NETIF_RSP_OKAY;
}

bool NetifBackend::receive(std::span<const uint8_t> frame) {
    if (frame.empty() || frame.size() > kMaxFrame) {
        ++m_stats.rx_dropped_invalid;
        return false;
    }
    const size_t slots = (frame.size() + kXenPageSize - 1) / kXenPageSize;
    if (slots > 1 && !m_rx_sg) {
        ++m_stats.rx_dropped_invalid;
        return false;
    }
    if (m_rx.unconsumed_requests() < slots) {  // also shuts a ring whose req_prod ran away
        ++m_stats.rx_dropped_no_buffer;
        return false;
    }
    bool failed = false;
    for (size_t i = 0; i < slots; ++i) {
        auto req = m_rx.next_request();
        if (!req) break;  // cannot happen: counted above, and only this thread consumes
        auto chunk = frame.subspan(i * kXenPageSize, std::min<size_t>(kXenPageSize, frame.size() - i * kXenPageSize));
        netif_rx_response rsp{};
        rsp.id = req->id;
        rsp.offset = 0;
        rsp.flags = static_cast<uint16_t>(i + 1 < slots ? NETRXF_more_data : 0);
        if (m_grants.copy_to(m_backend, req->gref, 0, chunk)) {
            rsp.status = static_cast<int16_t>(chunk.size());
        } else {
            rsp.status = NETIF_RSP_ERROR;
            failed = true;
        }
        m_rx.push_response(rsp);
    }
    if (failed) {
        ++m_stats.rx_errors;
    } else {
        ++m_stats.rx_packets;
        m_stats.rx_bytes += frame.size();
    }
    return m_rx.publish_responses();
}

}  // namespace popek::pv
