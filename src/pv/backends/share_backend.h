#pragma once
/// The popekfs data path (include/popek/pvabi/fsif.h): requests from the guest's ring are checked
/// and carried out on a ShareDir, moving data only through the grant table (pages the guest granted
/// to the back end domain, and only the bytes the request names). Every request gets a response:
/// 0 or a negative errno, never a crash. Per request: nr_pages ≤ POPEKFS_MAX_DATA_PAGES and length ≤
/// nr_pages pages (EINVAL), grants that fail EFAULT (a write whose grants fail writes nothing),
/// handles that were never given out, are closed or are of the wrong kind EBADF / EISDIR /
/// ENOTDIR, more than max_handles open EMFILE, file offsets past kMaxFileOffset EFBIG; paths as
/// ShareDir checks them. A ring the guest corrupts is shut (SharedRing); popek is unaffected.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pv/xen_abi.h"  // before fsif.h: Xen's interface version and ring macros

#include "popek/pvabi/fsif.h"
#include "pv/backends/ring_backend.h"
#include "pv/backends/share_dir.h"
#include "pv/grant_table.h"
#include "pv/shared_ring.h"

namespace popek::pv {

/// `--share` under `--record` / `--replay` (docs/record-replay.md): a recording reports each
/// request's response and how many data bytes the back end read from the guest's granted pages
/// for it and copied into them; a replay takes the response from the log instead of asking the
/// host directory (which it never opens), reads as many bytes through the same grants and copies
/// as many placeholder bytes, so that the grant table and guest RAM see the same accesses: the
/// log's Dma events then put the recorded bytes there. On the vCPU thread, inside the exit that
/// serves the ring.
class ShareJournal {
public:
    struct Answer {
        popekfs_response rsp{};
        uint32_t gathered = 0;    ///< at most ShareBackend::kMaxData
        uint32_t scattered = 0;   ///< at most ShareBackend::kMaxData
    };
    virtual ~ShareJournal() = default;
    virtual bool replaying() const = 0;
    virtual void recorded(const popekfs_response& rsp, uint32_t gathered, uint32_t scattered) = 0;
    /// The recorded answer to `req`; nullopt when the log has none (the replay diverged: the
    /// journal has ended the VM, the request is answered EIO).
    virtual std::optional<Answer> replayed(const popekfs_request& req) = 0;
};

class ShareBackend final : public RingBackend {
public:
    /// Requests handled per process() call before yielding.
    static constexpr uint32_t kBatch = 64;
    /// Largest file offset + length a guest may read or write (1 TiB): bounds sparse files.
    static constexpr uint64_t kMaxFileOffset = uint64_t{1} << 40;
    static constexpr uint32_t kMaxData = POPEKFS_MAX_DATA_PAGES * kXenPageSize;

    struct Stats {
        uint64_t requests = 0, errors = 0, bytes_read = 0, bytes_written = 0;
        uint64_t paths_refused = 0;  ///< EACCES / ELOOP / EINVAL / ENAMETOOLONG on a path
    };

    /// `ring` is the mapped ring page; grants are checked as domain `backend` (popek's dom0).
    /// `journal`: record or replay the directory's answers (null: neither).
    ShareBackend(GrantTable& grants, DomId backend, const ShareDir& dir, std::span<uint8_t> ring,
                 uint32_t max_handles = POPEKFS_MAX_HANDLES, ShareJournal* journal = nullptr);

    Outcome process() override;
    bool shut() const override { return m_ring.shut(); }
    const Stats& stats() const { return m_stats; }
    size_t open_handles() const;

    /// Handles one request (exposed for tests and fuzzing).
    popekfs_response handle(const popekfs_request& req);

    /// Snapshots (docs/snapshot.md "SHRE"; share_backend_snapshot.cpp): the ring's private indices
    /// and every handle slot (generation; when open its kind and the path it was opened by,
    /// relative to DIR). popekfs keeps no file position (READ, WRITE and READDIR carry their
    /// offset), so the path is all a handle needs. Requests are answered inside the notifying
    /// vCPU's hypercall, so none is in flight at a snapshot.
    void save(snapshot::Writer& w) const override;
    /// Reopens every saved handle by its path beneath this back end's DIR (the restoring run's
    /// --share, which may be another directory): a path that escapes DIR, a file that is gone or
    /// is no longer of its kind, a writable handle on a read-only share are each an error, and
    /// nothing starts.
    void load(snapshot::Reader& r) override;
    /// Why this back end cannot be saved now (an open file removed or replaced since it was
    /// opened: its path would reopen another file, or none), or nullopt.
    std::optional<std::string> unsaveable() const;

private:
    /// handle() without the journal: asks the host directory.
    popekfs_response serve(const popekfs_request& req);

    struct Handle {
        UniqueFd fd;
        uint16_t generation = 0;
        bool readable = false, writable = false, directory = false;
        std::string path;   ///< as the guest opened it, relative to DIR (snapshots reopen it)
    };

    PvResult<void> open(const popekfs_request& req, popekfs_response& rsp);
    PvResult<void> close(const popekfs_request& req);
    PvResult<void> read(const popekfs_request& req, popekfs_response& rsp);
    PvResult<void> write(const popekfs_request& req, popekfs_response& rsp);
    PvResult<void> stat(const popekfs_request& req, popekfs_response& rsp);
    PvResult<void> fstat(const popekfs_request& req, popekfs_response& rsp);
    PvResult<void> readdir(const popekfs_request& req, popekfs_response& rsp);
    PvResult<void> unlink(const popekfs_request& req);
    PvResult<void> mkdir(const popekfs_request& req);

    /// The request's data area: checks nr_pages and length.
    static PvResult<void> check_data(const popekfs_request& req);
    /// Copies the first `len` bytes of the request's data from the guest's pages into m_buffer.
    PvResult<std::span<uint8_t>> gather(const popekfs_request& req, uint32_t len);
    /// Copies the first `len` bytes of the request's data pages into m_buffer (no checks).
    bool copy_in(const popekfs_request& req, uint32_t len);
    /// Copies `bytes` into the request's data pages.
    PvResult<void> scatter(const popekfs_request& req, std::span<const uint8_t> bytes);
    PvResult<std::string> path_of(const popekfs_request& req);
    PvResult<Handle*> lookup(uint32_t handle);
    static void fill_stat(const struct stat& st, popekfs_response& rsp);

    GrantTable& m_grants;
    DomId m_backend;
    const ShareDir& m_dir;
    SharedRing<popekfs_sring> m_ring;
    std::vector<Handle> m_handles;  ///< slot i is handle (generation << 16) | (i + 1)
    std::vector<uint8_t> m_buffer;
    Stats m_stats;
    ShareJournal* m_journal = nullptr;
    uint32_t m_gathered = 0;    ///< data bytes the request being served read from the guest
    uint32_t m_scattered = 0;   ///< data bytes the request being served copied to the guest
};

}  // namespace popek::pv
