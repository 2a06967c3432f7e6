// ACPI tables: checksums, parsing the tables back from guest memory, MADT entries per vCPU count.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "acpi/acpi_tables.h"
#include "acpi/aml.h"

namespace popek::acpi {
namespace {

uint64_t le(const std::vector<uint8_t>& b, size_t off, size_t w) {
    uint64_t v = 0;
    for (size_t i = 0; i < w; ++i) v |= uint64_t{b.at(off + i)} << (8 * i);
    return v;
}

/// Reads the tables back from guest memory the way an OS does: RSDP -> XSDT -> each table.
struct ParsedTables {
    std::map<std::string, std::vector<uint8_t>> by_signature;
};

std::vector<uint8_t> read_bytes(const memory::GuestMemory& mem, uint64_t gpa, size_t n) {
    std::vector<uint8_t> b(n);
    EXPECT_TRUE(mem.read(gpa, b));
    return b;
}

std::vector<uint8_t> read_table(const memory::GuestMemory& mem, uint64_t gpa) {
    auto header = read_bytes(mem, gpa, 36);
    auto table = read_bytes(mem, gpa, le(header, 4, 4));
    EXPECT_EQ(checksum(table), 0) << "table at " << std::hex << gpa;
    return table;
}

ParsedTables parse_back(const memory::GuestMemory& mem, uint64_t rsdp_addr) {
    ParsedTables p;
    auto rsdp = read_bytes(mem, rsdp_addr, 36);
    EXPECT_EQ(std::string(rsdp.begin(), rsdp.begin() + 8), "RSD PTR ");
    EXPECT_EQ(checksum(rsdp, 0, 20), 0) << "RSDP v1 checksum";
    EXPECT_EQ(checksum(rsdp), 0) << "RSDP extended checksum";
    EXPECT_EQ(rsdp[15], 2);
    auto xsdt = read_table(mem, le(rsdp, 24, 8));
    EXPECT_EQ(std::string(xsdt.begin(), xsdt.begin() + 4), "XSDT");
    for (size_t off = 36; off + 8 <= xsdt.size(); off += 8) {
        auto t = read_table(mem, le(xsdt, off, 8));
        p.by_signature[std::string(t.begin(), t.begin() + 4)] = t;
    }
    if (p.by_signature.count("FACP")) {
        const auto& fadt = p.by_signature["FACP"];
        p.by_signature["DSDT"] = read_table(mem, le(fadt, 140, 8));
        auto facs = read_bytes(mem, le(fadt, 132, 8), 64);
        EXPECT_EQ(std::string(facs.begin(), facs.begin() + 4), "FACS");
        EXPECT_EQ(le(facs, 4, 4), 64u);
        EXPECT_EQ(le(fadt, 132, 8) % 64, 0u) << "FACS must be 64-byte aligned";
    }
    return p;
}

TEST(AcpiTables, ParseBackWithChecksums) {
    auto mem = memory::GuestMemory::create(16 << 20);
    ASSERT_TRUE(mem);
    auto rsdp = write_acpi_tables(*mem, AcpiConfig{2, 0x600, {}});
    ASSERT_TRUE(rsdp) << rsdp.error().message;
    EXPECT_EQ(*rsdp, kRsdpAddr);
    EXPECT_EQ(*rsdp % 16, 0u) << "the BIOS scan looks at 16-byte boundaries";
    ParsedTables p = parse_back(*mem, *rsdp);
    ASSERT_TRUE(p.by_signature.count("FACP"));
    ASSERT_TRUE(p.by_signature.count("APIC"));
    ASSERT_TRUE(p.by_signature.count("DSDT"));
    for (const auto& [sig, t] : p.by_signature) EXPECT_EQ(std::string(t.begin(), t.begin() + 4), sig);

    const auto& fadt = p.by_signature["FACP"];
    EXPECT_EQ(fadt.size(), 276u);
    EXPECT_EQ(fadt[8], 6) << "FADT revision";
    EXPECT_EQ(le(fadt, 46, 2), 9u) << "SCI_INT";
    EXPECT_EQ(le(fadt, 48, 4), 0u) << "no SMI_CMD: always in ACPI mode";
    EXPECT_EQ(le(fadt, 56, 4), 0x600u) << "PM1a_EVT_BLK";
    EXPECT_EQ(le(fadt, 64, 4), 0x604u) << "PM1a_CNT_BLK";
    EXPECT_EQ(le(fadt, 76, 4), 0x608u) << "PM_TMR_BLK";
    EXPECT_EQ(fadt[88], 4);
    EXPECT_EQ(fadt[89], 2);
    EXPECT_EQ(fadt[91], 4);
    EXPECT_EQ(le(fadt, 109, 2) & 0x2u, 0u) << "IAPC_BOOT_ARCH: no 8042 (no keyboard to probe)";
    EXPECT_NE(le(fadt, 109, 2) & 0x4u, 0u) << "IAPC_BOOT_ARCH: VGA not present";
    uint32_t flags = static_cast<uint32_t>(le(fadt, 112, 4));
    EXPECT_EQ(flags & (1u << 20), 0u) << "HW_REDUCED_ACPI must be 0";
    EXPECT_NE(flags & (1u << 10), 0u) << "RESET_REG_SUP";
    EXPECT_EQ(fadt[116], 1) << "reset register in System I/O";
    EXPECT_EQ(le(fadt, 120, 8), 0xcf9u);
    EXPECT_EQ(fadt[128], 0x06);
    EXPECT_EQ(le(fadt, 40, 4), le(fadt, 140, 8)) << "DSDT and X_DSDT agree";

    // DSDT: \_S5 with SLP_TYP 5 (the value acpi_pm powers off on).
    const auto& dsdt = p.by_signature["DSDT"];
    const uint8_t s5[] = {0x08, 0x5c, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00};
    auto it = std::search(dsdt.begin() + 36, dsdt.end(), std::begin(s5), std::end(s5));
    EXPECT_NE(it, dsdt.end()) << "\\_S5 package not found";
    // \_S3 with SLP_TYP 1 (acpi_pm's kSlpTypS3, QEMU's value, which kvm-unit-tests' s3 writes).
    const uint8_t s3[] = {0x08, 0x5c, '_', 'S', '3', '_', 0x12, 0x06, 0x04, 0x01, 0x01, 0x00, 0x00};
    EXPECT_NE(std::search(dsdt.begin() + 36, dsdt.end(), std::begin(s3), std::end(s3)), dsdt.end()) << "\\_S3 package not found";
}

TEST(AcpiTables, MadtHasOneLocalApicPerVcpu) {
    for (int vcpus : {1, 2, 7, 64, 255}) {
        auto t = build_acpi_tables(AcpiConfig{vcpus, 0x600, {}});
        ASSERT_TRUE(t) << t.error().message;
        const std::vector<uint8_t>* madt = nullptr;
        for (const auto& table : t->tables)
            if (table.signature == "APIC") madt = &table.bytes;
        ASSERT_NE(madt, nullptr);
        EXPECT_EQ(checksum(*madt), 0);
        EXPECT_EQ(le(*madt, 36, 4), 0xfee00000u);
        int lapics = 0, ioapics = 0, overrides = 0, nmis = 0;
        for (size_t off = 44; off < madt->size();) {
            uint8_t type = (*madt)[off], len = (*madt)[off + 1];
            ASSERT_GE(len, 2);
            ASSERT_LE(off + len, madt->size());
            if (type == 0) {
                EXPECT_EQ((*madt)[off + 3], lapics) << "APIC IDs are the vCPU indices";
                EXPECT_EQ(le(*madt, off + 4, 4), 1u) << "enabled";
                ++lapics;
            } else if (type == 1) {
                EXPECT_EQ(le(*madt, off + 4, 4), 0xfec00000u);
                EXPECT_EQ(le(*madt, off + 8, 4), 0u);
                ++ioapics;
            } else if (type == 2) {
                EXPECT_EQ((*madt)[off + 3], 9) << "only the SCI is overridden";
                EXPECT_EQ(le(*madt, off + 4, 4), 9u);
                EXPECT_EQ(le(*madt, off + 8, 2), 0xdu) << "active high, level";
                ++overrides;
            } else if (type == 4) {
                ++nmis;
            }
            off += len;
        }
        EXPECT_EQ(lapics, vcpus);
        EXPECT_EQ(ioapics, 1);
        EXPECT_EQ(overrides, 1);
        EXPECT_EQ(nmis, 1);
    }
    // With the engine's PIT on pin 2, the IRQ0 -> GSI 2 override is added.
    auto t = build_acpi_tables(AcpiConfig{1, 0x600, {}, true});
    ASSERT_TRUE(t);
    const auto& madt = t->tables[4].bytes;
    ASSERT_EQ(t->tables[4].signature, "APIC");
    EXPECT_EQ(checksum(madt), 0);
    const uint8_t iso0[] = {2, 10, 0, 0, 2, 0, 0, 0, 0, 0};
    EXPECT_NE(std::search(madt.begin(), madt.end(), std::begin(iso0), std::end(iso0)), madt.end());
    EXPECT_FALSE(build_acpi_tables(AcpiConfig{0, 0x600, {}}));
    EXPECT_FALSE(build_acpi_tables(AcpiConfig{256, 0x600, {}}));
}

TEST(AcpiTables, DsdtDescribesVirtioMmioDevices) {
    AcpiConfig c{1, 0x600, {{0xfeb00000, 0x200, 12, false}, {0xfeb00200, 0x200, 13, true}}};
    auto t = build_acpi_tables(c);
    ASSERT_TRUE(t) << t.error().message;
    const std::vector<uint8_t>* dsdt = nullptr;
    for (const auto& table : t->tables)
        if (table.signature == "DSDT") dsdt = &table.bytes;
    ASSERT_NE(dsdt, nullptr);
    EXPECT_EQ(checksum(*dsdt), 0);
    std::string text(dsdt->begin(), dsdt->end());
    EXPECT_NE(text.find("LNRO0005"), std::string::npos);
    EXPECT_NE(text.find("VR00"), std::string::npos);
    EXPECT_NE(text.find("VR01"), std::string::npos);
    // Memory32Fixed(ReadWrite, 0xfeb00200, 0x200) followed by Interrupt(edge, high) {13}.
    const uint8_t res[] = {0x86, 0x09, 0x00, 0x01, 0x00, 0x02, 0xb0, 0xfe, 0x00, 0x02, 0x00, 0x00,
                           0x89, 0x06, 0x00, 0x03, 0x01, 13, 0, 0, 0, 0x79, 0x00};
    EXPECT_NE(std::search(dsdt->begin(), dsdt->end(), std::begin(res), std::end(res)), dsdt->end());
}

TEST(AcpiAml, PackageLengthEncodings) {
    using aml::Bytes;
    EXPECT_EQ(aml::package_length(Bytes(10, 0)).front(), 11);
    Bytes big = aml::package_length(Bytes(100, 0));  // 100 + 2 = 102 = 0x66
    EXPECT_EQ(big.size(), 102u);
    EXPECT_EQ(big[0], 0x40 | 0x6);
    EXPECT_EQ(big[1], 0x6);
    Bytes huge = aml::package_length(Bytes(3000, 0));  // 3000 + 2 = 3002 = 0xbba (12 bits fit)
    EXPECT_EQ(huge[0], 0x40 | 0xa);
    EXPECT_EQ(huge[1], 0xbb);
    Bytes over = aml::package_length(Bytes(5000, 0));  // 5002 > 4095: three bytes, 5003 = 0x138b
    EXPECT_EQ(over[0], 0x80 | 0xb);
    EXPECT_EQ(over[1], 0x38);
    EXPECT_EQ(over[2], 0x01);
    Bytes bigger = aml::package_length(Bytes(70000, 0));  // + 3 = 70003 = 0x11173
    EXPECT_EQ(bigger[0], 0x80 | 0x3);
    EXPECT_EQ(bigger[1], 0x17);
    EXPECT_EQ(bigger[2], 0x11);
    EXPECT_EQ(aml::integer(0), Bytes{0x00});
    EXPECT_EQ(aml::integer(1), Bytes{0x01});
    EXPECT_EQ(aml::integer(5), (Bytes{0x0a, 5}));
    EXPECT_EQ(aml::integer(0x1234), (Bytes{0x0b, 0x34, 0x12}));
    EXPECT_EQ(aml::integer(0x12345678), (Bytes{0x0c, 0x78, 0x56, 0x34, 0x12}));
}

}  // namespace
}  // namespace popek::acpi

namespace popek::acpi {
namespace {

TEST(AcpiTables, DmarNamesTheVtdUnitAndTheIoApicOnlyWithAnIommu) {
    auto mem = memory::GuestMemory::create(16 << 20);
    ASSERT_TRUE(mem);
    AcpiConfig config{2, 0x600, {}};
    ASSERT_TRUE(write_acpi_tables(*mem, config));
    EXPECT_EQ(parse_back(*mem, kRsdpAddr).by_signature.count("DMAR"), 0u) << "no IOMMU, no DMAR";
    config.dmar_unit = 0xfed90000;
    ASSERT_TRUE(write_acpi_tables(*mem, config));
    ParsedTables p = parse_back(*mem, kRsdpAddr);
    ASSERT_EQ(p.by_signature.count("DMAR"), 1u);
    const auto& d = p.by_signature["DMAR"];
    ASSERT_EQ(d.size(), 48u + 24u);
    EXPECT_EQ(d[36], 38) << "host address width 39, minus 1";
    EXPECT_EQ(d[37] & 1, 1) << "INTR_REMAP";
    EXPECT_EQ(le(d, 48, 2), 0u) << "DRHD";
    EXPECT_EQ(le(d, 50, 2), 24u);
    EXPECT_EQ(d[52] & 1, 1) << "INCLUDE_PCI_ALL";
    EXPECT_EQ(le(d, 56, 8), 0xfed90000u);
    EXPECT_EQ(d[64], 3) << "device scope: I/O APIC";
    EXPECT_EQ(d[65], 8);
    EXPECT_EQ(d[68], 0) << "I/O APIC ID of the MADT";
    EXPECT_EQ(d[69], 0xff) << "bus";
    ASSERT_TRUE(p.by_signature.count("APIC")) << "the MADT is still there";
}

}  // namespace
}  // namespace popek::acpi
