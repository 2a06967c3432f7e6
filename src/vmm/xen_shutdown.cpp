#include "vmm/xen_shutdown.h"

#include "pv/pv_domain.h"
#include "vmm/exit_status.h"

namespace popek::vmm {

int xen_shutdown_exit_status(unsigned reason) {
    return reason == SHUTDOWN_poweroff ? kExitOk : kExitVmError;
}

std::string xen_shutdown_reason(unsigned reason) {
    return std::string("xen shutdown: ") + pv::shutdown_reason_name(reason);
}

}  // namespace popek::vmm
