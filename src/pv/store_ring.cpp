#include "pv/store_ring.h"

#include <algorithm>
#include <atomic>
#include <cstring>

namespace popek::pv {

StoreRing::StoreRing(std::span<uint8_t> page) : m_page(page) {
    if (m_page.size() < sizeof(xenstore_domain_interface)) m_broken = true;
}

xenstore_domain_interface* StoreRing::iface() const {
    return reinterpret_cast<xenstore_domain_interface*>(m_page.data());
}

uint32_t StoreRing::load(const XENSTORE_RING_IDX& idx) const {
    return std::atomic_ref<const XENSTORE_RING_IDX>(idx).load(std::memory_order_acquire);
}

void StoreRing::store(XENSTORE_RING_IDX& idx, uint32_t value) const {
    std::atomic_ref<XENSTORE_RING_IDX>(idx).store(value, std::memory_order_release);
}

void StoreRing::initialise() {
    if (m_page.size() < sizeof(xenstore_domain_interface)) return;
    auto* in = iface();
    store(in->server_features, XENSTORE_SERVER_FEATURE_ERROR);
    store(in->connection, XENSTORE_CONNECTED);
    store(in->error, XENSTORE_ERROR_NONE);
    m_broken = false;
}

void StoreRing::mark_broken(uint32_t error) {
    m_broken = true;
    if (m_page.size() >= sizeof(xenstore_domain_interface)) store(iface()->error, error);
}

std::optional<StoreRing::Window> StoreRing::window(const XENSTORE_RING_IDX& cons_idx,
                                                  const XENSTORE_RING_IDX& prod_idx) {
    if (m_broken) return std::nullopt;
    // Each index is read exactly once per step; the guest may change the page meanwhile.
    uint32_t cons = load(cons_idx);
    uint32_t prod = load(prod_idx);
    if (prod - cons > XENSTORE_RING_SIZE) {
        mark_broken(XENSTORE_ERROR_RINGIDX);
        return std::nullopt;
    }
    return Window{cons, prod, prod - cons};
}

size_t StoreRing::requests_available() {
    auto w = window(iface()->req_cons, iface()->req_prod);
    return w ? w->used : 0;
}

size_t StoreRing::read_requests(std::span<uint8_t> out) {
    auto w = window(iface()->req_cons, iface()->req_prod);
    if (!w || w->used == 0) return 0;
    auto* in = iface();
    size_t total = std::min<size_t>(w->used, out.size());
    size_t done = 0;
    while (done < total) {
        uint32_t off = MASK_XENSTORE_IDX(w->cons + static_cast<uint32_t>(done));
        size_t chunk = std::min<size_t>(total - done, XENSTORE_RING_SIZE - off);
        std::memcpy(out.data() + done, in->req + off, chunk);
        done += chunk;
    }
    // Release store: popek has copied the bytes before the guest may reuse their slots.
    store(in->req_cons, w->cons + static_cast<uint32_t>(done));
    return done;
}

size_t StoreRing::write_responses(std::string_view bytes) {
    if (m_broken || bytes.empty()) return 0;
    auto* in = iface();
    auto w = window(in->rsp_cons, in->rsp_prod);
    if (!w) return 0;
    uint32_t prod = w->prod;
    size_t total = std::min<size_t>(bytes.size(), XENSTORE_RING_SIZE - w->used);
    size_t done = 0;
    while (done < total) {
        uint32_t off = MASK_XENSTORE_IDX(prod + static_cast<uint32_t>(done));
        size_t chunk = std::min<size_t>(total - done, XENSTORE_RING_SIZE - off);
        std::memcpy(in->rsp + off, bytes.data() + done, chunk);
        done += chunk;
    }
    // Release store: the bytes are visible before the guest sees the new producer index.
    store(in->rsp_prod, prod + static_cast<uint32_t>(done));
    return done;
}

}  // namespace popek::pv
