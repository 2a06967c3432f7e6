// Network backend over a unix datagram socket pair of paths (`--net dgram=LOCAL,REMOTE`): each
// datagram is one Ethernet frame, as with QEMU's `-netdev dgram`. Wires two popek instances, or
// popek and `popek net-peer`, together without root.
#include "host/net/fd_frame_backend.h"
#include "util/unix_dgram.h"

namespace popek::host {
namespace {

class DgramBackend final : public FdFrameBackend {
public:
    explicit DgramBackend(UnixDgramSocket socket) : FdFrameBackend(socket.fd()), m_socket(std::move(socket)) {}
    ~DgramBackend() override { stop(); }
    std::string_view name() const override { return "dgram"; }
    void send(std::span<const uint8_t> frame) override {
        // Lost when the remote end is absent or congested, like a frame on an unplugged cable.
        [[maybe_unused]] bool sent = m_socket.send(frame);
    }

private:
    UnixDgramSocket m_socket;
};

}  // namespace

Result<std::unique_ptr<NetBackend>> make_dgram_backend(const std::string& local_path, const std::string& remote_path) {
    auto socket = UnixDgramSocket::open(local_path, remote_path);
    if (!socket) return std::unexpected(with_context(socket.error(), "dgram"));
    return std::make_unique<DgramBackend>(std::move(*socket));
}

}  // namespace popek::host
