#include "loader/placement.h"

#include <algorithm>

#include "arch/x86_64/boot_layout.h"
#include "loader/byte_reader.h"

namespace popek::loader {

const Placement::Claim* Placement::overlapping(uint64_t gpa, uint64_t size) const {
    for (const Claim& c : m_claims)
        if (gpa < c.base + c.size && c.base < gpa + size) return &c;
    return nullptr;
}

Result<void> Placement::claim(uint64_t gpa, uint64_t size, std::string what) {
    if (size == 0) return {};
    if (gpa > UINT64_MAX - size) return fail("{} at {:#x} (+{:#x}) wraps around the address space", what, gpa, size);
    if (!m_mem.contains(gpa, size))
        return fail("{} at [{:#x}, {:#x}) lies outside guest RAM ({} MiB)", what, gpa, gpa + size, m_mem.size() >> 20);
    if (const Claim* c = overlapping(gpa, size))
        return fail("{} at [{:#x}, {:#x}) overlaps {} at [{:#x}, {:#x})", what, gpa, gpa + size, c->what, c->base,
                    c->base + c->size);
    m_claims.push_back(Claim{gpa, size, std::move(what)});
    return {};
}

Result<uint64_t> Placement::claim_highest(uint64_t size, uint64_t align, uint64_t floor, uint64_t limit,
                                          std::string what) {
    if (size == 0) return fail("{} is empty", what);
    std::vector<memory::Region> regions(m_mem.regions().begin(), m_mem.regions().end());
    std::sort(regions.begin(), regions.end(), [](const auto& a, const auto& b) { return a.base > b.base; });
    for (const memory::Region& r : regions) {
        uint64_t lowest = std::max(floor, r.base);
        uint64_t top = std::min(limit, r.base + r.size);
        // Walk down from the top of the region, skipping below each claim in the way.
        while (top >= lowest && top - lowest >= size) {
            uint64_t start = align_down(top - size, align);
            if (start < lowest) break;
            const Claim* c = overlapping(start, size);
            if (c == nullptr) {
                m_claims.push_back(Claim{start, size, what});
                return start;
            }
            top = c->base;
        }
    }
    // More RAM helps only when RAM ends below the limit and the window could hold it at all.
    uint64_t ram_end = 0;
    for (const memory::Region& r : regions) ram_end = std::max(ram_end, r.base + r.size);
    const bool more_ram_helps = ram_end < limit && limit > floor && limit - floor >= size;
    return fail("{} ({} bytes) does not fit in guest RAM between {:#x} and {:#x} ({} MiB of RAM){}", what, size, floor,
                limit, m_mem.size() >> 20, more_ram_helps ? ": raise --mem" : "");
}

Result<void> Placement::place(uint64_t gpa, std::span<const uint8_t> bytes, std::string what) {
    TRY_VOID(claim(gpa, bytes.size(), std::move(what)));
    return m_mem.write(gpa, bytes);
}

Result<void> Placement::place_cmdline(uint64_t gpa, std::string_view cmdline, uint64_t max_len) {
    if (cmdline.size() > max_len)
        return fail("command line is {} bytes, the limit is {}", cmdline.size(), max_len);
    if (cmdline.find('\0') != std::string_view::npos) return fail("command line contains a NUL byte");
    std::vector<uint8_t> bytes(cmdline.begin(), cmdline.end());
    bytes.push_back(0);
    return place(gpa, bytes, "command line");
}

Result<void> Placement::claim_boot_area(std::string_view cmdline, uint64_t cmdline_max, bool scratch_stack, bool acpi) {
    TRY_VOID(claim(arch::kBootGdtAddr, arch::kPageSize, "boot GDT"));
    TRY_VOID(place_cmdline(arch::kCmdlineAddr, cmdline, cmdline_max));
    if (scratch_stack) TRY_VOID(claim(arch::kStacksAddr, arch::kStackSize, "boot stack"));
    if (acpi) TRY_VOID(claim(arch::kBiosAreaStart, arch::kOneMiB - arch::kBiosAreaStart, "ACPI tables"));
    return {};
}

uint64_t Placement::highest_end_below(uint64_t below) const {
    uint64_t end = 0;
    for (const Claim& c : m_claims)
        if (c.base < below) end = std::max(end, c.base + c.size);
    return end;
}

}  // namespace popek::loader
