#pragma once
/// HTTP/1.1 on a unix stream socket (`popek run --api-sock PATH`, docs/api.md), parsed by
/// cpp-httplib (Debian libcpp-httplib-dev). Debian 12's cpp-httplib 0.11 cannot listen on a unix
/// socket itself, so popek accepts the connections and hands each one to httplib's request
/// processing through an httplib::Stream over the socket; httplib parses the request line,
/// headers and body (Content-Length or chunked), answers malformed requests, and popek routes
/// every request to one handler (ApiController).
///
/// Bounds, so that no client can stop the others or the VM: at most kMaxClients connections at
/// once (more get 503 and are closed), each request's bytes (headers and body) bounded and
/// answered 413 past it, each request given a deadline (a client that stalls is dropped), and a
/// connection closed after kMaxRequestsPerConnection requests or when idle.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/api_controller.h"
#include "util/result.h"

namespace popek::api {

class HttpApiServer {
public:
    using Handler = std::function<ApiResponse(std::string_view method, std::string_view path, std::string_view body)>;
    static constexpr int kMaxClients = 16;
    static constexpr int kMaxRequestsPerConnection = 100;

    /// Listens on `path` (which must not exist yet, as with Firecracker) and serves on threads of
    /// its own. The socket file is removed again when the server is destroyed.
    static Result<std::unique_ptr<HttpApiServer>> start(const std::string& path, Handler handler);
    ~HttpApiServer();

    HttpApiServer(const HttpApiServer&) = delete;
    HttpApiServer& operator=(const HttpApiServer&) = delete;

    struct Impl;

private:
    explicit HttpApiServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

}  // namespace popek::api
