#include "drivers/blkfront.h"

#include "common/format.h"
#include "common/string.h"
#include "lib/kprint.h"
#include "mm/pmm.h"
#include "popek_os/abi.h"
#include "pv/evtchn.h"
#include "pv/ring_front.h"
#include "pv/xen_clock.h"
#include "pv/xenstore.h"

namespace pos {
namespace {
constexpr unsigned kSectorsPerPage = kPageSize / BlockFront::kSectorSize;
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
    int notify = 0;
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&m_ring, notify);
    if (notify) xen::evtchn::notify(m_shared.port);
    uint64_t until = xen::clock::now_ns() + xen::kFrontTimeoutMs * 1000000;
    for (;;) {
        // A back end that pushes rsp_prod past what it could have answered is not trusted
        // any more: the device stops (every later request fails with EIO).
        RING_IDX rsp_prod = __atomic_load_n(&m_ring.sring->rsp_prod, __ATOMIC_ACQUIRE);
        if (rsp_prod - m_ring.rsp_cons > m_ring.req_prod_pvt - m_ring.rsp_cons) {
            kprintf("popek-os: xen: %s: response index out of range; device stopped\n", m_name);
            m_connected = false;
            return -POS_EIO;
        }
        if (RING_HAS_UNCONSUMED_RESPONSES(&m_ring)) {
            blkif_response_t* rsp = RING_GET_RESPONSE(&m_ring, m_ring.rsp_cons);
            uint64_t rsp_id = rsp->id;
            int16_t status = rsp->status;
            m_ring.rsp_cons++;
            if (rsp_id != id) continue;   // not ours (cannot happen with one in flight): skip it
            return status == BLKIF_RSP_OKAY ? 0 : -POS_EIO;
        }
        if (!xen::evtchn::wait_port(m_shared.port, until)) return -POS_EIO;
    }
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
        uint64_t pos = offset + done;
        uint64_t sector = pos / kSectorSize;
        size_t skip = static_cast<size_t>(pos % kSectorSize);
        size_t want = len - done;
        uint64_t max_bytes = uint64_t{kSegments} * kPageSize - skip;
        if (want > max_bytes) want = static_cast<size_t>(max_bytes);
        unsigned count = static_cast<unsigned>((skip + want + kSectorSize - 1) / kSectorSize);
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
        uint64_t pos = offset + done;
        uint64_t sector = pos / kSectorSize;
        size_t skip = static_cast<size_t>(pos % kSectorSize);
        size_t want = len - done;
        uint64_t max_bytes = uint64_t{kSegments} * kPageSize - skip;
        if (want > max_bytes) want = static_cast<size_t>(max_bytes);
        unsigned count = static_cast<unsigned>((skip + want + kSectorSize - 1) / kSectorSize);
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
