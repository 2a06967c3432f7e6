/// The popekfs data path in a snapshot (docs/snapshot.md "SHRE"): the ring's private indices
/// (io/ring.h) and the handle table of include/popek/pvabi/fsif.h (a handle is
/// generation << 16 | slot + 1). An open handle is saved as the path the guest opened it by and
/// its kind; the restore opens that path again beneath the restoring run's --share DIR, through
/// the same checks as a guest's POPEKFS_OP_OPEN (ShareDir: no "..", no absolute path, no link,
/// openat2 RESOLVE_BENEATH), without CREATE, TRUNCATE or EXCLUSIVE (the file is there already, and
/// its contents are the host's).
#include <sys/stat.h>

#include <cstring>

#include <fmt/format.h>

#include "pv/backends/share_backend.h"

namespace popek::pv {
namespace {

/// Bits of a saved handle's kind.
constexpr uint8_t kReadable = 1, kWritable = 2, kDirectory = 4;

}  // namespace

void ShareBackend::save(snapshot::Writer& w) const {
    m_ring.save(w);
    w.u32(static_cast<uint32_t>(m_handles.size()));
    for (const Handle& h : m_handles) {
        w.u16(h.generation);
        w.boolean(h.fd.valid());
        if (!h.fd.valid()) continue;
        w.u8(static_cast<uint8_t>((h.readable ? kReadable : 0) | (h.writable ? kWritable : 0) |
                                  (h.directory ? kDirectory : 0)));
        w.str(h.path);
    }
}

void ShareBackend::load(snapshot::Reader& r) {
    m_ring.load(r);
    const uint32_t count = r.bounded(r.u32(), uint32_t{POPEKFS_MAX_HANDLES}, "the popekfs handle count");
    if (r.ok() && count != m_handles.size())
        return r.invalid("{} popekfs handle slots, this back end has {}", count, m_handles.size());
    std::vector<Handle> handles(m_handles.size());
    for (size_t slot = 0; slot < handles.size() && r.ok(); ++slot) {
        Handle& h = handles[slot];
        h.generation = r.u16();
        if (!r.boolean() || !r.ok()) continue;
        const uint8_t kind = r.u8();
        std::string path = r.str(POPEKFS_PATH_MAX);
        if (!r.ok()) return;
        // The kinds an OPEN makes: a directory (read, never written), or a file read and/or written.
        const bool directory = kind & kDirectory, readable = kind & kReadable, writable = kind & kWritable;
        if ((kind & ~(kReadable | kWritable | kDirectory)) != 0 || (directory && (writable || !readable)) ||
            (!readable && !writable))
            return r.invalid("popekfs handle {} is of kind {:#x}", slot + 1, kind);
        if (auto ok = ShareDir::check_path(path); !ok)
            return r.invalid("popekfs handle {}'s path `{}` is refused: {}", slot + 1, path, std::strerror(ok.error()));
        const uint16_t flags = directory ? uint16_t{POPEKFS_O_DIRECTORY}
                                         : static_cast<uint16_t>((readable ? POPEKFS_O_READ : 0) | (writable ? POPEKFS_O_WRITE : 0));
        auto fd = m_dir.open_file(path, flags);
        if (!fd)
            return r.invalid("popekfs handle {}: `{}` cannot be opened again under --share {}: {}", slot + 1, path,
                             m_dir.path(), std::strerror(fd.error()));
        h.fd = std::move(*fd);
        h.readable = readable;
        h.writable = writable;
        h.directory = directory;
        h.path = std::move(path);
    }
    if (!r.ok()) return;
    m_handles = std::move(handles);
}

std::optional<std::string> ShareBackend::unsaveable() const {
    for (size_t slot = 0; slot < m_handles.size(); ++slot) {
        const Handle& h = m_handles[slot];
        if (!h.fd.valid()) continue;
        struct stat open_st {};
        auto named = m_dir.stat(h.path);
        if (::fstat(h.fd.get(), &open_st) != 0 || !named || named->st_dev != open_st.st_dev ||
            named->st_ino != open_st.st_ino)
            return fmt::format("the guest's popekfs handle {} on `{}`: the file was removed or replaced since it was "
                               "opened, so a restore could not open it again (close it, then snapshot)",
                               slot + 1, h.path);
    }
    return std::nullopt;
}

}  // namespace popek::pv
