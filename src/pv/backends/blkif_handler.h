#pragma once
/// The blkif request logic (io/blkif.h), independent of where it runs: checks one request and
/// carries it out on a host::BlockFile, moving data only through a GrantAccess (only pages the guest
/// granted to the back end's domain, bounded to the granted sectors). Read, write, flush
/// (FLUSH_DISKCACHE and WRITE_BARRIER both flush), discard. Every request gets a response:
/// BLKIF_RSP_ERROR for bad segments, sectors past the end, writes to a read-only disk, refused
/// grants or I/O errors; BLKIF_RSP_EOPNOTSUPP for operations not offered (indirect, discard on a
/// read-only disk).
///
/// The same class serves popek's in-process vbd (LocalGrantAccess) and the driver domain process
/// (`popek backend`, ddom::RemoteGrantAccess).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "host/block_file.h"
#include "pv/grant_access.h"

namespace popek::pv {

/// Something that carries out blkif requests for a ring: the handler itself, or a proxy to a
/// driver domain. nullopt when it can no longer answer (the driver domain died); failure() says why.
class BlkifExecutor {
public:
    virtual ~BlkifExecutor() = default;
    virtual std::optional<blkif_response_t> execute(const blkif_request_t& req) = 0;
    virtual std::optional<std::string> failure() const { return std::nullopt; }
};

class BlkifHandler final : public BlkifExecutor {
public:
    static constexpr uint32_t kSectorsPerPage = kXenPageSize / host::BlockFile::kSectorSize;

    struct Stats {
        uint64_t requests = 0, errors = 0, bytes_read = 0, bytes_written = 0, flushes = 0, discards = 0;
    };

    BlkifHandler(GrantAccess& grants, host::BlockFile& disk);

    /// Handles one request; the response carries its id and operation.
    blkif_response_t handle(const blkif_request_t& req);
    std::optional<blkif_response_t> execute(const blkif_request_t& req) override { return handle(req); }
    const Stats& stats() const { return m_stats; }

private:
    int16_t read_write(const blkif_request_t& req, bool write);
    int16_t discard(const blkif_request_t& req);

    GrantAccess& m_grants;
    host::BlockFile& m_disk;
    std::vector<uint8_t> m_buffer;
    Stats m_stats;
};

}  // namespace popek::pv
