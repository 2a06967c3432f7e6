#pragma once
/// Bookkeeping of what a loader puts where in guest RAM: every range is claimed with a name,
/// must lie inside RAM and must not overlap an earlier claim, so a kernel image can never
/// overwrite the boot structures (or the other way round) and errors say what collided.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::loader {

class Placement {
public:
    explicit Placement(const memory::GuestMemory& mem) : m_mem(mem) {}

    /// Claims [gpa, gpa+size) for `what`. Empty ranges are accepted and claim nothing.
    Result<void> claim(uint64_t gpa, uint64_t size, std::string what);

    /// Claims the highest `align`-aligned free range of `size` bytes inside one RAM region that
    /// starts at or above `floor` and ends at or below `limit`. Returns its address.
    Result<uint64_t> claim_highest(uint64_t size, uint64_t align, uint64_t floor, uint64_t limit, std::string what);

    /// Claims and writes `bytes` at `gpa`.
    Result<void> place(uint64_t gpa, std::span<const uint8_t> bytes, std::string what);

    /// Writes the NUL-terminated command line at `gpa` (at most `max_len` bytes before the NUL).
    Result<void> place_cmdline(uint64_t gpa, std::string_view cmdline, uint64_t max_len);

    /// Claims what every protocol shares: the boot GDT and the command line page; `scratch_stack`
    /// adds the boot stack of PVH/bzImage, `acpi` the BIOS area where the ACPI tables go.
    Result<void> claim_boot_area(std::string_view cmdline, uint64_t cmdline_max, bool scratch_stack, bool acpi);

    /// The end of the highest claim that starts below `below` (0 when none).
    uint64_t highest_end_below(uint64_t below) const;

    const memory::GuestMemory& mem() const { return m_mem; }

private:
    struct Claim {
        uint64_t base;
        uint64_t size;
        std::string what;
    };
    const Claim* overlapping(uint64_t gpa, uint64_t size) const;

    const memory::GuestMemory& m_mem;
    std::vector<Claim> m_claims;
};

}  // namespace popek::loader
