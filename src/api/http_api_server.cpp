#include "api/http_api_server.h"
#include "host/thread_confinement.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <list>
#include <mutex>
#include <thread>

#include <httplib.h>

#include "util/fd.h"
#include "vmm/fc_config.h"

namespace popek::api {
namespace {

using Clock = std::chrono::steady_clock;

/// Bytes one request may take, headers and body: the body bound plus room for the headers.
constexpr size_t kMaxRequestBytes = vmm::fc::kMaxBodyBytes + 16 * 1024;
/// Time one request may take to arrive, and an idle keep-alive connection may wait.
constexpr auto kRequestDeadline = std::chrono::seconds(10);
constexpr auto kIdleTimeout = std::chrono::seconds(5);

/// Milliseconds left until `deadline` (0 once passed), for poll().
int ms_until(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return left <= 0 ? 0 : static_cast<int>(std::min<long long>(left, 1000 * 60));
}

bool wait_fd(int fd, short events, Clock::time_point deadline) {
    pollfd p{fd, events, 0};
    for (;;) {
        const int n = ::poll(&p, 1, ms_until(deadline));
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno != EINTR) return false;
    }
}

/// One accepted connection as httplib reads and writes it: every read and write waits at most
/// until the current request's deadline, and reads stop at kMaxRequestBytes per request.
class UnixStream final : public httplib::Stream {
public:
    explicit UnixStream(int fd) : m_fd(fd) {}
    void begin_request() {
        m_deadline = Clock::now() + kRequestDeadline;
        m_read = 0;
        m_over_limit = false;
        m_answered = false;
    }
    bool over_limit() const { return m_over_limit; }
    /// The request passed kMaxRequestBytes and httplib wrote no answer for it.
    bool over_limit_unanswered() const { return m_over_limit && !m_answered; }

    bool is_readable() const override { return wait_fd(m_fd, POLLIN, m_deadline); }
    bool is_writable() const override { return wait_fd(m_fd, POLLOUT, m_deadline); }
    ssize_t read(char* ptr, size_t size) override {
        if (m_read >= kMaxRequestBytes) {
            m_over_limit = true;
            return -1;
        }
        size = std::min(size, kMaxRequestBytes - m_read);
        if (!is_readable()) return -1;
        const ssize_t n = ::recv(m_fd, ptr, size, 0);
        if (n > 0) m_read += static_cast<size_t>(n);
        return n;
    }
    ssize_t write(const char* ptr, size_t size) override {
        if (!is_writable()) return -1;
        m_answered = true;
        return ::send(m_fd, ptr, size, MSG_NOSIGNAL);
    }
    void get_remote_ip_and_port(std::string& ip, int& port) const override {
        ip = "unix";
        port = 0;
    }
    void get_local_ip_and_port(std::string& ip, int& port) const override {
        ip = "unix";
        port = 0;
    }
    socket_t socket() const override { return m_fd; }

private:
    int m_fd;
    Clock::time_point m_deadline = Clock::now() + kRequestDeadline;
    size_t m_read = 0;
    bool m_over_limit = false;
    bool m_answered = false;
};

/// The stream whose request this thread is processing (for the error handler: a request cut off
/// at kMaxRequestBytes is answered 413 rather than httplib's 400).
thread_local const UnixStream* t_stream = nullptr;
/// Set when httplib itself refused the request (malformed, too large): what is left of it on the
/// connection cannot be trusted to be the next request, so the connection is closed.
thread_local bool t_refused = false;

/// httplib's request processing, reachable for a stream popek accepted itself.
class Router final : public httplib::Server {
public:
    bool serve(httplib::Stream& stream, bool close_connection, bool& connection_closed) {
        return process_request(stream, close_connection, connection_closed, [](httplib::Request&) {});
    }
};

/// A whole response written by popek, for the cases httplib's processing cannot answer.
void send_canned(int fd, int status, std::string_view reason, std::string_view message) {
    const std::string body = fault(status, message).body;
    const std::string text = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n"
                                         "Connection: close\r\n\r\n{}",
                                         status, reason, body.size(), body);
    (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
}

}  // namespace

struct HttpApiServer::Impl {
    struct Client {
        UniqueFd fd;
        std::thread thread;
        std::atomic<bool> done{false};
    };

    std::string path;
    UniqueFd listener;
    UniqueFd stop_event;
    Router router;
    std::thread accept_thread;
    std::mutex mutex;
    std::list<Client> clients;   ///< under mutex; a Client's address is stable for its thread

    void accept_loop();
    void serve_client(Client& client);
    void reap_finished();
};

void HttpApiServer::Impl::serve_client(Client& client) {
    const int fd = client.fd.get();
    UnixStream stream(fd);
    for (int served = 0; served < kMaxRequestsPerConnection; ++served) {
        // Idle keep-alive connections (and a stop request) end here.
        pollfd waits[2] = {{fd, POLLIN, 0}, {stop_event.get(), POLLIN, 0}};
        const auto idle_ms = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(kIdleTimeout).count());
        if (::poll(waits, 2, idle_ms) <= 0 || (waits[1].revents & POLLIN) || !(waits[0].revents & (POLLIN | POLLHUP)))
            break;
        stream.begin_request();
        bool closed = false;
        t_stream = &stream;
        t_refused = false;
        const bool ok = router.serve(stream, served + 1 == kMaxRequestsPerConnection, closed);
        t_stream = nullptr;
        if (stream.over_limit_unanswered()) {
            send_canned(fd, 413, "Payload Too Large",
                        fmt::format("The request is larger than {} bytes (headers and body).", kMaxRequestBytes));
            break;
        }
        if (!ok || closed || t_refused) break;
    }
    ::shutdown(fd, SHUT_RDWR);
    client.done.store(true);
}

void HttpApiServer::Impl::reap_finished() {
    std::lock_guard lock(mutex);
    for (auto it = clients.begin(); it != clients.end();) {
        if (it->done.load()) {
            it->thread.join();
            it = clients.erase(it);
        } else {
            ++it;
        }
    }
}

void HttpApiServer::Impl::accept_loop() {
    for (;;) {
        pollfd waits[2] = {{listener.get(), POLLIN, 0}, {stop_event.get(), POLLIN, 0}};
        if (::poll(waits, 2, 1000) < 0 && errno != EINTR) return;
        if (waits[1].revents & POLLIN) return;
        reap_finished();
        if (!(waits[0].revents & POLLIN)) continue;
        UniqueFd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
        if (fd.get() < 0) continue;
        std::lock_guard lock(mutex);
        if (clients.size() >= static_cast<size_t>(kMaxClients)) {
            send_canned(fd.get(), 503, "Service Unavailable",
                        fmt::format("Too many API clients at once (at most {}); retry.", kMaxClients));
            continue;
        }
        Client& c = clients.emplace_back();
        c.fd = std::move(fd);
        c.thread = std::thread([this, &c] { serve_client(c); });
    }
}

Result<std::unique_ptr<HttpApiServer>> HttpApiServer::start(const std::string& path, Handler handler) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(addr.sun_path))
        return fail("--api-sock '{}': a unix socket path must be 1 to {} bytes long", path, sizeof(addr.sun_path) - 1);
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0)
        return fail("--api-sock '{}' already exists (remove it first; Firecracker refuses it too)", path);
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->listener = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (impl->listener.get() < 0) return fail_errno("--api-sock: socket");
    // Bound under a temporary name and renamed once listening, so that a client that waits for
    // PATH to appear is never refused (connect before listen); PATH itself when the name is too long.
    std::string bound = path + ".new";
    if (bound.size() >= sizeof(addr.sun_path)) bound = path;
    std::copy(bound.begin(), bound.end(), addr.sun_path);
    if (::bind(impl->listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
        return fail_errno("--api-sock '{}': bind", bound);
    if (::listen(impl->listener.get(), 64) != 0 || (bound != path && ::rename(bound.c_str(), path.c_str()) != 0)) {
        Error e = fail_errno("--api-sock '{}': listen", path).error();
        ::unlink(bound.c_str());
        return std::unexpected(e);
    }
    impl->stop_event = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (impl->stop_event.get() < 0) {
        ::unlink(path.c_str());
        return fail_errno("--api-sock: eventfd");
    }

    httplib::Server& r = impl->router;
    r.set_payload_max_length(vmm::fc::kMaxBodyBytes);
    r.set_keep_alive_max_count(kMaxRequestsPerConnection);
    auto route = [handler](const httplib::Request& req, httplib::Response& res) {
        ApiResponse a = handler(req.method, req.path, req.body);
        res.status = a.status;
        if (!a.body.empty()) res.set_content(a.body, "application/json");
    };
    // Every path goes to the controller, which answers unknown ones as Firecracker does (400).
    r.Get(".*", route);
    r.Put(".*", route);
    r.Patch(".*", route);
    r.Post(".*", route);
    r.Delete(".*", route);
    // What httplib answers itself (bad request line, 413 body, unknown method) gets Firecracker's error body.
    r.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return;   // the API's own answer
        t_refused = true;
        if (t_stream && t_stream->over_limit()) res.status = 413;   // cut off at the byte bound
        const std::string what =
            res.status == 413 ? fmt::format("The request is larger than the limit ({} bytes of body, {} in all).",
                                            vmm::fc::kMaxBodyBytes, kMaxRequestBytes)
                              : std::string("The request is malformed.");
        res.set_content(fault(res.status, what).body, "application/json");
    });
    r.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        res.status = 500;
        res.set_content(fault(500, "Internal error while handling the request.").body, "application/json");
    });
    Impl* raw = impl.get();
    impl->accept_thread = std::thread([raw] {
        // Its connection threads inherit this filter (docs/seccomp.md).
        host::confine_this_thread(host::ThreadKind::Api);
        raw->accept_loop();
    });
    return std::unique_ptr<HttpApiServer>(new HttpApiServer(std::move(impl)));
}

HttpApiServer::HttpApiServer(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}

HttpApiServer::~HttpApiServer() {
    const uint64_t one = 1;
    (void)::write(m_impl->stop_event.get(), &one, sizeof(one));
    if (m_impl->accept_thread.joinable()) m_impl->accept_thread.join();
    {
        std::lock_guard lock(m_impl->mutex);
        for (auto& c : m_impl->clients) ::shutdown(c.fd.get(), SHUT_RDWR);
    }
    for (auto& c : m_impl->clients) c.thread.join();
    ::unlink(m_impl->path.c_str());
}

}  // namespace popek::api
