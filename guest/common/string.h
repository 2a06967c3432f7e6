#pragma once
/// Freestanding string and memory helpers (the compiler may also emit calls to the mem* ones).
#include <stddef.h>
#include <stdint.h>

extern "C" {
void* memcpy(void* dst, const void* src, size_t n);
void* memmove(void* dst, const void* src, size_t n);
void* memset(void* dst, int c, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
int strcmp(const char* a, const char* b);
}

namespace pos {

/// Bounded length: never reads past `max` bytes.
size_t strnlen(const char* s, size_t max);
/// Copies `src` into `dst[cap]`, always terminated; returns false when truncated.
bool copy_string(char* dst, size_t cap, const char* src);
bool starts_with(const char* s, const char* prefix);
/// Parses `digits` hexadecimal characters into bytes; false on a non-hex character.
bool parse_hex(const char* text, size_t digits, uint8_t* out);

}  // namespace pos
