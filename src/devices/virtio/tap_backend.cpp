// virtio-net backend on a host tap interface (Linux TUN/TAP, IFF_TAP | IFF_NO_PI).
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/ioctl.h>

#include <array>
#include <cstring>

#include "devices/virtio/backend_thread.h"
#include "devices/virtio/net_backend.h"

namespace popek::devices::virtio {
namespace {

class TapBackend final : public NetBackend {
public:
    explicit TapBackend(UniqueFd fd) : m_fd(std::move(fd)) {}
    ~TapBackend() override { stop(); }
    std::string_view name() const override { return "tap"; }

    Result<void> start(Receive rx) override {
        m_rx = std::move(rx);
        return m_thread.start([this] { loop(); });
    }
    void send(std::span<const uint8_t> frame) override {
        // Non-blocking: EAGAIN (the host side is not reading) drops the frame.
        [[maybe_unused]] ssize_t n = ::write(m_fd.get(), frame.data(), frame.size());
    }
    void stop() override { m_thread.stop(); }

private:
    void loop() {
        std::array<uint8_t, 65536> buf;
        while (!m_thread.stopping()) {
            pollfd fds[2] = {{m_fd.get(), POLLIN, 0}, {m_thread.wake_fd(), POLLIN, 0}};
            if (::poll(fds, 2, -1) < 0) continue;
            if (fds[1].revents) m_thread.drain();
            if (!(fds[0].revents & POLLIN)) continue;
            for (;;) {
                ssize_t n = ::read(m_fd.get(), buf.data(), buf.size());
                if (n <= 0) break;
                m_rx(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)));
            }
        }
    }

    UniqueFd m_fd;
    Receive m_rx;
    BackendThread m_thread;
};

}  // namespace

Result<std::unique_ptr<NetBackend>> make_tap_backend(const std::string& ifname) {
    if (ifname.empty() || ifname.size() >= IFNAMSIZ) return fail("tap interface name '{}' is invalid", ifname);
    int fd = ::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return fail_errno("open /dev/net/tun");
    UniqueFd owner(fd);
    ifreq ifr{};
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
    if (::ioctl(fd, TUNSETIFF, &ifr) != 0) return fail_errno("tap '{}' (TUNSETIFF)", ifname);
    return std::make_unique<TapBackend>(std::move(owner));
}

}  // namespace popek::devices::virtio
