#include "mm/address_space.h"

#include "arch/x86.h"
#include "common/string.h"
#include "mm/heap.h"
#include "mm/pmm.h"

extern "C" char boot_pml4[];

namespace pos {
namespace {

constexpr uint64_t kAddrMask = 0x000ffffffffff000;
int index_at(uint64_t va, int level) { return static_cast<int>((va >> (12 + 9 * level)) & 511); }

void free_table(uint64_t table_phys, int level) {
    auto* table = phys_to_virt<uint64_t>(table_phys);
    for (int i = 0; i < 512; ++i) {
        if ((table[i] & kPteP) == 0) continue;
        uint64_t next = table[i] & kAddrMask;
        if (level > 0) free_table(next, level - 1);
        else pmm::free_frame(next);
    }
    pmm::free_frame(table_phys);
}

}  // namespace

uint64_t kernel_root() { return reinterpret_cast<uint64_t>(boot_pml4); }   // linked at its physical address

AddressSpace* AddressSpace::create() {
    auto* space = static_cast<AddressSpace*>(kzalloc(sizeof(AddressSpace)));
    if (space == nullptr) return nullptr;
    space->m_pml4 = pmm::alloc_zeroed_frame();
    if (space->m_pml4 == 0) {
        kfree(space);
        return nullptr;
    }
    auto* mine = phys_to_virt<uint64_t>(space->m_pml4);
    const auto* kernel = phys_to_virt<uint64_t>(kernel_root());
    memcpy(mine + 256, kernel + 256, 256 * sizeof(uint64_t));
    return space;
}

void AddressSpace::destroy() {
    auto* pml4 = phys_to_virt<uint64_t>(m_pml4);
    for (int i = 0; i < 256; ++i)
        if ((pml4[i] & kPteP) != 0) free_table(pml4[i] & kAddrMask, 2);
    pmm::free_frame(m_pml4);
    kfree(this);
}

uint64_t* AddressSpace::walk(uint64_t va, bool create) const {
    uint64_t table = m_pml4;
    for (int level = 3; level > 0; --level) {
        uint64_t& entry = phys_to_virt<uint64_t>(table)[index_at(va, level)];
        if ((entry & kPteP) == 0) {
            if (!create) return nullptr;
            uint64_t fresh = pmm::alloc_zeroed_frame();
            if (fresh == 0) return nullptr;
            entry = fresh | kPteP | kPteW | kPteU;
        }
        if ((entry & kPtePs) != 0) return nullptr;   // user space never uses large pages
        table = entry & kAddrMask;
    }
    return &phys_to_virt<uint64_t>(table)[index_at(va, 0)];
}

uint64_t AddressSpace::map_new_page(uint64_t va, bool writable) {
    if (va >= kUserTop || (va & (kPageSize - 1)) != 0) return 0;
    uint64_t* pte = walk(va, true);
    if (pte == nullptr) return 0;
    if ((*pte & kPteP) != 0) {   // already mapped (overlapping segments): widen the rights
        if (writable) *pte |= kPteW;
        return *pte & kAddrMask;
    }
    uint64_t frame = pmm::alloc_zeroed_frame();
    if (frame == 0) return 0;
    *pte = frame | kPteP | kPteU | (writable ? kPteW : 0);
    return frame;
}

uint64_t AddressSpace::translate(uint64_t va, bool need_write) const {
    if (va >= kUserTop) return 0;
    uint64_t* pte = walk(va, false);
    if (pte == nullptr || (*pte & (kPteP | kPteU)) != (kPteP | kPteU)) return 0;
    if (need_write && (*pte & kPteW) == 0) return 0;
    return (*pte & kAddrMask) | (va & (kPageSize - 1));
}

bool AddressSpace::check_user_range(uint64_t va, size_t len, bool need_write) const {
    if (len == 0) return true;
    if (va >= kUserTop || len > kUserTop - va) return false;
    for (uint64_t page = va & ~(kPageSize - 1); page < va + len; page += kPageSize)
        if (translate(page, need_write) == 0) return false;
    return true;
}

void AddressSpace::activate() const {
    if (x86::read_cr3() != m_pml4) x86::write_cr3(m_pml4);
}

void leave_address_space(const AddressSpace* space) {
    if (space != nullptr && x86::read_cr3() == space->root()) x86::write_cr3(kernel_root());
}

void leave_to_kernel_root() {
    if (x86::read_cr3() != kernel_root()) x86::write_cr3(kernel_root());
}

}  // namespace pos
