#pragma once
/// Where popek puts its boot structures in guest RAM (docs/guest-abi.md, "Memory layout").
/// Everything lives below 640 KiB, away from where kernels load (1 MiB and up), so a kernel
/// image that claims any of these ranges is rejected rather than silently overwritten.
#include <cstdint>

namespace popek::arch {

inline constexpr uint64_t kPageSize = 0x1000;

/// Boot GDT (boot_gdt.h): one page.
inline constexpr uint64_t kBootGdtAddr = 0x1000;
/// Identity-map page tables: PML4, PDPT, then four page directories (page_tables.h).
inline constexpr uint64_t kPageTablesAddr = 0x2000;
inline constexpr uint64_t kPageTablesSize = 6 * kPageSize;
/// Boot information page: hvm_start_info (PVH) or the boot_params zero page (bzImage).
inline constexpr uint64_t kBootInfoAddr = 0x8000;
/// Kernel command line page; the string is NUL-terminated, at most kCmdlineMax bytes before it.
inline constexpr uint64_t kCmdlineAddr = 0x9000;
inline constexpr uint64_t kCmdlineMax = kPageSize - 1;
/// Own-guest ABI stacks: vCPU i owns [kStacksAddr + i*kStackSize, kStacksAddr + (i+1)*kStackSize).
inline constexpr uint64_t kStacksAddr = 0x10000;
inline constexpr uint64_t kStackSize = 0x4000;
inline constexpr uint64_t kStacksEnd = 0x90000;
inline constexpr int kMaxOwnGuestVcpus = static_cast<int>((kStacksEnd - kStacksAddr) / kStackSize);
/// PVH and bzImage kernels get vCPU 0's stack as a scratch stack (neither protocol defines one).
inline constexpr uint64_t kBootStackTop = kStacksAddr + kStackSize;

/// Legacy PC holes (reported as reserved in the E820 map): the EBDA below 640 KiB and the
/// VGA/option-ROM/BIOS area up to 1 MiB; ACPI tables go into the BIOS area.
inline constexpr uint64_t kEbdaStart = 0x9fc00;
inline constexpr uint64_t kVgaHoleStart = 0xa0000;
inline constexpr uint64_t kBiosAreaStart = 0xe0000;
inline constexpr uint64_t kOneMiB = 0x100000;
/// The identity map covers the low 4 GiB.
inline constexpr uint64_t kIdentityMapEnd = 0x1'0000'0000;

}  // namespace popek::arch
