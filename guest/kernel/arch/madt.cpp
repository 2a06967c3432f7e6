#include "arch/madt.h"

#include "common/string.h"
#include "mm/pmm.h"

namespace pos::acpi {
namespace {

constexpr uint32_t kMaxTableLength = 64 * 1024;   // popek's tables are a few hundred bytes

/// System Description Table Header (ACPI 6.4 5.2.6).
struct __attribute__((packed)) SdtHeader {
    char signature[4];
    uint32_t length;
    uint8_t revision, checksum;
    char oem_id[6], oem_table_id[8];
    uint32_t oem_revision, creator_id, creator_revision;
};
static_assert(sizeof(SdtHeader) == 36);

/// Root System Description Pointer (5.2.5.3).
struct __attribute__((packed)) Rsdp {
    char signature[8];
    uint8_t checksum;
    char oem_id[6];
    uint8_t revision;
    uint32_t rsdt_address;
    uint32_t length;   // revision >= 2 from here on
    uint64_t xsdt_address;
    uint8_t extended_checksum, reserved[3];
};
static_assert(sizeof(Rsdp) == 36);

bool mapped(uint64_t phys, uint64_t size) { return phys < kDirectMapLimit && size <= kDirectMapLimit - phys; }

bool sums_to_zero(const uint8_t* p, size_t n) {
    uint8_t sum = 0;
    for (size_t i = 0; i < n; ++i) sum = static_cast<uint8_t>(sum + p[i]);
    return sum == 0;
}

/// The table at `phys` if it is mapped, carries `signature`, has a sane length and checksum.
const SdtHeader* table_at(uint64_t phys, const char* signature) {
    if (phys == 0 || !mapped(phys, sizeof(SdtHeader))) return nullptr;
    const auto* h = phys_to_virt<const SdtHeader>(phys);
    if (memcmp(h->signature, signature, 4) != 0) return nullptr;
    if (h->length < sizeof(SdtHeader) || h->length > kMaxTableLength || !mapped(phys, h->length)) return nullptr;
    if (!sums_to_zero(reinterpret_cast<const uint8_t*>(h), h->length)) return nullptr;
    return h;
}

/// The MADT among the root table's entries (8-byte XSDT or 4-byte RSDT pointers).
const SdtHeader* find_madt(const SdtHeader* root, size_t entry_size) {
    const auto* entries = reinterpret_cast<const uint8_t*>(root) + sizeof(SdtHeader);
    size_t count = (root->length - sizeof(SdtHeader)) / entry_size;
    for (size_t i = 0; i < count; ++i) {
        uint64_t addr = 0;
        memcpy(&addr, entries + i * entry_size, entry_size);
        if (const SdtHeader* t = table_at(addr, "APIC")) return t;
    }
    return nullptr;
}

}  // namespace

bool read_cpus(uint64_t rsdp_phys, CpuList& out, const char** reason) {
    out.count = out.ignored = 0;
    if (rsdp_phys == 0 || !mapped(rsdp_phys, sizeof(Rsdp))) {
        *reason = "no ACPI RSDP";
        return false;
    }
    const auto* rsdp = phys_to_virt<const Rsdp>(rsdp_phys);
    if (memcmp(rsdp->signature, "RSD PTR ", 8) != 0 || !sums_to_zero(reinterpret_cast<const uint8_t*>(rsdp), 20)) {
        *reason = "bad ACPI RSDP";
        return false;
    }
    const SdtHeader* madt = nullptr;
    if (rsdp->revision >= 2 && sums_to_zero(reinterpret_cast<const uint8_t*>(rsdp), sizeof(Rsdp))) {
        if (const SdtHeader* xsdt = table_at(rsdp->xsdt_address, "XSDT")) madt = find_madt(xsdt, 8);
    }
    if (madt == nullptr) {
        if (const SdtHeader* rsdt = table_at(rsdp->rsdt_address, "RSDT")) madt = find_madt(rsdt, 4);
    }
    if (madt == nullptr) {
        *reason = "no valid MADT";
        return false;
    }
    // Interrupt controller structures follow the local APIC address and flags (5.2.12, table 5.43).
    const auto* base = reinterpret_cast<const uint8_t*>(madt);
    for (uint32_t off = sizeof(SdtHeader) + 8; off + 2 <= madt->length;) {
        uint8_t type = base[off], len = base[off + 1];
        if (len < 2 || off + len > madt->length) break;   // malformed: keep what was read so far
        if (type == 0 && len >= 8) {   // Processor Local APIC (5.2.12.2): enabled = flags bit 0
            uint32_t flags = 0;
            memcpy(&flags, base + off + 4, sizeof flags);
            if ((flags & 1) != 0) {
                if (out.count < static_cast<int>(sizeof out.apic_ids / sizeof out.apic_ids[0]))
                    out.apic_ids[out.count++] = base[off + 3];
                else
                    ++out.ignored;
            }
        }
        off += len;
    }
    if (out.count == 0) {
        *reason = "the MADT lists no enabled CPU";
        return false;
    }
    return true;
}

}  // namespace pos::acpi
