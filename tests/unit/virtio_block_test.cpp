// virtio-blk (5.2) against a temporary disk image, through the MMIO transport and the fake driver.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "devices/virtio/block.h"
#include "vmm/io_devices.h"
#include "virtio_fake_driver.h"

namespace {

using namespace popek::devices::virtio;
using popek::memory::GuestMemory;
using popek::test::Buf;
using popek::test::FakeDriver;

constexpr uint64_t kDiskSectors = 64;

struct BlockTest : ::testing::Test {
    std::string path;
    GuestMemory mem = *GuestMemory::create(4 << 20);
    std::unique_ptr<MmioTransport> t;
    std::unique_ptr<FakeDriver> drv;
    std::shared_ptr<Block> blk;

    void SetUp() override {
        char tmpl[] = "/tmp/popek-vblk-XXXXXX";
        int fd = ::mkstemp(tmpl);
        ASSERT_GE(fd, 0);
        path = tmpl;
        std::vector<uint8_t> image(kDiskSectors * 512);
        for (size_t i = 0; i < image.size(); ++i) image[i] = static_cast<uint8_t>(i / 512 + i * 7);
        ASSERT_EQ(::write(fd, image.data(), image.size()), static_cast<ssize_t>(image.size()));
        ::close(fd);
    }
    void TearDown() override { ::unlink(path.c_str()); }
    void open(bool read_only) {
        // As popek makes it (vmm/io_devices.cpp): the --disk's host file, then the device.
        auto disk = popek::vmm::open_disk({path, read_only});
        ASSERT_TRUE(disk) << disk.error().message;
        blk = std::make_shared<Block>(std::move(*disk));
        t = std::make_unique<MmioTransport>(blk, mem, nullptr);
        drv = std::make_unique<FakeDriver>(*t, mem);
        drv->init(1);
    }
    std::vector<uint8_t> file_bytes(uint64_t offset, size_t len) {
        std::vector<uint8_t> out(len);
        int fd = ::open(path.c_str(), O_RDONLY);
        EXPECT_EQ(::pread(fd, out.data(), len, static_cast<off_t>(offset)), static_cast<ssize_t>(len));
        ::close(fd);
        return out;
    }
    uint64_t header(uint32_t type, uint64_t sector) {
        BlkReqHeader h{type, 0, sector};
        uint64_t at = drv->alloc(sizeof(h));
        EXPECT_TRUE(mem.write_obj(at, h));
        return at;
    }
    /// Submits one request and returns (status, used length).
    std::pair<uint8_t, uint32_t> submit(std::vector<Buf> bufs) {
        uint64_t status = drv->alloc(1);
        EXPECT_TRUE(mem.write_obj<uint8_t>(status, 0xee));
        bufs.push_back({status, 1, true});
        drv->add_chain(0, bufs);
        drv->kick(0);
        auto used = drv->take_used(0);
        EXPECT_EQ(used.size(), 1u);
        return {*mem.read_obj<uint8_t>(status), used.empty() ? 0 : used[0].len};
    }
};

TEST_F(BlockTest, ConfigAndFeatures) {
    open(false);
    uint8_t cap[8];
    t->read(mmio_reg::kConfig, cap);
    EXPECT_EQ(popek::bus::span_to_u64(cap), kDiskSectors);
    EXPECT_TRUE(drv->features() & feature_bit(kBlkFeatureFlush));
    EXPECT_FALSE(drv->features() & feature_bit(kBlkFeatureRo));
    EXPECT_EQ(drv->reg(mmio_reg::kDeviceId), kDeviceIdBlock);
}

TEST_F(BlockTest, ReadSectors) {
    open(false);
    uint64_t data = drv->alloc(1024);
    auto [status, len] = submit({{header(kBlkTypeIn, 3), 16}, {data, 1024, true}});
    EXPECT_EQ(status, kBlkStatusOk);
    EXPECT_EQ(len, 1025u);
    EXPECT_EQ(drv->bytes(data, 1024), file_bytes(3 * 512, 1024));
}

TEST_F(BlockTest, WriteThenFlush) {
    open(false);
    std::vector<uint8_t> payload(1536);
    for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(0x5a ^ i);
    uint64_t data = drv->alloc_bytes(payload);
    // Data split over two descriptors.
    auto [status, len] = submit({{header(kBlkTypeOut, 10), 16}, {data, 1000}, {data + 1000, 536}});
    EXPECT_EQ(status, kBlkStatusOk);
    EXPECT_EQ(len, 1u);
    EXPECT_EQ(file_bytes(10 * 512, payload.size()), payload);
    EXPECT_EQ(submit({{header(kBlkTypeFlush, 0), 16}}).first, kBlkStatusOk);
}

// FlushMetrics' block figures (docs/metrics.md): requests and bytes by kind, failures apart.
TEST_F(BlockTest, StatsCountRequestsAndBytes) {
    open(false);
    uint64_t data = drv->alloc(1536);
    EXPECT_EQ(submit({{header(kBlkTypeIn, 3), 16}, {data, 1024, true}}).first, kBlkStatusOk);
    EXPECT_EQ(submit({{header(kBlkTypeOut, 10), 16}, {data, 1536}}).first, kBlkStatusOk);
    EXPECT_EQ(submit({{header(kBlkTypeOut, 20), 16}, {data, 512}}).first, kBlkStatusOk);
    EXPECT_EQ(submit({{header(kBlkTypeFlush, 0), 16}}).first, kBlkStatusOk);
    EXPECT_EQ(submit({{header(kBlkTypeIn, kDiskSectors), 16}, {data, 512, true}}).first, kBlkStatusIoErr);
    const Block::Stats s = blk->stats();
    EXPECT_EQ(s.read_count, 1u);
    EXPECT_EQ(s.read_bytes, 1024u);
    EXPECT_EQ(s.write_count, 2u);
    EXPECT_EQ(s.write_bytes, 2048u);
    EXPECT_EQ(s.flush_count, 1u);
    EXPECT_EQ(s.failures, 1u);
}

TEST_F(BlockTest, GetId) {
    open(false);
    uint64_t id = drv->alloc(kBlkIdBytes);
    auto [status, len] = submit({{header(kBlkTypeGetId, 0), 16}, {id, kBlkIdBytes, true}});
    EXPECT_EQ(status, kBlkStatusOk);
    EXPECT_EQ(len, kBlkIdBytes + 1);
    auto bytes = drv->bytes(id, kBlkIdBytes);
    std::string got(bytes.begin(), bytes.end());
    EXPECT_EQ(got.substr(0, 6), "popek:");
    EXPECT_NE(path.find(got.substr(6, 8)), std::string::npos);
}

TEST_F(BlockTest, OutOfBoundsAndMisalignedRequestsFail) {
    open(false);
    uint64_t data = drv->alloc(1024);
    EXPECT_EQ(submit({{header(kBlkTypeIn, kDiskSectors - 1), 16}, {data, 1024, true}}).first, kBlkStatusIoErr);
    EXPECT_EQ(submit({{header(kBlkTypeIn, kDiskSectors), 16}, {data, 512, true}}).first, kBlkStatusIoErr);
    EXPECT_EQ(submit({{header(kBlkTypeIn, ~uint64_t{0}), 16}, {data, 512, true}}).first, kBlkStatusIoErr);
    EXPECT_EQ(submit({{header(kBlkTypeOut, ~uint64_t{0} / 512), 16}, {data, 512}}).first, kBlkStatusIoErr);
    EXPECT_EQ(submit({{header(kBlkTypeIn, 0), 16}, {data, 100, true}}).first, kBlkStatusIoErr);
    // The last sector is still reachable.
    EXPECT_EQ(submit({{header(kBlkTypeIn, kDiskSectors - 1), 16}, {data, 512, true}}).first, kBlkStatusOk);
    EXPECT_FALSE(drv->needs_reset());
}

TEST_F(BlockTest, MalformedRequests) {
    open(false);
    EXPECT_EQ(submit({{header(77, 0), 16}}).first, kBlkStatusUnsupp);
    EXPECT_EQ(submit({{header(kBlkTypeIn, 0), 8}}).first, kBlkStatusIoErr);   // header cut short
    EXPECT_FALSE(drv->needs_reset());
    // No device-writable byte for the status: the driver cannot be told, so the device needs reset.
    drv->add_chain(0, {{header(kBlkTypeIn, 0), 16}});
    drv->kick(0);
    EXPECT_TRUE(drv->needs_reset());
}

TEST_F(BlockTest, ReadOnlyDiskRefusesWrites) {
    open(true);
    EXPECT_TRUE(drv->features() & feature_bit(kBlkFeatureRo));
    auto before = file_bytes(0, 512);
    uint64_t data = drv->alloc_bytes(std::vector<uint8_t>(512, 0x11));
    EXPECT_EQ(submit({{header(kBlkTypeOut, 0), 16}, {data, 512}}).first, kBlkStatusIoErr);
    EXPECT_EQ(file_bytes(0, 512), before);
    uint64_t in = drv->alloc(512);
    EXPECT_EQ(submit({{header(kBlkTypeIn, 0), 16}, {in, 512, true}}).first, kBlkStatusOk);
    EXPECT_EQ(drv->bytes(in, 512), before);
}

TEST_F(BlockTest, WriteZeroesAndDiscard) {
    open(false);
    BlkDiscardSegment seg{4, 2, 0};
    uint64_t s = drv->alloc(sizeof(seg));
    ASSERT_TRUE(mem.write_obj(s, seg));
    EXPECT_EQ(submit({{header(kBlkTypeWriteZeroes, 0), 16}, {s, sizeof(seg)}}).first, kBlkStatusOk);
    EXPECT_EQ(file_bytes(4 * 512, 1024), std::vector<uint8_t>(1024, 0));
    EXPECT_NE(file_bytes(6 * 512, 512), std::vector<uint8_t>(512, 0));
    EXPECT_EQ(submit({{header(kBlkTypeDiscard, 0), 16}, {s, sizeof(seg)}}).first, kBlkStatusOk);
    BlkDiscardSegment bad{kDiskSectors - 1, 2, 0};
    ASSERT_TRUE(mem.write_obj(s, bad));
    EXPECT_EQ(submit({{header(kBlkTypeWriteZeroes, 0), 16}, {s, sizeof(seg)}}).first, kBlkStatusIoErr);
    BlkDiscardSegment flags{0, 1, 0x80};
    ASSERT_TRUE(mem.write_obj(s, flags));
    EXPECT_EQ(submit({{header(kBlkTypeDiscard, 0), 16}, {s, sizeof(seg)}}).first, kBlkStatusUnsupp);
}

TEST_F(BlockTest, IndirectRequest) {
    open(false);
    // Linux puts block requests in indirect tables (2.7.5.3).
    uint64_t table = drv->alloc(48, 16);
    uint64_t data = drv->alloc(512), status = drv->alloc(1);
    ASSERT_TRUE(mem.write_obj(table, VirtqDesc{header(kBlkTypeIn, 1), 16, kDescFlagNext, 1}));
    ASSERT_TRUE(mem.write_obj(table + 16, VirtqDesc{data, 512, kDescFlagNext | kDescFlagWrite, 2}));
    ASSERT_TRUE(mem.write_obj(table + 32, VirtqDesc{status, 1, kDescFlagWrite, 0}));
    drv->write_desc(0, 0, {table, 48, kDescFlagIndirect, 0});
    drv->publish(0, 0);
    drv->kick(0);
    auto used = drv->take_used(0);
    ASSERT_EQ(used.size(), 1u);
    EXPECT_EQ(used[0].len, 513u);
    EXPECT_EQ(*mem.read_obj<uint8_t>(status), kBlkStatusOk);
    EXPECT_EQ(drv->bytes(data, 512), file_bytes(512, 512));
}

TEST(BlockOpen, MissingFileIsAnErrorNamingTheOption) {
    auto disk = popek::vmm::open_disk({"/nonexistent/popek-disk.img", false});
    ASSERT_FALSE(disk);
    EXPECT_EQ(disk.error().message.rfind("--disk: open disk '/nonexistent/popek-disk.img'", 0), 0u)
        << disk.error().message;
    EXPECT_FALSE(popek::vmm::open_disk({"/tmp", true}));   // a directory
}

}  // namespace
