#pragma once
/// Builds a VM from VmOptions (memory, devices, kernel, vCPUs) and runs it to completion.
#include <nlohmann/json.hpp>

#include "devices/irq.h"
#include "util/result.h"
#include "vmm/vm_options.h"

namespace popek::vmm {

/// How the VM ended, as popek's exit status: debug-exit value*2+1, 0 on poweroff/reset.
struct RunOutcome {
    int exit_status = 0;
    devices::ExitCause cause = devices::ExitCause::Poweroff;
    std::string reason;   ///< for people: "debug-exit", "reset (port 0xcf9)", "poweroff", "triple-fault", ...
};

/// A running VM as its controller (the API socket, src/api/) acts on it, from the controller's
/// thread: never a vCPU's, which these calls do not block beyond the pause itself.
class RunningVm {
public:
    virtual ~RunningVm() = default;
    /// Every vCPU stopped at an instruction boundary; on the own engine the guest clock too.
    virtual Result<void> pause() = 0;
    virtual Result<void> resume() = 0;
    /// Ctrl+Alt+Del on the i8042 keyboard (Firecracker's SendCtrlAltDel).
    virtual Result<void> send_ctrl_alt_del() = 0;
    /// PUT /snapshot/create on the paused VM (docs/snapshot.md): the state file and the memory
    /// file. Returns the bytes of guest RAM written.
    virtual Result<uint64_t> create_snapshot(const std::string& snapshot_path, const std::string& mem_file_path) {
        (void)snapshot_path;
        (void)mem_file_path;
        return fail("snapshots are not supported by this VM");
    }
    /// The VM's counters for FlushMetrics (vmm/vm_metrics.h); read without stopping the VM.
    virtual nlohmann::json metrics() { return nlohmann::json::object(); }
};

/// Told when the VM is up (devices, vCPUs created; the vCPU threads about to start) and before it
/// is torn down; `stopping` returns only when no call into the RunningVm is in flight.
class VmObserver {
public:
    virtual ~VmObserver() = default;
    virtual void started(RunningVm& vm) = 0;
    virtual void stopping() = 0;
};

/// Runs a VM to completion. Errors are setup failures (bad kernel file, /dev/kvm unusable, ...)
/// or a fatal vCPU error; guest-caused ends are a RunOutcome. `observer` (may be null) sees the
/// VM start and stop.
Result<RunOutcome> run_vm(const VmOptions& options, VmObserver* observer = nullptr);

}  // namespace popek::vmm
