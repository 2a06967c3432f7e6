#include "acpi/acpi_tables.h"

#include <algorithm>
#include <cstring>

#include "acpi/aml.h"
#include "devices/legacy/acpi_pm.h"

namespace popek::acpi {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr char kOemId[] = "POPEK ";        // 6 bytes
constexpr char kOemTableId[] = "POPEKVM ";  // 8 bytes
constexpr uint8_t kSlpTypS5 = devices::legacy::AcpiPm::kSlpTypS5;
constexpr uint8_t kSlpTypS3 = devices::legacy::AcpiPm::kSlpTypS3;

void put(Bytes& b, size_t off, uint64_t v, size_t width) {
    if (b.size() < off + width) b.resize(off + width);
    for (size_t i = 0; i < width; ++i) b[off + i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_str(Bytes& b, size_t off, std::string_view s) {
    if (b.size() < off + s.size()) b.resize(off + s.size());
    std::memcpy(b.data() + off, s.data(), s.size());
}

/// System Description Table Header (ACPI 6.4 5.2.6); length and checksum are set by finish().
Bytes sdt_header(std::string_view signature, uint8_t revision) {
    Bytes b(36, 0);
    put_str(b, 0, signature);
    b[8] = revision;
    put_str(b, 10, std::string_view(kOemId, 6));
    put_str(b, 16, std::string_view(kOemTableId, 8));
    put(b, 24, 1, 4);              // OEM revision
    put_str(b, 28, "PPEK");        // creator ID
    put(b, 32, 1, 4);              // creator revision
    return b;
}

Bytes finish(Bytes b) {
    put(b, 4, b.size(), 4);
    b[9] = 0;
    b[9] = static_cast<uint8_t>(-checksum(b));
    return b;
}

/// Generic Address Structure (5.2.3.2) in System I/O space.
void put_gas_io(Bytes& b, size_t off, uint64_t port, uint8_t bit_width, uint8_t access_size) {
    put(b, off, 1, 1);  // System I/O
    put(b, off + 1, bit_width, 1);
    put(b, off + 2, 0, 1);
    put(b, off + 3, access_size, 1);
    put(b, off + 4, port, 8);
}

/// Firmware ACPI Control Structure (5.2.10): the OS writes the waking vector that a resume from
/// S3 enters (vmm/acpi_sleep.h); flags 0: no 64-bit wake (64BIT_WAKE_SUPPORTED_F clear).
Bytes build_facs() {
    Bytes b(64, 0);
    put_str(b, 0, "FACS");
    put(b, 4, 64, 4);
    b[32] = 2;  // version
    return b;
}

/// Fixed ACPI Description Table (5.2.9, revision 6): PM1a event/control and PM timer at
/// pm_base, SCI on IRQ 9, reset through 0xcf9, no SMI command port (always in ACPI mode).
Bytes build_fadt(const AcpiConfig& c, uint64_t facs, uint64_t dsdt) {
    Bytes b = sdt_header("FACP", 6);
    b.resize(276, 0);
    put(b, 36, facs, 4);
    put(b, 40, dsdt, 4);
    put(b, 46, kSciIrq, 2);
    put(b, 56, c.pm_base, 4);        // PM1a_EVT_BLK
    put(b, 64, c.pm_base + 4u, 4);   // PM1a_CNT_BLK
    put(b, 76, c.pm_base + 8u, 4);   // PM_TMR_BLK
    b[88] = 4;                       // PM1_EVT_LEN
    b[89] = 2;                       // PM1_CNT_LEN
    b[91] = 4;                       // PM_TMR_LEN
    put(b, 96, 101, 2);              // P_LVL2_LAT > 100: no C2
    put(b, 98, 1001, 2);             // P_LVL3_LAT > 1000: no C3
    // IAPC_BOOT_ARCH (5.2.9.3): LEGACY_DEVICES | VGA Not Present. Not "8042": popek's i8042 is a
    // reset line with no keyboard or mouse behind it (the console is the UART), and a kernel that
    // believes in one probes it and waits out its timeouts (Linux: ~0.8 s of boot on the AUX
    // port). Without the flag and without PNP0303/PNP0F13 in the DSDT, Linux skips the i8042
    // (drivers/input/serio/i8042-acpipnpio.h); port 0x64's 0xFE reset still works for those
    // who use it.
    put(b, 109, 0x1 | 0x4, 2);
    // Flags: WBINVD | PROC_C1 | PWR_BUTTON (none) | SLP_BUTTON (none) | RESET_REG_SUP.
    put(b, 112, (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5) | (1u << 10), 4);
    put_gas_io(b, 116, kResetPort, 8, 1);
    b[128] = kResetValue;
    b[131] = 0;                      // FADT minor version
    put(b, 132, facs, 8);            // X_FIRMWARE_CTRL
    put(b, 140, dsdt, 8);            // X_DSDT
    put_gas_io(b, 148, c.pm_base, 32, 0);        // X_PM1a_EVT_BLK
    put_gas_io(b, 172, c.pm_base + 4u, 16, 0);   // X_PM1a_CNT_BLK
    put_gas_io(b, 208, c.pm_base + 8u, 32, 0);   // X_PM_TMR_BLK
    put_str(b, 268, "POPEK\0\0\0");  // hypervisor vendor identity
    return finish(std::move(b));
}

/// Multiple APIC Description Table (5.2.12): one enabled local APIC per vCPU (APIC ID = index),
/// one I/O APIC with GSI base 0, the SCI override, LINT1 as NMI.
Bytes build_madt(const AcpiConfig& c) {
    Bytes b = sdt_header("APIC", 5);
    put(b, 36, kLocalApicAddr, 4);
    put(b, 40, 1, 4);  // PCAT_COMPAT: dual 8259s present
    for (int i = 0; i < c.vcpus; ++i) {
        size_t o = b.size();
        b.resize(o + 8, 0);
        b[o] = 0;                            // Processor Local APIC
        b[o + 1] = 8;
        b[o + 2] = static_cast<uint8_t>(i);  // ACPI processor UID
        b[o + 3] = static_cast<uint8_t>(i);  // APIC ID
        put(b, o + 4, 1, 4);                 // enabled
    }
    size_t o = b.size();
    b.resize(o + 12, 0);
    b[o] = 1;  // I/O APIC
    b[o + 1] = 12;
    b[o + 2] = 0;  // I/O APIC ID
    put(b, o + 4, kIoApicAddr, 4);
    put(b, o + 8, 0, 4);  // GSI base
    // IRQ0 -> GSI 2 only where the engine wires the PIT to pin 2; KVM's default routing uses pin 0.
    if (c.irq0_to_gsi2) {
        o = b.size();
        b.resize(o + 10, 0);
        b[o] = 2;
        b[o + 1] = 10;
        b[o + 3] = 0;               // ISA IRQ 0
        put(b, o + 4, 2, 4);        // GSI 2
        put(b, o + 8, 0, 2);        // conforms to the bus: edge, active high
    }
    // SCI: ISA IRQ 9 -> GSI 9, active high, level triggered (flags 5.2.12.5 MPS INTI).
    o = b.size();
    b.resize(o + 10, 0);
    b[o] = 2;
    b[o + 1] = 10;
    b[o + 2] = 0;  // ISA
    b[o + 3] = kSciIrq;
    put(b, o + 4, kSciIrq, 4);
    put(b, o + 8, 0x1 | (0x3 << 2), 2);
    o = b.size();
    b.resize(o + 6, 0);
    b[o] = 4;  // Local APIC NMI
    b[o + 1] = 6;
    b[o + 2] = 0xff;  // all processors
    put(b, o + 3, 0, 2);
    b[o + 5] = 1;  // LINT1
    return finish(std::move(b));
}

std::string device_name(size_t i) {
    constexpr char hex[] = "0123456789ABCDEF";
    return std::string("VR") + hex[(i >> 4) & 0xf] + hex[i & 0xf];
}

/// Differentiated System Description Table: \_S3 (suspend to RAM), \_S5 (poweroff) and the
/// virtio-mmio devices.
Result<Bytes> build_dsdt(const AcpiConfig& c) {
    if (c.virtio_mmio.size() > 256) return fail("{} virtio-mmio devices, the DSDT names at most 256", c.virtio_mmio.size());
    using namespace aml;
    Bytes b = sdt_header("DSDT", 2);
    // \_S5: SLP_TYPa, SLP_TYPb, reserved, reserved (7.4.2 "\_Sx (System States)").
    Bytes s3 = name("\\_S3_", package({integer(kSlpTypS3), integer(kSlpTypS3), integer(0), integer(0)}));
    b.insert(b.end(), s3.begin(), s3.end());
    Bytes s5 = name("\\_S5_", package({integer(kSlpTypS5), integer(kSlpTypS5), integer(0), integer(0)}));
    b.insert(b.end(), s5.begin(), s5.end());
    if (!c.virtio_mmio.empty()) {
        Bytes devices;
        for (size_t i = 0; i < c.virtio_mmio.size(); ++i) {
            const MmioDeviceDesc& d = c.virtio_mmio[i];
            Bytes body = name("_HID", string("LNRO0005"));
            Bytes uid = name("_UID", integer(i));
            Bytes crs = name("_CRS", resource_template({memory32_fixed(d.base, d.size, true),
                                                        extended_interrupt(d.gsi, d.edge, false)}));
            body.insert(body.end(), uid.begin(), uid.end());
            body.insert(body.end(), crs.begin(), crs.end());
            Bytes dev = device(device_name(i), body);
            devices.insert(devices.end(), dev.begin(), dev.end());
        }
        Bytes sb = scope("\\_SB_", devices);
        b.insert(b.end(), sb.begin(), sb.end());
    }
    return finish(std::move(b));
}

/// DMA Remapping Reporting table (Intel VT-d 3.x §8.1): host address width 39 (the field holds
/// N-1), INTR_REMAP, one DRHD (§8.3) with INCLUDE_PCI_ALL for segment 0 at `unit`, whose device
/// scope (§8.3.1) names the I/O APIC (type 03h, enumeration ID 0 = the MADT's I/O APIC ID) at
/// source-id ff:00.0, where QEMU's q35 puts it. X2APIC_OPT_OUT is clear.
Bytes build_dmar(uint64_t unit) {
    Bytes b = sdt_header("DMAR", 1);
    b.resize(48, 0);
    b[36] = 39 - 1;      // host address width - 1
    b[37] = 1u << 0;     // INTR_REMAP
    size_t o = b.size();
    b.resize(o + 16 + 8, 0);
    put(b, o, 0, 2);     // DRHD
    put(b, o + 2, 24, 2);
    b[o + 4] = 1u << 0;  // INCLUDE_PCI_ALL
    b[o + 5] = 0;        // register set size: 4 KiB
    put(b, o + 6, 0, 2); // segment 0
    put(b, o + 8, unit, 8);
    b[o + 16] = 3;       // device scope: IOAPIC
    b[o + 17] = 8;
    b[o + 20] = 0;       // enumeration ID: I/O APIC ID 0
    b[o + 21] = 0xff;    // start bus
    b[o + 22] = 0;       // path: device 0
    b[o + 23] = 0;       //       function 0
    return finish(std::move(b));
}

Bytes build_xsdt(const std::vector<uint64_t>& entries) {
    Bytes b = sdt_header("XSDT", 1);
    for (uint64_t e : entries) put(b, b.size(), e, 8);
    return finish(std::move(b));
}

/// Root System Description Pointer (5.2.5.3), revision 2: XSDT only.
Bytes build_rsdp(uint64_t xsdt) {
    Bytes b(36, 0);
    put_str(b, 0, "RSD PTR ");
    put_str(b, 9, std::string_view(kOemId, 6));
    b[15] = 2;
    put(b, 20, 36, 4);
    put(b, 24, xsdt, 8);
    b[8] = static_cast<uint8_t>(-checksum(b, 0, 20));
    b[32] = static_cast<uint8_t>(-checksum(b));
    return b;
}

}  // namespace

uint8_t checksum(const std::vector<uint8_t>& bytes, size_t begin, size_t end) {
    uint8_t sum = 0;
    for (size_t i = begin; i < std::min(end, bytes.size()); ++i) sum = static_cast<uint8_t>(sum + bytes[i]);
    return sum;
}

Result<AcpiTables> build_acpi_tables(const AcpiConfig& config) {
    if (config.vcpus < 1 || config.vcpus > 255) return fail("ACPI MADT: {} vCPUs is out of range 1..255", config.vcpus);
    // Layout from kRsdpAddr up: RSDP, FACS (64-byte aligned), DSDT, FADT, MADT, [DMAR], XSDT.
    auto align = [](uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); };
    uint64_t facs_addr = kFacsAddr;
    static_assert(((kRsdpAddr + 36 + 63) & ~uint64_t{63}) == kFacsAddr, "the FACS follows the RSDP, 64-byte aligned");
    Bytes facs = build_facs();
    uint64_t dsdt_addr = align(facs_addr + facs.size(), 16);
    Bytes dsdt = TRY(build_dsdt(config));
    uint64_t fadt_addr = align(dsdt_addr + dsdt.size(), 16);
    Bytes fadt = build_fadt(config, facs_addr, dsdt_addr);
    uint64_t madt_addr = align(fadt_addr + fadt.size(), 16);
    Bytes madt = build_madt(config);
    uint64_t next = align(madt_addr + madt.size(), 16);
    std::vector<uint64_t> entries{fadt_addr, madt_addr};
    Bytes dmar;
    const uint64_t dmar_addr = next;
    if (config.dmar_unit != 0) {
        dmar = build_dmar(config.dmar_unit);
        entries.push_back(dmar_addr);
        next = align(dmar_addr + dmar.size(), 16);
    }
    uint64_t xsdt_addr = next;
    Bytes xsdt = build_xsdt(entries);
    if (xsdt_addr + xsdt.size() > kTablesEnd) return fail("ACPI tables do not fit below 1 MiB");
    AcpiTables t;
    t.tables = {{"RSDP", kRsdpAddr, build_rsdp(xsdt_addr)}, {"FACS", facs_addr, std::move(facs)},
                {"DSDT", dsdt_addr, std::move(dsdt)},       {"FACP", fadt_addr, std::move(fadt)},
                {"APIC", madt_addr, std::move(madt)},       {"XSDT", xsdt_addr, std::move(xsdt)}};
    if (!dmar.empty()) t.tables.push_back({"DMAR", dmar_addr, std::move(dmar)});
    return t;
}

Result<uint64_t> write_acpi_tables(const memory::GuestMemory& mem, const AcpiConfig& config) {
    AcpiTables t = TRY(build_acpi_tables(config));
    for (const auto& table : t.tables) TRY_VOID(mem.write(table.addr, table.bytes));
    return t.rsdp_addr();
}

}  // namespace popek::acpi
