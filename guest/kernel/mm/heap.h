#pragma once
/// Kernel heap: power-of-two size classes (16 B .. 2 KiB) carved from frames; bigger blocks take
/// whole contiguous frames. operator new/delete use it.
#include <stddef.h>

namespace pos {

void* kmalloc(size_t size);
void* kzalloc(size_t size);
void kfree(void* p);

}  // namespace pos
