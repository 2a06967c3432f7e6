#include "snapshot/mem_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/mman.h>

#include <algorithm>
#include <cstdio>
#include <vector>

namespace popek::snapshot {
namespace {

constexpr uint64_t kPage = 4096;

bool page_is_zero(const uint8_t* p) {
    const auto* w = reinterpret_cast<const uint64_t*>(p);
    for (size_t i = 0; i < kPage / 8; ++i)
        if (w[i] != 0) return false;
    return true;
}

/// True when the host has no swap space: then a guest RAM page the host has not backed
/// (mincore) was never written, and reads as zeros (popek's RAM is private anonymous memory).
/// With swap such a page may be swapped out, so every page is read.
bool host_without_swap() {
    FILE* f = std::fopen("/proc/swaps", "re");
    if (!f) return false;
    char line[256];
    int lines = 0;
    while (std::fgets(line, sizeof line, f)) ++lines;
    std::fclose(f);
    return lines == 1;   // the header only
}

/// RAII fd.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

Result<void> pwrite_all(int fd, const uint8_t* p, uint64_t len, uint64_t off, const std::string& path) {
    while (len > 0) {
        const ssize_t n = ::pwrite(fd, p, std::min<uint64_t>(len, uint64_t{1} << 30), static_cast<off_t>(off));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail_errno("cannot write the memory file `{}`", path);
        p += n;
        off += static_cast<uint64_t>(n);
        len -= static_cast<uint64_t>(n);
    }
    return {};
}

Result<void> pread_all(int fd, uint8_t* p, uint64_t len, uint64_t off, const std::string& path) {
    while (len > 0) {
        const ssize_t n = ::pread(fd, p, std::min<uint64_t>(len, uint64_t{1} << 30), static_cast<off_t>(off));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("cannot read the memory file `{}`", path);
        if (n == 0) return fail("the memory file `{}` is truncated", path);
        p += n;
        off += static_cast<uint64_t>(n);
        len -= static_cast<uint64_t>(n);
    }
    return {};
}

}  // namespace

Result<MemFileStats> write_mem_file(const memory::GuestMemory& mem, const std::string& path) {
    Fd f{::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)};
    if (f.fd < 0) return fail_errno("cannot create the memory file `{}`", path);
    MemFileStats stats;
    uint64_t file_off = 0;
    const bool skip_unbacked = host_without_swap();
    std::vector<unsigned char> backed;
    for (const auto& region : mem.regions()) {
        const uint8_t* base = mem.host_ptr(region.base, region.size);
        if (!base) return fail("guest RAM at {:#x} is not mapped", region.base);
        const uint64_t pages = region.size / kPage;
        // Reading a page the guest never touched would only map zeros: skip those unread.
        backed.assign(pages, 1);
        if (skip_unbacked && ::mincore(const_cast<uint8_t*>(base), region.size, backed.data()) != 0) backed.assign(pages, 1);
        // Runs of non-zero pages, one pwrite each.
        uint64_t page = 0;
        while (page < pages) {
            if (!(backed[page] & 1) || page_is_zero(base + page * kPage)) {
                ++page;
                continue;
            }
            uint64_t end = page + 1;
            while (end < pages && (backed[end] & 1) && !page_is_zero(base + end * kPage)) ++end;
            TRY_VOID(pwrite_all(f.fd, base + page * kPage, (end - page) * kPage, file_off + page * kPage, path));
            stats.bytes_written += (end - page) * kPage;
            page = end;
        }
        file_off += region.size;
    }
    if (::ftruncate(f.fd, static_cast<off_t>(file_off)) != 0) return fail_errno("cannot size the memory file `{}`", path);
    if (::fsync(f.fd) != 0) return fail_errno("cannot sync the memory file `{}`", path);
    return stats;
}

Result<MemFileStats> load_mem_file(const memory::GuestMemory& mem, const std::string& path) {
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) return fail_errno("cannot open the memory file `{}`", path);
    struct stat st {};
    if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) return fail("the memory file `{}` is not a regular file", path);
    if (static_cast<uint64_t>(st.st_size) != mem.size())
        return fail("the memory file `{}` is {} bytes but the snapshot's guest has {} bytes of RAM", path, st.st_size,
                    mem.size());
    MemFileStats stats;
    uint64_t file_off = 0;
    for (const auto& region : mem.regions()) {
        uint8_t* base = mem.host_ptr(region.base, region.size);
        if (!base) return fail("guest RAM at {:#x} is not mapped", region.base);
        const uint64_t end = file_off + region.size;
        uint64_t pos = file_off;
        while (pos < end) {
            off_t data = ::lseek(f.fd, static_cast<off_t>(pos), SEEK_DATA);
            if (data < 0) {
                if (errno == ENXIO) break;   // only a hole is left
                // A file system without SEEK_DATA: read the rest of the region.
                data = static_cast<off_t>(pos);
            }
            const uint64_t d = static_cast<uint64_t>(data);
            if (d >= end) break;
            off_t hole = ::lseek(f.fd, data, SEEK_HOLE);
            const uint64_t h = hole < 0 ? end : std::min<uint64_t>(static_cast<uint64_t>(hole), end);
            TRY_VOID(pread_all(f.fd, base + (d - file_off), h - d, d, path));
            stats.bytes_written += h - d;
            pos = h;
        }
        file_off = end;
    }
    return stats;
}

}  // namespace popek::snapshot
