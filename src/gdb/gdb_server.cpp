#include "gdb/gdb_server.h"
#include "host/thread_confinement.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "gdb/gdb_session.h"
#include "gdb/rsp_framing.h"

namespace popek::gdb {
namespace {

bool send_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

Result<int> listen_on(const Endpoint& where) {
    int fd = -1;
    if (where.kind == Endpoint::Kind::Tcp) {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return fail("--gdb: socket: {}", std::strerror(errno));
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(where.port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);   // a debugger owns the guest: local only
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0) {
            const int e = errno;
            ::close(fd);
            return fail("--gdb tcp:{}: cannot listen on 127.0.0.1:{}: {}", where.port, where.port, std::strerror(e));
        }
    } else {
        fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return fail("--gdb: socket: {}", std::strerror(errno));
        sockaddr_un a{};
        a.sun_family = AF_UNIX;
        std::memcpy(a.sun_path, where.path.data(), where.path.size());
        if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) < 0) {
            const int e = errno;
            ::close(fd);
            return fail("--gdb unix:{}: cannot listen: {}", where.path, std::strerror(e));
        }
    }
    if (::listen(fd, 1) < 0) {
        const int e = errno;
        ::close(fd);
        return fail("--gdb: listen: {}", std::strerror(e));
    }
    return fd;
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view spec) {
    Endpoint e;
    if (spec.substr(0, 4) == "tcp:") {
        const std::string_view num = spec.substr(4);
        unsigned port = 0;
        auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), port);
        if (num.empty() || ec != std::errc() || end != num.data() + num.size() || port == 0 || port > 65535)
            return fail("--gdb {}: expected tcp:PORT with PORT in 1..65535", spec);
        e.kind = Endpoint::Kind::Tcp;
        e.port = static_cast<uint16_t>(port);
        return e;
    }
    if (spec.substr(0, 5) == "unix:") {
        e.kind = Endpoint::Kind::Unix;
        e.path = std::string(spec.substr(5));
        if (e.path.empty() || e.path.size() >= sizeof(sockaddr_un{}.sun_path))
            return fail("--gdb {}: expected unix:PATH with a path of 1..{} bytes", spec, sizeof(sockaddr_un{}.sun_path) - 1);
        return e;
    }
    return fail("--gdb {}: expected tcp:PORT or unix:PATH", spec);
}

Result<std::unique_ptr<GdbServer>> GdbServer::start(const Endpoint& where, emu::EngineShared& shared, bool wait,
                                                    std::function<void()> on_kill, ReplayHistory* history) {
    const int fd = TRY(listen_on(where));
    std::unique_ptr<GdbServer> s(new GdbServer(fd, shared, wait, std::move(on_kill)));
    s->m_control.set_history(history);
    if (where.kind == Endpoint::Kind::Unix) s->m_unix_path = where.path;
    s->m_thread = std::thread([p = s.get()] {
        host::confine_this_thread(host::ThreadKind::Device);
        p->serve();
    });
    fmt::print(stderr, "popek: gdb stub listening on {}{}\n",
               where.kind == Endpoint::Kind::Tcp ? fmt::format("127.0.0.1:{}", where.port) : where.path,
               wait ? " (vCPUs stopped until gdb continues)" : "");
    return s;
}

GdbServer::GdbServer(int listen_fd, emu::EngineShared& shared, bool wait, std::function<void()> on_kill)
    : m_listen_fd(listen_fd), m_control(shared, wait), m_on_kill(std::move(on_kill)) {}

GdbServer::~GdbServer() {
    // A client waiting for a stop is told that the VM exited (serve_client) before it goes.
    if (m_exit_status.load() >= 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    m_quit.store(true);
    if (m_thread.joinable()) m_thread.join();
    ::close(m_listen_fd);
    if (!m_unix_path.empty()) ::unlink(m_unix_path.c_str());
}

void GdbServer::serve() {
    while (!m_quit.load()) {
        pollfd p{m_listen_fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        const int fd = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));   // (fails harmlessly on unix)
        m_control.set_client(true);
        serve_client(fd);
        m_control.set_client(false);
        ::close(fd);
        // The client is gone (detach, disconnect, garbage): the guest continues without it.
        m_control.detach();
    }
}

void GdbServer::serve_client(int fd) {
    GdbSession session(m_control);
    RspDecoder decoder;
    std::string last_reply;
    // gdb expects a stopped target when it connects (as QEMU's stub does).
    std::optional<StopInfo> initial = m_control.stop_all(5);
    session.stop_reply(*initial);
    bool running = false;
    uint8_t buf[4096];
    while (!m_quit.load()) {
        if (running && m_exit_status.load() >= 0) {
            // The guest ended the VM (E.3: W AA, the process exited with status AA).
            send_all(fd, rsp_frame(fmt::format("W{:02x}", m_exit_status.load())));
            // Let the client acknowledge it and hang up first (bounded).
            ::shutdown(fd, SHUT_WR);
            pollfd q{fd, POLLIN, 0};
            for (int k = 0; k < 50 && ::poll(&q, 1, 20) >= 0; ++k)
                if ((q.revents & POLLIN) && ::recv(fd, buf, sizeof(buf), 0) <= 0) break;
            return;
        }
        if (running) {
            if (auto stop = m_control.take_stop(std::chrono::milliseconds(0))) {
                running = false;
                last_reply = rsp_frame(session.stop_reply(*stop));
                if (!send_all(fd, last_reply)) return;
            }
        }
        pollfd p{fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, 20);
        if (ready < 0 && errno != EINTR) return;
        if (ready <= 0) continue;
        const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
        if (n <= 0) return;   // disconnected
        std::span<const uint8_t> in(buf, static_cast<size_t>(n));
        while (!in.empty()) {
            size_t used = 0;
            std::optional<RspEvent> ev = decoder.feed(in, used);
            in = in.subspan(used);
            if (!ev) break;
            switch (ev->kind) {
                case RspEvent::Ack: break;
                case RspEvent::Nack:
                    if (!last_reply.empty() && !send_all(fd, last_reply)) return;
                    break;
                case RspEvent::BadChecksum:
                case RspEvent::Oversized:
                    if (!send_all(fd, "-")) return;
                    break;
                case RspEvent::Interrupt:
                    if (running) {
                        running = false;
                        last_reply = rsp_frame(session.stop_reply(m_control.stop_all(2)));
                        if (!send_all(fd, last_reply)) return;
                    }
                    break;
                case RspEvent::Packet: {
                    if (!send_all(fd, "+")) return;
                    if (running) break;   // all-stop: gdb sends nothing but ^C while running
                    std::optional<std::string> reply = session.handle(ev->payload);
                    if (session.kill_requested()) {
                        if (m_on_kill) m_on_kill();
                        return;
                    }
                    if (!reply) {
                        running = true;
                        break;
                    }
                    last_reply = rsp_frame(*reply);
                    if (!send_all(fd, last_reply)) return;
                    if (session.closing()) {
                        // Let the client acknowledge the reply before the socket goes away
                        // (gdb reports a broken pipe otherwise).
                        ::shutdown(fd, SHUT_WR);
                        pollfd q{fd, POLLIN, 0};
                        for (int k = 0; k < 25 && ::poll(&q, 1, 20) >= 0; ++k)
                            if ((q.revents & POLLIN) && ::recv(fd, buf, sizeof(buf), 0) <= 0) break;
                        return;
                    }
                    break;
                }
            }
        }
    }
}

}  // namespace popek::gdb
