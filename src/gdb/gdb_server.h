#pragma once
/// `--gdb tcp:PORT|unix:PATH`: a gdb remote stub for the own engine (docs/debugging.md). One
/// client at a time, served by a thread of its own; the vCPUs are controlled through
/// VcpuControl (all-stop). A client that disconnects, or sends garbage, never stops popek: its
/// breakpoints are removed and the guest continues.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "gdb/vcpu_control.h"
#include "util/result.h"

namespace popek::gdb {

struct Endpoint {
    enum class Kind { Tcp, Unix } kind = Kind::Tcp;
    uint16_t port = 0;
    std::string path;
};

/// Parses `tcp:PORT` (1-65535; listens on 127.0.0.1) or `unix:PATH`.
Result<Endpoint> parse_endpoint(std::string_view spec);

class GdbServer {
public:
    /// Listens on `where` and serves clients until destroyed. `wait`: --gdb-wait (the vCPUs
    /// are stopped before their first instruction until a client resumes them).
    /// `on_kill`: called for a `k` packet (ends the VM).
    /// `history`: a replay's snapshots for reverse execution (gdb/reverse.h), or null.
    static Result<std::unique_ptr<GdbServer>> start(const Endpoint& where, emu::EngineShared& shared, bool wait,
                                                    std::function<void()> on_kill, ReplayHistory* history = nullptr);
    /// The VM ended with `status`: a client waiting for a stop gets `W` (E.3 "Stop Reply
    /// Packets") instead of a closed connection.
    void vm_ended(int status) {
        m_exit_status.store(status & 0xff);
    }
    /// A replay reached the recording's end (the vCPU thread): gdb stops there (VcpuControl::
    /// hold_end), `finish` ends the VM later. False: no client, end it now.
    bool hold_end(std::function<void()> finish) { return m_control.hold_end(std::move(finish)); }
    ~GdbServer();
    GdbServer(const GdbServer&) = delete;
    GdbServer& operator=(const GdbServer&) = delete;

private:
    GdbServer(int listen_fd, emu::EngineShared& shared, bool wait, std::function<void()> on_kill);
    void serve();
    void serve_client(int fd);

    int m_listen_fd;
    std::string m_unix_path;
    VcpuControl m_control;
    std::function<void()> m_on_kill;
    std::atomic<bool> m_quit{false};
    std::atomic<int> m_exit_status{-1};
    std::thread m_thread;
};

}  // namespace popek::gdb
