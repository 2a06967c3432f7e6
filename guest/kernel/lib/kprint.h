#pragma once
/// Kernel log: printf-style formatting onto the console (Console::active()).
#include <stdarg.h>
#include <stddef.h>

#include "common/format.h"

namespace pos {

void kprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
/// Prints the message and stops the machine (debug-exit, then halt).
[[noreturn]] void panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace pos
