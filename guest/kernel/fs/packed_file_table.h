#pragma once
/// The boot image's file table ("POSFILES", written by guest/tools/mkfiletable.cpp, format in
/// docs/guest-os.md): a header, fixed-size entries, then the file bytes.
#include "fs/file_service.h"

namespace pos {

struct PackedFileHeader {
    char magic[8];        ///< "POSFILES"
    uint32_t version;     ///< 1
    uint32_t count;
};
struct PackedFileEntry {
    char name[64];        ///< absolute path, NUL-terminated
    uint64_t offset;      ///< from the start of the table
    uint64_t size;
    uint32_t flags;       ///< kPackedExecutable
    uint32_t reserved;
};
static_assert(sizeof(PackedFileHeader) == 16 && sizeof(PackedFileEntry) == 88);
inline constexpr uint32_t kPackedExecutable = 1;

class PackedFileTable final : public FileService {
public:
    /// Validates the whole table (every name terminated and canonical, every extent inside the
    /// blob); on failure returns false with a reason and the table stays empty.
    bool init(const uint8_t* blob, size_t size, const char** reason);
    int lookup(const char* path) const override;
    bool info(int id, FileInfo& out) const override;
    long read(int id, uint64_t offset, void* buf, size_t len) const override;
    int count() const override { return static_cast<int>(m_count); }

private:
    const uint8_t* m_blob = nullptr;
    const PackedFileEntry* m_entries = nullptr;
    uint32_t m_count = 0;
};

}  // namespace pos
