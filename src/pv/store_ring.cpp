#include "pv/store_ring.h"

#include <atomic>

#include "pv/byte_ring.h"

namespace popek::pv {

StoreRing::StoreRing(std::span<uint8_t> page, const RamWrites* writes) : m_page(page), m_writes(writes) {
    if (m_page.size() < sizeof(xenstore_domain_interface)) m_broken = true;
}

xenstore_domain_interface* StoreRing::iface() const {
    return reinterpret_cast<xenstore_domain_interface*>(m_page.data());
}

void StoreRing::initialise() {
    if (m_page.size() < sizeof(xenstore_domain_interface)) return;
    auto* in = iface();
    std::atomic_ref<uint32_t>(in->server_features).store(XENSTORE_SERVER_FEATURE_ERROR);
    std::atomic_ref<uint32_t>(in->connection).store(XENSTORE_CONNECTED);
    std::atomic_ref<uint32_t>(in->error).store(XENSTORE_ERROR_NONE);
    report(in, sizeof(*in));
    m_broken = false;
}

void StoreRing::mark_broken(uint32_t error) {
    m_broken = true;
    if (m_page.size() >= sizeof(xenstore_domain_interface)) {
        std::atomic_ref<uint32_t>(iface()->error).store(error);
        report(&iface()->error, sizeof(uint32_t));
    }
}

size_t StoreRing::requests_available() {
    if (m_broken) return 0;
    auto* in = iface();
    auto used = ByteRing(in->req, XENSTORE_RING_SIZE, &in->req_cons, &in->req_prod).used();
    if (!used) mark_broken(XENSTORE_ERROR_RINGIDX);
    return used.value_or(0);
}

size_t StoreRing::read_requests(std::span<uint8_t> out) {
    if (m_broken) return 0;
    auto* in = iface();
    auto n = ByteRing(in->req, XENSTORE_RING_SIZE, &in->req_cons, &in->req_prod, m_writes).read(out);
    if (!n) mark_broken(XENSTORE_ERROR_RINGIDX);
    return n.value_or(0);
}

size_t StoreRing::write_responses(std::string_view bytes) {
    if (m_broken || bytes.empty()) return 0;
    auto* in = iface();
    auto n = ByteRing(in->rsp, XENSTORE_RING_SIZE, &in->rsp_cons, &in->rsp_prod, m_writes)
                 .write(std::span(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()));
    if (!n) mark_broken(XENSTORE_ERROR_RINGIDX);
    return n.value_or(0);
}

}  // namespace popek::pv
