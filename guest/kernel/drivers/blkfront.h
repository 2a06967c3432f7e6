#pragma once
/// A blkif front end (io/blkif.h) for one virtual block device: the XenBus handshake with the
/// back end named in the store, a single-page shared ring, and one request in flight at a time
/// over kSegments persistently granted bounce pages. Completion is awaited by polling the
/// (masked) event channel with SCHEDOP_poll, under a spinlock: simple and SMP-safe, at the price
/// of holding the vCPU while a request runs (docs/guest-os.md "Block device").
#include "lib/spinlock.h"
#include "pv/xen_abi.h"
#include "pv/ring_front.h"

namespace pos {

class BlockFront {
public:
    static constexpr uint32_t kSectorSize = 512;   // blkif sector_number unit
    static constexpr unsigned kSegments = 8;        // bounce pages per request (32 KiB)

    /// Connects to device/vbd/<devid>; 0 or a negative errno (-ENOENT: no such disk).
    long connect(const char* devid);
    bool connected() const { return m_connected; }
    uint64_t size_bytes() const { return m_sectors * kSectorSize; }
    bool read_only() const { return m_read_only; }
    const char* name() const { return m_name; }

    /// Byte-granular I/O inside the disk (clipped at its end); bytes done or a negative POS_E*.
    /// Writes of partial sectors read the sector first.
    long read(uint64_t offset, void* buf, size_t len);
    long write(uint64_t offset, const void* buf, size_t len);

private:
    /// One request for `count` sectors at `sector` through the bounce pages.
    long transfer(uint8_t op, uint64_t sector, unsigned count);

    xen::XenbusDevice m_dev{};
    blkif_front_ring_t m_ring{};
    xen::PolledRing m_shared;   ///< the ring page, the bounce pages (data) and the event channel
    grant_ref_t m_bounce_refs[kSegments]{};
    uint64_t m_sectors = 0;
    uint64_t m_next_id = 1;
    bool m_read_only = false;
    bool m_connected = false;
    char m_name[16] = "xvda";
    Spinlock m_lock;
};

}  // namespace pos
