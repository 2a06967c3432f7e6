#pragma once
/// KVM backend: trap-and-emulate on a virtualizable CPU through /dev/kvm.
#include <memory>

#include "hv/hypervisor.h"

namespace popek::hv::kvm {

/// Opens /dev/kvm and checks the API version and the capabilities popek needs.
Result<std::unique_ptr<Hypervisor>> open_kvm();

}  // namespace popek::hv::kvm
