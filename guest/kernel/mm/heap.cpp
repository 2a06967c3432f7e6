#include "mm/heap.h"

#include <stdint.h>

#include "common/string.h"
#include "lib/spinlock.h"
#include "mm/pmm.h"

namespace pos {
namespace {

/// Every block starts with this header; user data follows, 16-byte aligned.
struct Header {
    uint32_t size_class;   ///< index into the classes, or kLarge
    uint32_t pages;        ///< for large blocks
    uint64_t magic;
};
static_assert(sizeof(Header) == 16);

constexpr uint32_t kClasses = 8;   // 32 .. 4096 bytes including the header
constexpr uint32_t kLarge = 0xff;
constexpr uint64_t kMagicUsed = 0x48454150'55534544, kMagicFree = 0x48454150'46524545;
struct FreeBlock { Header header; FreeBlock* next; };
FreeBlock* g_free[kClasses];
Spinlock g_lock;

size_t class_size(uint32_t c) { return size_t{32} << c; }

bool refill(uint32_t c) {
    uint64_t frame = pmm::alloc_frame();
    if (frame == 0) return false;
    auto* base = phys_to_virt<uint8_t>(frame);
    size_t size = class_size(c);
    for (size_t off = 0; off + size <= kPageSize; off += size) {
        auto* b = reinterpret_cast<FreeBlock*>(base + off);
        b->header = {c, 0, kMagicFree};
        b->next = g_free[c];
        g_free[c] = b;
    }
    return true;
}

}  // namespace

void* kmalloc(size_t size) {
    size_t need = size + sizeof(Header);
    if (need > class_size(kClasses - 1)) {
        size_t pages = (need + kPageSize - 1) / kPageSize;
        uint64_t phys = pmm::alloc_contiguous(pages);
        if (phys == 0) return nullptr;
        auto* h = phys_to_virt<Header>(phys);
        *h = {kLarge, static_cast<uint32_t>(pages), kMagicUsed};
        return h + 1;
    }
    uint32_t c = 0;
    while (class_size(c) < need) ++c;
    LockGuard guard(g_lock);
    if (g_free[c] == nullptr && !refill(c)) return nullptr;
    FreeBlock* b = g_free[c];
    g_free[c] = b->next;
    b->header.magic = kMagicUsed;
    return &b->header + 1;
}

void* kzalloc(size_t size) {
    void* p = kmalloc(size);
    if (p != nullptr) memset(p, 0, size);
    return p;
}

void kfree(void* p) {
    if (p == nullptr) return;
    Header* h = static_cast<Header*>(p) - 1;
    if (h->magic != kMagicUsed) return;   // double free or a stray pointer: leak, do not corrupt
    h->magic = kMagicFree;
    if (h->size_class == kLarge) {
        uint64_t phys = virt_to_phys(h);
        for (uint32_t i = 0; i < h->pages; ++i) pmm::free_frame(phys + i * kPageSize);
        return;
    }
    if (h->size_class >= kClasses) return;
    LockGuard guard(g_lock);
    auto* b = reinterpret_cast<FreeBlock*>(h);
    b->next = g_free[h->size_class];
    g_free[h->size_class] = b;
}

}  // namespace pos

void* operator new(size_t size) { return pos::kzalloc(size); }
void* operator new[](size_t size) { return pos::kzalloc(size); }
void operator delete(void* p) noexcept { pos::kfree(p); }
void operator delete[](void* p) noexcept { pos::kfree(p); }
void operator delete(void* p, size_t) noexcept { pos::kfree(p); }
void operator delete[](void* p, size_t) noexcept { pos::kfree(p); }
