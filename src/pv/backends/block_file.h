#pragma once
/// A virtual disk backed by a host file (`--disk FILE[,ro]`): positioned reads and writes, flush
/// (fdatasync, so acknowledged writes are durable), discard (punching a hole). Offsets are checked
/// by the caller against sectors(); this class still refuses anything past the end.
#include <cstdint>
#include <span>
#include <string>

#include "util/fd.h"
#include "util/result.h"

namespace popek::pv {

class BlockFile {
public:
    /// Sector size of the blkif protocol: sector numbers and segment bounds always count 512 bytes.
    static constexpr uint64_t kSectorSize = 512;

    static Result<BlockFile> open(const std::string& path, bool readonly);
    /// A disk opened by someone else (a driver domain gets its disk as a descriptor); `name` is
    /// for messages.
    static Result<BlockFile> adopt(UniqueFd fd, bool readonly, std::string name);

    uint64_t size_bytes() const { return m_size; }
    uint64_t sectors() const { return m_size / kSectorSize; }
    bool readonly() const { return m_readonly; }
    const std::string& path() const { return m_path; }
    int fd() const { return m_fd.get(); }

    Result<void> read(uint64_t offset, std::span<uint8_t> out) const;
    Result<void> write(uint64_t offset, std::span<const uint8_t> in);
    Result<void> flush();
    /// Deallocates [offset, offset+len); reads of it return zeros afterwards.
    Result<void> discard(uint64_t offset, uint64_t len);

private:
    BlockFile() = default;
    bool in_bounds(uint64_t offset, uint64_t len) const { return offset <= m_size && len <= m_size - offset; }

    UniqueFd m_fd;
    uint64_t m_size = 0;
    bool m_readonly = false;
    std::string m_path;
};

}  // namespace popek::pv
