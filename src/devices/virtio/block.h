#pragma once
/// virtio-blk (virtio 1.2, 5.2) over a host::BlockFile (a file or block device): read, write,
/// flush, get-id, discard and write-zeroes, read-only disks. Requests are served inline on the
/// vCPU thread that notified the queue: one synchronous preadv/pwritev per request, no extra thread
/// and no request state to lose on reset.
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "devices/virtio/device.h"
#include "host/block_file.h"

namespace popek::devices::virtio {

/// 5.2.3 Feature bits.
inline constexpr unsigned kBlkFeatureSegMax = 2;
inline constexpr unsigned kBlkFeatureRo = 5;
inline constexpr unsigned kBlkFeatureBlkSize = 6;
inline constexpr unsigned kBlkFeatureFlush = 9;
inline constexpr unsigned kBlkFeatureDiscard = 13;
inline constexpr unsigned kBlkFeatureWriteZeroes = 14;

/// 5.2.6 Device Operation: request types and status values.
inline constexpr uint32_t kBlkTypeIn = 0;
inline constexpr uint32_t kBlkTypeOut = 1;
inline constexpr uint32_t kBlkTypeFlush = 4;
inline constexpr uint32_t kBlkTypeGetId = 8;
inline constexpr uint32_t kBlkTypeDiscard = 11;
inline constexpr uint32_t kBlkTypeWriteZeroes = 13;
inline constexpr uint8_t kBlkStatusOk = 0;
inline constexpr uint8_t kBlkStatusIoErr = 1;
inline constexpr uint8_t kBlkStatusUnsupp = 2;
inline constexpr uint32_t kBlkIdBytes = 20;   ///< VIRTIO_BLK_ID_BYTES
inline constexpr uint64_t kSectorSize = host::BlockFile::kSectorSize;  ///< 5.2.6: always 512 bytes

/// 5.2.6 struct virtio_blk_req header (the device-readable part before the data).
struct BlkReqHeader {
    uint32_t type;
    uint32_t reserved;
    uint64_t sector;
};
static_assert(sizeof(BlkReqHeader) == 16);

/// 5.2.6 struct virtio_blk_discard_write_zeroes.
struct BlkDiscardSegment {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;   ///< bit 0: unmap (write-zeroes only)
};
static_assert(sizeof(BlkDiscardSegment) == 16);

class Block final : public Device {
public:
    static constexpr uint32_t kMaxDiscardSegments = 16;

    /// Serves `disk` (vmm::open_disk makes it from a --disk); a read-only disk offers
    /// VIRTIO_BLK_F_RO. Its get-id answer is "popek:" and the file's base name (20 bytes at most).
    explicit Block(host::BlockFile disk);

    /// Requests served, for FlushMetrics (docs/metrics.md); read from another thread.
    struct Stats {
        uint64_t read_count = 0, read_bytes = 0, write_count = 0, write_bytes = 0, flush_count = 0, failures = 0;
    };
    Stats stats() const {
        return {m_reads.load(), m_read_bytes.load(), m_writes.load(), m_write_bytes.load(), m_flushes.load(), m_failures.load()};
    }

    std::string_view name() const override { return "virtio-blk"; }
    uint32_t device_id() const override { return kDeviceIdBlock; }
    uint64_t device_features() const override;
    size_t queue_count() const override { return 1; }
    void read_config(uint64_t offset, std::span<uint8_t> data) override;
    void activate(uint64_t features) override { m_features = features; }
    void notify(size_t index) override;
    void reset() override { m_features = 0; }

    uint64_t capacity_sectors() const { return m_disk.sectors(); }

private:
    /// Serves one request; returns the bytes written into the chain (data + status byte).
    Result<uint32_t> handle(Chain& chain);
    uint8_t execute(const BlkReqHeader& hdr, const Chain& chain, uint64_t data_len, uint32_t& data_written);
    uint8_t read_sectors(uint64_t sector, const Chain& chain, uint64_t len);
    uint8_t write_sectors(uint64_t sector, const Chain& chain, uint64_t len);
    uint8_t discard_or_zero(bool zero, const Chain& chain, uint64_t len);
    bool in_bounds(uint64_t sector, uint64_t bytes) const;

    host::BlockFile m_disk;
    std::atomic<uint64_t> m_reads{0}, m_read_bytes{0}, m_writes{0}, m_write_bytes{0}, m_flushes{0}, m_failures{0};
    bool m_read_only;
    std::string m_id;
    uint64_t m_features = 0;
};

}  // namespace popek::devices::virtio
