#pragma once
/// pv::ShareDir: the host directory of `--share DIR[,ro]`, reached only beneath itself.
///
/// Every lookup starts at a descriptor of DIR and goes through openat2(2) with
/// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS: the kernel refuses any path that
/// would leave DIR ("..", absolute paths) and any symbolic link at all, also the last component and
/// also links inside DIR that point back inside (a guest can create none, so refusing them costs
/// nothing and removes the whole class of link races). RESOLVE_IN_ROOT was not chosen: it would
/// silently reinterpret "/etc/passwd" and "../x" as DIR/etc/passwd and DIR/x, where the guest
/// should be told it asked for something outside. Paths are checked before the kernel sees them as
/// well (check_path), so the guest gets a precise errno: absolute paths and ".." components EACCES
/// (never passed on), NUL bytes EINVAL, over-long paths or names ENAMETOOLONG.
///
/// Only regular files and directories are opened (O_NONBLOCK first, so a FIFO placed in DIR by the
/// host cannot stall popek, then refused with EACCES). A read-only share opens everything O_RDONLY
/// and refuses writes, creation, truncation, unlink and mkdir with EROFS.
#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pv/pv_result.h"
#include "util/fd.h"
#include "util/result.h"

namespace popek::pv {

class ShareDir {
public:
    /// Directory entries listed at most per directory (READDIR answers the first ones).
    static constexpr size_t kMaxEntries = 4096;

    /// Opens DIR; an error (for the command line) when it is missing or not a directory, or when the
    /// kernel has no openat2.
    static Result<ShareDir> open(const std::string& path, bool read_only);
    /// No directory at all (a `--replay`, whose answers come from the log: the back end never
    /// asks the host); every lookup fails with EIO.
    static ShareDir none(std::string path, bool read_only) { return ShareDir(UniqueFd(), std::move(path), read_only); }

    const std::string& path() const { return m_path; }
    bool read_only() const { return m_read_only; }

    /// Checks a guest path (relative, '/'-separated) before any lookup: 0 or EINVAL / ENAMETOOLONG /
    /// EACCES as described above.
    static PvResult<void> check_path(std::string_view path);

    /// Opens `path` with popekfs open flags (POPEKFS_O_*).
    PvResult<UniqueFd> open_file(std::string_view path, uint16_t flags) const;
    PvResult<struct stat> stat(std::string_view path) const;
    PvResult<void> unlink(std::string_view path, bool directory) const;
    PvResult<void> mkdir(std::string_view path) const;

    struct Entry {
        std::string name;
        uint8_t type;  ///< POPEKFS_TYPE_*
    };
    /// The entries of an open directory, sorted by name, without "." and ".." (at most kMaxEntries).
    static PvResult<std::vector<Entry>> list(int dir_fd);
    /// POPEKFS_TYPE_* of a mode.
    static uint8_t type_of(mode_t mode);

private:
    ShareDir(UniqueFd fd, std::string path, bool read_only)
        : m_fd(std::move(fd)), m_path(std::move(path)), m_read_only(read_only) {}
    /// openat2 beneath DIR with the confining resolve flags.
    PvResult<UniqueFd> resolve(std::string_view path, uint64_t open_flags, uint64_t mode = 0) const;
    /// Splits `path` into its parent (opened as a directory) and last component, for unlink/mkdir.
    PvResult<std::pair<UniqueFd, std::string>> parent_of(std::string_view path) const;

    UniqueFd m_fd;
    std::string m_path;
    bool m_read_only;
};

}  // namespace popek::pv
