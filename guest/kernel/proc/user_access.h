#pragma once
/// Checked access to the calling process's user memory (its page tables decide).
#include <stddef.h>
#include <stdint.h>

namespace pos {

bool user_readable(uint64_t va, size_t len);
bool user_writable(uint64_t va, size_t len);
/// 0, or -POS_EFAULT when [va, va+len) is not writable user memory.
long copy_to_user(uint64_t va, const void* src, size_t len);

}  // namespace pos
