// Host network back end on a host tap interface (Linux TUN/TAP, IFF_TAP | IFF_NO_PI).
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include <cstring>

#include "host/net/fd_frame_backend.h"

namespace popek::host {
namespace {

class TapBackend final : public FdFrameBackend {
public:
    explicit TapBackend(UniqueFd fd) : FdFrameBackend(fd.get()), m_fd(std::move(fd)) {}
    ~TapBackend() override { stop(); }
    std::string_view name() const override { return "tap"; }
    void send(std::span<const uint8_t> frame) override {
        // Non-blocking: EAGAIN (the host side is not reading) drops the frame.
        [[maybe_unused]] ssize_t n = ::write(m_fd.get(), frame.data(), frame.size());
    }

private:
    UniqueFd m_fd;
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

}  // namespace popek::host
