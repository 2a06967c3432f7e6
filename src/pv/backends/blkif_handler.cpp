#include "pv/backends/blkif_handler.h"

#include <array>
#include <cstring>

namespace popek::pv {

BlkifHandler::BlkifHandler(GrantAccess& grants, host::BlockFile& disk) : m_grants(grants), m_disk(disk) {
    m_buffer.resize(BLKIF_MAX_SEGMENTS_PER_REQUEST * kXenPageSize);
}

blkif_response_t BlkifHandler::handle(const blkif_request_t& req) {
    blkif_response_t rsp{};
    rsp.id = req.id;
    rsp.operation = req.operation;
    ++m_stats.requests;
    switch (req.operation) {
    case BLKIF_OP_READ: rsp.status = read_write(req, false); break;
    case BLKIF_OP_WRITE: rsp.status = read_write(req, true); break;
    case BLKIF_OP_WRITE_BARRIER:
    case BLKIF_OP_FLUSH_DISKCACHE:
        // popek completes requests in order, so a barrier is a flush; neither carries data here.
        if (req.nr_segments != 0) {
            rsp.status = BLKIF_RSP_ERROR;
            break;
        }
        ++m_stats.flushes;
        rsp.status = m_disk.flush() ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR;
        break;
    case BLKIF_OP_DISCARD: rsp.status = discard(req); break;
    default: rsp.status = BLKIF_RSP_EOPNOTSUPP; break;  // indirect, reserved, unknown
    }
    if (rsp.status != BLKIF_RSP_OKAY) ++m_stats.errors;
    return rsp;
}

int16_t BlkifHandler::read_write(const blkif_request_t& req, bool write) {
    if (req.nr_segments == 0 || req.nr_segments > BLKIF_MAX_SEGMENTS_PER_REQUEST) return BLKIF_RSP_ERROR;
    if (write && m_disk.readonly()) return BLKIF_RSP_ERROR;
    // Validate every segment and the whole extent before touching the disk or the guest.
    uint64_t sectors = 0;
    for (uint8_t i = 0; i < req.nr_segments; ++i) {
        const blkif_request_segment& s = req.seg[i];
        if (s.first_sect > s.last_sect || s.last_sect >= kSectorsPerPage) return BLKIF_RSP_ERROR;
        sectors += s.last_sect - s.first_sect + 1u;
    }
    if (req.sector_number > m_disk.sectors() || sectors > m_disk.sectors() - req.sector_number)
        return BLKIF_RSP_ERROR;
    const uint64_t offset = req.sector_number * host::BlockFile::kSectorSize;
    const size_t bytes = static_cast<size_t>(sectors * host::BlockFile::kSectorSize);
    std::span<uint8_t> buf(m_buffer.data(), bytes);

    // One grant copy per segment, all in one batch (one round trip for a driver domain).
    std::array<GrantCopy, BLKIF_MAX_SEGMENTS_PER_REQUEST> ops;
    size_t at = 0;
    for (uint8_t i = 0; i < req.nr_segments; ++i) {
        const blkif_request_segment& s = req.seg[i];
        size_t len = (s.last_sect - s.first_sect + 1u) * host::BlockFile::kSectorSize;
        ops[i] = GrantCopy{s.gref, static_cast<uint16_t>(s.first_sect * host::BlockFile::kSectorSize), !write,
                           buf.subspan(at, len)};
        at += len;
    }
    std::span<const GrantCopy> batch(ops.data(), req.nr_segments);
    if (write) {
        if (!m_grants.copy(batch)) return BLKIF_RSP_ERROR;
        if (!m_disk.write(offset, buf)) return BLKIF_RSP_ERROR;
        m_stats.bytes_written += bytes;
        return BLKIF_RSP_OKAY;
    }
    if (!m_disk.read(offset, buf)) return BLKIF_RSP_ERROR;
    if (!m_grants.copy(batch)) return BLKIF_RSP_ERROR;
    m_stats.bytes_read += bytes;
    return BLKIF_RSP_OKAY;
}

int16_t BlkifHandler::discard(const blkif_request_t& req) {
    if (m_disk.readonly()) return BLKIF_RSP_EOPNOTSUPP;  // feature-discard is not offered then
    blkif_request_discard_t d;
    static_assert(sizeof(d) <= sizeof(req));
    std::memcpy(&d, &req, sizeof(d));
    if (d.sector_number > m_disk.sectors() || d.nr_sectors > m_disk.sectors() - d.sector_number)
        return BLKIF_RSP_ERROR;
    ++m_stats.discards;
    if (d.nr_sectors == 0) return BLKIF_RSP_OKAY;
    auto r = m_disk.discard(d.sector_number * host::BlockFile::kSectorSize, d.nr_sectors * host::BlockFile::kSectorSize);
    return r ? BLKIF_RSP_OKAY : BLKIF_RSP_ERROR;
}

}  // namespace popek::pv
