#include "pv/backends/share_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

#include "pv/xen_abi.h"

#include "popek/pvabi/fsif.h"

namespace popek::pv {
namespace {

constexpr uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
constexpr uint16_t kKnownFlags = POPEKFS_O_READ | POPEKFS_O_WRITE | POPEKFS_O_CREATE | POPEKFS_O_TRUNCATE |
                                 POPEKFS_O_EXCLUSIVE | POPEKFS_O_DIRECTORY;
constexpr uint16_t kModifying = POPEKFS_O_WRITE | POPEKFS_O_CREATE | POPEKFS_O_TRUNCATE;

int openat2_beneath(int dir_fd, const char* path, uint64_t flags, uint64_t mode) {
    open_how how{};
    how.flags = flags;
    how.mode = mode;
    how.resolve = kResolve;
    for (;;) {
        long fd = ::syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
        if (fd >= 0 || errno != EINTR) return static_cast<int>(fd);
    }
}

/// The Linux open flags for popekfs flags (already validated).
uint64_t os_open_flags(uint16_t flags) {
    uint64_t os = O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW;
    if (flags & POPEKFS_O_DIRECTORY) return os | O_RDONLY | O_DIRECTORY;
    bool read = flags & POPEKFS_O_READ, write = flags & POPEKFS_O_WRITE;
    os |= read && write ? O_RDWR : write ? O_WRONLY : O_RDONLY;
    if (flags & POPEKFS_O_CREATE) os |= O_CREAT;
    if (flags & POPEKFS_O_EXCLUSIVE) os |= O_EXCL;
    if (flags & POPEKFS_O_TRUNCATE) os |= O_TRUNC;
    return os;
}

PvResult<void> check_flags(uint16_t flags) {
    if (flags & ~kKnownFlags) return pv_error(EINVAL);
    if (!(flags & (POPEKFS_O_READ | POPEKFS_O_WRITE | POPEKFS_O_DIRECTORY))) return pv_error(EINVAL);
    if ((flags & POPEKFS_O_DIRECTORY) && (flags & kModifying)) return pv_error(EINVAL);
    if ((flags & POPEKFS_O_TRUNCATE) && !(flags & POPEKFS_O_WRITE)) return pv_error(EINVAL);
    if ((flags & POPEKFS_O_EXCLUSIVE) && !(flags & POPEKFS_O_CREATE)) return pv_error(EINVAL);
    return {};
}

}  // namespace

Result<ShareDir> ShareDir::open(const std::string& path, bool read_only) {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return fail_errno("--share {}", path);
    UniqueFd dir(fd);
    // openat2 appeared in Linux 5.6; without it there is no confinement popek trusts.
    UniqueFd probe(openat2_beneath(dir.get(), ".", O_PATH | O_CLOEXEC, 0));
    if (!probe.valid()) return fail_errno("--share {}: openat2 with RESOLVE_BENEATH", path);
    return ShareDir(std::move(dir), path, read_only);
}

PvResult<void> ShareDir::check_path(std::string_view path) {
    if (path.size() > POPEKFS_PATH_MAX) return pv_error(ENAMETOOLONG);
    if (path.find('\0') != std::string_view::npos) return pv_error(EINVAL);
    if (path.starts_with('/')) return pv_error(EACCES);
    size_t at = 0;
    while (at <= path.size()) {
        size_t slash = path.find('/', at);
        if (slash == std::string_view::npos) slash = path.size();
        std::string_view component = path.substr(at, slash - at);
        if (component == "..") return pv_error(EACCES);
        if (component.size() > POPEKFS_NAME_MAX) return pv_error(ENAMETOOLONG);
        at = slash + 1;
    }
    return {};
}

PvResult<UniqueFd> ShareDir::resolve(std::string_view path, uint64_t open_flags, uint64_t mode) const {
    TRY_VOID(check_path(path));
    if (!m_fd.valid()) return pv_error(EIO);   // ShareDir::none()
    std::string p = path.empty() ? std::string(".") : std::string(path);
    int fd = openat2_beneath(m_fd.get(), p.c_str(), open_flags, mode);
    if (fd < 0) return pv_error(errno == EXDEV ? EACCES : errno);  // EXDEV: the kernel saw an escape
    return UniqueFd(fd);
}

PvResult<UniqueFd> ShareDir::open_file(std::string_view path, uint16_t flags) const {
    TRY_VOID(check_flags(flags));
    if (m_read_only && (flags & kModifying)) return pv_error(EROFS);
    // openat2 insists on mode 0 unless a file may be created.
    UniqueFd fd = TRY(resolve(path, os_open_flags(flags), (flags & POPEKFS_O_CREATE) ? 0644 : 0));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return pv_error(errno);
    // Only files and directories: a FIFO, socket or device the host left in DIR is not served.
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) return pv_error(EACCES);
    if (S_ISDIR(st.st_mode) && !(flags & POPEKFS_O_DIRECTORY)) return pv_error(EISDIR);
    return fd;
}

PvResult<struct stat> ShareDir::stat(std::string_view path) const {
    UniqueFd fd = TRY(resolve(path, O_PATH | O_CLOEXEC, 0));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return pv_error(errno);
    return st;
}

PvResult<std::pair<UniqueFd, std::string>> ShareDir::parent_of(std::string_view path) const {
    TRY_VOID(check_path(path));
    while (path.ends_with('/')) path.remove_suffix(1);
    size_t slash = path.rfind('/');
    std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
    std::string_view parent = slash == std::string_view::npos ? std::string_view{} : path.substr(0, slash);
    if (name.empty() || name == ".") return pv_error(EINVAL);  // DIR itself
    UniqueFd dir = TRY(resolve(parent, O_PATH | O_DIRECTORY | O_CLOEXEC, 0));
    return std::pair{std::move(dir), std::string(name)};
}

PvResult<void> ShareDir::unlink(std::string_view path, bool directory) const {
    if (m_read_only) return pv_error(EROFS);
    auto [dir, name] = TRY(parent_of(path));
    if (::unlinkat(dir.get(), name.c_str(), directory ? AT_REMOVEDIR : 0) != 0) return pv_error(errno);
    return {};
}

PvResult<void> ShareDir::mkdir(std::string_view path) const {
    if (m_read_only) return pv_error(EROFS);
    auto [dir, name] = TRY(parent_of(path));
    if (::mkdirat(dir.get(), name.c_str(), 0755) != 0) return pv_error(errno);
    return {};
}

uint8_t ShareDir::type_of(mode_t mode) {
    if (S_ISREG(mode)) return POPEKFS_TYPE_FILE;
    if (S_ISDIR(mode)) return POPEKFS_TYPE_DIRECTORY;
    return POPEKFS_TYPE_OTHER;
}

PvResult<std::vector<ShareDir::Entry>> ShareDir::list(int dir_fd) {
    // A descriptor of its own, so the directory stream's position is not shared with `dir_fd`.
    int fd = ::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return pv_error(errno);
    DIR* dir = ::fdopendir(fd);
    if (!dir) {
        int err = errno;
        ::close(fd);
        return pv_error(err);
    }
    std::vector<Entry> entries;
    while (entries.size() < kMaxEntries) {
        errno = 0;
        dirent* d = ::readdir(dir);
        if (!d) break;
        std::string_view name = d->d_name;
        if (name == "." || name == ".." || name.size() > POPEKFS_NAME_MAX) continue;
        uint8_t type = d->d_type == DT_REG   ? POPEKFS_TYPE_FILE
                       : d->d_type == DT_DIR ? POPEKFS_TYPE_DIRECTORY
                                             : POPEKFS_TYPE_OTHER;
        struct stat st {};
        if (d->d_type == DT_UNKNOWN && ::fstatat(::dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
            type = type_of(st.st_mode);
        entries.push_back({std::string(name), type});
    }
    int err = errno;
    ::closedir(dir);
    if (err != 0) return pv_error(err);
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return entries;
}

}  // namespace popek::pv
