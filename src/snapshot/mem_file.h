#pragma once
/// Guest RAM as a snapshot's memory file (Firecracker's `mem_file_path`; docs/snapshot.md
/// "Memory file"): the RAM regions in address order, back to back, exactly GuestMemory::size()
/// bytes. Only pages holding a non-zero byte are written; the rest stay holes, so the file is as
/// sparse as the guest's RAM is empty. Loading reads only the file's data extents (SEEK_DATA),
/// into fresh (zero) guest memory.
#include <string>

#include "memory/guest_memory.h"
#include "util/result.h"

namespace popek::snapshot {

struct MemFileStats {
    uint64_t bytes_written = 0;   ///< data (non-zero pages) written or read
};

Result<MemFileStats> write_mem_file(const memory::GuestMemory& mem, const std::string& path);
/// Fails (touching nothing) unless the file is a regular file of exactly mem.size() bytes.
Result<MemFileStats> load_mem_file(const memory::GuestMemory& mem, const std::string& path);

}  // namespace popek::snapshot
