// virtio-mmio transport (4.2.2) driven by the fake driver, with the entropy device behind it.
#include <gtest/gtest.h>

#include "devices/virtio/entropy.h"
#include "virtio_fake_driver.h"

namespace {

using namespace popek::devices::virtio;
using popek::memory::GuestMemory;
using popek::test::Buf;
using popek::test::FakeDriver;

struct MmioTest : ::testing::Test {
    GuestMemory mem = *GuestMemory::create(4 << 20);
    std::vector<bool> irq;
    MmioTransport t{std::make_shared<Entropy>(), mem, [this](bool level) { irq.push_back(level); }};
    FakeDriver drv{t, mem};
    bool line() const { return !irq.empty() && irq.back(); }
};

TEST_F(MmioTest, IdentityRegisters) {
    EXPECT_EQ(drv.reg(mmio_reg::kMagicValue), 0x74726976u);
    EXPECT_EQ(drv.reg(mmio_reg::kVersion), 2u);
    EXPECT_EQ(drv.reg(mmio_reg::kDeviceId), kDeviceIdEntropy);
    EXPECT_EQ(drv.reg(mmio_reg::kVendorId), kPopekVendorId);
    EXPECT_EQ(drv.reg(mmio_reg::kShmLenLow), 0xffffffffu);
    uint64_t f = drv.offered_features();
    EXPECT_TRUE(f & feature_bit(kFeatureVersion1));
    EXPECT_TRUE(f & feature_bit(kFeatureIndirectDesc));
    EXPECT_TRUE(f & feature_bit(kFeatureEventIdx));
    drv.set_reg(mmio_reg::kQueueSel, 0);
    EXPECT_EQ(drv.reg(mmio_reg::kQueueNumMax), 256u);
    drv.set_reg(mmio_reg::kQueueSel, 1);   // the entropy device has one queue
    EXPECT_EQ(drv.reg(mmio_reg::kQueueNumMax), 0u);
}

TEST_F(MmioTest, OddSizedRegisterAccessesAreHarmless) {
    uint8_t b2[2] = {0xaa, 0xaa};
    t.read(mmio_reg::kMagicValue, b2);
    EXPECT_EQ(b2[0], 0);
    t.read(mmio_reg::kMagicValue + 1, std::span<uint8_t>(b2, 1));
    EXPECT_EQ(b2[0], 0);
    uint8_t v = 0xff;
    t.write(mmio_reg::kStatus, std::span<const uint8_t>(&v, 1));
    EXPECT_EQ(drv.reg(mmio_reg::kStatus), 0u);
}

TEST_F(MmioTest, FeaturesOkNeedsVersion1) {
    drv.set_reg(mmio_reg::kStatus, kStatusAcknowledge | kStatusDriver);
    drv.write_features(drv.offered_features() & ~feature_bit(kFeatureVersion1));
    drv.set_reg(mmio_reg::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    EXPECT_FALSE(drv.reg(mmio_reg::kStatus) & kStatusFeaturesOk);
    // DRIVER_OK without FEATURES_OK is refused as well.
    drv.set_reg(mmio_reg::kStatus, kStatusAcknowledge | kStatusDriver | kStatusDriverOk);
    EXPECT_FALSE(drv.reg(mmio_reg::kStatus) & kStatusDriverOk);
}

TEST_F(MmioTest, FeaturesOkRefusesUnofferedFeatures) {
    drv.set_reg(mmio_reg::kStatus, kStatusAcknowledge | kStatusDriver);
    drv.write_features(drv.offered_features() | feature_bit(40));
    drv.set_reg(mmio_reg::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    EXPECT_FALSE(drv.reg(mmio_reg::kStatus) & kStatusFeaturesOk);
}

TEST_F(MmioTest, FeaturesAreFrozenAfterFeaturesOk) {
    drv.init(1);
    // Dropping VERSION_1 after FEATURES_OK must not take effect.
    drv.write_features(0);
    drv.set_reg(mmio_reg::kStatus, 0x0f);
    uint64_t buf = drv.alloc(32);
    drv.add_chain(0, {{buf, 32, true}});
    drv.kick(0);
    EXPECT_EQ(drv.take_used(0).size(), 1u);
}

TEST_F(MmioTest, QueueReadyRejectsBadSetup) {
    drv.set_reg(mmio_reg::kStatus, kStatusAcknowledge | kStatusDriver);
    drv.write_features(drv.offered_features());
    drv.set_reg(mmio_reg::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    EXPECT_FALSE(drv.setup_queue(0, 3));     // not a power of 2
    EXPECT_FALSE(drv.setup_queue(0, 512));   // above QueueNumMax
    EXPECT_TRUE(drv.setup_queue(0, 16));
    // Configuration written while the queue is ready is ignored.
    drv.set_reg(mmio_reg::kQueueDescLow, 0x12345);
    drv.set_reg(mmio_reg::kQueueReady, 0);
    drv.set_reg(mmio_reg::kQueueReady, 1);
    EXPECT_EQ(drv.reg(mmio_reg::kQueueReady), 1u);
}

TEST_F(MmioTest, RandomBytesAndInterruptAck) {
    drv.init(1);
    ASSERT_EQ(drv.reg(mmio_reg::kStatus), 0x0fu);
    uint64_t a = drv.alloc(64), b = drv.alloc(100);
    uint16_t head = drv.add_chain(0, {{a, 64, true}, {b, 100, true}});
    EXPECT_TRUE(irq.empty());
    drv.kick(0);
    auto used = drv.take_used(0);
    ASSERT_EQ(used.size(), 1u);
    EXPECT_EQ(used[0].id, head);
    EXPECT_EQ(used[0].len, 164u);
    auto bytes = drv.bytes(a, 64);
    EXPECT_NE(bytes, std::vector<uint8_t>(64, 0));   // 2^-512 chance of a false failure
    EXPECT_TRUE(line());
    EXPECT_EQ(drv.reg(mmio_reg::kInterruptStatus), kInterruptUsedBuffer);
    drv.set_reg(mmio_reg::kInterruptAck, kInterruptUsedBuffer);
    EXPECT_EQ(drv.reg(mmio_reg::kInterruptStatus), 0u);
    EXPECT_FALSE(line());
}

TEST_F(MmioTest, NotifyBeforeDriverOkOrForMissingQueueIsIgnored) {
    drv.set_reg(mmio_reg::kStatus, kStatusAcknowledge | kStatusDriver);
    drv.write_features(drv.offered_features());
    drv.set_reg(mmio_reg::kStatus, kStatusAcknowledge | kStatusDriver | kStatusFeaturesOk);
    ASSERT_TRUE(drv.setup_queue(0, 16));
    uint64_t a = drv.alloc(8);
    drv.add_chain(0, {{a, 8, true}});
    drv.kick(0);
    EXPECT_EQ(drv.used_idx(0), 0);
    drv.kick(7);
    drv.kick(0xffffffff);
    EXPECT_EQ(drv.used_idx(0), 0);
    drv.set_reg(mmio_reg::kStatus, 0x0f);
    drv.kick(0);
    EXPECT_EQ(drv.used_idx(0), 1);
}

TEST_F(MmioTest, HostileChainSetsNeedsResetUntilReset) {
    drv.init(1);
    drv.write_desc(0, 0, {0x1000, 8, kDescFlagNext | kDescFlagWrite, 0});   // self loop
    drv.publish(0, 0);
    drv.kick(0);
    EXPECT_TRUE(drv.needs_reset());
    EXPECT_TRUE(drv.reg(mmio_reg::kInterruptStatus) & kInterruptConfigChange);
    EXPECT_EQ(drv.reg(mmio_reg::kConfigGeneration), 1u);
    EXPECT_TRUE(line());
    // Nothing is processed any more, even a good chain.
    uint64_t a = drv.alloc(8);
    drv.add_chain(0, {{a, 8, true}});
    drv.kick(0);
    EXPECT_EQ(drv.used_idx(0), 0);
    // Reset (status 0) clears everything and lowers the line; the device works again.
    drv.set_reg(mmio_reg::kStatus, 0);
    EXPECT_EQ(drv.reg(mmio_reg::kStatus), 0u);
    EXPECT_EQ(drv.reg(mmio_reg::kInterruptStatus), 0u);
    EXPECT_FALSE(line());
    EXPECT_EQ(drv.reg(mmio_reg::kQueueReady), 0u);
    popek::test::FakeDriver fresh{t, mem};
    fresh.init(1);
    fresh.add_chain(0, {{a, 8, true}});
    fresh.kick(0);
    EXPECT_EQ(fresh.take_used(0).size(), 1u);
    EXPECT_FALSE(fresh.needs_reset());
}

TEST_F(MmioTest, EventIdxSuppressesInterrupt) {
    drv.init(1);
    ASSERT_TRUE(drv.features() & feature_bit(kFeatureEventIdx));
    drv.set_used_event(0, 5);   // interrupt only after the 6th buffer
    uint64_t a = drv.alloc(8);
    drv.add_chain(0, {{a, 8, true}});
    drv.kick(0);
    EXPECT_EQ(drv.used_idx(0), 1);
    EXPECT_FALSE(line());
    EXPECT_EQ(drv.avail_event(0), 1);
}

TEST_F(MmioTest, ConfigSpaceReadsZeroPastItsEnd) {
    uint8_t b[4] = {1, 1, 1, 1};
    t.read(0x100, b);
    EXPECT_EQ(popek::bus::span_to_u64(b), 0u);
    t.read(0xffc, b);
    EXPECT_EQ(popek::bus::span_to_u64(b), 0u);
}

}  // namespace
