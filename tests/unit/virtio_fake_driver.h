#pragma once
// A fake virtio driver for unit tests: it lays out split virtqueues in GuestMemory, programs an
// MmioTransport through its registers (4.2.3 driver initialisation) and reads the used rings back.
#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

#include "devices/virtio/mmio_transport.h"
#include "memory/guest_memory.h"

namespace popek::test {

namespace vio = popek::devices::virtio;

struct Buf {
    uint64_t addr;
    uint32_t len;
    bool device_writes = false;
};

struct UsedEntry {
    uint32_t id;
    uint32_t len;
};

class FakeDriver {
public:
    static constexpr uint64_t kQueueArea = 0x10000;    // queue i at kQueueArea + i * 0x10000
    static constexpr uint64_t kBufferArea = 0x100000;  // bump-allocated buffers from here

    FakeDriver(vio::MmioTransport& t, const memory::GuestMemory& mem) : m_t(t), m_mem(mem) {}

    uint32_t reg(uint64_t offset) {
        uint8_t b[4];
        m_t.read(offset, b);
        return static_cast<uint32_t>(bus::span_to_u64(b));
    }
    void set_reg(uint64_t offset, uint32_t value) {
        uint8_t b[4];
        bus::u64_to_span(value, b);
        m_t.write(offset, b);
    }
    uint64_t offered_features() {
        set_reg(vio::mmio_reg::kDeviceFeaturesSel, 0);
        uint64_t lo = reg(vio::mmio_reg::kDeviceFeatures);
        set_reg(vio::mmio_reg::kDeviceFeaturesSel, 1);
        return lo | uint64_t{reg(vio::mmio_reg::kDeviceFeatures)} << 32;
    }
    void write_features(uint64_t f) {
        set_reg(vio::mmio_reg::kDriverFeaturesSel, 0);
        set_reg(vio::mmio_reg::kDriverFeatures, static_cast<uint32_t>(f));
        set_reg(vio::mmio_reg::kDriverFeaturesSel, 1);
        set_reg(vio::mmio_reg::kDriverFeatures, static_cast<uint32_t>(f >> 32));
    }
    uint64_t desc_addr(size_t q) const { return kQueueArea + q * 0x10000; }
    uint64_t avail_addr(size_t q) const { return desc_addr(q) + 0x4000; }
    uint64_t used_addr(size_t q) const { return desc_addr(q) + 0x8000; }

    /// Programs queue `q` with `size` entries and makes it ready; returns QueueReady read back.
    bool setup_queue(size_t q, uint16_t size) {
        // Fresh, zeroed rings, as Linux's vring allocation gives.
        std::vector<uint8_t> zeros(0x4000, 0);
        EXPECT_TRUE(m_mem.write(avail_addr(q), zeros));
        EXPECT_TRUE(m_mem.write(used_addr(q), zeros));
        set_reg(vio::mmio_reg::kQueueSel, static_cast<uint32_t>(q));
        set_reg(vio::mmio_reg::kQueueNum, size);
        auto set64 = [&](uint64_t lo_reg, uint64_t v) {
            set_reg(lo_reg, static_cast<uint32_t>(v));
            set_reg(lo_reg + 4, static_cast<uint32_t>(v >> 32));
        };
        set64(vio::mmio_reg::kQueueDescLow, desc_addr(q));
        set64(vio::mmio_reg::kQueueDriverLow, avail_addr(q));
        set64(vio::mmio_reg::kQueueDeviceLow, used_addr(q));
        set_reg(vio::mmio_reg::kQueueReady, 1);
        if (m_queues.size() <= q) m_queues.resize(q + 1);
        m_queues[q] = QueueState{size, 0, 0, 0};
        return reg(vio::mmio_reg::kQueueReady) == 1;
    }

    /// 3.1.1 driver initialisation with every offered feature (minus `drop`) and `queues` queues.
    void init(size_t queues, uint16_t size = 16, uint64_t drop = 0) {
        set_reg(vio::mmio_reg::kStatus, 0);
        set_reg(vio::mmio_reg::kStatus, vio::kStatusAcknowledge | vio::kStatusDriver);
        m_features = offered_features() & ~drop;
        write_features(m_features);
        set_reg(vio::mmio_reg::kStatus, vio::kStatusAcknowledge | vio::kStatusDriver | vio::kStatusFeaturesOk);
        ASSERT_TRUE(reg(vio::mmio_reg::kStatus) & vio::kStatusFeaturesOk);
        for (size_t q = 0; q < queues; ++q) ASSERT_TRUE(setup_queue(q, size));
        set_reg(vio::mmio_reg::kStatus,
                vio::kStatusAcknowledge | vio::kStatusDriver | vio::kStatusFeaturesOk | vio::kStatusDriverOk);
    }

    uint64_t alloc(uint64_t len, uint64_t align = 16) {
        m_next_buffer = (m_next_buffer + align - 1) / align * align;
        uint64_t at = m_next_buffer;
        m_next_buffer += len;
        return at;
    }
    uint64_t alloc_bytes(const std::vector<uint8_t>& bytes) {
        uint64_t at = alloc(bytes.size());
        EXPECT_TRUE(m_mem.write(at, bytes));
        return at;
    }

    void write_desc(size_t q, uint16_t index, vio::VirtqDesc d) { ASSERT_TRUE(m_mem.write_obj(desc_addr(q) + 16ull * index, d)); }
    /// Puts `head` in the next available slot and publishes it (avail idx + 1).
    void publish(size_t q, uint16_t head) {
        QueueState& s = m_queues.at(q);
        ASSERT_TRUE(m_mem.write_obj<uint16_t>(avail_addr(q) + 4 + 2ull * (s.avail_idx % s.size), head));
        ++s.avail_idx;
        set_avail_idx(q, s.avail_idx);
    }
    void set_avail_idx(size_t q, uint16_t idx) { ASSERT_TRUE(m_mem.write_obj<uint16_t>(avail_addr(q) + 2, idx)); }
    void set_avail_flags(size_t q, uint16_t flags) { ASSERT_TRUE(m_mem.write_obj<uint16_t>(avail_addr(q), flags)); }
    void set_used_event(size_t q, uint16_t v) {
        ASSERT_TRUE(m_mem.write_obj<uint16_t>(avail_addr(q) + 4 + 2ull * m_queues.at(q).size, v));
    }
    uint16_t avail_event(size_t q) { return *m_mem.read_obj<uint16_t>(used_addr(q) + 4 + 8ull * m_queues.at(q).size); }

    /// Writes `bufs` as a chain of fresh descriptors and publishes it; returns its head.
    uint16_t add_chain(size_t q, const std::vector<Buf>& bufs) {
        QueueState& s = m_queues.at(q);
        uint16_t head = static_cast<uint16_t>(s.next_desc % s.size);
        for (size_t i = 0; i < bufs.size(); ++i) {
            auto index = static_cast<uint16_t>((s.next_desc + i) % s.size);
            uint16_t flags = (bufs[i].device_writes ? vio::kDescFlagWrite : 0) | (i + 1 < bufs.size() ? vio::kDescFlagNext : 0);
            write_desc(q, index, {bufs[i].addr, bufs[i].len, flags, static_cast<uint16_t>((index + 1) % s.size)});
        }
        s.next_desc = static_cast<uint16_t>(s.next_desc + bufs.size());
        publish(q, head);
        return head;
    }
    void kick(size_t q) { set_reg(vio::mmio_reg::kQueueNotify, static_cast<uint32_t>(q)); }

    uint16_t used_idx(size_t q) { return *m_mem.read_obj<uint16_t>(used_addr(q) + 2); }
    /// Used entries added since the last call.
    std::vector<UsedEntry> take_used(size_t q) {
        QueueState& s = m_queues.at(q);
        std::vector<UsedEntry> out;
        for (uint16_t idx = used_idx(q); s.used_seen != idx; ++s.used_seen)
            out.push_back(*m_mem.read_obj<UsedEntry>(used_addr(q) + 4 + 8ull * (s.used_seen % s.size)));
        return out;
    }
    std::vector<uint8_t> bytes(uint64_t addr, size_t len) {
        std::vector<uint8_t> out(len);
        EXPECT_TRUE(m_mem.read(addr, out));
        return out;
    }
    uint64_t features() const { return m_features; }
    bool needs_reset() { return (reg(vio::mmio_reg::kStatus) & vio::kStatusNeedsReset) != 0; }

private:
    struct QueueState {
        uint16_t size, next_desc, avail_idx, used_seen;
    };
    vio::MmioTransport& m_t;
    const memory::GuestMemory& m_mem;
    std::vector<QueueState> m_queues;
    uint64_t m_next_buffer = kBufferArea;
    uint64_t m_features = 0;
};

}  // namespace popek::test
