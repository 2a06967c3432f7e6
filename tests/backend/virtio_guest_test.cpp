// A guest driving virtio-blk through popek's MMIO path on every engine: the guest's loads and
// stores become MMIO exits, the transport and the device run for real, the disk file changes.
#include <gmock/gmock.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "popek_process.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;

class VirtioGuestTest : public EngineTest {};

TEST_P(VirtioGuestTest, BlockReadWriteAndOutOfRange) {
    std::string path = ::testing::TempDir() + "popek_virtio_guest_disk_" + engine();
    std::vector<uint8_t> image(8 * 512, 0x11);
    std::memcpy(&image[512], "POPEKVIO", 8);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, image.data(), image.size()), static_cast<ssize_t>(image.size()));
    ::close(fd);

    RUN_GUEST(r, "virtio_blk", {"--disk", path});
    EXPECT_EQ(r.status, 1) << r.err << r.out;
    EXPECT_THAT(r.out, HasSubstr("capacity in sectors: 8\n"));
    EXPECT_EQ(count_lines(r.out, " FAIL"), 0u) << r.out;
    EXPECT_EQ(count_lines(r.out, " PASS"), 18u) << r.out;

    std::vector<uint8_t> sector(512);
    fd = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pread(fd, sector.data(), 512, 1024), 512);
    ::close(fd);
    EXPECT_EQ(std::string(sector.begin(), sector.begin() + 8), "GUESTWR!");
    EXPECT_EQ(std::count(sector.begin() + 8, sector.end(), 0), 504);
    ::unlink(path.c_str());
}

INSTANTIATE_FOR_ENGINES(VirtioGuestTest);

}  // namespace
}  // namespace popek::test
