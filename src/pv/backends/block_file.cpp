#include "pv/backends/block_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace popek::pv {

Result<BlockFile> BlockFile::open(const std::string& path, bool readonly) {
    int fd = ::open(path.c_str(), (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
    if (fd < 0) return fail_errno("open disk {}", path);
    return adopt(UniqueFd(fd), readonly, path);
}

Result<BlockFile> BlockFile::adopt(UniqueFd fd, bool readonly, std::string name) {
    BlockFile f;
    f.m_fd = std::move(fd);
    struct stat st {};
    if (::fstat(f.m_fd.get(), &st) != 0) return fail_errno("stat disk {}", name);
    if (!S_ISREG(st.st_mode)) return fail("disk {} is not a regular file", name);
    f.m_size = static_cast<uint64_t>(st.st_size);
    f.m_readonly = readonly;
    f.m_path = std::move(name);
    return f;
}

Result<void> BlockFile::read(uint64_t offset, std::span<uint8_t> out) const {
    if (!in_bounds(offset, out.size())) return fail("read past the end of {}", m_path);
    size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::pread(m_fd.get(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("read {}", m_path);
        if (n == 0) {  // the file shrank under us: the rest reads as zeros
            std::fill(out.begin() + static_cast<ptrdiff_t>(done), out.end(), uint8_t{0});
            break;
        }
        done += static_cast<size_t>(n);
    }
    return {};
}

Result<void> BlockFile::write(uint64_t offset, std::span<const uint8_t> in) {
    if (m_readonly) return fail("disk {} is read-only", m_path);
    if (!in_bounds(offset, in.size())) return fail("write past the end of {}", m_path);
    size_t done = 0;
    while (done < in.size()) {
        ssize_t n = ::pwrite(m_fd.get(), in.data() + done, in.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail_errno("write {}", m_path);
        done += static_cast<size_t>(n);
    }
    return {};
}

Result<void> BlockFile::flush() {
    if (m_readonly) return {};
    if (::fdatasync(m_fd.get()) != 0) return fail_errno("fdatasync {}", m_path);
    return {};
}

Result<void> BlockFile::discard(uint64_t offset, uint64_t len) {
    if (m_readonly) return fail("disk {} is read-only", m_path);
    if (!in_bounds(offset, len)) return fail("discard past the end of {}", m_path);
    if (::fallocate(m_fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(len)) != 0)
        return fail_errno("discard {}", m_path);
    return {};
}

}  // namespace popek::pv
