#pragma once
/// The part the tap and unix-datagram backends share: a non-blocking fd that carries one Ethernet
/// frame per read, polled on the backend's own thread.
#include "host/net/backend_thread.h"
#include "host/net/net_backend.h"

namespace popek::host {

class FdFrameBackend : public NetBackend {
public:
    /// `fd` stays owned by the subclass, which must call stop() in its destructor.
    explicit FdFrameBackend(int fd) : m_fd(fd) {}
    Result<void> start(Receive rx) override;
    void stop() override { m_thread.stop(); }

private:
    void loop();

    int m_fd;
    Receive m_rx;
    BackendThread m_thread;
};

}  // namespace popek::host
