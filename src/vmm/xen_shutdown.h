#pragma once
/// What a --xen guest's SCHEDOP_shutdown means for the VM: popek's exit status and the reason it
/// prints. The PV core (pv::Hypercalls) only reports the Xen reason; this mapping is the VMM's.
#include <string>

namespace popek::vmm {

/// popek's exit status for a SHUTDOWN_* reason (sched.h): poweroff is a clean exit (kExitOk);
/// reboot, crash, watchdog end the run with kExitVmError.
int xen_shutdown_exit_status(unsigned reason);
/// The VM's end reason: "xen shutdown: poweroff", "xen shutdown: crash", ...
std::string xen_shutdown_reason(unsigned reason);

}  // namespace popek::vmm
