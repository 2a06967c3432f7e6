#include "devices/virtio/block.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "devices/virtio/guest_error.h"

namespace popek::devices::virtio {
namespace {

/// 5.2.4 struct virtio_blk_config, the fields popek fills (the rest reads as 0).
struct BlkConfig {
    uint64_t capacity;
    uint32_t size_max;
    uint32_t seg_max;
    uint16_t cylinders;
    uint8_t heads;
    uint8_t sectors;
    uint32_t blk_size;
    uint8_t physical_block_exp;
    uint8_t alignment_offset;
    uint16_t min_io_size;
    uint32_t opt_io_size;
    uint8_t writeback;
    uint8_t unused0;
    uint16_t num_queues;
    uint32_t max_discard_sectors;
    uint32_t max_discard_seg;
    uint32_t discard_sector_alignment;
    uint32_t max_write_zeroes_sectors;
    uint32_t max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint8_t unused1[3];
    uint32_t max_secure_erase_sectors;   // the secure-erase fields continue; popek offers none
};
static_assert(sizeof(BlkConfig) == 64);
static_assert(offsetof(BlkConfig, blk_size) == 20 && offsetof(BlkConfig, writeback) == 32 &&
              offsetof(BlkConfig, max_discard_sectors) == 36 && offsetof(BlkConfig, write_zeroes_may_unmap) == 56);

}  // namespace

Block::Block(host::BlockFile disk)
    : m_disk(std::move(disk)),
      m_read_only(m_disk.readonly()),
      m_id(("popek:" + m_disk.path().substr(m_disk.path().find_last_of('/') + 1)).substr(0, kBlkIdBytes)) {}

uint64_t Block::device_features() const {
    uint64_t f = feature_bit(kBlkFeatureSegMax) | feature_bit(kBlkFeatureBlkSize) | feature_bit(kBlkFeatureFlush);
    if (m_read_only) return f | feature_bit(kBlkFeatureRo);
    return f | feature_bit(kBlkFeatureDiscard) | feature_bit(kBlkFeatureWriteZeroes);
}

void Block::read_config(uint64_t offset, std::span<uint8_t> data) {
    BlkConfig c{};
    c.capacity = capacity_sectors();
    c.seg_max = queue_max_size() - 2u;  // 5.2.4: header and status take a descriptor each
    c.blk_size = kSectorSize;
    c.num_queues = 1;
    uint32_t max_sectors = static_cast<uint32_t>(std::min<uint64_t>(capacity_sectors(), 0xffff'ffffu));
    c.max_discard_sectors = c.max_write_zeroes_sectors = max_sectors;
    c.max_discard_seg = c.max_write_zeroes_seg = kMaxDiscardSegments;
    c.discard_sector_alignment = 1;
    c.write_zeroes_may_unmap = 1;
    read_config_bytes(std::span(reinterpret_cast<const uint8_t*>(&c), sizeof(c)), offset, data);
}

void Block::notify(size_t index) {
    process_queue(host(), index, [this](Chain& chain) { return handle(chain); });
}

bool Block::in_bounds(uint64_t sector, uint64_t bytes) const {
    uint64_t cap = capacity_sectors();
    return bytes % kSectorSize == 0 && sector <= cap && bytes / kSectorSize <= cap - sector;
}

Result<uint32_t> Block::handle(Chain& chain) {
    const memory::GuestMemory& mem = host().memory();
    // 5.2.6: the last device-writable byte is the status; without one the driver cannot be told.
    if (chain.writable.size() == 0) return fail("virtio-blk request without a status byte");
    uint64_t status_at = chain.writable.size() - 1;
    BlkReqHeader hdr{};
    uint8_t status = kBlkStatusIoErr;
    uint32_t data_written = 0;
    if (chain.readable.size() < sizeof(hdr)) {
        report_guest_error(name(), "request shorter than its header");
    } else {
        TRY_VOID(chain.readable.read(mem, 0, std::span(reinterpret_cast<uint8_t*>(&hdr), sizeof(hdr))));
        bool data_in = hdr.type == kBlkTypeIn || hdr.type == kBlkTypeGetId;
        uint64_t data_len = data_in ? status_at : chain.readable.size() - sizeof(hdr);
        status = execute(hdr, chain, data_len, data_written);
        const bool ok = status == kBlkStatusOk;
        if (!ok) ++m_failures;
        else if (hdr.type == kBlkTypeIn) ++m_reads, m_read_bytes += data_len;
        else if (hdr.type == kBlkTypeOut) ++m_writes, m_write_bytes += data_len;
        else if (hdr.type == kBlkTypeFlush) ++m_flushes;
    }
    TRY_VOID(chain.writable.write(mem, status_at, std::span(&status, 1)));
    return data_written + 1;
}

uint8_t Block::execute(const BlkReqHeader& hdr, const Chain& chain, uint64_t data_len, uint32_t& data_written) {
    switch (hdr.type) {
    case kBlkTypeIn: {
        uint8_t s = read_sectors(hdr.sector, chain, data_len);
        if (s == kBlkStatusOk) data_written = static_cast<uint32_t>(data_len);
        return s;
    }
    case kBlkTypeOut: return write_sectors(hdr.sector, chain, data_len);
    case kBlkTypeFlush:
        if (m_read_only) return kBlkStatusOk;
        return m_disk.flush() ? kBlkStatusOk : kBlkStatusIoErr;
    case kBlkTypeGetId: {
        std::array<uint8_t, kBlkIdBytes> id{};
        std::copy_n(m_id.begin(), std::min<size_t>(m_id.size(), id.size()), id.begin());
        auto n = static_cast<uint32_t>(std::min<uint64_t>(data_len, id.size()));
        if (!chain.writable.write(host().memory(), 0, std::span(id.data(), n))) return kBlkStatusIoErr;
        data_written = n;
        return kBlkStatusOk;
    }
    case kBlkTypeDiscard:
    case kBlkTypeWriteZeroes:
        if (m_read_only) return kBlkStatusIoErr;
        return discard_or_zero(hdr.type == kBlkTypeWriteZeroes, chain, data_len);
    default: return kBlkStatusUnsupp;
    }
}

uint8_t Block::read_sectors(uint64_t sector, const Chain& chain, uint64_t len) {
    if (!in_bounds(sector, len)) {
        report_guest_error(name(), fmt::format("read of {} bytes at sector {} is out of bounds", len, sector));
        return kBlkStatusIoErr;
    }
    auto iov = chain.writable.iovecs(host().memory(), 0, len);
    if (!iov || !m_disk.readv(sector * kSectorSize, std::move(*iov))) return kBlkStatusIoErr;
    return kBlkStatusOk;
}

uint8_t Block::write_sectors(uint64_t sector, const Chain& chain, uint64_t len) {
    if (m_read_only) return kBlkStatusIoErr;   // 5.2.6.2: VIRTIO_BLK_F_RO
    if (!in_bounds(sector, len)) {
        report_guest_error(name(), fmt::format("write of {} bytes at sector {} is out of bounds", len, sector));
        return kBlkStatusIoErr;
    }
    auto iov = chain.readable.iovecs(host().memory(), sizeof(BlkReqHeader), len);
    if (!iov || !m_disk.writev(sector * kSectorSize, std::move(*iov))) return kBlkStatusIoErr;
    // 5.2.6.2: without VIRTIO_BLK_F_FLUSH the driver expects write-through.
    if (!(m_features & feature_bit(kBlkFeatureFlush)) && !m_disk.flush()) return kBlkStatusIoErr;
    return kBlkStatusOk;
}

uint8_t Block::discard_or_zero(bool zero, const Chain& chain, uint64_t len) {
    if (len == 0 || len % sizeof(BlkDiscardSegment) != 0 || len / sizeof(BlkDiscardSegment) > kMaxDiscardSegments)
        return kBlkStatusUnsupp;
    for (uint64_t off = 0; off < len; off += sizeof(BlkDiscardSegment)) {
        BlkDiscardSegment seg{};
        if (!chain.readable.read(host().memory(), sizeof(BlkReqHeader) + off,
                                 std::span(reinterpret_cast<uint8_t*>(&seg), sizeof(seg))))
            return kBlkStatusIoErr;
        // 5.2.6.2: flags other than unmap (and unmap on a discard) are unsupported.
        if ((seg.flags & ~1u) != 0 || (!zero && seg.flags != 0)) return kBlkStatusUnsupp;
        uint64_t bytes = uint64_t{seg.num_sectors} * kSectorSize;
        if (!in_bounds(seg.sector, bytes)) return kBlkStatusIoErr;
        const uint64_t at = seg.sector * kSectorSize;
        if (zero) {
            if (!m_disk.write_zeroes(at, bytes)) return kBlkStatusIoErr;
        } else {
            // Discard is a hint: a file system without hole punching ignores it.
            (void)m_disk.discard(at, bytes);
        }
    }
    return kBlkStatusOk;
}

}  // namespace popek::devices::virtio
