#include "fs/packed_file_table.h"

#include "common/string.h"
#include "popek_os/abi.h"

namespace pos {

bool path_is_canonical(const char* path) {
    size_t len = strnlen(path, POS_PATH_MAX);
    if (len == 0 || len >= POS_PATH_MAX || path[0] != '/' || path[len - 1] == '/') return false;
    for (size_t i = 0; i < len; ++i) {
        if (path[i] != '/') continue;
        const char* c = path + i + 1;
        size_t clen = 0;
        while (c[clen] != 0 && c[clen] != '/') ++clen;
        if (clen == 0 || (clen == 1 && c[0] == '.') || (clen == 2 && c[0] == '.' && c[1] == '.')) return false;
    }
    return true;
}

bool PackedFileTable::init(const uint8_t* blob, size_t size, const char** reason) {
    m_count = 0;
    PackedFileHeader h;
    if (size < sizeof h) return *reason = "shorter than its header", false;
    memcpy(&h, blob, sizeof h);
    if (memcmp(h.magic, "POSFILES", 8) != 0 || h.version != 1) return *reason = "bad magic or version", false;
    if (h.count > (size - sizeof h) / sizeof(PackedFileEntry)) return *reason = "entry table past the end", false;
    const auto* entries = reinterpret_cast<const PackedFileEntry*>(blob + sizeof h);
    for (uint32_t i = 0; i < h.count; ++i) {
        const PackedFileEntry& e = entries[i];
        if (strnlen(e.name, sizeof e.name) == sizeof e.name) return *reason = "unterminated name", false;
        if (!path_is_canonical(e.name)) return *reason = "name is not a canonical absolute path", false;
        if (e.offset > size || e.size > size - e.offset) return *reason = "file extent past the end", false;
    }
    m_blob = blob;
    m_entries = entries;
    m_count = h.count;
    return true;
}

int PackedFileTable::lookup(const char* path) const {
    for (uint32_t i = 0; i < m_count; ++i)
        if (strcmp(m_entries[i].name, path) == 0) return static_cast<int>(i);
    return -POS_ENOENT;
}

bool PackedFileTable::info(int id, FileInfo& out) const {
    if (id < 0 || static_cast<uint32_t>(id) >= m_count) return false;
    const PackedFileEntry& e = m_entries[id];
    out = {e.name, e.size, (e.flags & kPackedExecutable) != 0};
    return true;
}

long PackedFileTable::read(int id, uint64_t offset, void* buf, size_t len) const {
    if (id < 0 || static_cast<uint32_t>(id) >= m_count) return -POS_EBADF;
    const PackedFileEntry& e = m_entries[id];
    if (offset >= e.size) return 0;
    size_t n = e.size - offset < len ? static_cast<size_t>(e.size - offset) : len;
    memcpy(buf, m_blob + e.offset + offset, n);
    return static_cast<long>(n);
}

}  // namespace pos
