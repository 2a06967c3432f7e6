#pragma once
/// Random bytes from the CPU's generator (RDSEED, else RDRAND; SDM Vol. 1 7.3.17). The kernel
/// does not make up randomness of its own: without a hardware source the call fails. Phase 2 adds
/// entropy handed over by the VMM at boot.
#include <stddef.h>

namespace pos {

bool random_available();
/// Fills `len` bytes; false when the CPU has no generator or it keeps failing.
bool random_fill(void* buf, size_t len);

}  // namespace pos
