#include "fs/share_front.h"

#include "common/format.h"
#include "common/string.h"
#include "lib/kprint.h"
#include "mm/pmm.h"
#include "popek_os/abi.h"
#include "pv/ring_front.h"
#include "pv/xenstore.h"

namespace pos {
namespace {
constexpr size_t kDataBytes = ShareFront::kDataPages * kPageSize;
}  // namespace

long ShareFront::connect() {
    if (long r = xen::front_open(m_dev, POPEKFS_DEVICE_TYPE, "0"); r < 0) return r;
    char path[192], mode[4] = "";
    xen::store::read(xen::xenbus_path(path, sizeof path, m_dev.backend, "mode"), mode, sizeof mode);
    m_read_only = strcmp(mode, "r") == 0;
    if (long r = xen::polled_ring_setup(m_dev, kDataPages, m_data_refs, m_shared); r < 0) return r;
    auto* sring = reinterpret_cast<popekfs_sring*>(m_shared.ring_page);
    SHARED_RING_INIT(sring);
    FRONT_RING_INIT(&m_ring, sring, kPageSize);
    if (long r = xen::polled_ring_publish(m_dev, m_shared); r < 0) return r;
    if (long r = xen::xenbus_switch_state(m_dev, XenbusStateConnected); r < 0) return r;
    m_connected = true;
    return 0;
}

popekfs_request ShareFront::request(uint8_t op, uint32_t length) const {
    popekfs_request req{};
    req.op = op;
    req.length = length;
    req.nr_pages = static_cast<uint8_t>((length + kPageSize - 1) / kPageSize);
    for (unsigned i = 0; i < kDataPages; ++i) req.data_ref[i] = m_data_refs[i];
    return req;
}

long ShareFront::submit(popekfs_request& req, popekfs_response& rsp) {
    req.id = m_next_id++;
    *RING_GET_REQUEST(&m_ring, m_ring.req_prod_pvt) = req;
    m_ring.req_prod_pvt++;
    bool broken = false;
    long r = xen::polled_ring_exchange(m_ring, m_shared, req.id, rsp, broken);
    if (broken) {
        kprintf("popek-os: xen: share: response index out of range; device stopped\n");
        m_connected = false;   // every later request fails with EIO
    }
    return r < 0 ? r : rsp.status;
}

long ShareFront::path_request(uint8_t op, const char* path, uint16_t flags, popekfs_response& rsp) {
    if (!m_connected) return -POS_EIO;
    size_t len = strlen(path);
    if (len > POPEKFS_PATH_MAX) return -POS_ENAMETOOLONG;
    LockGuard guard(m_lock);
    memcpy(m_shared.data, path, len);
    popekfs_request req = request(op, static_cast<uint32_t>(len));
    req.flags = flags;
    return submit(req, rsp);
}

long ShareFront::open(const char* path, uint16_t flags) {
    popekfs_response rsp;
    long r = path_request(POPEKFS_OP_OPEN, path, flags, rsp);
    return r < 0 ? r : static_cast<long>(rsp.value);
}

long ShareFront::stat(const char* path, popekfs_response& out) { return path_request(POPEKFS_OP_STAT, path, 0, out); }

long ShareFront::close(uint32_t handle) {
    if (!m_connected) return -POS_EIO;
    LockGuard guard(m_lock);
    popekfs_request req = request(POPEKFS_OP_CLOSE, 0);
    req.handle = handle;
    popekfs_response rsp;
    return submit(req, rsp);
}

long ShareFront::fstat(uint32_t handle, popekfs_response& out) {
    if (!m_connected) return -POS_EIO;
    LockGuard guard(m_lock);
    popekfs_request req = request(POPEKFS_OP_FSTAT, 0);
    req.handle = handle;
    return submit(req, out);
}

long ShareFront::read(uint32_t handle, uint64_t offset, void* buf, size_t len) {
    if (!m_connected) return -POS_EIO;
    LockGuard guard(m_lock);
    auto* out = static_cast<uint8_t*>(buf);
    size_t done = 0;
    while (done < len) {
        size_t want = len - done < kDataBytes ? len - done : kDataBytes;
        popekfs_request req = request(POPEKFS_OP_READ, static_cast<uint32_t>(want));
        req.handle = handle;
        req.offset = offset + done;
        popekfs_response rsp;
        long r = submit(req, rsp);
        if (r < 0) return done > 0 ? static_cast<long>(done) : r;
        if (rsp.value > want) return -POS_EIO;  // the back end claims more than asked
        memcpy(out + done, m_shared.data, rsp.value);
        done += rsp.value;
        if (rsp.value < want) break;  // end of file
    }
    return static_cast<long>(done);
}

long ShareFront::write(uint32_t handle, uint64_t offset, const void* buf, size_t len) {
    if (!m_connected) return -POS_EIO;
    if (m_read_only) return -POS_EROFS;
    LockGuard guard(m_lock);
    const auto* in = static_cast<const uint8_t*>(buf);
    size_t done = 0;
    while (done < len) {
        size_t want = len - done < kDataBytes ? len - done : kDataBytes;
        memcpy(m_shared.data, in + done, want);
        popekfs_request req = request(POPEKFS_OP_WRITE, static_cast<uint32_t>(want));
        req.handle = handle;
        req.offset = offset + done;
        popekfs_response rsp;
        long r = submit(req, rsp);
        if (r < 0) return done > 0 ? static_cast<long>(done) : r;
        if (rsp.value > want) return -POS_EIO;
        done += rsp.value;
        if (rsp.value < want) break;
    }
    return static_cast<long>(done);
}

long ShareFront::readdir(uint32_t handle, uint64_t cookie, EntryFn entry, void* ctx) {
    if (!m_connected) return -POS_EIO;
    LockGuard guard(m_lock);
    popekfs_request req = request(POPEKFS_OP_READDIR, kPageSize);
    req.handle = handle;
    req.offset = cookie;
    popekfs_response rsp;
    if (long r = submit(req, rsp); r < 0) return r;
    if (rsp.value > kPageSize) return -POS_EIO;
    for (uint64_t at = 0; at + sizeof(popekfs_dirent) <= rsp.value;) {
        const auto* d = reinterpret_cast<const popekfs_dirent*>(m_shared.data + at);
        // The back end is trusted less than the kernel: every record is checked before use.
        if (d->reclen < sizeof *d + d->name_len || d->reclen % 8 != 0 || at + d->reclen > rsp.value) return -POS_EIO;
        entry(d->name, d->name_len, d->type, ctx);
        at += d->reclen;
    }
    return static_cast<long>(rsp.next);
}

}  // namespace pos
