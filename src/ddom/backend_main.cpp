#include "ddom/backend_main.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include <fmt/core.h>

#include "ddom/ddom_wire.h"
#include "ddom/hostile_grant_access.h"
#include "ddom/remote_grant_access.h"
#include "ddom/sandbox.h"
#include "ddom/seqpacket.h"
#include "pv/backends/blkif_handler.h"

namespace popek::ddom {
namespace {

/// Malformed messages logged before the log goes quiet (the VMM could be flooding us).
constexpr int kLoggedRejects = 10;

}  // namespace

int run_backend(const BackendOptions& o) {
    // Descriptors that are not what the command line says are a usage error (status 2, as for
    // `popek run`); failures once serving are status 1. A non-socket --socket-fd used to end the
    // process silently with status 0.
    auto usage = [](const Error& e) {
        fmt::print(stderr, "popek backend: {}\n", e.message);
        return 2;
    };
    auto die = [](const Error& e) {
        fmt::print(stderr, "popek backend: {}\n", e.message);
        return 1;
    };
    if (o.socket_fd < 0 || o.disk_fd < 0) return usage(Error{"--socket-fd and --disk-fd must be open descriptors"});
    if (o.socket_fd == o.disk_fd) return usage(Error{"--socket-fd and --disk-fd are the same descriptor"});
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(o.socket_fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_SEQPACKET)
        return usage(Error{fmt::format("--socket-fd {} is not a SOCK_SEQPACKET socket", o.socket_fd)});
    auto disk = host::BlockFile::adopt(UniqueFd(o.disk_fd), o.read_only, fmt::format("fd {}", o.disk_fd));
    if (!disk) return usage(Error{fmt::format("--disk-fd: {}", disk.error().message)});
    const std::optional<uint64_t> flip_sector = FlipReadsGrantAccess::from_environment();   // tests only
    if (o.sandbox) {
        if (auto r = close_other_fds(std::max(o.socket_fd, o.disk_fd)); !r) return die(r.error());
        if (auto r = drop_privileges(); !r) return die(r.error());
        if (auto r = install_seccomp(); !r) return die(r.error());
    }
    RemoteGrantAccess grants(o.socket_fd);
    FlipReadsGrantAccess hostile(grants, flip_sector.value_or(0));
    pv::BlkifHandler handler(flip_sector ? static_cast<pv::GrantAccess&>(hostile) : grants, *disk);
    std::vector<uint8_t> buf;
    int rejected = 0;
    for (;;) {
        auto got = receive_message(o.socket_fd, buf, -1);
        auto reject = [&](std::string_view why) {
            if (rejected++ < kLoggedRejects) fmt::print(stderr, "popek backend: rejected a message: {}\n", why);
        };
        if (!got && got.error().kind == ErrorKind::Oversized) {
            reject(got.error().message);
            continue;
        }
        if (!got) return 0;  // the VMM closed the connection (or is gone): the domain ends
        auto msg = parse(*got);
        if (!msg || msg->type != MessageType::BlkifRequest) {
            reject(msg ? "not a request" : msg.error().message);
            continue;
        }
        hostile.arm(msg->request);
        blkif_response_t rsp = handler.handle(msg->request);
        if (grants.broken()) return die(Error{"the VMM broke the protocol"});
        if (auto r = send_message(o.socket_fd, encode_response(rsp)); !r) return 0;
    }
}

}  // namespace popek::ddom
