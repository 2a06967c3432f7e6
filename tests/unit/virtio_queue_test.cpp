// virtio::Queue: split virtqueue parsing (2.7) against well-formed and hostile drivers.
#include <gtest/gtest.h>

#include "devices/virtio/queue.h"

namespace {

using namespace popek::devices::virtio;
using popek::memory::GuestMemory;

struct QueueTest : ::testing::Test {
    static constexpr uint64_t kDesc = 0x1000, kAvail = 0x2000, kUsed = 0x3000, kData = 0x10000;
    static constexpr uint16_t kSize = 8;
    GuestMemory mem = *GuestMemory::create(1 << 20);
    Queue q{16};
    uint16_t avail_idx = 0;
    Chain chain;

    void SetUp() override { ASSERT_TRUE(enable(kSize, true, false)); }
    bool enable(uint16_t size, bool indirect, bool event_idx) {
        q.reset();
        q.set_size(size);
        q.set_desc_addr(kDesc);
        q.set_avail_addr(kAvail);
        q.set_used_addr(kUsed);
        return q.enable(mem, indirect, event_idx).has_value();
    }
    void desc(uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next = 0, uint64_t table = kDesc) {
        ASSERT_TRUE(mem.write_obj(table + 16ull * i, VirtqDesc{addr, len, flags, next}));
    }
    void publish(uint16_t head) {
        ASSERT_TRUE(mem.write_obj<uint16_t>(kAvail + 4 + 2ull * (avail_idx % kSize), head));
        ASSERT_TRUE(mem.write_obj<uint16_t>(kAvail + 2, ++avail_idx));
    }
    uint16_t used_idx() { return *mem.read_obj<uint16_t>(kUsed + 2); }
    /// Pops and expects the queue to break.
    void expect_broken() {
        auto r = q.pop(mem, chain);
        EXPECT_FALSE(r.has_value());
        EXPECT_TRUE(q.broken());
        // A broken queue stays broken: no further processing.
        EXPECT_FALSE(q.pop(mem, chain).has_value());
    }
};

TEST_F(QueueTest, EnableChecksSizeAlignmentAndRam) {
    EXPECT_FALSE(enable(0, false, false));
    EXPECT_FALSE(enable(12, false, false));   // not a power of 2
    EXPECT_FALSE(enable(32, false, false));   // above max_size
    q.reset();
    q.set_size(8);
    q.set_desc_addr(kDesc + 8);               // 2.7: 16-byte alignment
    q.set_avail_addr(kAvail);
    q.set_used_addr(kUsed);
    EXPECT_FALSE(q.enable(mem, false, false));
    q.set_desc_addr(kDesc);
    q.set_used_addr(kUsed + 2);                // 4-byte alignment
    EXPECT_FALSE(q.enable(mem, false, false));
    q.set_used_addr((1 << 20) - 8);            // runs past the end of RAM
    EXPECT_FALSE(q.enable(mem, false, false));
    q.set_used_addr(0xC000'0000);              // in the MMIO hole
    EXPECT_FALSE(q.enable(mem, false, false));
    EXPECT_FALSE(q.ready());
    EXPECT_TRUE(enable(16, false, false));
}

TEST_F(QueueTest, PopsReadableThenWritableSegments) {
    EXPECT_FALSE(*q.pop(mem, chain));   // empty
    desc(3, kData, 16, kDescFlagNext, 5);
    desc(5, kData + 0x100, 100, kDescFlagNext | kDescFlagWrite, 6);
    desc(6, kData + 0x200, 1, kDescFlagWrite);
    publish(3);
    ASSERT_TRUE(*q.pop(mem, chain));
    EXPECT_EQ(chain.head, 3);
    EXPECT_EQ(chain.readable.size(), 16u);
    EXPECT_EQ(chain.writable.size(), 101u);
    ASSERT_EQ(chain.writable.list().size(), 2u);
    EXPECT_EQ(chain.writable.list()[1].addr, kData + 0x200);
    EXPECT_FALSE(*q.pop(mem, chain));
    EXPECT_EQ(q.in_flight(), 1);

    ASSERT_TRUE(q.add_used(mem, 3, 101));
    EXPECT_EQ(used_idx(), 1);
    auto elem = *mem.read_obj<VirtqUsedElem>(kUsed + 4);
    EXPECT_EQ(elem.id, 3u);
    EXPECT_EQ(elem.len, 101u);
    EXPECT_EQ(q.in_flight(), 0);
    // Returning more chains than were popped is a device bug caught, not a ring corruption.
    EXPECT_FALSE(q.add_used(mem, 3, 0));
}

TEST_F(QueueTest, AChainReturnedReportsItsWritableBuffersBeforeTheUsedIndexMoves) {
    // The own engine drops code decoded from RAM a device wrote (hv::Vm::device_wrote_ram): the
    // buffers must be reported before a driver polling the used ring can see them completed.
    struct Report {
        uint64_t gpa, len;
        uint16_t used_idx_then;
    };
    std::vector<Report> reports;
    RamWriteReporter reporter = [&](uint64_t gpa, uint64_t len) { reports.push_back({gpa, len, used_idx()}); };
    q.set_ram_write_reporter(&reporter);
    desc(3, kData, 16, kDescFlagNext, 5);
    desc(5, kData + 0x100, 100, kDescFlagNext | kDescFlagWrite, 6);
    desc(6, kData + 0x200, 1, kDescFlagWrite);
    publish(3);
    ASSERT_TRUE(*q.pop(mem, chain));
    ASSERT_TRUE(q.add_used(mem, chain, 101));
    EXPECT_EQ(used_idx(), 1);
    ASSERT_EQ(reports.size(), 4u);
    EXPECT_EQ(reports[0].gpa, kData + 0x100);
    EXPECT_EQ(reports[0].len, 100u);
    EXPECT_EQ(reports[0].used_idx_then, 0) << "reported after the used index published the buffer";
    EXPECT_EQ(reports[1].gpa, kData + 0x200);
    EXPECT_EQ(reports[1].len, 1u);
    EXPECT_EQ(reports[1].used_idx_then, 0);
    EXPECT_EQ(reports[2].gpa, kUsed + 4) << "the used element written";
    EXPECT_EQ(reports[2].len, sizeof(VirtqUsedElem));
    EXPECT_EQ(reports[3].gpa, kUsed + 2) << "the used index written";
    // The device-readable buffer was not written: not reported.
    for (const Report& r : reports) EXPECT_NE(r.gpa, kData);
}

TEST_F(QueueTest, SegmentsCopyAcrossBuffers) {
    desc(0, kData, 3, kDescFlagNext | kDescFlagWrite, 1);
    desc(1, kData + 0x100, 5, kDescFlagWrite);
    publish(0);
    ASSERT_TRUE(*q.pop(mem, chain));
    std::vector<uint8_t> in{1, 2, 3, 4, 5, 6};
    ASSERT_TRUE(chain.writable.write(mem, 1, in));
    EXPECT_EQ(*mem.read_obj<uint8_t>(kData + 1), 1);
    EXPECT_EQ(*mem.read_obj<uint8_t>(kData + 2), 2);
    EXPECT_EQ(*mem.read_obj<uint8_t>(kData + 0x100), 3);
    EXPECT_EQ(*mem.read_obj<uint8_t>(kData + 0x103), 6);
    EXPECT_FALSE(chain.writable.write(mem, 3, in));   // past the end of the chain
    auto iov = chain.writable.iovecs(mem, 2, 4);
    ASSERT_TRUE(iov);
    ASSERT_EQ(iov->size(), 2u);
    EXPECT_EQ(iov->at(0).iov_len, 1u);
    EXPECT_EQ(iov->at(1).iov_len, 3u);
}

TEST_F(QueueTest, LoopIsBrokenNotFollowed) {
    desc(0, kData, 8, kDescFlagNext, 1);
    desc(1, kData, 8, kDescFlagNext, 0);
    publish(0);
    expect_broken();
}

TEST_F(QueueTest, SelfLoopIsBroken) {
    desc(2, kData, 8, kDescFlagNext, 2);
    publish(2);
    expect_broken();
}

TEST_F(QueueTest, NextOutsideTableIsBroken) {
    desc(0, kData, 8, kDescFlagNext, kSize);
    publish(0);
    expect_broken();
}

TEST_F(QueueTest, HeadOutsideTableIsBroken) {
    publish(kSize + 3);
    expect_broken();
}

TEST_F(QueueTest, BufferOutsideRamIsBroken) {
    desc(0, (1 << 20) - 4, 8, 0);   // straddles the end of RAM
    publish(0);
    expect_broken();
}

TEST_F(QueueTest, BufferAddressWrapIsBroken) {
    desc(0, ~uint64_t{0} - 4, 64, kDescFlagWrite);
    publish(0);
    expect_broken();
}

TEST_F(QueueTest, ReadableAfterWritableIsBroken) {
    desc(0, kData, 8, kDescFlagWrite | kDescFlagNext, 1);
    desc(1, kData, 8, 0);
    publish(0);
    expect_broken();
}

TEST_F(QueueTest, AvailIndexJumpIsBroken) {
    desc(0, kData, 8, 0);
    ASSERT_TRUE(mem.write_obj<uint16_t>(kAvail + 2, kSize + 1));
    expect_broken();
}

TEST_F(QueueTest, IndicesStartAtZeroAndWrapAround) {
    // Whatever the used ring held before, an enabled queue starts at 0 (2.7.8).
    ASSERT_TRUE(mem.write_obj<uint16_t>(kUsed + 2, 0x1234));
    ASSERT_TRUE(enable(kSize, false, false));
    desc(0, kData, 8, 0);
    publish(0);
    ASSERT_TRUE(*q.pop(mem, chain));
    ASSERT_TRUE(q.add_used(mem, 0, 0));
    EXPECT_EQ(used_idx(), 1);
    // The 16-bit indices run through 0xffff and on.
    for (int i = 0; i < 0x10002; ++i) {
        publish(0);
        ASSERT_TRUE(*q.pop(mem, chain));
        ASSERT_TRUE(q.add_used(mem, 0, 0));
    }
    EXPECT_EQ(used_idx(), 3);
    EXPECT_EQ(avail_idx, 3);
    EXPECT_FALSE(q.broken());
}

TEST_F(QueueTest, IndirectTableIsFollowed) {
    constexpr uint64_t kTable = 0x8000;
    desc(0, kData, 16, kDescFlagNext, 1, kTable);
    desc(1, kData + 0x100, 512, kDescFlagNext | kDescFlagWrite, 2, kTable);
    desc(2, kData + 0x400, 1, kDescFlagWrite, 0, kTable);
    desc(4, kTable, 3 * 16, kDescFlagIndirect);
    publish(4);
    ASSERT_TRUE(*q.pop(mem, chain));
    EXPECT_EQ(chain.head, 4);
    EXPECT_EQ(chain.readable.size(), 16u);
    EXPECT_EQ(chain.writable.size(), 513u);
}

TEST_F(QueueTest, IndirectWithoutFeatureIsBroken) {
    ASSERT_TRUE(enable(kSize, false, false));
    desc(0, 0x8000, 16, 0, 0, 0x8000);
    desc(1, 0x8000, 16, kDescFlagIndirect);
    publish(1);
    expect_broken();
}

TEST_F(QueueTest, NestedIndirectIsBroken) {
    desc(0, 0x9000, 16, kDescFlagIndirect, 0, 0x8000);
    desc(0, kData, 16, 0, 0, 0x9000);
    desc(1, 0x8000, 16, kDescFlagIndirect);
    publish(1);
    expect_broken();
}

TEST_F(QueueTest, IndirectLengthNotMultipleOf16IsBroken) {
    desc(0, kData, 16, 0, 0, 0x8000);
    desc(1, 0x8000, 20, kDescFlagIndirect);
    publish(1);
    expect_broken();
}

TEST_F(QueueTest, IndirectTableLongerThanQueueIsBroken) {
    desc(1, 0x8000, 16 * (kSize + 1), kDescFlagIndirect);
    publish(1);
    expect_broken();
}

TEST_F(QueueTest, IndirectWithNextIsBroken) {
    desc(0, kData, 16, 0, 0, 0x8000);
    desc(1, 0x8000, 16, kDescFlagIndirect | kDescFlagNext, 2);
    desc(2, kData, 16, 0);
    publish(1);
    expect_broken();
}

TEST_F(QueueTest, IndirectLoopIsBroken) {
    desc(0, kData, 16, kDescFlagNext, 1, 0x8000);
    desc(1, kData, 16, kDescFlagNext, 0, 0x8000);
    desc(1, 0x8000, 32, kDescFlagIndirect);
    publish(1);
    expect_broken();
}

TEST_F(QueueTest, IndirectTableOutsideRamIsBroken) {
    desc(1, (1 << 20) - 16, 32, kDescFlagIndirect);
    publish(1);
    expect_broken();
}

TEST(QueueBig, ChainOver4GiBIsBroken) {
    // Two 3 GiB buffers (the same RAM twice) add up to more than a 32-bit used length can say.
    auto mem = GuestMemory::create(4ull << 30);
    ASSERT_TRUE(mem);
    Queue q{8};
    q.set_size(8);
    q.set_desc_addr(0x1000);
    q.set_avail_addr(0x2000);
    q.set_used_addr(0x3000);
    ASSERT_TRUE(q.enable(*mem, false, false));
    ASSERT_TRUE(mem->write_obj(0x1000, VirtqDesc{0, 0xC000'0000u, kDescFlagNext | kDescFlagWrite, 1}));
    ASSERT_TRUE(mem->write_obj(0x1010, VirtqDesc{0, 0xC000'0000u, kDescFlagWrite, 0}));
    ASSERT_TRUE(mem->write_obj<uint16_t>(0x2004, 0));
    ASSERT_TRUE(mem->write_obj<uint16_t>(0x2002, 1));
    Chain chain;
    EXPECT_FALSE(q.pop(*mem, chain));
    EXPECT_TRUE(q.broken());
}

TEST_F(QueueTest, NoInterruptFlagSuppressesInterrupts) {
    desc(0, kData, 8, 0);
    publish(0);
    ASSERT_TRUE(*q.pop(mem, chain));
    ASSERT_TRUE(q.add_used(mem, 0, 0));
    EXPECT_TRUE(*q.should_interrupt(mem));
    ASSERT_TRUE(mem.write_obj<uint16_t>(kAvail, kAvailFlagNoInterrupt));
    publish(0);
    ASSERT_TRUE(*q.pop(mem, chain));
    ASSERT_TRUE(q.add_used(mem, 0, 0));
    EXPECT_FALSE(*q.should_interrupt(mem));
}

TEST_F(QueueTest, EventIndexDecidesInterrupts) {
    ASSERT_TRUE(enable(kSize, false, true));
    desc(0, kData, 8, 0);
    auto used_one = [&] {
        publish(0);
        EXPECT_TRUE(*q.pop(mem, chain));
        EXPECT_TRUE(q.add_used(mem, 0, 0));
    };
    const uint64_t used_event = kAvail + 4 + 2 * kSize;
    // The driver wants an interrupt once used idx passes 2 (i.e. after entry index 2 is used).
    ASSERT_TRUE(mem.write_obj<uint16_t>(used_event, 2));
    used_one();   // used idx 1
    EXPECT_FALSE(*q.should_interrupt(mem));
    used_one();   // used idx 2
    EXPECT_FALSE(*q.should_interrupt(mem));
    used_one();   // used idx 3: crossed 2
    EXPECT_TRUE(*q.should_interrupt(mem));
    used_one();   // used idx 4: already signalled past the event
    EXPECT_FALSE(*q.should_interrupt(mem));
    // NO_INTERRUPT is ignored with event idx (2.7.7.2 uses used_event only).
    ASSERT_TRUE(mem.write_obj<uint16_t>(kAvail, kAvailFlagNoInterrupt));
    ASSERT_TRUE(mem.write_obj<uint16_t>(used_event, 4));
    used_one();
    EXPECT_TRUE(*q.should_interrupt(mem));
}

TEST_F(QueueTest, EventIndexPublishesAvailEvent) {
    ASSERT_TRUE(enable(kSize, false, true));
    const uint64_t avail_event = kUsed + 4 + 8 * kSize;
    desc(0, kData, 8, 0);
    publish(0);
    publish(0);
    ASSERT_TRUE(*q.pop(mem, chain));
    ASSERT_TRUE(*q.pop(mem, chain));
    EXPECT_FALSE(*q.pop(mem, chain));
    // The ring ran empty: the device asks to be kicked for the next entry (2.7.10).
    EXPECT_EQ(*mem.read_obj<uint16_t>(avail_event), 2);
}

}  // namespace
