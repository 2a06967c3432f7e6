#include "host/block_file.h"

#include <sys/mman.h>

#include <limits>

#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>

namespace popek::host {
namespace {

/// preadv/pwritev until every byte moved; false on an error or an unexpected end of file.
bool transfer_all(int fd, std::vector<iovec> iov, uint64_t offset, bool write) {
    size_t first = 0;
    while (first < iov.size()) {
        int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
        ssize_t n = write ? ::pwritev(fd, &iov[first], count, static_cast<off_t>(offset))
                          : ::preadv(fd, &iov[first], count, static_cast<off_t>(offset));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        offset += static_cast<uint64_t>(n);
        auto left = static_cast<size_t>(n);
        while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
        if (left > 0) {
            iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
            iov[first].iov_len -= left;
        }
    }
    return true;
}

uint64_t iov_bytes(const std::vector<iovec>& iov) {
    uint64_t n = 0;
    for (const iovec& v : iov) n += v.iov_len;
    return n;
}

}  // namespace

Result<BlockFile> BlockFile::open(const std::string& path, bool readonly) {
    // O_NONBLOCK: a FIFO opened read-only would wait for a writer (adopt refuses it); it is
    // cleared again for the file's I/O.
    int fd = ::open(path.c_str(), (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return fail_errno("open disk '{}'", path);
    UniqueFd owned(fd);
    auto file = TRY(adopt(std::move(owned), readonly, path));
    if (::fcntl(file.fd(), F_SETFL, ::fcntl(file.fd(), F_GETFL) & ~O_NONBLOCK) != 0)
        return fail_errno("open disk '{}'", path);
    TRY_VOID(lock_image(file.fd(), readonly, path));
    return file;
}

Result<void> BlockFile::lock_image(int fd, bool readonly, const std::string& path) {
    // An open file description lock (fcntl(2) "Open file description locks"), as QEMU takes:
    // it conflicts between two opens in one process as well as between processes, stays with
    // the description (a driver domain's inherited copy keeps it) and goes when the last
    // descriptor of it is closed, also on kill -9.
    struct flock lk {};
    lk.l_type = readonly ? F_RDLCK : F_WRLCK;
    lk.l_whence = SEEK_SET;
    lk.l_start = 0;
    lk.l_len = 0;  // the whole file, however it grows
    if (::fcntl(fd, F_OFD_SETLK, &lk) == 0) return {};
    if (errno == EAGAIN || errno == EACCES)
        return fail("disk '{}' is in use: another --disk or process has it open{}", path,
                    readonly ? " read-write" : " (only read-only users, ',ro', may share an image)");
    // A file system without locks (ENOLCK, EINVAL, EOPNOTSUPP): serve the disk unlocked, as QEMU does.
    return {};
}

Result<BlockFile> BlockFile::adopt(UniqueFd fd, bool readonly, std::string name) {
    BlockFile f;
    f.m_fd = std::move(fd);
    struct stat st {};
    if (::fstat(f.m_fd.get(), &st) != 0) return fail_errno("stat disk '{}'", name);
    if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) return fail("disk '{}' is not a file or block device", name);
    f.m_size = static_cast<uint64_t>(st.st_size);
    if (S_ISBLK(st.st_mode) && ::ioctl(f.m_fd.get(), BLKGETSIZE64, &f.m_size) != 0)
        return fail_errno("size of '{}'", name);
    f.m_readonly = readonly;
    f.m_path = std::move(name);
    return f;
}

Result<BlockFile> BlockFile::blank(std::string name, uint64_t bytes, bool readonly) {
    UniqueFd fd(::memfd_create("popek-replay-disk", MFD_CLOEXEC));
    if (fd.get() < 0) return fail_errno("stand-in for disk '{}'", name);
    if (bytes > static_cast<uint64_t>(std::numeric_limits<off_t>::max()) || ::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0)
        return fail_errno("stand-in for disk '{}' of {} bytes", name, bytes);
    BlockFile f;
    f.m_fd = std::move(fd);
    f.m_size = bytes;
    f.m_readonly = readonly;
    f.m_path = std::move(name);
    return f;
}

Result<void> BlockFile::check_write(uint64_t offset, uint64_t len, const char* what) const {
    if (m_readonly) return fail("disk {} is read-only", m_path);
    if (!in_bounds(offset, len)) return fail("{} past the end of {}", what, m_path);
    return {};
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
    TRY_VOID(check_write(offset, in.size(), "write"));
    size_t done = 0;
    while (done < in.size()) {
        ssize_t n = ::pwrite(m_fd.get(), in.data() + done, in.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail_errno("write {}", m_path);
        done += static_cast<size_t>(n);
    }
    return {};
}

Result<void> BlockFile::readv(uint64_t offset, std::vector<iovec> iov) const {
    if (!in_bounds(offset, iov_bytes(iov))) return fail("read past the end of {}", m_path);
    if (!transfer_all(m_fd.get(), std::move(iov), offset, false)) return fail_errno("read {}", m_path);
    return {};
}

Result<void> BlockFile::writev(uint64_t offset, std::vector<iovec> iov) {
    TRY_VOID(check_write(offset, iov_bytes(iov), "write"));
    if (!transfer_all(m_fd.get(), std::move(iov), offset, true)) return fail_errno("write {}", m_path);
    return {};
}

Result<void> BlockFile::flush() {
    if (m_readonly) return {};
    if (::fdatasync(m_fd.get()) != 0) return fail_errno("fdatasync {}", m_path);
    return {};
}

Result<void> BlockFile::discard(uint64_t offset, uint64_t len) {
    TRY_VOID(check_write(offset, len, "discard"));
    if (::fallocate(m_fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(len)) != 0)
        return fail_errno("discard {}", m_path);
    return {};
}

Result<void> BlockFile::write_zeroes(uint64_t offset, uint64_t len) {
    TRY_VOID(check_write(offset, len, "write-zeroes"));
    if (::fallocate(m_fd.get(), FALLOC_FL_ZERO_RANGE, static_cast<off_t>(offset), static_cast<off_t>(len)) == 0)
        return {};
    // A file system without FALLOC_FL_ZERO_RANGE: write zero pages.
    static const std::array<uint8_t, 65536> zeros{};
    for (uint64_t done = 0; done < len;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(len - done, zeros.size()));
        ssize_t w = ::pwrite(m_fd.get(), zeros.data(), n, static_cast<off_t>(offset + done));
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return fail_errno("write-zeroes {}", m_path);
        done += static_cast<uint64_t>(w);
    }
    return {};
}

}  // namespace popek::host
