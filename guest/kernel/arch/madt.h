#pragma once
/// The CPUs the firmware reports: the ACPI MADT (ACPI 6.4 5.2.12), found through the RSDP
/// (5.2.5) and the XSDT (5.2.8) or RSDT (5.2.7). popek writes these tables for PVH kernels.
#include <stddef.h>
#include <stdint.h>

namespace pos::acpi {

struct CpuList {
    uint32_t apic_ids[64];   ///< enabled local APICs, in MADT order
    int count;
    int ignored;             ///< enabled entries past the array
};

/// Reads the enabled Processor Local APIC entries. Every table is checked (signature, length,
/// checksum, inside the direct map) before use; false with the reason when there is no usable
/// MADT (the kernel then runs on the boot CPU only).
bool read_cpus(uint64_t rsdp_phys, CpuList& out, const char** reason);

}  // namespace pos::acpi
