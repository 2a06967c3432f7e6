#include "arch/x86_64/page_tables.h"

#include <array>

#include "arch/x86_64/boot_layout.h"

namespace popek::arch {

Result<uint64_t> write_identity_map(const memory::GuestMemory& mem) {
    using Table = std::array<uint64_t, 512>;
    constexpr uint64_t kPml4 = kPageTablesAddr;
    constexpr uint64_t kPdpt = kPml4 + kPageSize;
    constexpr uint64_t kPd0 = kPdpt + kPageSize;
    constexpr uint64_t kTableFlags = kPtePresent | kPteWrite | kPteUser | kPteAccessed;
    constexpr uint64_t kTwoMiB = 0x200000;
    constexpr uint64_t kOneGiB = 0x4000'0000;

    Table pml4{};
    pml4[0] = kPdpt | kTableFlags;
    TRY_VOID(mem.write_obj(kPml4, pml4));
    Table pdpt{};
    for (uint64_t i = 0; i < 4; ++i) pdpt[i] = (kPd0 + i * kPageSize) | kTableFlags;
    TRY_VOID(mem.write_obj(kPdpt, pdpt));
    for (uint64_t gib = 0; gib < 4; ++gib) {
        Table pd{};
        for (uint64_t i = 0; i < 512; ++i)
            pd[i] = (gib * kOneGiB + i * kTwoMiB) | kTableFlags | kPteDirty | kPteLarge;
        TRY_VOID(mem.write_obj(kPd0 + gib * kPageSize, pd));
    }
    return kPml4;
}

}  // namespace popek::arch
