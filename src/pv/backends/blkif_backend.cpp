#include "pv/backends/blkif_backend.h"

namespace popek::pv {

BlkifBackend::BlkifBackend(BlkifExecutor& executor, std::span<uint8_t> ring) : m_executor(executor), m_ring(ring) {}

BlkifBackend::Outcome BlkifBackend::process() {
    Outcome out;
    if (m_failed) return out;
    uint32_t handled = 0;
    do {
        while (handled < kBatch) {
            auto req = m_ring.next_request();
            if (!req) break;
            ++handled;
            auto rsp = m_executor.execute(*req);
            if (!rsp) {
                m_failed = true;
                out.notify |= m_ring.publish_responses();
                return out;
            }
            m_ring.push_response(*rsp);
        }
        out.notify |= m_ring.publish_responses();
        if (handled >= kBatch) {
            out.more = m_ring.unconsumed_requests() > 0;
            return out;
        }
    } while (m_ring.final_check_for_requests());
    return out;
}

}  // namespace popek::pv
