#pragma once
/// The vbd data path (io/blkif.h): requests from the guest's blkif ring are checked and carried out
/// on a BlockFile, moving data only through the grant table (only pages the guest granted to the
/// backend domain, bounded to the granted sectors). Read, write, flush (FLUSH_DISKCACHE and
/// WRITE_BARRIER both flush), discard. Every request gets a response: BLKIF_RSP_ERROR for bad
/// segments, sectors past the end, writes to a read-only disk, refused grants or I/O errors;
/// BLKIF_RSP_EOPNOTSUPP for operations not offered (indirect, discard on a read-only disk).
/// A ring the guest corrupts is shut (SharedRing); the disk and popek are unaffected.
#include <cstdint>
#include <span>
#include <vector>

#include "pv/backends/block_file.h"
#include "pv/backends/ring_backend.h"
#include "pv/grant_table.h"
#include "pv/shared_ring.h"

namespace popek::pv {

class BlkifBackend final : public RingBackend {
public:
    /// Requests handled per process() call before yielding (the guest could keep the ring busy).
    static constexpr uint32_t kBatch = 256;
    static constexpr uint32_t kSectorsPerPage = kXenPageSize / BlockFile::kSectorSize;

    struct Stats {
        uint64_t requests = 0, errors = 0, bytes_read = 0, bytes_written = 0, flushes = 0, discards = 0;
    };

    /// `ring` is the mapped ring page; grants are checked as domain `backend` (popek's dom0).
    BlkifBackend(GrantTable& grants, DomId backend, BlockFile& disk, std::span<uint8_t> ring);

    Outcome process() override;
    bool shut() const override { return m_ring.shut(); }
    const Stats& stats() const { return m_stats; }

    /// Handles one request (exposed for tests and fuzzing).
    blkif_response_t handle(const blkif_request_t& req);

private:
    int16_t read_write(const blkif_request_t& req, bool write);
    int16_t discard(const blkif_request_t& req);

    GrantTable& m_grants;
    DomId m_backend;
    BlockFile& m_disk;
    SharedRing<blkif_sring> m_ring;
    std::vector<uint8_t> m_buffer;
    Stats m_stats;
};

}  // namespace popek::pv
