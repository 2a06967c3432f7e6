#pragma once
/// `--accel interp` and `--accel bt`: the own engine behind the hv seam (src/emu/), interpreting
/// every block, or running hot blocks as host code from the block translator (src/emu/bt/).
#include <memory>

#include "hv/hypervisor.h"

namespace popek::hv::interp {

Result<std::unique_ptr<Hypervisor>> open_interp();
Result<std::unique_ptr<Hypervisor>> open_bt();

}  // namespace popek::hv::interp
