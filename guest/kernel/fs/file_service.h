#pragma once
/// Files the kernel serves to processes. Phase 1: a read-only file table packed into the boot
/// image (packed_file_table.cpp); phase 2: block devices as /dev/xvd* (device_files.cpp) and the
/// host directory shared by popek (--share DIR) over a request ring, same interface.
#include <stddef.h>
#include <stdint.h>

#include "popek_os/abi.h"

namespace pos {

struct FileInfo {
    const char* name;
    uint64_t size;
    bool executable;
};

class FileService {
public:
    virtual ~FileService() = default;
    /// File id for an absolute path, or -POS_ENOENT.
    virtual int lookup(const char* path) const = 0;
    /// The same for an open with POS_O_WRITE (after the policy allowed it): a service may create
    /// the file (the host share does); by default the same as lookup().
    virtual int lookup_for_write(const char* path) const { return lookup(path); }
    virtual bool info(int id, FileInfo& out) const = 0;
    /// Copies up to `len` bytes at `offset`; returns the count (0 at the end) or -errno.
    virtual long read(int id, uint64_t offset, void* buf, size_t len) const = 0;
    /// Writes `len` bytes at `offset`; the count or -errno (-POS_EROFS for read-only files).
    virtual long write(int, uint64_t, const void*, size_t) const { return -POS_EROFS; }
    virtual int count() const = 0;

    static FileService* active() { return s_active; }
    static void set_active(FileService* f) { s_active = f; }

private:
    static inline FileService* s_active = nullptr;
};

/// Checks an absolute path: starts with '/', at most POS_PATH_MAX-1 bytes, no empty, "." or ".."
/// component (so a policy prefix rule cannot be escaped), no trailing '/'.
bool path_is_canonical(const char* path);

}  // namespace pos
