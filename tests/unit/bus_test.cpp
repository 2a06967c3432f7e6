// Bus: overlap-rejecting insert and offset-based dispatch.
#include <gtest/gtest.h>

#include <vector>

#include "bus/bus.h"

namespace {

using popek::bus::Bus;

/// Records every access it gets.
struct Recorder final : popek::bus::Device {
    struct Access { bool write; uint64_t offset; size_t size; uint64_t value; };
    std::vector<Access> log;
    std::string_view name() const override { return "recorder"; }
    void read(uint64_t offset, std::span<uint8_t> data) override {
        log.push_back({false, offset, data.size(), 0});
        popek::bus::u64_to_span(0x0102030405060708ull, data);
    }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        log.push_back({true, offset, data.size(), popek::bus::span_to_u64(data)});
    }
};

}  // namespace

TEST(Bus, RejectsEmptyWrappingAndOverlappingRanges) {
    Bus bus;
    auto d = std::make_shared<Recorder>();
    EXPECT_FALSE(bus.insert({0x100, 0}, d));
    EXPECT_FALSE(bus.insert({~uint64_t{0} - 1, 4}, d));
    EXPECT_FALSE(bus.insert({0x100, 8}, nullptr));
    ASSERT_TRUE(bus.insert({0x100, 0x10}, d));
    EXPECT_FALSE(bus.insert({0x100, 1}, d)) << "same base";
    EXPECT_FALSE(bus.insert({0x10f, 1}, d)) << "last byte";
    EXPECT_FALSE(bus.insert({0xf0, 0x11}, d)) << "reaches into it from below";
    EXPECT_FALSE(bus.insert({0x80, 0x100}, d)) << "covers it";
    EXPECT_TRUE(bus.insert({0x110, 1}, d)) << "adjacent above";
    EXPECT_TRUE(bus.insert({0xff, 1}, d)) << "adjacent below";
    EXPECT_EQ(bus.device_count(), 3u);
}

TEST(Bus, DispatchesWithOffsetsAndSizes) {
    Bus bus;
    auto d = std::make_shared<Recorder>();
    ASSERT_TRUE(bus.insert({0x3f8, 8}, d));
    for (size_t size : {1u, 2u, 4u, 8u}) {
        std::vector<uint8_t> buf(size);
        EXPECT_TRUE(bus.read(0x3f8, buf));
        EXPECT_EQ(buf[0], 0x08);
        std::vector<uint8_t> w(size, 0x5a);
        EXPECT_TRUE(bus.write(0x3f8, w));
    }
    uint8_t b = 0x42;
    EXPECT_TRUE(bus.write(0x3fd, std::span<const uint8_t>(&b, 1)));
    ASSERT_FALSE(d->log.empty());
    EXPECT_EQ(d->log.back().offset, 5u) << "devices see offsets, not absolute addresses";
    EXPECT_EQ(d->log.back().value, 0x42u);
}

TEST(Bus, UnclaimedAndStraddlingAccesses) {
    Bus bus;
    auto d = std::make_shared<Recorder>();
    ASSERT_TRUE(bus.insert({0x1000, 4}, d));
    uint8_t buf[4] = {0, 0, 0, 0};
    EXPECT_FALSE(bus.read(0x2000, buf));
    EXPECT_EQ(buf[0], 0xff) << "unclaimed reads return all ones";
    EXPECT_FALSE(bus.read(0x1002, buf)) << "an access straddling the device's end goes nowhere";
    EXPECT_FALSE(bus.write(0xfff, buf));
    EXPECT_TRUE(d->log.empty());
}
