#pragma once
/// Reads the PVH start info (Xen public arch-x86/hvm/start_info.h) through the direct map and
/// feeds the frame allocator. Every address in it is checked against the mapped range.
#include <stddef.h>
#include <stdint.h>

namespace pos {

struct BootModule {
    const uint8_t* data;
    size_t size;
};

struct BootInfo {
    bool valid;
    uint32_t version;
    BootModule module;        ///< the first module (a file table), or {nullptr, 0}
    const char* cmdline;      ///< "" when absent
    int ram_ranges;
    uint64_t rsdp;            ///< ACPI RSDP (physical; hvm_start_info.rsdp_paddr), 0 when absent
};

/// Parses the start info, reserves what it points to, then adds the RAM it lists.
BootInfo boot_info_init(uint64_t start_info_phys);

}  // namespace pos
