#pragma once
/// Entry states of the boot protocols popek implements, as engine-neutral CpuState.
#include <cstdint>

#include "hv/cpu_state.h"

namespace popek::arch {

/// 32-bit flat protected mode, paging off (Xen docs/misc/pvh.pandoc "x86/HVM direct boot ABI"):
/// CR0 = PE|ET, CR4 = 0, flat CS/DS/ES/SS, TR a 32-bit TSS with base 0 and limit 0x67, IF = 0.
hv::CpuState protected_mode_flat_state(uint64_t entry);

/// 64-bit long mode at CPL0 with the boot GDT (CS 0x10, data 0x18) and page tables at `cr3`,
/// interrupts off, IDTR limit 0. `efer` is EFER as the guest sees it (LME|LMA at least).
hv::CpuState long_mode_state(uint64_t entry, uint64_t cr3, uint64_t efer);

}  // namespace popek::arch
