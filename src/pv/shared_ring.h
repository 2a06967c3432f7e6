#pragma once
/// pv::SharedRing: the back end of a Xen shared ring (io/ring.h) over a granted page. Follows the
/// BACK_RING macros: private req_cons / rsp_prod_pvt, requests copied out of the shared page before
/// use (RING_COPY_REQUEST), responses published with the write barrier and the rsp_event hold-off
/// (RING_PUSH_RESPONSES_AND_CHECK_NOTIFY), and RING_FINAL_CHECK_FOR_REQUESTS before sleeping.
///
/// The front end is the guest and may be hostile: it owns req_prod and the event fields. A req_prod
/// more than the ring size ahead of what popek has answered (RING_REQUEST_PROD_OVERFLOW) shuts the
/// ring for good; popek then neither reads requests nor writes responses on it.
///
/// `Sring` is the shared ring type from Xen's DEFINE_RING_TYPES (blkif_sring, netif_tx_sring, ...),
/// so the layout is Xen's own; Req and Rsp are its entry types.
///
/// Every write to the page (responses, rsp_prod, req_event) is reported to `writes` (the own
/// engine drops code decoded there): responses before rsp_prod publishes them, the index after.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

#include "snapshot/snap_codec.h"

#include "pv/ram_writes.h"
#include "pv/xen_abi.h"

namespace popek::pv {

template <class Sring>
class SharedRing {
public:
    using Req = std::remove_cvref_t<decltype(std::declval<Sring>().ring[0].req)>;
    using Rsp = std::remove_cvref_t<decltype(std::declval<Sring>().ring[0].rsp)>;
    static_assert(std::is_trivially_copyable_v<Req> && std::is_trivially_copyable_v<Rsp>);

    /// Attaches to a ring the front end initialised in `area` (BACK_RING_INIT). An area too small
    /// for one entry gives a shut ring. `writes` (not owned, may be null) hears of every write.
    explicit SharedRing(std::span<uint8_t> area, const RamWrites* writes = nullptr) : m_area(area), m_writes(writes) {
        constexpr size_t header = offsetof(Sring, ring);
        constexpr size_t entry = sizeof(std::declval<Sring>().ring[0]);
        if (area.size() < header + entry || reinterpret_cast<uintptr_t>(area.data()) % alignof(Sring) != 0) {
            m_shut = true;
            return;
        }
        // __RD32: the entry count rounded down to a power of two.
        size_t n = (area.size() - header) / entry;
        m_size = 1;
        while (m_size * 2 <= n && m_size < (1u << 31)) m_size *= 2;
    }

    uint32_t size() const { return m_size; }
    bool shut() const { return m_shut; }
    uint32_t req_cons() const { return m_req_cons; }

    /// The next request, copied out of the shared page; nullopt when none is pending or the ring is
    /// shut. Shuts the ring if the front end claims more requests than can exist.
    std::optional<Req> next_request() {
        if (unconsumed_requests() == 0) return std::nullopt;
        Req req;
        std::memcpy(&req, &entries()[m_req_cons & (m_size - 1)].req, sizeof(Req));
        ++m_req_cons;
        return req;
    }

    /// Queues a response for the oldest unanswered request. False (nothing written) if the ring is
    /// shut or every consumed request already has its response.
    bool push_response(const Rsp& rsp) {
        if (m_shut || m_rsp_prod_pvt == m_req_cons) return false;
        std::memcpy(&entries()[m_rsp_prod_pvt & (m_size - 1)].rsp, &rsp, sizeof(Rsp));
        ++m_rsp_prod_pvt;
        return true;
    }

    /// Makes queued responses visible; true if the front end asked to be notified (rsp_event).
    bool publish_responses() {
        if (m_shut) return false;
        RING_IDX old_prod = m_rsp_published;
        RING_IDX new_prod = m_rsp_prod_pvt;
        if (new_prod != old_prod) report(m_area.data(), m_area.size());   // the responses queued
        // xen_wmb: responses before the producer index.
        std::atomic_ref<RING_IDX>(sring()->rsp_prod).store(new_prod, std::memory_order_release);
        report(&sring()->rsp_prod, sizeof(RING_IDX));
        m_rsp_published = new_prod;
        // xen_mb: the front end sees the new index before popek reads rsp_event.
        std::atomic_thread_fence(std::memory_order_seq_cst);
        RING_IDX event = std::atomic_ref<RING_IDX>(sring()->rsp_event).load(std::memory_order_relaxed);
        return static_cast<RING_IDX>(new_prod - event) < static_cast<RING_IDX>(new_prod - old_prod);
    }

    /// RING_FINAL_CHECK_FOR_REQUESTS: true if requests are pending; otherwise asks the front end
    /// for a notification on the next one (req_event) and checks once more.
    bool final_check_for_requests() {
        if (unconsumed_requests() > 0) return true;
        if (m_shut) return false;
        std::atomic_ref<RING_IDX>(sring()->req_event).store(m_req_cons + 1, std::memory_order_relaxed);
        report(&sring()->req_event, sizeof(RING_IDX));
        std::atomic_thread_fence(std::memory_order_seq_cst);
        return unconsumed_requests() > 0;
    }

    /// Requests the front end has produced that popek may take now (XEN_RING_NR_UNCONSUMED_REQUESTS).
    uint32_t unconsumed_requests() {
        if (m_shut) return 0;
        // xen_rmb after reading the producer index: entries are read after it.
        RING_IDX prod = std::atomic_ref<RING_IDX>(sring()->req_prod).load(std::memory_order_acquire);
        if (static_cast<RING_IDX>(prod - m_rsp_prod_pvt) > m_size) {  // RING_REQUEST_PROD_OVERFLOW
            m_shut = true;
            return 0;
        }
        RING_IDX req = prod - m_req_cons;
        RING_IDX room = m_size - (m_req_cons - m_rsp_prod_pvt);
        return req < room ? req : room;
    }

    /// Snapshots: the back end's private indices (the shared ones are guest RAM).
    void save(snapshot::Writer& w) const {
        w.u32(m_req_cons);
        w.u32(m_rsp_prod_pvt);
        w.u32(m_rsp_published);
        w.boolean(m_shut);
    }
    /// Checks what RING_REQUEST_PROD_OVERFLOW and push_response rely on: no more requests taken
    /// than the ring holds beyond those answered, none published that was not queued.
    void load(snapshot::Reader& r) {
        const RING_IDX req_cons = r.u32(), rsp_prod_pvt = r.u32(), published = r.u32();
        const bool shut = r.boolean();
        if (r.ok() && (static_cast<RING_IDX>(req_cons - rsp_prod_pvt) > m_size ||
                       static_cast<RING_IDX>(rsp_prod_pvt - published) > m_size))
            r.invalid("ring indices {} {} {} are inconsistent", req_cons, rsp_prod_pvt, published);
        if (!r.ok()) return;
        m_req_cons = req_cons;
        m_rsp_prod_pvt = rsp_prod_pvt;
        m_rsp_published = published;
        m_shut = m_shut || shut;
    }

private:
    Sring* sring() const { return reinterpret_cast<Sring*>(m_area.data()); }
    auto* entries() const { return sring()->ring; }
    void report(const void* host, size_t len) const {
        if (m_writes) m_writes->wrote(host, len);
    }

    std::span<uint8_t> m_area;
    const RamWrites* m_writes = nullptr;
    uint32_t m_size = 0;
    bool m_shut = false;
    RING_IDX m_req_cons = 0;
    RING_IDX m_rsp_prod_pvt = 0;
    RING_IDX m_rsp_published = 0;
};

}  // namespace popek::pv
