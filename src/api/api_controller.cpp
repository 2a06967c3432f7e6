#include "api/api_controller.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>

#include <fmt/chrono.h>

#include "api/metrics_file.h"
#include "cli/fc_options.h"

namespace popek::api {
namespace {

using json = nlohmann::json;

/// Firecracker's words for the two misuses of the VM's lifetime (vmm/src/rpc_interface.rs).
constexpr std::string_view kNotAfterStart = "The requested operation is not supported after starting the microVM.";
constexpr std::string_view kNotBeforeStart = "The requested operation is not supported before starting the microVM.";

/// `/drives/ID` -> ID for `prefix` "/drives/"; empty when the path is not of that shape.
std::string_view path_id(std::string_view path, std::string_view prefix) {
    if (!path.starts_with(prefix)) return {};
    std::string_view id = path.substr(prefix.size());
    return id.find('/') == std::string_view::npos ? id : std::string_view{};
}

}  // namespace

ApiResponse fault(int status, std::string_view message) {
    return ApiResponse{status, json{{"fault_message", message}}.dump()};
}

ApiController::ApiController(vmm::VmOptions cli, bool vm_described) : m_cli(std::move(cli)) {
    // The engine the command line chose (--accel, resolved from auto) is the API-built VM's too:
    // Firecracker's API has no word for it.
    m_config.popek.accel = std::string(hv::accel_name(m_cli.accel));
    if (vm_described) {
        m_state = State::Starting;
        m_boot = m_cli;
    }
}

std::string_view ApiController::state_name(State s) {
    switch (s) {
        case State::NotStarted: return "Not started";
        case State::Starting: return "Not started";
        case State::Running: return "Running";
        case State::Paused: return "Paused";
        case State::Stopped: return "Not started";
    }
    return "Not started";
}

ApiResponse ApiController::handle(std::string_view method, std::string_view path, std::string_view body) {
    ApiResponse r = route(method, path, body);
    std::lock_guard lock(m_mutex);
    ++m_requests;
    if (r.status >= 400) ++m_faults;
    return r;
}

ApiResponse ApiController::route(std::string_view method, std::string_view path, std::string_view body) {
    std::unique_lock lock(m_mutex);
    if (method == "GET" && path == "/") return get_instance_info();
    if (method == "GET" && path == "/machine-config") return get_machine_config();
    const bool put = method == "PUT", patch = method == "PATCH";
    const bool known = (put && (path == "/boot-source" || path == "/machine-config" || path == "/logger" ||
                                path == "/metrics" || path == "/actions" || path == "/snapshot/create" ||
                                path == "/snapshot/load" || !path_id(path, "/drives/").empty() ||
                                !path_id(path, "/network-interfaces/").empty())) ||
                       (patch && path == "/vm");
    if (!known) return fault(400, fmt::format("Invalid request method and/or path: {} {}.", method, path));
    if (body.empty()) return fault(400, "The request body is empty.");
    auto parsed = vmm::fc::parse_json(body);
    if (!parsed)
        return fault(parsed.error().message.starts_with("the JSON is") && body.size() > vmm::fc::kMaxBodyBytes ? 413 : 400,
                     "An error occurred when deserializing the json body of a request: " + parsed.error().message);
    // A VM the command line described may still be being built: calls on the running VM wait
    // for it (start_failed or started ends the wait; the build does not wait for the API).
    if (path == "/actions" || path == "/vm" || path == "/snapshot/create") m_cv.wait(lock, [&] { return m_state != State::Starting || m_start_error; });
    if (path == "/actions") return put_actions(*parsed, lock);
    if (path == "/vm") return patch_vm(*parsed);
    if (path == "/snapshot/create") return put_snapshot_create(*parsed);
    if (path == "/snapshot/load") return put_snapshot_load(*parsed, lock);
    if (auto id = path_id(path, "/drives/"); !id.empty()) return put_pre_boot("drive", id, *parsed);
    if (auto id = path_id(path, "/network-interfaces/"); !id.empty()) return put_pre_boot("network-interface", id, *parsed);
    return put_pre_boot(path.substr(1), {}, *parsed);
}

ApiResponse ApiController::put_pre_boot(std::string_view what, std::string_view id, const json& body) {
    // As in Firecracker, the body is parsed (and refused if bad) before the VM's state is looked
    // at; each body is parsed whole before anything changes, so a bad request changes nothing.
    vmm::fc::Config next = m_config;
    Result<void> parsed{};
    auto wrong_id = [](std::string_view) { return fail("The id from the path does not match the id from the body!"); };
    if (what == "boot-source") {
        auto b = vmm::fc::parse_boot_source(body);
        if (b) next.boot_source = *b;
        else parsed = std::unexpected(b.error());
    } else if (what == "machine-config") {
        auto m = vmm::fc::parse_machine_config(body);
        if (m) next.machine = *m;
        else parsed = std::unexpected(m.error());
    } else if (what == "drive") {
        auto d = vmm::fc::parse_drive(body);
        if (!d) parsed = std::unexpected(d.error());
        else if (d->drive_id != id) parsed = wrong_id(id);
        else parsed = vmm::fc::put_drive(next, std::move(*d));
    } else if (what == "network-interface") {
        auto n = vmm::fc::parse_network_interface(body);
        if (!n) parsed = std::unexpected(n.error());
        else if (n->iface_id != id) parsed = wrong_id(id);
        else parsed = vmm::fc::put_network_interface(next, std::move(*n));
    } else if (what == "logger") {
        auto l = vmm::fc::parse_logger(body);
        if (l) next.logger = *l;
        else parsed = std::unexpected(l.error());
    } else if (what == "metrics") {
        auto m = vmm::fc::parse_metrics(body);
        if (m) next.metrics = *m;
        else parsed = std::unexpected(m.error());
    }
    if (!parsed) return fault(400, parsed.error().message);
    if (m_state != State::NotStarted) return fault(400, kNotAfterStart);
    if (what == "logger" &&
        !append_line(next.logger->log_path, fmt::format("popek {}: logger configured (level {})", POPEK_VERSION,
                                                        next.logger->level)))
        return fault(400, fmt::format("logger: cannot open `{}` for appending", next.logger->log_path));
    m_config = std::move(next);
    return ApiResponse{};
}

ApiResponse ApiController::put_actions(const json& body, std::unique_lock<std::mutex>& lock) {
    if (!body.is_object() || body.size() != 1 || !body.contains("action_type"))
        return fault(400, "An error occurred when deserializing the json body of a request: expected exactly the field "
                          "`action_type`.");
    const json& action = body["action_type"];
    if (!action.is_string()) return fault(400, "`action_type` must be a string.");
    const std::string type = action.get<std::string>();
    if (type == "InstanceStart") return instance_start(lock);
    if (type == "FlushMetrics") return flush_metrics();
    if (type == "SendCtrlAltDel") {
        if (!m_vm) return fault(400, kNotBeforeStart);
        if (auto r = m_vm->send_ctrl_alt_del(); !r) return fault(400, r.error().message);
        return ApiResponse{};
    }
    return fault(400, fmt::format("unknown variant `{}`, expected one of `FlushMetrics`, `InstanceStart`, "
                                  "`SendCtrlAltDel`", type));
}

ApiResponse ApiController::instance_start(std::unique_lock<std::mutex>& lock) {
    if (m_state != State::NotStarted) return fault(400, kNotAfterStart);
    auto options = cli::to_vm_options(m_config);
    if (!options) return fault(400, fmt::format("Cannot start microvm that was not configured: {}", options.error().message));
    m_boot = cli::with_cli_extras(std::move(*options), m_cli);
    m_state = State::Starting;
    m_start_error.reset();
    m_cv.notify_all();
    // Firecracker answers InstanceStart once the VM is built: wait for the main thread's verdict.
    m_cv.wait(lock, [&] { return m_state != State::Starting; });
    if (m_start_error) return fault(400, fmt::format("Failed to start microVM: {}", m_start_error->message));
    return ApiResponse{};
}

ApiResponse ApiController::patch_vm(const json& body) {
    if (!body.is_object() || body.size() != 1 || !body.contains("state") || !body["state"].is_string())
        return fault(400, "An error occurred when deserializing the json body of a request: expected exactly the field "
                          "`state` (\"Paused\" or \"Resumed\").");
    const std::string state = body["state"].get<std::string>();
    if (state != "Paused" && state != "Resumed")
        return fault(400, fmt::format("unknown variant `{}`, expected `Paused` or `Resumed`", state));
    if (!m_vm) return fault(400, kNotBeforeStart);
    if (state == "Paused") {
        if (auto r = m_vm->pause(); !r) return fault(400, fmt::format("Failed to pause the microVM: {}", r.error().message));
        m_state = State::Paused;
    } else {
        if (auto r = m_vm->resume(); !r) return fault(400, fmt::format("Failed to resume the microVM: {}", r.error().message));
        m_state = State::Running;
    }
    append_line(m_boot.log_path, fmt::format("popek: VM {}", state));
    return ApiResponse{};
}

ApiResponse ApiController::flush_metrics() {
    const std::string& path = m_vm || m_state != State::NotStarted ? m_boot.metrics_path
                                                                    : (m_config.metrics ? m_config.metrics->metrics_path : "");
    if (path.empty()) return fault(400, "The metrics system is not initialized: PUT /metrics first.");
    // One Firecracker-style line: the VM's counters (vmm/vm_metrics.h, docs/metrics.md) and the API's.
    json record{{"utc_timestamp_ms", unix_ms()}};
    if (m_vm) record.update(m_vm->metrics());
    record["api_server"] = {{"requests", m_requests}, {"faults", m_faults}, {"flushes", ++m_flushes}};
    record["vmm"] = {{"state", state_name(m_state)}};
    if (!append_line(path, record.dump())) return fault(400, fmt::format("Cannot write the metrics to `{}`.", path));
    return ApiResponse{};
}

void ApiController::periodic_flush() {
    std::lock_guard lock(m_mutex);
    if (m_vm && !m_boot.metrics_path.empty()) (void)flush_metrics();
}

ApiResponse ApiController::get_instance_info() const {
    json info{{"id", "anonymous-instance"},
              {"state", state_name(m_state)},
              {"vmm_version", POPEK_VERSION},
              {"app_name", "popek"}};
    return ApiResponse{200, info.dump()};
}

ApiResponse ApiController::get_machine_config() const {
    const bool booted = m_state != State::NotStarted;
    const uint64_t vcpus = booted ? static_cast<uint64_t>(m_boot.cpus) : m_config.machine.vcpu_count;
    const uint64_t mem = booted ? m_boot.mem_mib : m_config.machine.mem_size_mib;
    json mc{{"vcpu_count", vcpus},
            {"mem_size_mib", mem},
            {"smt", false},
            {"track_dirty_pages", m_config.machine.track_dirty_pages},
            {"huge_pages", "None"}};
    return ApiResponse{200, mc.dump()};
}

vmm::VmOptions ApiController::wait_for_start() {
    std::unique_lock lock(m_mutex);
    m_cv.wait(lock, [&] { return m_state == State::Starting; });
    return m_boot;
}

void ApiController::start_failed(const Error& error) {
    {
        std::lock_guard lock(m_mutex);
        m_start_error = error;
        m_state = State::NotStarted;
    }
    m_cv.notify_all();
}

void ApiController::started(vmm::RunningVm& vm) {
    {
        std::lock_guard lock(m_mutex);
        m_vm = &vm;
        m_state = State::Running;
    }
    m_cv.notify_all();
    log("VM started");
}

void ApiController::stopping() {
    // Taking the mutex waits out a request using m_vm (a pause in progress).
    {
        std::lock_guard lock(m_mutex);
        m_vm = nullptr;
        m_state = State::Stopped;
    }
    m_cv.notify_all();
    log("VM stopped");
}

void ApiController::log(std::string_view message) {
    std::string path;
    {
        std::lock_guard lock(m_mutex);
        path = m_state == State::NotStarted ? (m_config.logger ? m_config.logger->log_path : "") : m_boot.log_path;
    }
    append_line(path, fmt::format("{:%Y-%m-%dT%H:%M:%S} [popek] {}", std::chrono::system_clock::now(), message));
}

}  // namespace popek::api
