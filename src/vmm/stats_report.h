#pragma once
/// `popek run --stats`: the Popek-Goldberg report printed on stderr when the VM ends.
#include <memory>
#include <vector>

#include "hv/hypervisor.h"
#include "vmm/exit_dispatcher.h"

namespace popek::vmm {

void print_stats(const std::vector<std::unique_ptr<hv::Vcpu>>& vcpus, const ExitCounters& counters);

}  // namespace popek::vmm
