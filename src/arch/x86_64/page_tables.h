#pragma once
/// The boot identity map of the low 4 GiB with 2 MiB pages (Intel SDM Vol. 3A 4.5, 4-level paging).
#include <cstdint>

#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::arch {

// Paging-structure entry bits (SDM Vol. 3A tables 4-15 to 4-18).
inline constexpr uint64_t kPtePresent = 1u << 0, kPteWrite = 1u << 1, kPteUser = 1u << 2,
                          kPteAccessed = 1u << 5, kPteDirty = 1u << 6, kPteLarge = 1u << 7;

/// Writes PML4, PDPT and four page directories at kPageTablesAddr mapping [0, 4 GiB) onto
/// itself, writable and user-accessible (so ring-3 test code can run in the same map), with
/// A/D preset so the walker never writes them. Returns the CR3 value.
Result<uint64_t> write_identity_map(const memory::GuestMemory& mem);

}  // namespace popek::arch
