#pragma once
/// A process's address space: its own PML4 whose upper half (entries 256-511: direct map and
/// kernel) is shared with every other space, 4 KiB user pages below 0x0000_8000_0000_0000
/// (SDM Vol. 3A 4.5, 4-level paging).
#include <stddef.h>
#include <stdint.h>

namespace pos {

inline constexpr uint64_t kUserTop = 0x0000800000000000;
inline constexpr uint64_t kPteP = 1, kPteW = 2, kPteU = 4, kPtePs = 0x80;

class AddressSpace {
public:
    /// A new space sharing the kernel half; nullptr when out of memory.
    static AddressSpace* create();
    /// Frees every user page and page table, then the object itself. Must not be active.
    void destroy();

    /// Maps one fresh zeroed user page at `va` (page aligned); returns its physical address or 0.
    uint64_t map_new_page(uint64_t va, bool writable);
    /// Physical address behind user `va` if mapped with the given access, else 0.
    uint64_t translate(uint64_t va, bool need_write) const;
    /// True when every byte of [va, va+len) is a mapped user page (writable if asked).
    bool check_user_range(uint64_t va, size_t len, bool need_write) const;

    uint64_t root() const { return m_pml4; }
    void activate() const;

private:
    uint64_t* walk(uint64_t va, bool create) const;
    uint64_t m_pml4 = 0;
};

/// The boot page tables (arch/boot.S), which kernel threads run on.
uint64_t kernel_root();
/// Switches to the kernel's tables if `space` is the active one (before destroying it).
void leave_address_space(const AddressSpace* space);
/// Switches to the kernel's tables unless they are active (kernel threads on several CPUs).
void leave_to_kernel_root();

}  // namespace pos
