#pragma once
/// Guest-visible constants and layouts of virtio 1.2 shared by the queue, the transport and the
/// devices. Section numbers refer to "Virtual I/O Device (VIRTIO) Version 1.2".
#include <cstdint>

namespace popek::devices::virtio {

/// 2.1 Device Status Field.
inline constexpr uint32_t kStatusAcknowledge = 1;
inline constexpr uint32_t kStatusDriver = 2;
inline constexpr uint32_t kStatusDriverOk = 4;
inline constexpr uint32_t kStatusFeaturesOk = 8;
inline constexpr uint32_t kStatusNeedsReset = 64;
inline constexpr uint32_t kStatusFailed = 128;

/// 6 Reserved Feature Bits (bit numbers).
inline constexpr unsigned kFeatureIndirectDesc = 28;   ///< VIRTIO_F_INDIRECT_DESC (2.7.5.3)
inline constexpr unsigned kFeatureEventIdx = 29;       ///< VIRTIO_F_EVENT_IDX (2.7.7, 2.7.10)
inline constexpr unsigned kFeatureVersion1 = 32;       ///< VIRTIO_F_VERSION_1

constexpr uint64_t feature_bit(unsigned bit) { return uint64_t{1} << bit; }

/// 5 Device Types.
inline constexpr uint32_t kDeviceIdNet = 1;
inline constexpr uint32_t kDeviceIdBlock = 2;
inline constexpr uint32_t kDeviceIdConsole = 3;
inline constexpr uint32_t kDeviceIdEntropy = 4;

/// 2.7.5 The Virtqueue Descriptor Table: struct virtq_desc (little-endian, 16 bytes).
struct VirtqDesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(VirtqDesc) == 16);
inline constexpr uint16_t kDescFlagNext = 1;
inline constexpr uint16_t kDescFlagWrite = 2;
inline constexpr uint16_t kDescFlagIndirect = 4;

/// 2.7.6 The Virtqueue Available Ring: flags, idx, ring[size], used_event.
inline constexpr uint16_t kAvailFlagNoInterrupt = 1;
/// 2.7.8 The Virtqueue Used Ring: flags, idx, ring[size] of virtq_used_elem, avail_event.
inline constexpr uint16_t kUsedFlagNoNotify = 1;
struct VirtqUsedElem {
    uint32_t id;
    uint32_t len;
};
static_assert(sizeof(VirtqUsedElem) == 8);

/// 2.7 Split Virtqueues: "Queue Size value is always a power of 2. The maximum ... is 32768."
inline constexpr uint32_t kMaxQueueSize = 32768;

/// 2.7 alignment requirements of the three areas of a split virtqueue.
inline constexpr uint64_t kDescAlign = 16;
inline constexpr uint64_t kAvailAlign = 2;
inline constexpr uint64_t kUsedAlign = 4;

constexpr uint64_t desc_table_bytes(uint32_t size) { return 16ull * size; }
constexpr uint64_t avail_ring_bytes(uint32_t size) { return 6ull + 2ull * size; }
constexpr uint64_t used_ring_bytes(uint32_t size) { return 6ull + 8ull * size; }

}  // namespace popek::devices::virtio
