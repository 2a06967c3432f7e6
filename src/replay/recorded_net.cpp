#include "replay/recorded_net.h"

namespace popek::replay {

Result<void> RecordedNet::start(Receive rx) {
    // The device's own receive path, called by the session on the vCPU thread at a halt.
    m_nic = m_session.add_nic(std::move(rx));
    if (!m_real) return {};
    return m_real->start([this](std::span<const uint8_t> frame) { m_session.queue_frame(m_nic, frame); });
}

}  // namespace popek::replay
