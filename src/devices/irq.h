#pragma once
/// How devices reach the rest of the VM: an interrupt line and the VM's life cycle.
#include <cstdint>
#include <functional>
#include <string>

namespace popek::devices {

/// Drives one interrupt line (GSI); level-triggered semantics, true = asserted.
using IrqLine = std::function<void(bool level)>;

/// Ends the VM from a device (debug-exit, reset, poweroff). Thread-safe; the first call wins.
/// Why a VM ended. Code decides on this; the reason string beside it is for people.
enum class ExitCause : uint8_t {
    DebugExit,     ///< the guest wrote the debug-exit port
    Reset,         ///< reset control (0xcf9), the i8042's reset line
    Poweroff,      ///< ACPI S5
    TripleFault,   ///< a vCPU triple-faulted (treated as a reset)
    XenShutdown,   ///< SCHEDOP_shutdown of a --xen guest
    ConsoleQuit,   ///< Ctrl-A x on popek's terminal
    VcpuError,     ///< the engine could not continue a vCPU
};

class VmControl {
public:
    virtual ~VmControl() = default;
    /// `status` is popek's exit status; `reason` names the cause for people ("debug-exit", "reset", ...).
    virtual void request_exit(ExitCause cause, int status, std::string reason) = 0;
};

}  // namespace popek::devices
