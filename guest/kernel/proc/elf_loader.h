#pragma once
/// Loads a static ELF64 x86-64 executable (System V gABI, "Program header") from a file into
/// a fresh address space. Every header field is validated; a bad file gives -POS_ENOEXEC.
#include <stdint.h>

namespace pos {

class AddressSpace;
class FileService;

/// Returns 0 and the entry point, or -POS_ENOEXEC / -POS_ENOMEM.
int elf_load(const FileService& fs, int file, AddressSpace& space, uint64_t* entry);

/// Lowest address a program may use, and the range kept for the user stack.
inline constexpr uint64_t kUserMin = 0x10000;
inline constexpr uint64_t kUserStackTop = 0x00007fff00000000, kUserStackSize = 64 * 1024;

}  // namespace pos
