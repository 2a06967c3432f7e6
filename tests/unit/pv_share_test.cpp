// pv::ShareDir and pv::ShareBackend on the host: the path rules, the confinement of openat2 (also
// for paths check_path lets through), and a popekfs ring whose front end pushes its index past the
// ring (shut, nothing answered). The full protocol runs in a guest: tests/backend/xen_share_test.cpp.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "pv/backends/share_backend.h"

using namespace popek;
using namespace popek::pv;
namespace fs = std::filesystem;

namespace {

struct ShareFixture : ::testing::Test {
    fs::path root;
    void SetUp() override {
        char tmpl[] = "/tmp/popek-share-unit-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root = tmpl;
        fs::create_directories(root / "share" / "sub");
        std::ofstream(root / "share" / "f") << "inside";
        std::ofstream(root / "outside") << "outside";
        fs::create_symlink("f", root / "share" / "link-inside");
    }
    void TearDown() override { fs::remove_all(root); }
};

TEST(ShareDirPaths, Rules) {
    EXPECT_TRUE(ShareDir::check_path(""));
    EXPECT_TRUE(ShareDir::check_path("a/b/c.txt"));
    EXPECT_TRUE(ShareDir::check_path("a/./b//c"));
    EXPECT_TRUE(ShareDir::check_path("...x/..y"));  // names that merely start with dots
    EXPECT_EQ(ShareDir::check_path("/etc/passwd").error(), EACCES);
    EXPECT_EQ(ShareDir::check_path("..").error(), EACCES);
    EXPECT_EQ(ShareDir::check_path("a/..").error(), EACCES);
    EXPECT_EQ(ShareDir::check_path("a/../../b").error(), EACCES);
    EXPECT_EQ(ShareDir::check_path(std::string_view("a\0b", 3)).error(), EINVAL);
    EXPECT_EQ(ShareDir::check_path(std::string(POPEKFS_PATH_MAX + 1, 'a')).error(), ENAMETOOLONG);
    EXPECT_EQ(ShareDir::check_path(std::string(POPEKFS_NAME_MAX + 1, 'a')).error(), ENAMETOOLONG);
    EXPECT_TRUE(ShareDir::check_path(std::string(POPEKFS_NAME_MAX, 'a')));
}

TEST_F(ShareFixture, OpenNeedsADirectory) {
    EXPECT_FALSE(ShareDir::open((root / "missing").string(), false));
    auto file = ShareDir::open((root / "outside").string(), false);
    ASSERT_FALSE(file);
    EXPECT_NE(file.error().message.find("outside"), std::string::npos);
    EXPECT_TRUE(ShareDir::open((root / "share").string(), false));
}

TEST_F(ShareFixture, SymlinksAreRefusedEvenInsideAndTypesListed) {
    auto dir = ShareDir::open((root / "share").string(), false).value();
    EXPECT_TRUE(dir.open_file("f", POPEKFS_O_READ));
    EXPECT_EQ(dir.open_file("link-inside", POPEKFS_O_READ).error(), ELOOP);
    EXPECT_EQ(dir.stat("link-inside").error(), ELOOP);
    auto sub = dir.open_file("sub", POPEKFS_O_DIRECTORY).value();
    auto top = dir.open_file("", POPEKFS_O_DIRECTORY).value();
    auto entries = ShareDir::list(top.get()).value();
    ASSERT_EQ(entries.size(), 3u);
    EXPECT_EQ(entries[0].name, "f");
    EXPECT_EQ(entries[0].type, POPEKFS_TYPE_FILE);
    EXPECT_EQ(entries[1].name, "link-inside");
    EXPECT_EQ(entries[1].type, POPEKFS_TYPE_OTHER);
    EXPECT_EQ(entries[2].name, "sub");
    EXPECT_EQ(entries[2].type, POPEKFS_TYPE_DIRECTORY);
    EXPECT_TRUE(ShareDir::list(sub.get()).value().empty());
}

TEST_F(ShareFixture, ReadOnlyShareRefusesEveryModification) {
    auto dir = ShareDir::open((root / "share").string(), true).value();
    EXPECT_TRUE(dir.open_file("f", POPEKFS_O_READ));
    EXPECT_EQ(dir.open_file("f", POPEKFS_O_WRITE).error(), EROFS);
    EXPECT_EQ(dir.open_file("g", POPEKFS_O_READ | POPEKFS_O_CREATE).error(), EROFS);
    EXPECT_EQ(dir.mkdir("d").error(), EROFS);
    EXPECT_EQ(dir.unlink("f", false).error(), EROFS);
    EXPECT_TRUE(fs::exists(root / "share" / "f"));
    EXPECT_FALSE(fs::exists(root / "share" / "g"));
}

TEST_F(ShareFixture, RingIndexPastTheRingShutsIt) {
    auto dir = ShareDir::open((root / "share").string(), false).value();
    auto mem = memory::GuestMemory::create(64 * 4096).value();
    GrantTable grants(mem, 1);
    std::span<uint8_t> ring(mem.host_ptr(0x10 << 12, 4096), 4096);
    auto* sring = reinterpret_cast<popekfs_sring*>(ring.data());
    SHARED_RING_INIT(sring);
    sring->req_prod = 1000;  // 32 slots
    ShareBackend be(grants, 0, dir, ring);
    auto out = be.process();
    EXPECT_TRUE(be.shut());
    EXPECT_FALSE(out.notify);
    EXPECT_EQ(sring->rsp_prod, 0u);
    EXPECT_EQ(be.stats().requests, 0u);
}

}  // namespace
