#pragma once
/// popek's own-guest ABI (docs/guest-abi.md): a plain x86-64 ELF entered in 64-bit long mode at
/// CPL0 with the low 4 GiB identity-mapped; every vCPU starts at the entry with its own stack.
#include "loader/elf.h"
#include "loader/loader.h"
#include "loader/placement.h"

namespace popek::loader {

Result<BootSetup> load_own_guest(const ElfFile& elf, std::span<const uint8_t> image, const LoadRequest& request,
                                 Placement& placement);

/// The entry state of vCPU `index` of `count` under the own-guest ABI, from the BSP's state.
hv::CpuState own_guest_vcpu_state(const hv::CpuState& bsp, int index, int count);

}  // namespace popek::loader
