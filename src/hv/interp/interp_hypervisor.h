#pragma once
/// `--accel interp`: the own engine's interpreter behind the hv seam (src/emu/).
#include <memory>

#include "hv/hypervisor.h"

namespace popek::hv::interp {

Result<std::unique_ptr<Hypervisor>> open_interp();

}  // namespace popek::hv::interp
