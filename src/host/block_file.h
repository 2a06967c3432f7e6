#pragma once
/// A virtual disk's host side (`--disk FILE[,ro]`), for virtio-blk and the Xen blkif back end alike:
/// a regular file or a block device, with positioned reads and writes (whole buffers or iovec
/// lists), flush (fdatasync, so acknowledged writes are durable), discard (punching a hole) and
/// write-zeroes. Every access is checked against the disk's size; the protocol layers check their
/// own sector arithmetic before calling.
#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace popek::host {

class BlockFile {
public:
    /// Sector size of virtio-blk (5.2.6) and blkif: sector numbers always count 512 bytes.
    static constexpr uint64_t kSectorSize = 512;

    /// Opens a regular file or a block device; `readonly` opens it O_RDONLY. The image is locked
    /// (lock_image) for as long as the BlockFile or a copy of its descriptor is open.
    static Result<BlockFile> open(const std::string& path, bool readonly);
    /// A disk opened by someone else (a driver domain gets its disk as a descriptor, locked by
    /// the VMM that opened it); `name` is for messages. Takes no lock of its own.
    static Result<BlockFile> adopt(UniqueFd fd, bool readonly, std::string name);
    /// A blank disk of `bytes` (a sparse memfd, no host file) that stands in for `name`: a
    /// `--replay` serves the recorded requests on it, the log holding what the guest read.
    static Result<BlockFile> blank(std::string name, uint64_t bytes, bool readonly);

    uint64_t size_bytes() const { return m_size; }
    uint64_t sectors() const { return m_size / kSectorSize; }
    bool readonly() const { return m_readonly; }
    const std::string& path() const { return m_path; }
    int fd() const { return m_fd.get(); }

    Result<void> read(uint64_t offset, std::span<uint8_t> out) const;
    Result<void> write(uint64_t offset, std::span<const uint8_t> in);
    /// Scatter-gather forms (preadv/pwritev until every byte moved): the iovecs point into guest RAM.
    Result<void> readv(uint64_t offset, std::vector<iovec> iov) const;
    Result<void> writev(uint64_t offset, std::vector<iovec> iov);
    Result<void> flush();
    /// Deallocates [offset, offset+len); reads of it return zeros afterwards.
    Result<void> discard(uint64_t offset, uint64_t len);
    /// Makes [offset, offset+len) read as zeros (FALLOC_FL_ZERO_RANGE, else writing zeros).
    Result<void> write_zeroes(uint64_t offset, uint64_t len);

    /// Locks the image behind `fd` as QEMU does: shared for a read-only disk, exclusive for a
    /// read-write one (an OFD lock on the whole file). Fails when another open of it holds a
    /// conflicting lock: two writers, or a writer and a reader, of one image are refused.
    static Result<void> lock_image(int fd, bool readonly, const std::string& path);

private:
    BlockFile() = default;
    bool in_bounds(uint64_t offset, uint64_t len) const { return offset <= m_size && len <= m_size - offset; }
    Result<void> check_write(uint64_t offset, uint64_t len, const char* what) const;

    UniqueFd m_fd;
    uint64_t m_size = 0;
    bool m_readonly = false;
    std::string m_path;
};

}  // namespace popek::host
