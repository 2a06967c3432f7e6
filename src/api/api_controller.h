#pragma once
/// Firecracker's API (the subset popek serves, docs/api.md) over one VM: requests in, status and
/// JSON out, independent of HTTP (src/api/http_api_server.cpp carries them), so every rule is
/// unit-tested without a socket.
///
/// Paths, bodies, status codes and `{"fault_message": ...}` errors follow Firecracker's swagger
/// file (src/firecracker/swagger/firecracker.yaml, v1.x): 204 for a PUT/PATCH that worked, 200
/// with a body for GET, 400 for everything the client got wrong (Firecracker answers unknown
/// paths and methods with 400 too), 413 for an oversized body.
///
/// Threads: handle() runs on the API server's connection threads, serialized by one mutex.
/// InstanceStart hands the configuration to the main thread (wait_for_start) and waits for the VM
/// to be up or to fail; pause and resume act on the running VM through vmm::RunningVm. Nothing
/// here runs on, or waits for, a vCPU thread beyond the pause itself.
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"
#include "vmm/fc_config.h"
#include "vmm/machine.h"
#include "vmm/vm_options.h"

namespace popek::api {

struct ApiResponse {
    int status = 204;
    std::string body;   ///< JSON, empty for 204
};

/// `{"fault_message": "..."}` with `status`.
ApiResponse fault(int status, std::string_view message);

class ApiController final : public vmm::VmObserver {
public:
    /// `cli`: what the command line gave. When `vm_described` (--kernel or --config-file) the VM
    /// boots from it at once and the pre-boot calls are refused; otherwise the API describes the
    /// VM and the command line adds only what Firecracker's API has no words for (--stats,
    /// --perf-map, --gdb).
    ApiController(vmm::VmOptions cli, bool vm_described);

    ApiResponse handle(std::string_view method, std::string_view path, std::string_view body);

    // ---- the main thread ----
    /// Blocks until InstanceStart (at once when the VM was described on the command line).
    vmm::VmOptions wait_for_start();
    /// The VM could not be built: InstanceStart answers 400 with this, and the API takes
    /// pre-boot calls again (a fixed configuration may be started).
    void start_failed(const Error& error);

    // ---- vmm::VmObserver ----
    void started(vmm::RunningVm& vm) override;
    void stopping() override;

    /// Firecracker's periodic flush (every 60 s): a metrics line when a VM runs and a metrics
    /// file is set; nothing otherwise.
    void periodic_flush();

    /// Appends a line to the logger's file (PUT /logger or the config's `logger`), if one is set.
    void log(std::string_view message);

private:
    enum class State { NotStarted, Starting, Running, Paused, Stopped };
    static std::string_view state_name(State s);

    ApiResponse route(std::string_view method, std::string_view path, std::string_view body);
    ApiResponse put_pre_boot(std::string_view what, std::string_view id, const nlohmann::json& body);
    ApiResponse put_actions(const nlohmann::json& body, std::unique_lock<std::mutex>& lock);
    ApiResponse patch_vm(const nlohmann::json& body);
    ApiResponse get_instance_info() const;
    ApiResponse get_machine_config() const;
    ApiResponse instance_start(std::unique_lock<std::mutex>& lock);
    ApiResponse flush_metrics();
    // PUT /snapshot/create and /snapshot/load (api_snapshot.cpp, docs/snapshot.md).
    ApiResponse put_snapshot_create(const nlohmann::json& body);
    ApiResponse put_snapshot_load(const nlohmann::json& body, std::unique_lock<std::mutex>& lock);

    std::mutex m_mutex;
    std::condition_variable m_cv;
    State m_state = State::NotStarted;
    vmm::fc::Config m_config;    ///< what the pre-boot calls set
    vmm::VmOptions m_cli;
    vmm::VmOptions m_boot;       ///< what the VM was (or is being) built from
    vmm::RunningVm* m_vm = nullptr;
    std::optional<Error> m_start_error;
    uint64_t m_requests = 0, m_faults = 0, m_flushes = 0;
};

}  // namespace popek::api
