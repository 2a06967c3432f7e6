#pragma once
/// Builds a VM from VmOptions (memory, devices, kernel, vCPUs) and runs it to completion.
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

/// Runs a VM to completion. Errors are setup failures (bad kernel file, /dev/kvm unusable, ...)
/// or a fatal vCPU error; guest-caused ends are a RunOutcome.
Result<RunOutcome> run_vm(const VmOptions& options);

}  // namespace popek::vmm
