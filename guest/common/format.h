#pragma once
/// printf-style formatting shared by the kernel log and the user runtime.
/// Formats: %s %c %d %u %x %p; flags # (0x prefix), - (left-justify strings), 0; a width; l/ll.
#include <stdarg.h>
#include <stddef.h>

namespace pos {

/// Formats into `out[cap]` (always terminated); returns the length that fitted.
size_t vformat(char* out, size_t cap, const char* fmt, va_list args);
size_t format(char* out, size_t cap, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

}  // namespace pos
