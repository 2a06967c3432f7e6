// Disk images are locked (issue 19): the same image given twice, or opened read-write by another
// process, is refused with one line and status 2 before the guest runs; read-only users share it.
// The refusals need no engine: the disks are opened before any vCPU runs (interp, the demo guest).
#include <gmock/gmock.h>

#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "host/block_file.h"
#include "popek_process.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;

struct DiskLockTest : ::testing::Test {
    std::string dir, image;
    void SetUp() override {
        char tmpl[] = "/tmp/popek-disk-lock-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir = tmpl;
        image = dir + "/a.img";
        ASSERT_EQ(::close(::creat(image.c_str(), 0600)), 0);
        ASSERT_EQ(::truncate(image.c_str(), 1 << 20), 0);
    }
    void TearDown() override {
        ::unlink(image.c_str());
        ::rmdir(dir.c_str());
    }
    static void expect_refused(const RunResult& r, std::string_view reason) {
        EXPECT_FALSE(r.timed_out);
        EXPECT_EQ(r.status, 2) << r.err;
        EXPECT_EQ(count_lines(r.err, ""), 1u) << r.err;
        EXPECT_THAT(r.err, HasSubstr(std::string(reason)));
    }
};

TEST_F(DiskLockTest, TheSameImageTwiceIsRefusedUnlessBothAreReadOnly) {
    expect_refused(run_popek({"run", "--accel", "interp", "--disk", image, "--disk", image}), "is in use");
    expect_refused(run_popek({"run", "--accel", "interp", "--disk", image + ",ro", "--disk", image}), "is in use");
    // The Xen vbd and the driver domain's disk are opened by the same code (vmm::open_disk).
    expect_refused(run_popek({"run", "--accel", "interp", "--xen", "--disk", image, "--disk", image}), "is in use");
    expect_refused(run_popek({"run", "--accel", "interp", "--xen", "--driver-domain", "--disk", image, "--disk", image}),
                   "is in use");
    // Two read-only users share it: the demo guest boots and resets (status 0).
    auto shared = run_popek({"run", "--accel", "interp", "--disk", image + ",ro", "--disk", image + ",ro"});
    EXPECT_EQ(shared.status, 0) << shared.err;
}

TEST_F(DiskLockTest, AnImageAnotherProcessWritesIsRefused) {
    {
        auto writer = host::BlockFile::open(image, false);  // this process plays the other popek
        ASSERT_TRUE(writer) << writer.error().message;
        expect_refused(run_popek({"run", "--accel", "interp", "--disk", image + ",ro"}), "open read-write");
        expect_refused(run_popek({"run", "--accel", "interp", "--disk", image}), "is in use");
    }
    auto after = run_popek({"run", "--accel", "interp", "--disk", image});
    EXPECT_EQ(after.status, 0) << "the lock ends with its holder: " << after.err;
}

TEST_F(DiskLockTest, DisksThatAreNotWholeSectorsOrNotFilesAreRefused) {
    ASSERT_EQ(::truncate(image.c_str(), 1000), 0);
    expect_refused(run_popek({"run", "--accel", "interp", "--disk", image}), "not a whole number of 512-byte sectors");
    const std::string fifo = dir + "/fifo";
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    // A read-only FIFO blocked popek in open(2) for ever.
    auto r = run_popek({"run", "--accel", "interp", "--disk", fifo + ",ro"}, {}, std::chrono::seconds(10));
    ::unlink(fifo.c_str());
    expect_refused(r, "not a file or block device");
}

}  // namespace
}  // namespace popek::test
