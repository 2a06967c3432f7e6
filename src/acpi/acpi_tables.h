#pragma once
/// The ACPI tables popek gives PVH and bzImage kernels (ACPI 6.4 chapter 5): RSDP, XSDT, FADT
/// with FACS and DSDT, MADT. They live in the BIOS area at 0xE0000 (reported reserved in E820),
/// so both the loaders' pointers (hvm_start_info.rsdp_paddr, boot_params.acpi_rsdp_addr) and a
/// legacy scan of 0xE0000-0xFFFFF find the RSDP. Choices are documented in docs/ARCHITECTURE.md.
#include <cstdint>
#include <string>
#include <vector>

#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::acpi {

inline constexpr uint64_t kRsdpAddr = 0xe0000;
inline constexpr uint64_t kTablesEnd = 0x100000;
/// Where the FACS is (5.2.10: 64-byte aligned), right after the RSDP: a resume from S3 reads the
/// waking vector there, as firmware reads it from the FACS it placed.
inline constexpr uint64_t kFacsAddr = 0xe0040;
inline constexpr uint64_t kLocalApicAddr = 0xfee00000;
inline constexpr uint64_t kIoApicAddr = 0xfec00000;
inline constexpr uint8_t kSciIrq = 9;
inline constexpr uint16_t kResetPort = 0xcf9;
inline constexpr uint8_t kResetValue = 0x06;  ///< RST_CPU | SYS_RST (src/devices/legacy/reset_control.h)

/// A virtio-mmio device described in the DSDT as LNRO0005 (Linux finds virtio-mmio this way).
struct MmioDeviceDesc {
    uint32_t base;
    uint32_t size;
    uint32_t gsi;
    bool edge = false;   ///< level-triggered, active high by default
};

struct AcpiConfig {
    int vcpus = 1;
    uint16_t pm_base = 0x600;   ///< PM1a event (4), PM1a control (2, at +4), PM timer (4, at +8)
    std::vector<MmioDeviceDesc> virtio_mmio;
    /// Where the engine's irqchip delivers the PIT: true = I/O APIC pin 2 (the PC override
    /// IRQ0 -> GSI 2, as src/emu/irqchip does), false = pin 0 (KVM's default GSI routing).
    bool irq0_to_gsi2 = false;
    /// `--iommu intel`: a DMAR table naming one VT-d unit at this base (0: no DMAR table).
    uint64_t dmar_unit = 0;
};

/// Table images and where they go; built without touching guest memory (for tests).
struct AcpiTables {
    struct Table {
        std::string signature;
        uint64_t addr;
        std::vector<uint8_t> bytes;
    };
    std::vector<Table> tables;   ///< RSDP first
    uint64_t rsdp_addr() const { return tables.front().addr; }
};

/// Sum of all bytes mod 256 (a correct table sums to 0).
uint8_t checksum(const std::vector<uint8_t>& bytes, size_t begin = 0, size_t end = SIZE_MAX);

Result<AcpiTables> build_acpi_tables(const AcpiConfig& config);

/// Builds the tables and writes them at kRsdpAddr.. into guest RAM. Returns the RSDP address.
Result<uint64_t> write_acpi_tables(const memory::GuestMemory& mem, const AcpiConfig& config);

}  // namespace popek::acpi
