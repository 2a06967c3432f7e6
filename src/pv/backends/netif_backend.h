#pragma once
/// The vif data path (io/netif.h): Ethernet frames between the guest's two netif rings and the host.
///
/// TX (guest → host, netif_tx_sring): a packet is a chain of requests, the first one's `size` being
/// the whole packet, NETTXF_more_data linking the fragments (io/netif.h "Guest transmit"). popek
/// gathers the chain (at most kMaxTxSlots slots: XEN_NETIF_NR_SLOTS_MIN), validates every slot
/// (1..4096 bytes, offset + size within the page, fragments adding up to the total, a frame of at
/// least an Ethernet header) before copying anything, copies the bytes out through the grant table
/// and hands the frame to the host. Every slot gets a response: NETIF_RSP_OKAY, or NETIF_RSP_ERROR
/// for the whole packet (bad sizes, grants refused, extra info — GSO and friends are not offered,
/// a chain longer than the limit: its slots are answered ERROR as they come until it ends);
/// extra-info slots are answered NETIF_RSP_NULL.
///
/// RX (host → guest, netif_rx_sring, "feature-rx-copy"): the guest posts netif_rx_request with a
/// grant for a page; popek copies a frame into as many posted pages as it needs (several only if
/// the front end said "feature-sg"), answering each with the bytes it holds (NETRXF_more_data on
/// all but the last) or NETIF_RSP_ERROR when the grant is refused. Frames that find too few posted
/// requests are dropped and counted, as on a real link.
///
/// A ring the front end corrupts (req_prod past the ring) is shut (SharedRing); shut() then says
/// so and the owner (VifDevice) takes the device down. popek is unaffected.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "pv/grant_table.h"
#include "pv/shared_ring.h"

namespace popek::pv {

class NetifBackend {
public:
    static constexpr uint32_t kMaxTxSlots = XEN_NETIF_NR_SLOTS_MIN;
    static constexpr uint32_t kMaxFrame = XEN_NETIF_MAX_TX_SIZE;
    static constexpr uint32_t kEthernetHeader = 14;
    /// TX slots handled per process_tx() call before yielding.
    static constexpr uint32_t kBatch = 256;

    struct Stats {
        uint64_t tx_packets = 0, tx_bytes = 0, tx_errors = 0;
        uint64_t rx_packets = 0, rx_bytes = 0, rx_errors = 0;
        uint64_t rx_dropped_no_buffer = 0;  ///< too few rx requests posted
        uint64_t rx_dropped_invalid = 0;    ///< empty, over 64 KiB, or needing sg the front end lacks
    };
    struct Outcome {
        bool notify = false;  ///< the front end asked for an event
        bool more = false;    ///< requests left after the batch: call process_tx() again
    };
    /// Takes one gathered frame (valid during the call only).
    using Send = std::function<void(std::span<const uint8_t> frame)>;

    /// `tx_ring` and `rx_ring` are the mapped ring pages; grants are checked as domain `backend`.
    /// `rx_sg`: the front end accepts a frame spread over several rx requests ("feature-sg").
    NetifBackend(GrantTable& grants, DomId backend, std::span<uint8_t> tx_ring, std::span<uint8_t> rx_ring, bool rx_sg);

    /// Serves the tx ring; each good packet goes to `send`.
    Outcome process_tx(const Send& send);
    /// Copies one host frame into the guest's posted rx requests; true if the front end asked to
    /// be notified of the responses.
    bool receive(std::span<const uint8_t> frame);
    /// Checks the rx ring's producer index (the guest posted requests): shuts a corrupted ring.
    void check_rx_ring() { (void)m_rx.unconsumed_requests(); }

    bool tx_shut() const { return m_tx.shut(); }
    bool rx_shut() const { return m_rx.shut(); }
    const Stats& stats() const { return m_stats; }
    bool rx_sg() const { return m_rx_sg; }
    /// Snapshots (netif_backend_snapshot.cpp): both rings' private indices, the tx chain being
    /// gathered and the counters.
    void save(snapshot::Writer& w) const;
    void load(snapshot::Reader& r);

private:
    struct Slot {
        netif_tx_request req;
        bool extra;  ///< a netif_extra_info slot (answered NETIF_RSP_NULL)
    };

    void take_tx_slot(const netif_tx_request& req, const Send& send);
    /// Validates and carries out the gathered chain; the status for its slots.
    int16_t transmit(const Send& send);
    void answer_chain(int16_t status);
    void respond_tx(uint16_t id, int16_t status);

    GrantTable& m_grants;
    const DomId m_backend;
    SharedRing<netif_tx_sring> m_tx;
    SharedRing<netif_rx_sring> m_rx;
    const bool m_rx_sg;

    // The packet being gathered (its slots may arrive over several notifications).
    std::vector<Slot> m_chain;
    bool m_more = false;          ///< the last request had NETTXF_more_data
    bool m_extras_follow = false; ///< the next slot is a netif_extra_info
    bool m_discarding = false;    ///< the chain overran kMaxTxSlots: ERROR until it ends

    std::vector<uint8_t> m_frame;
    Stats m_stats;
};

}  // namespace popek::pv
