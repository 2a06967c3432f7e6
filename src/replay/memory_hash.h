#pragma once
/// The hash of guest RAM a recording's End event holds and its replay compares (docs/record-
/// replay.md "Log format", version 3): BLAKE2b-256 over every 4 KiB page of guest RAM that is not
/// all zero, each as its guest-physical address (u64, little endian) and then its 4096 bytes, in
/// address order. All-zero pages add nothing, so a page the host never allocated need not be
/// read: /proc/self/pagemap (Linux Documentation/admin-guide/mm/pagemap.rst: bit 63 "page
/// present", bit 62 "page swapped") tells which pages of the private anonymous guest RAM mapping
/// were never touched, and reading those would make the host allocate and clear them (2 MiB at a
/// time with transparent huge pages): most of a 256 MiB VM after a Linux boot.
#include <array>
#include <cstdint>

#include "memory/guest_memory.h"
#include "util/fd.h"

namespace popek::replay {

/// A 4 KiB page of zeros (read word by word).
bool page_is_zero(const uint8_t* p);

class MemoryHasher {
public:
    /// Opens /proc/self/pagemap now (before a chroot and the threads' syscall filters); without
    /// it every page is read.
    MemoryHasher();
    std::array<uint8_t, 32> hash(const memory::GuestMemory& mem) const;
    /// Pages the last hash() read (the rest were known zero without reading them).
    uint64_t pages_read() const { return m_pages_read; }

private:
    UniqueFd m_pagemap;
    mutable uint64_t m_pages_read = 0;
};

}  // namespace popek::replay
