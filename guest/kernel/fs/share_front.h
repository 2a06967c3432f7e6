#pragma once
/// A popekfs front end (include/popek/pvabi/fsif.h; docs/pv.md "--share DIR"): the files of the
/// host directory popek exports with `--share DIR[,ro]`, through device/popekfs/0. One single-page
/// ring, one request in flight at a time over kDataPages persistently granted bounce pages, the
/// (masked) event channel polled with SCHEDOP_poll under a spinlock, as the block front end does.
/// Results are the back end's: a handle, a byte count or 0, or a negative Linux errno.
#include "lib/spinlock.h"
#include "pv/xen_abi.h"
#include "pv/ring_front.h"

#include <popek/pvabi/fsif.h>

namespace pos {

class ShareFront {
public:
    static constexpr unsigned kDataPages = POPEKFS_MAX_DATA_PAGES;

    /// Connects to device/popekfs/0; 0 or a negative errno (-ENOENT: popek runs without --share).
    long connect();
    bool connected() const { return m_connected; }
    bool read_only() const { return m_read_only; }

    long open(const char* path, uint16_t flags);
    long close(uint32_t handle);
    long read(uint32_t handle, uint64_t offset, void* buf, size_t len);
    long write(uint32_t handle, uint64_t offset, const void* buf, size_t len);
    /// STAT (path) or FSTAT (handle): the response's type and size.
    long stat(const char* path, popekfs_response& out);
    long fstat(uint32_t handle, popekfs_response& out);
    /// READDIR of a directory handle from `cookie`: calls `entry(name, name_len, type, ctx)` for
    /// each record; returns the next cookie (== cookie at the end) or a negative errno.
    using EntryFn = void (*)(const char* name, size_t len, uint8_t type, void* ctx);
    long readdir(uint32_t handle, uint64_t cookie, EntryFn entry, void* ctx);

private:
    /// Sends `req` with `data_len` bytes of data in the bounce pages; waits for the response.
    long submit(popekfs_request& req, popekfs_response& rsp);
    popekfs_request request(uint8_t op, uint32_t length) const;
    long path_request(uint8_t op, const char* path, uint16_t flags, popekfs_response& rsp);

    xen::XenbusDevice m_dev{};
    popekfs_front_ring m_ring{};
    xen::PolledRing m_shared;   ///< the ring page, the data pages and the event channel
    grant_ref_t m_data_refs[kDataPages]{};
    uint64_t m_next_id = 1;
    bool m_read_only = false;
    bool m_connected = false;
    Spinlock m_lock;
};

}  // namespace pos
