// virtio-console (5.3) single port: transmit, receive, emergency write.
#include <gtest/gtest.h>

#include <string>

#include "devices/virtio/console.h"
#include "virtio_fake_driver.h"

namespace {

using namespace popek::devices::virtio;
using popek::memory::GuestMemory;
using popek::test::FakeDriver;

struct ConsoleTest : ::testing::Test {
    GuestMemory mem = *GuestMemory::create(4 << 20);
    std::string out;
    std::shared_ptr<Console> console = std::make_shared<Console>(
        [this](std::span<const uint8_t> b) { out.append(b.begin(), b.end()); });
    MmioTransport t{console, mem, nullptr};
    FakeDriver drv{t, mem};
    std::span<const uint8_t> bytes(const std::string& s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }
};

TEST_F(ConsoleTest, TransmitReachesSink) {
    drv.init(2);
    uint64_t a = drv.alloc_bytes({'h', 'e', 'l'}), b = drv.alloc_bytes({'l', 'o'});
    drv.add_chain(kConsoleTransmitQueue, {{a, 3}, {b, 2}});
    drv.kick(kConsoleTransmitQueue);
    EXPECT_EQ(out, "hello");
    auto used = drv.take_used(kConsoleTransmitQueue);
    ASSERT_EQ(used.size(), 1u);
    EXPECT_EQ(used[0].len, 0u);
}

TEST_F(ConsoleTest, InputFillsReceiveBuffersInOrder) {
    EXPECT_EQ(console->push_input(bytes("lost")), 0u);   // no driver yet
    drv.init(2);
    EXPECT_EQ(console->push_input(bytes("abcdefgh")), 8u);   // no buffers yet: kept
    uint64_t a = drv.alloc(5), b = drv.alloc(16);
    drv.add_chain(kConsoleReceiveQueue, {{a, 5, true}});
    drv.add_chain(kConsoleReceiveQueue, {{b, 16, true}});
    drv.kick(kConsoleReceiveQueue);
    auto used = drv.take_used(kConsoleReceiveQueue);
    ASSERT_EQ(used.size(), 2u);
    EXPECT_EQ(used[0].len, 5u);
    EXPECT_EQ(used[1].len, 3u);
    EXPECT_EQ(drv.bytes(a, 5), (std::vector<uint8_t>{'a', 'b', 'c', 'd', 'e'}));
    EXPECT_EQ(drv.bytes(b, 3), (std::vector<uint8_t>{'f', 'g', 'h'}));
    // Buffers already posted take input at once.
    uint64_t c = drv.alloc(4);
    drv.add_chain(kConsoleReceiveQueue, {{c, 4, true}});
    drv.kick(kConsoleReceiveQueue);
    EXPECT_EQ(console->push_input(bytes("xy")), 2u);
    used = drv.take_used(kConsoleReceiveQueue);
    ASSERT_EQ(used.size(), 1u);
    EXPECT_EQ(used[0].len, 2u);
}

TEST_F(ConsoleTest, InputIsBounded) {
    drv.init(2);
    std::string big(Console::kInputCapacity + 100, 'z');
    EXPECT_EQ(console->push_input(bytes(big)), Console::kInputCapacity);
    EXPECT_EQ(console->push_input(bytes("more")), 0u);
}

TEST_F(ConsoleTest, EmergencyWriteAndConfig) {
    EXPECT_TRUE(drv.offered_features() & feature_bit(kConsoleFeatureEmergWrite));
    uint8_t v[4] = {'!', 0, 0, 0};
    t.write(mmio_reg::kConfig + 8, v);
    EXPECT_EQ(out, "!");
    uint8_t ports[4];
    t.read(mmio_reg::kConfig + 4, ports);
    EXPECT_EQ(popek::bus::span_to_u64(ports), 1u);
}

}  // namespace
