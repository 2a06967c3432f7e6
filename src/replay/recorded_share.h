#pragma once
/// `--share DIR` under `--record` / `--replay` (docs/record-replay.md "The host directory"): the
/// popekfs back end's journal (pv::ShareJournal) kept in the session's log. A recording logs the
/// response the host directory gave each request (Share event); a replay serves the same
/// responses from the log, in order, and never opens DIR: a replay's directory may be changed or
/// gone. The data bytes a READ or READDIR copied into the guest are the Dma events of the exit.
#include "pv/backends/share_backend.h"
#include "replay/session.h"

namespace popek::replay {

class RecordedShare final : public pv::ShareJournal {
public:
    explicit RecordedShare(Session& session) : m_session(session) {}

    bool replaying() const override { return m_session.replaying(); }
    void recorded(const popekfs_response& rsp, uint32_t gathered, uint32_t scattered) override;
    std::optional<Answer> replayed(const popekfs_request& req) override;

private:
    Session& m_session;
};

}  // namespace popek::replay
