#include "pv/backends/share_backend.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace popek::pv {
namespace {

constexpr uint32_t kPage = static_cast<uint32_t>(kXenPageSize);

bool is_path_refusal(int err) {
    return err == EACCES || err == ELOOP || err == EINVAL || err == ENAMETOOLONG || err == EXDEV;
}

}  // namespace

ShareBackend::ShareBackend(GrantTable& grants, DomId backend, const ShareDir& dir, std::span<uint8_t> ring,
                           uint32_t max_handles, ShareJournal* journal)
    : m_grants(grants), m_backend(backend), m_dir(dir), m_ring(ring, grants.ram_writes()), m_handles(max_handles), m_buffer(kMaxData),
      m_journal(journal) {}

RingBackend::Outcome ShareBackend::process() {
    return serve_ring(m_ring, kBatch, [this](const popekfs_request& req) { return handle(req); });
}

size_t ShareBackend::open_handles() const {
    return static_cast<size_t>(std::count_if(m_handles.begin(), m_handles.end(), [](const Handle& h) { return h.fd.valid(); }));
}

popekfs_response ShareBackend::handle(const popekfs_request& req) {
    m_gathered = m_scattered = 0;
    if (!m_journal) return serve(req);
    if (!m_journal->replaying()) {
        const popekfs_response rsp = serve(req);
        m_journal->recorded(rsp, m_gathered, m_scattered);
        return rsp;
    }
    ++m_stats.requests;
    auto answer = m_journal->replayed(req);
    if (!answer || answer->gathered > kMaxData || answer->scattered > kMaxData) {
        ++m_stats.errors;
        return popekfs_response{.id = req.id, .op = req.op, .type = 0, ._pad = 0, .status = -EIO, .value = 0, .next = 0,
                                .size = 0, .mtime_ns = 0};
    }
    // The same grant copies as the recording's (the bytes themselves come with the Dma events).
    (void)copy_in(req, answer->gathered);
    std::fill_n(m_buffer.begin(), answer->scattered, uint8_t{0});
    (void)scatter(req, std::span(m_buffer).first(answer->scattered));
    if (answer->rsp.status != 0) ++m_stats.errors;
    return answer->rsp;
}

popekfs_response ShareBackend::serve(const popekfs_request& req) {
    popekfs_response rsp{};
    rsp.id = req.id;
    rsp.op = req.op;
    ++m_stats.requests;
    PvResult<void> r;
    switch (req.op) {
    case POPEKFS_OP_OPEN: r = open(req, rsp); break;
    case POPEKFS_OP_CLOSE: r = close(req); break;
    case POPEKFS_OP_READ: r = read(req, rsp); break;
    case POPEKFS_OP_WRITE: r = write(req, rsp); break;
    case POPEKFS_OP_STAT: r = stat(req, rsp); break;
    case POPEKFS_OP_FSTAT: r = fstat(req, rsp); break;
    case POPEKFS_OP_READDIR: r = readdir(req, rsp); break;
    case POPEKFS_OP_UNLINK: r = unlink(req); break;
    case POPEKFS_OP_MKDIR: r = mkdir(req); break;
    default: r = pv_error(ENOSYS); break;
    }
    if (!r) {
        ++m_stats.errors;
        const popekfs_response failed{.id = req.id, .op = req.op, .type = 0, ._pad = 0,
                                      .status = -r.error(), .value = 0, .next = 0, .size = 0, .mtime_ns = 0};
        return failed;
    }
    return rsp;
}

PvResult<void> ShareBackend::check_data(const popekfs_request& req) {
    if (req.nr_pages > POPEKFS_MAX_DATA_PAGES) return pv_error(EINVAL);
    if (req.length > uint64_t{req.nr_pages} * kPage) return pv_error(EINVAL);
    return {};
}

PvResult<std::span<uint8_t>> ShareBackend::gather(const popekfs_request& req, uint32_t len) {
    TRY_VOID(check_data(req));
    if (len > req.length) return pv_error(EINVAL);
    if (!copy_in(req, len)) return pv_error(EFAULT);
    return std::span(m_buffer).first(len);
}

bool ShareBackend::copy_in(const popekfs_request& req, uint32_t len) {
    m_gathered = len;   // attempted: a replay repeats the attempt
    for (uint32_t at = 0, page = 0; at < len; at += kPage, ++page) {
        auto part = std::span(m_buffer).subspan(at, std::min(kPage, len - at));
        if (!m_grants.copy_from(m_backend, req.data_ref[page], 0, part)) return false;
    }
    return true;
}

PvResult<void> ShareBackend::scatter(const popekfs_request& req, std::span<const uint8_t> bytes) {
    m_scattered = static_cast<uint32_t>(bytes.size());   // attempted: a replay repeats the attempt
    for (size_t at = 0, page = 0; at < bytes.size(); at += kPage, ++page) {
        auto part = bytes.subspan(at, std::min<size_t>(kPage, bytes.size() - at));
        if (!m_grants.copy_to(m_backend, req.data_ref[page], 0, part)) return pv_error(EFAULT);
    }
    return {};
}

PvResult<std::string> ShareBackend::path_of(const popekfs_request& req) {
    if (req.length > POPEKFS_PATH_MAX) return pv_error(ENAMETOOLONG);
    auto bytes = TRY(gather(req, req.length));
    std::string path(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (auto ok = ShareDir::check_path(path); !ok) {
        ++m_stats.paths_refused;
        return std::unexpected(ok.error());
    }
    return path;
}

PvResult<ShareBackend::Handle*> ShareBackend::lookup(uint32_t handle) {
    uint32_t slot = handle & 0xffff;
    if (slot == 0 || slot > m_handles.size()) return pv_error(EBADF);
    Handle& h = m_handles[slot - 1];
    if (!h.fd.valid() || h.generation != handle >> 16) return pv_error(EBADF);
    return &h;
}

void ShareBackend::fill_stat(const struct stat& st, popekfs_response& rsp) {
    rsp.type = ShareDir::type_of(st.st_mode);
    rsp.value = st.st_mode & 07777;
    rsp.size = static_cast<uint64_t>(st.st_size);
    rsp.mtime_ns = static_cast<uint64_t>(st.st_mtim.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(st.st_mtim.tv_nsec);
}

PvResult<void> ShareBackend::open(const popekfs_request& req, popekfs_response& rsp) {
    auto slot = std::find_if(m_handles.begin(), m_handles.end(), [](const Handle& h) { return !h.fd.valid(); });
    if (slot == m_handles.end()) return pv_error(EMFILE);
    std::string path = TRY(path_of(req));
    auto fd = m_dir.open_file(path, req.flags);
    if (!fd) {
        if (is_path_refusal(fd.error())) ++m_stats.paths_refused;
        return std::unexpected(fd.error());
    }
    slot->fd = std::move(*fd);
    ++slot->generation;
    slot->directory = req.flags & POPEKFS_O_DIRECTORY;
    slot->readable = (req.flags & POPEKFS_O_READ) || slot->directory;
    slot->writable = req.flags & POPEKFS_O_WRITE;
    slot->path = std::move(path);
    rsp.type = slot->directory ? POPEKFS_TYPE_DIRECTORY : POPEKFS_TYPE_FILE;
    rsp.value = uint64_t{slot->generation} << 16 | static_cast<uint64_t>(slot - m_handles.begin() + 1);
    return {};
}

PvResult<void> ShareBackend::close(const popekfs_request& req) {
    Handle* h = TRY(lookup(req.handle));
    h->fd.reset();
    h->path.clear();
    return {};
}

PvResult<void> ShareBackend::read(const popekfs_request& req, popekfs_response& rsp) {
    Handle* h = TRY(lookup(req.handle));
    if (h->directory) return pv_error(EISDIR);
    if (!h->readable) return pv_error(EBADF);
    TRY_VOID(check_data(req));
    if (req.offset > kMaxFileOffset) return pv_error(EFBIG);
    uint32_t want = static_cast<uint32_t>(std::min<uint64_t>(req.length, kMaxFileOffset - req.offset));
    uint32_t done = 0;
    while (done < want) {
        ssize_t n = ::pread(h->fd.get(), m_buffer.data() + done, want - done, static_cast<off_t>(req.offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return pv_error(errno);
        if (n == 0) break;  // end of file
        done += static_cast<uint32_t>(n);
    }
    TRY_VOID(scatter(req, std::span(m_buffer).first(done)));
    m_stats.bytes_read += done;
    rsp.value = done;
    return {};
}

PvResult<void> ShareBackend::write(const popekfs_request& req, popekfs_response& rsp) {
    Handle* h = TRY(lookup(req.handle));
    if (h->directory) return pv_error(EISDIR);
    if (!h->writable) return pv_error(EBADF);
    if (req.offset > kMaxFileOffset || req.length > kMaxFileOffset - req.offset) return pv_error(EFBIG);
    // Everything from the guest first: a write whose grants fail changes nothing.
    auto bytes = TRY(gather(req, req.length));
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::pwrite(h->fd.get(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(req.offset + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            if (done == 0) return pv_error(errno);
            break;  // a short write: report what was written
        }
        done += static_cast<size_t>(n);
    }
    m_stats.bytes_written += done;
    rsp.value = done;
    return {};
}

PvResult<void> ShareBackend::stat(const popekfs_request& req, popekfs_response& rsp) {
    std::string path = TRY(path_of(req));
    auto st = m_dir.stat(path);
    if (!st) {
        if (is_path_refusal(st.error())) ++m_stats.paths_refused;
        return std::unexpected(st.error());
    }
    fill_stat(*st, rsp);
    return {};
}

PvResult<void> ShareBackend::fstat(const popekfs_request& req, popekfs_response& rsp) {
    Handle* h = TRY(lookup(req.handle));
    struct stat st {};
    if (::fstat(h->fd.get(), &st) != 0) return pv_error(errno);
    fill_stat(st, rsp);
    return {};
}

PvResult<void> ShareBackend::readdir(const popekfs_request& req, popekfs_response& rsp) {
    Handle* h = TRY(lookup(req.handle));
    if (!h->directory) return pv_error(ENOTDIR);
    TRY_VOID(check_data(req));
    auto entries = TRY(ShareDir::list(h->fd.get()));
    uint64_t cookie = std::min<uint64_t>(req.offset, entries.size());
    uint32_t used = 0;
    for (; cookie < entries.size(); ++cookie) {
        const auto& e = entries[cookie];
        const uint32_t reclen = static_cast<uint32_t>(sizeof(popekfs_dirent) + e.name.size() + 7) & ~7u;
        if (used + reclen > req.length) break;
        popekfs_dirent d{};
        d.reclen = static_cast<uint16_t>(reclen);
        d.type = e.type;
        d.name_len = static_cast<uint8_t>(e.name.size());
        std::memset(m_buffer.data() + used, 0, reclen);
        std::memcpy(m_buffer.data() + used, &d, sizeof d);
        std::memcpy(m_buffer.data() + used + sizeof d, e.name.data(), e.name.size());
        used += reclen;
    }
    // Not even one entry fits: the guest's buffer is too small.
    if (used == 0 && cookie < entries.size()) return pv_error(EINVAL);
    TRY_VOID(scatter(req, std::span(m_buffer).first(used)));
    rsp.value = used;
    rsp.next = used == 0 ? req.offset : cookie;  // unchanged: no more entries
    return {};
}

PvResult<void> ShareBackend::unlink(const popekfs_request& req) {
    std::string path = TRY(path_of(req));
    auto r = m_dir.unlink(path, req.flags & POPEKFS_O_DIRECTORY);
    if (!r && is_path_refusal(r.error())) ++m_stats.paths_refused;
    return r;
}

PvResult<void> ShareBackend::mkdir(const popekfs_request& req) {
    std::string path = TRY(path_of(req));
    auto r = m_dir.mkdir(path);
    if (!r && is_path_refusal(r.error())) ++m_stats.paths_refused;
    return r;
}

}  // namespace popek::pv
