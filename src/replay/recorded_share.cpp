#include "replay/recorded_share.h"

#include <cstring>

#include <fmt/core.h>

namespace popek::replay {

void RecordedShare::recorded(const popekfs_response& rsp, uint32_t gathered, uint32_t scattered) {
    m_session.log_share_answer(std::span(reinterpret_cast<const uint8_t*>(&rsp), sizeof rsp), gathered, scattered);
}

std::optional<pv::ShareJournal::Answer> RecordedShare::replayed(const popekfs_request& req) {
    auto e = m_session.replay_share_answer();
    if (!e) return std::nullopt;
    // The log is hostile input like the guest: its answer must fit the request it is for.
    if (e->bytes.size() != sizeof(popekfs_response)) {
        m_session.backend_diverged(fmt::format("a --share answer of {} bytes in the log (a popekfs response has {})",
                                               e->bytes.size(), sizeof(popekfs_response)));
        return std::nullopt;
    }
    Answer a;
    std::memcpy(&a.rsp, e->bytes.data(), sizeof a.rsp);
    a.gathered = e->gathered;
    a.scattered = e->size;
    if (a.rsp.id != req.id || a.rsp.op != req.op) {
        m_session.backend_diverged(fmt::format("popekfs request {} (op {}) where the log answers request {} (op {})", req.id,
                                               req.op, a.rsp.id, a.rsp.op));
        return std::nullopt;
    }
    const uint32_t room = std::min<uint32_t>(req.nr_pages, POPEKFS_MAX_DATA_PAGES) * static_cast<uint32_t>(pv::kXenPageSize);
    if (a.scattered > room || a.gathered > room) {
        m_session.backend_diverged(fmt::format("the log's answer to popekfs request {} moved {} and {} bytes through {} bytes of pages",
                                               req.id, a.gathered, a.scattered, room));
        return std::nullopt;
    }
    return a;
}

}  // namespace popek::replay
