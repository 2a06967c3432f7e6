// host::BlockFile, the host side of every virtual disk (virtio-blk and the Xen blkif back end).
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "host/block_file.h"

using popek::host::BlockFile;

namespace {

struct TempDisk {
    std::string path;
    explicit TempDisk(size_t bytes, uint8_t fill = 0xab) {
        char tmpl[] = "/tmp/popek-disk-XXXXXX";
        int fd = ::mkstemp(tmpl);
        path = tmpl;
        std::vector<uint8_t> data(bytes, fill);
        EXPECT_EQ(::write(fd, data.data(), bytes), static_cast<ssize_t>(bytes));
        ::close(fd);
    }
    ~TempDisk() { ::unlink(path.c_str()); }
};

TEST(HostBlockFile, OpenErrorsAndBounds) {
    auto missing = BlockFile::open("/nonexistent/disk.img", false);
    ASSERT_FALSE(missing);
    EXPECT_NE(missing.error().message.find("open disk '/nonexistent/disk.img'"), std::string::npos);
    auto dir = BlockFile::open("/tmp", true);
    ASSERT_FALSE(dir);
    EXPECT_NE(dir.error().message.find("not a file or block device"), std::string::npos);
    EXPECT_FALSE(BlockFile::open("/dev/null", true)) << "a character device";
    TempDisk t(4096);
    auto f = BlockFile::open(t.path, false).value();
    EXPECT_EQ(f.sectors(), 8u);
    EXPECT_EQ(f.size_bytes(), 4096u);
    std::vector<uint8_t> b(10);
    EXPECT_FALSE(f.read(4090, b));
    EXPECT_FALSE(f.write(~0ull - 3, b));
    EXPECT_TRUE(f.write(4086, b));
    EXPECT_TRUE(f.flush());
    EXPECT_FALSE(f.discard(4096, 512));
    EXPECT_FALSE(f.write_zeroes(0, 4097));
}

TEST(HostBlockFile, ImagesAreLockedSharedForReadOnlyAndExclusiveForReadWrite) {
    // No lock at all let two writers (or --disk a.img --disk a.img) corrupt one image (issue 19).
    TempDisk t(4096);
    {
        auto writer = BlockFile::open(t.path, false).value();
        auto second_writer = BlockFile::open(t.path, false);
        ASSERT_FALSE(second_writer);
        EXPECT_NE(second_writer.error().message.find("is in use"), std::string::npos) << second_writer.error().message;
        auto reader = BlockFile::open(t.path, true);
        ASSERT_FALSE(reader);
        EXPECT_NE(reader.error().message.find("open read-write"), std::string::npos) << reader.error().message;
    }
    {
        // The writer closed: readers share the image, and keep a writer out.
        auto r1 = BlockFile::open(t.path, true).value();
        auto r2 = BlockFile::open(t.path, true);
        EXPECT_TRUE(r2) << r2.error().message;
        EXPECT_FALSE(BlockFile::open(t.path, false));
    }
    EXPECT_TRUE(BlockFile::open(t.path, false)) << "the lock goes with the last descriptor";
}

TEST(HostBlockFile, AFifoIsRefusedWithoutWaitingForAWriter) {
    char dir[] = "/tmp/popek-disk-fifo-XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    const std::string fifo = std::string(dir) + "/f";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto f = BlockFile::open(fifo, true);  // blocked forever in open(2) without O_NONBLOCK
    ::unlink(fifo.c_str());
    ::rmdir(dir);
    ASSERT_FALSE(f);
    EXPECT_NE(f.error().message.find("not a file or block device"), std::string::npos) << f.error().message;
}

TEST(HostBlockFile, ScatterGatherRoundTrip) {
    TempDisk t(8192);
    auto f = BlockFile::open(t.path, false).value();
    std::vector<uint8_t> a(100, 1), b(412, 2), c(512, 3);
    std::vector<iovec> out = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
    ASSERT_TRUE(f.writev(1024, out));
    std::vector<uint8_t> x(300), y(724);
    ASSERT_TRUE(f.readv(1024, {{x.data(), x.size()}, {y.data(), y.size()}}));
    EXPECT_EQ(x[99], 1);
    EXPECT_EQ(x[100], 2);
    EXPECT_EQ(y[211], 2);
    EXPECT_EQ(y[212], 3);
    EXPECT_EQ(y[723], 3);
    std::vector<uint8_t> big(8193);
    EXPECT_FALSE(f.readv(0, {{big.data(), big.size()}}));
    EXPECT_FALSE(f.writev(8000, {{big.data(), 200}}));
}

TEST(HostBlockFile, DiscardAndWriteZeroesReadBackAsZeros) {
    TempDisk t(1 << 16);
    auto f = BlockFile::open(t.path, false).value();
    ASSERT_TRUE(f.write_zeroes(4096, 8192));
    (void)f.discard(32768, 4096);  // a hint: tmpfs and most file systems punch the hole
    std::vector<uint8_t> d(1 << 16);
    ASSERT_TRUE(f.read(0, d));
    EXPECT_EQ(d[4095], 0xab);
    for (size_t i = 4096; i < 4096 + 8192; ++i) ASSERT_EQ(d[i], 0) << i;
    EXPECT_EQ(d[4096 + 8192], 0xab);
}

TEST(HostBlockFile, ReadOnlyRefusesEveryChange) {
    TempDisk t(4096);
    auto f = BlockFile::open(t.path, true).value();
    std::vector<uint8_t> b(512);
    EXPECT_TRUE(f.readonly());
    EXPECT_TRUE(f.read(0, b));
    EXPECT_FALSE(f.write(0, b));
    EXPECT_FALSE(f.writev(0, {{b.data(), b.size()}}));
    EXPECT_FALSE(f.discard(0, 512));
    EXPECT_FALSE(f.write_zeroes(0, 512));
    EXPECT_TRUE(f.flush());  // nothing to make durable
}

}  // namespace
