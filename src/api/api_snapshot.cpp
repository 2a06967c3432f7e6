// PUT /snapshot/create and PUT /snapshot/load (Firecracker's swagger: SnapshotCreateParams,
// SnapshotLoadParams; docs/snapshot.md, docs/api.md "Snapshots").
#include "api/api_controller.h"
#include "vmm/vm_snapshot.h"

namespace popek::api {
namespace {

using json = nlohmann::json;

constexpr std::string_view kNotAfterStart = "The requested operation is not supported after starting the microVM.";
constexpr std::string_view kNotBeforeStart = "The requested operation is not supported before starting the microVM.";

/// Every key of `body` is in `allowed` (Firecracker refuses unknown fields).
Result<void> only_keys(const json& body, std::initializer_list<std::string_view> allowed) {
    if (!body.is_object()) return fail("the body must be a JSON object");
    for (const auto& [key, value] : body.items()) {
        bool known = false;
        for (auto a : allowed) known = known || key == a;
        if (!known) return fail("unknown field `{}`", key);
    }
    return {};
}

/// A non-empty string field; `required` or absent -> "".
Result<std::string> string_field(const json& body, const char* key, bool required) {
    if (!body.contains(key)) {
        if (required) return fail("missing field `{}`", key);
        return std::string{};
    }
    if (!body[key].is_string() || body[key].get<std::string>().empty()) return fail("`{}` must be a non-empty string", key);
    return body[key].get<std::string>();
}

ApiResponse bad_body(const Error& e) {
    return fault(400, "An error occurred when deserializing the json body of a request: " + e.message + ".");
}

}  // namespace

ApiResponse ApiController::put_snapshot_create(const json& body) {
    if (auto k = only_keys(body, {"snapshot_type", "snapshot_path", "mem_file_path", "version"}); !k) return bad_body(k.error());
    auto snap = string_field(body, "snapshot_path", true);
    if (!snap) return bad_body(snap.error());
    auto mem = string_field(body, "mem_file_path", true);
    if (!mem) return bad_body(mem.error());
    auto type = string_field(body, "snapshot_type", false);
    if (!type) return bad_body(type.error());
    if (!type->empty() && *type != "Full" && *type != "Diff")
        return bad_body(Error{fmt::format("unknown variant `{}`, expected `Full` or `Diff`", *type)});
    if (*type == "Diff") return fault(400, "Diff snapshots are not supported by popek (use \"Full\"; docs/snapshot.md).");
    if (!m_vm) return fault(400, kNotBeforeStart);
    if (auto s = vmm::check_snapshot_support(m_boot); !s) return fault(400, s.error().message);
    // Firecracker snapshots only a paused microVM.
    if (m_state != State::Paused)
        return fault(400, "Cannot create a snapshot: the microVM is not paused (PATCH /vm {\"state\": \"Paused\"} first).");
    auto written = m_vm->create_snapshot(*snap, *mem);
    if (!written) return fault(400, fmt::format("Cannot create the snapshot: {}", written.error().message));
    return ApiResponse{};
}

ApiResponse ApiController::put_snapshot_load(const json& body, std::unique_lock<std::mutex>& lock) {
    if (auto k = only_keys(body, {"snapshot_path", "mem_file_path", "mem_backend", "enable_diff_snapshots", "resume_vm",
                                  "track_dirty_pages"});
        !k)
        return bad_body(k.error());
    auto snap = string_field(body, "snapshot_path", true);
    if (!snap) return bad_body(snap.error());
    auto mem = string_field(body, "mem_file_path", false);
    if (!mem) return bad_body(mem.error());
    // mem_backend {backend_type: File, backend_path} (Firecracker >= 1.1), or the older mem_file_path: one of them.
    if (body.contains("mem_backend")) {
        if (!mem->empty()) return fault(400, "`mem_backend` and `mem_file_path` are mutually exclusive.");
        const json& b = body["mem_backend"];
        if (auto k = only_keys(b, {"backend_type", "backend_path"}); !k) return bad_body(with_context(k.error(), "mem_backend"));
        auto type = string_field(b, "backend_type", true);
        if (!type) return bad_body(with_context(type.error(), "mem_backend"));
        if (*type == "Uffd") return fault(400, "The `Uffd` memory backend is not supported by popek (use `File`).");
        if (*type != "File") return bad_body(Error{fmt::format("unknown variant `{}`, expected `File` or `Uffd`", *type)});
        auto path = string_field(b, "backend_path", true);
        if (!path) return bad_body(with_context(path.error(), "mem_backend"));
        mem = *path;
    }
    if (mem->empty()) return bad_body(Error{"missing field `mem_backend` (or `mem_file_path`)"});
    for (const char* flag : {"enable_diff_snapshots", "resume_vm", "track_dirty_pages"})
        if (body.contains(flag) && !body[flag].is_boolean()) return bad_body(Error{fmt::format("`{}` must be a boolean", flag)});
    if (body.value("enable_diff_snapshots", false)) return fault(400, "Diff snapshots are not supported by popek.");
    const bool resume = body.value("resume_vm", false);
    // Pre-boot only, as in Firecracker: the snapshot is the VM.
    if (m_state != State::NotStarted) return fault(400, kNotAfterStart);
    if (auto s = vmm::check_snapshot_support(m_cli); !s) return fault(400, s.error().message);
    vmm::VmOptions boot = m_cli;
    boot.restore_path = *snap;
    boot.restore_mem_path = *mem;
    m_boot = std::move(boot);
    m_state = State::Starting;
    m_start_error.reset();
    m_cv.notify_all();
    m_cv.wait(lock, [&] { return m_state != State::Starting; });
    if (m_start_error) return fault(400, fmt::format("Failed to load the snapshot: {}", m_start_error->message));
    if (!resume && m_vm) {
        if (auto r = m_vm->pause(); !r) return fault(400, fmt::format("Loaded, but cannot pause the microVM: {}", r.error().message));
        m_state = State::Paused;
    }
    return ApiResponse{};
}

}  // namespace popek::api
