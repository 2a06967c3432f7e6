#pragma once
/// Flat segment descriptors and the boot GDT popek gives every guest
/// (Intel SDM Vol. 3A 3.4.5 "Segment Descriptors", 7.2.3 "TSS Descriptor in 64-bit mode").
#include <array>
#include <cstdint>

#include "hv/cpu_state.h"
#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::arch {

/// Selectors of the boot GDT. 0x10/0x18 are also Linux's __BOOT_CS/__BOOT_DS
/// (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol").
inline constexpr uint16_t kSelCode32 = 0x08;
inline constexpr uint16_t kSelCode64 = 0x10;
inline constexpr uint16_t kSelData = 0x18;
inline constexpr uint16_t kSelTss = 0x20;
/// Null, code32, code64, data, TSS (16 bytes in long mode).
inline constexpr uint16_t kBootGdtLimit = 6 * 8 - 1;

/// Hidden-state images of the boot GDT's descriptors, as the vCPU holds them after loading.
hv::Segment flat_code32_segment();
hv::Segment code64_segment();
hv::Segment flat_data_segment();
/// A busy TSS with base 0 and limit 0x67: the PVH ABI asks for exactly this; VMX needs a usable TR.
hv::Segment boot_tss_segment();
hv::Segment unusable_ldt_segment();

/// Encodes the hidden state of a code/data/TSS segment as an 8-byte GDT descriptor (low half for TSS).
uint64_t encode_descriptor(const hv::Segment& s);

/// The boot GDT as guest memory holds it (6 quadwords).
std::array<uint64_t, 6> boot_gdt_entries();

/// Writes the boot GDT at kBootGdtAddr.
Result<void> write_boot_gdt(const memory::GuestMemory& mem);

}  // namespace popek::arch
