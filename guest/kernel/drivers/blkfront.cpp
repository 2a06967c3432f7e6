#include "drivers/blkfront.h"

#include "common/format.h"
#include "common/string.h"
#include "lib/kprint.h"
#include "mm/pmm.h"
#include "popek_os/abi.h"
#include "pv/ring_front.h"
#include "pv/xenstore.h"

namespace pos {
namespace {
constexpr unsigned kSectorsPerPage = kPageSize / BlockFront::kSectorSize;

/// The piece of a transfer at byte `pos` (up to `left` bytes) that fits one request: its first
/// sector, the bytes to skip in it, the bytes moved, and the sectors the request covers.
struct Chunk {
    uint64_t sector;
    size_t skip, want;
    unsigned count;
};
Chunk next_chunk(uint64_t pos, size_t left) {
    constexpr uint64_t kSize = BlockFront::kSectorSize;
    const size_t skip = static_cast<size_t>(pos % kSize);
    const uint64_t max_bytes = uint64_t{BlockFront::kSegments} * kPageSize - skip;
    const size_t want = left > max_bytes ? static_cast<size_t>(max_bytes) : left;
    return {pos / kSize, skip, want, static_cast<unsigned>((skip + want + kSize - 1) / kSize)};
}
}  // namespace

long BlockFront::connect(const char* devid) {
    if (long r = xen::front_open(m_dev, "vbd", devid); r < 0) return r;
    if (long r = xen::polled_ring_setup(m_dev, kSegments, m_bounce_refs, m_shared); r < 0) return r;
    auto* sring = reinterpret_cast<blkif_sring_t*>(m_shared.ring_page);
    SHARED_RING_INIT(sring);
    FRONT_RING_INIT(&m_ring, sring, kPageSize);
    if (long r = xen::polled_ring_publish(m_dev, m_shared); r < 0) return r;
    // What the back end says about the disk (io/blkif.h "Back end XenBus nodes").
    if (long r = xen::xenbus_read_u64(m_dev.backend, "sectors", m_sectors); r < 0) return r;
    uint64_t sector_size = kSectorSize;
    xen::xenbus_read_u64(m_dev.backend, "sector-size", sector_size);
    if (sector_size != kSectorSize) return -xen::kEIO;   // only 512-byte sectors
    char path[192], mode[4] = "";
    xen::store::read(xen::xenbus_path(path, sizeof path, m_dev.backend, "mode"), mode, sizeof mode);
    m_read_only = strcmp(mode, "r") == 0;
    if (long r = xen::xenbus_switch_state(m_dev, XenbusStateConnected); r < 0) return r;
    m_connected = true;
    return 0;
}

long BlockFront::transfer(uint8_t op, uint64_t sector, unsigned count) {
    blkif_request_t* req = RING_GET_REQUEST(&m_ring, m_ring.req_prod_pvt);
    const uint64_t id = m_next_id++;
    req->operation = op;
    req->handle = 0;
    req->id = id;
    req->sector_number = sector;
    unsigned segs = (count + kSectorsPerPage - 1) / kSectorsPerPage;
    req->nr_segments = static_cast<uint8_t>(segs);
    for (unsigned i = 0; i < segs; ++i) {
        unsigned in_page = count - i * kSectorsPerPage;
        if (in_page > kSectorsPerPage) in_page = kSectorsPerPage;
        req->seg[i].gref = m_bounce_refs[i];
        req->seg[i].first_sect = 0;
        req->seg[i].last_sect = static_cast<uint8_t>(in_page - 1);
    }
    m_ring.req_prod_pvt++;
    blkif_response_t rsp;
    bool broken = false;
    long r = xen::polled_ring_exchange(m_ring, m_shared, id, rsp, broken);
    if (broken) {
        kprintf("popek-os: xen: %s: response index out of range; device stopped\n", m_name);
        m_connected = false;   // every later request fails with EIO
    }
    if (r < 0) return r;
    return rsp.status == BLKIF_RSP_OKAY ? 0 : -POS_EIO;
}

long BlockFront::read(uint64_t offset, void* buf, size_t len) {
    if (!m_connected) return -POS_EIO;
    LockGuard guard(m_lock);
    uint64_t size = size_bytes();
    if (offset >= size) return 0;
    if (len > size - offset) len = static_cast<size_t>(size - offset);
    auto* out = static_cast<uint8_t*>(buf);
    size_t done = 0;
    while (done < len) {
        const auto [sector, skip, want, count] = next_chunk(offset + done, len - done);
        if (long r = transfer(BLKIF_OP_READ, sector, count); r < 0) return done > 0 ? static_cast<long>(done) : r;
        memcpy(out + done, m_shared.data + skip, want);
        done += want;
    }
    return static_cast<long>(done);
}

long BlockFront::write(uint64_t offset, const void* buf, size_t len) {
    if (!m_connected) return -POS_EIO;
    if (m_read_only) return -POS_EROFS;
    LockGuard guard(m_lock);
    uint64_t size = size_bytes();
    if (offset >= size) return len == 0 ? 0 : -POS_ENOSPC;
    if (len > size - offset) len = static_cast<size_t>(size - offset);
    const auto* in = static_cast<const uint8_t*>(buf);
    size_t done = 0;
    while (done < len) {
        const auto [sector, skip, want, count] = next_chunk(offset + done, len - done);
        // Partial first or last sector: read the sectors first so the rest of them is kept.
        if ((skip != 0 || (skip + want) % kSectorSize != 0) && transfer(BLKIF_OP_READ, sector, count) < 0)
            return done > 0 ? static_cast<long>(done) : -POS_EIO;
        memcpy(m_shared.data + skip, in + done, want);
        if (long r = transfer(BLKIF_OP_WRITE, sector, count); r < 0) return done > 0 ? static_cast<long>(done) : r;
        done += want;
    }
    return static_cast<long>(done);
}

}  // namespace pos
