#pragma once
/// How devices reach the rest of the VM: an interrupt line and the VM's life cycle.
#include <functional>
#include <string>

namespace popek::devices {

/// Drives one interrupt line (GSI); level-triggered semantics, true = asserted.
using IrqLine = std::function<void(bool level)>;

/// Ends the VM from a device (debug-exit, reset, poweroff). Thread-safe; the first call wins.
class VmControl {
public:
    virtual ~VmControl() = default;
    /// `status` is popek's exit status; `reason` names the cause ("debug-exit", "reset", ...).
    virtual void request_exit(int status, std::string reason) = 0;
};

}  // namespace popek::devices
