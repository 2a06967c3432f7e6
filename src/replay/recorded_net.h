#pragma once
/// A NIC's host side under `--record` / `--replay` (docs/record-replay.md "Network"): frames from
/// the host network arrive on the real back end's thread at the host's pace, so a recording
/// does not hand them to the guest there: the session queues them and delivers them at the
/// vCPU's next halt, logging each (Frame event, named by the halt's ordinal). A replay opens no
/// network at all: its frames come from the log at the same halts, and what the guest sends is
/// dropped. The device (virtio-net, the Xen vif) is the same in both.
#include <memory>

#include "host/net/net_backend.h"
#include "replay/session.h"

namespace popek::replay {

class RecordedNet final : public host::NetBackend {
public:
    /// `real`: the recording's host network; null on a replay.
    RecordedNet(Session& session, std::unique_ptr<host::NetBackend> real) : m_session(session), m_real(std::move(real)) {}
    ~RecordedNet() override { stop(); }

    std::string_view name() const override { return m_real ? m_real->name() : "replay"; }
    Result<void> start(Receive rx) override;
    void send(std::span<const uint8_t> frame) override {
        if (m_real) m_real->send(frame);
    }
    void stop() override {
        if (m_real) m_real->stop();
    }

private:
    Session& m_session;
    std::unique_ptr<host::NetBackend> m_real;
    size_t m_nic = 0;
};

}  // namespace popek::replay
