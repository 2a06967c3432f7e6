#pragma once
/// The guest's physical memory map, as E820 entries (ACPI 6.4 section 15 "System Address Map
/// Interfaces"; the same types as Xen's XEN_HVM_MEMMAP_TYPE_* and Linux's boot_params e820).
#include <cstdint>
#include <vector>

#include "memory/guest_memory.h"

namespace popek::arch {

enum class E820Type : uint32_t { Ram = 1, Reserved = 2, Acpi = 3, Nvs = 4, Unusable = 5 };

struct E820Entry {
    uint64_t addr;
    uint64_t size;
    E820Type type;
    bool operator==(const E820Entry&) const = default;
};

/// The map of a PC with this guest's RAM: RAM below the EBDA (0x9fc00), the EBDA reserved,
/// the BIOS area 0xe0000-0xfffff reserved, RAM from 1 MiB to the MMIO hole and above 4 GiB.
/// The VGA hole and the MMIO hole are left out (no entry), as on real hardware.
/// Sorted by address, no overlaps.
std::vector<E820Entry> build_e820(const memory::GuestMemory& mem);

}  // namespace popek::arch
