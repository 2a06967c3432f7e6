#pragma once
/// Physical memory: the direct map and the frame allocator, fed from the hvm_start_info memory
/// map (Xen public arch-x86/hvm/start_info.h, struct hvm_memmap_table_entry).
#include <stddef.h>
#include <stdint.h>

namespace pos {

inline constexpr uint64_t kPageSize = 4096;
inline constexpr uint64_t kDirectMapBase = 0xffff800000000000;
inline constexpr uint64_t kKernelBase = 0xffffffff80000000;
/// The boot page tables map the first 4 GiB; RAM above the 3 GiB MMIO hole is not used yet.
inline constexpr uint64_t kDirectMapLimit = 0xc0000000;

template <typename T = void>
inline T* phys_to_virt(uint64_t phys) { return reinterpret_cast<T*>(phys + kDirectMapBase); }
inline uint64_t virt_to_phys(const void* p) {
    auto v = reinterpret_cast<uint64_t>(p);
    return v >= kKernelBase ? v - kKernelBase : v - kDirectMapBase;
}

namespace pmm {

/// Adds RAM [base, base+size) to the allocator, minus what reserve() excluded earlier.
void add_ram(uint64_t base, uint64_t size);
/// Keeps [base, base+size) out of the allocator (kernel image, boot modules, start info).
void reserve(uint64_t base, uint64_t size);
/// One 4 KiB frame (physical address), or 0 when memory is exhausted.
uint64_t alloc_frame();
uint64_t alloc_zeroed_frame();
/// `count` physically contiguous frames, or 0.
uint64_t alloc_contiguous(size_t count);
void free_frame(uint64_t phys);
size_t free_frames();
size_t total_frames();

}  // namespace pmm
}  // namespace pos
