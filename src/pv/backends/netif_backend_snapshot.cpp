/// The vif data path in a snapshot (docs/snapshot.md "XDEV"): both rings' private indices
/// (io/ring.h), the tx packet being gathered across notifications (io/netif.h "Guest transmit":
/// the slots taken so far, NETTXF_more_data and extra-info expectations) and the counters.
#include <cstring>

#include "pv/backends/netif_backend.h"

namespace popek::pv {

void NetifBackend::save(snapshot::Writer& w) const {
    m_tx.save(w);
    m_rx.save(w);
    w.u32(static_cast<uint32_t>(m_chain.size()));
    for (const Slot& s : m_chain) {
        w.bytes(std::span(reinterpret_cast<const uint8_t*>(&s.req), sizeof(s.req)));
        w.boolean(s.extra);
    }
    w.boolean(m_more);
    w.boolean(m_extras_follow);
    w.boolean(m_discarding);
    for (uint64_t v : {m_stats.tx_packets, m_stats.tx_bytes, m_stats.tx_errors, m_stats.rx_packets, m_stats.rx_bytes,
                       m_stats.rx_errors, m_stats.rx_dropped_no_buffer, m_stats.rx_dropped_invalid})
        w.u64(v);
}

void NetifBackend::load(snapshot::Reader& r) {
    m_tx.load(r);
    m_rx.load(r);
    // take_tx_slot answers a chain once it passes kMaxTxSlots, so at most that many wait.
    const uint32_t n = r.bounded(r.u32(), kMaxTxSlots, "the tx slots gathered");
    std::vector<Slot> chain(n);
    for (Slot& s : chain) {
        r.bytes(std::span(reinterpret_cast<uint8_t*>(&s.req), sizeof(s.req)));
        s.extra = r.boolean();
    }
    const bool more = r.boolean(), extras = r.boolean(), discarding = r.boolean();
    Stats st;
    for (uint64_t* v : {&st.tx_packets, &st.tx_bytes, &st.tx_errors, &st.rx_packets, &st.rx_bytes, &st.rx_errors,
                        &st.rx_dropped_no_buffer, &st.rx_dropped_invalid})
        *v = r.u64();
    if (!r.ok()) return;
    m_chain = std::move(chain);
    m_chain.reserve(kMaxTxSlots + 1);
    m_more = more;
    m_extras_follow = extras;
    m_discarding = discarding;
    m_stats = st;
}

}  // namespace popek::pv
