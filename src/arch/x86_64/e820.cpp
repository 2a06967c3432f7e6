#include "arch/x86_64/e820.h"

#include <algorithm>

#include "arch/x86_64/boot_layout.h"

namespace popek::arch {
namespace {

void add(std::vector<E820Entry>& map, uint64_t start, uint64_t end, E820Type type) {
    if (end > start) map.push_back({start, end - start, type});
}

}  // namespace

std::vector<E820Entry> build_e820(const memory::GuestMemory& mem) {
    std::vector<E820Entry> map;
    for (const memory::Region& r : mem.regions()) {
        uint64_t start = r.base;
        uint64_t end = r.base + r.size;
        if (start < kOneMiB) {
            // Below 1 MiB a PC has conventional memory, the EBDA, the VGA hole and the BIOS.
            add(map, start, std::min(end, kEbdaStart), E820Type::Ram);
            if (end > kEbdaStart) add(map, std::max(start, kEbdaStart), std::min(end, kVgaHoleStart), E820Type::Reserved);
            if (end > kBiosAreaStart) add(map, std::max(start, kBiosAreaStart), std::min(end, kOneMiB), E820Type::Reserved);
            start = kOneMiB;
        }
        add(map, start, end, E820Type::Ram);
    }
    std::sort(map.begin(), map.end(), [](const E820Entry& a, const E820Entry& b) { return a.addr < b.addr; });
    return map;
}

}  // namespace popek::arch
