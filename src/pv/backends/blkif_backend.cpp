#include "pv/backends/blkif_backend.h"

namespace popek::pv {

BlkifBackend::BlkifBackend(BlkifExecutor& executor, std::span<uint8_t> ring, const RamWrites* writes)
    : m_executor(executor), m_ring(ring, writes) {}

BlkifBackend::Outcome BlkifBackend::process() {
    if (m_failed) return {};
    return serve_ring(m_ring, kBatch, [this](const blkif_request_t& req) {
        auto rsp = m_executor.execute(req);
        if (!rsp) m_failed = true;
        return rsp;
    });
}

std::optional<std::string> BlkifBackend::failure() const {
    if (!m_failed) return std::nullopt;
    return "driver domain back end failed: " + m_executor.failure().value_or("unknown");
}

}  // namespace popek::pv
