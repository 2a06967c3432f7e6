// `--disk FILE[,ro]` with --xen: the vbd back end (pv::VbdDevice) driven by a blkif front end
// written against io/blkif.h (tests/guests/xen/xen_blkif.c). What the guest wrote and flushed must
// be in the host file after popek exits; a read-only disk refuses writes and stays unchanged.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "xen_guest.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;

constexpr size_t kSector = 512;

/// The guest's pattern: byte i of sector s (tests/guests/xen/xen_blkif.c).
uint8_t pattern(uint64_t sector, uint32_t i) { return static_cast<uint8_t>(sector * 13 + i * 7 + 0x5a); }

class TempDisk {
public:
    TempDisk(size_t size, std::string_view head = {}) {
        char name[] = "/tmp/popek-xen-disk-XXXXXX";
        int fd = ::mkstemp(name);
        EXPECT_GE(fd, 0);
        m_path = name;
        EXPECT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
        if (!head.empty()) {
            EXPECT_EQ(::pwrite(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
        }
        ::close(fd);
    }
    ~TempDisk() { ::unlink(m_path.c_str()); }
    const std::string& path() const { return m_path; }
    std::vector<uint8_t> contents() const {
        std::ifstream in(m_path, std::ios::binary);
        return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    }

private:
    std::string m_path;
};

class XenBlkifTest : public XenGuestTest {
protected:
    void writes_are_durable(std::vector<std::string> extra);
    void read_only_refuses_writes(std::vector<std::string> extra);
};

void XenBlkifTest::writes_are_durable(std::vector<std::string> extra) {
    TempDisk disk(1 << 20);
    extra.insert(extra.begin(), {"--disk", disk.path()});
    RUN_XEN(r, "xen_blkif", extra);
    expect_all_passed(r);
    EXPECT_THAT(r.out, HasSubstr("blkif: connected, 2048 sectors, mode w"));
    EXPECT_THAT(r.out, HasSubstr("err.ungranted-ref                got=-1 want=-1 PASS"));
    EXPECT_THAT(r.out, HasSubstr("err.read-into-readonly-grant     got=-1 want=-1 PASS"));

    // After exit, the host file holds what the guest wrote and flushed.
    auto bytes = disk.contents();
    ASSERT_EQ(bytes.size(), size_t{1} << 20);
    size_t wrong = 0;
    for (uint64_t s = 16; s < 40; ++s)
        for (uint32_t i = 0; i < kSector; ++i) wrong += bytes[s * kSector + i] != pattern(s, i);
    EXPECT_EQ(wrong, 0u) << "bytes of sectors 16..39 differ from the guest's pattern";
    for (uint64_t s : {65, 66})
        for (uint32_t i = 0; i < kSector; ++i) ASSERT_EQ(bytes[s * kSector + i], 0xee) << "sector " << s;
    for (uint64_t s : {0, 15, 40, 64, 67})
        for (uint32_t i = 0; i < kSector; ++i) ASSERT_EQ(bytes[s * kSector + i], 0) << "sector " << s;
}

void XenBlkifTest::read_only_refuses_writes(std::vector<std::string> extra) {
    const std::string head = "popek read-only disk";
    TempDisk disk(64 * 1024, head + std::string(1, '\0'));
    auto before = disk.contents();
    extra.insert(extra.begin(), {"--disk", disk.path() + ",ro"});
    RUN_XEN(r, "xen_blkif", extra);
    expect_all_passed(r);
    EXPECT_THAT(r.out, HasSubstr("blkif: connected, 128 sectors, mode r"));
    EXPECT_THAT(r.out, HasSubstr("blkif: sector 0 says '" + head + "'"));
    EXPECT_THAT(r.out, HasSubstr("ro.write-refused                 got=-1 want=-1 PASS"));
    EXPECT_EQ(disk.contents(), before);
}

TEST_P(XenBlkifTest, WritesAreDurableAndReadBack) { writes_are_durable({}); }
TEST_P(XenBlkifTest, ReadOnlyDiskRefusesWrites) { read_only_refuses_writes({}); }

// The same guest with the back end in a driver domain process (`popek backend`, domain 2): the
// guest learns backend-id 2 from the store and grants its ring and pages to domain 2.
TEST_P(XenBlkifTest, DriverDomainWritesAreDurableAndReadBack) { writes_are_durable({"--driver-domain"}); }
TEST_P(XenBlkifTest, DriverDomainReadOnlyDiskRefusesWrites) { read_only_refuses_writes({"--driver-domain"}); }

TEST_P(XenBlkifTest, DriverDomainNeedsXen) {
    TempDisk disk(64 * 1024);
    auto r = run_popek({"run", "--accel", std::string(engine()), "--driver-domain", "--disk", disk.path(),
                        "--kernel", guest_elf("xen_blkif")});
    EXPECT_EQ(r.status, 2);
    EXPECT_THAT(r.err, HasSubstr("--driver-domain needs --xen"));
}

TEST_P(XenBlkifTest, MissingDiskFileIsAnError) {
    RUN_XEN(r, "xen_blkif", {"--disk", "/nonexistent/popek-disk.img"});
    EXPECT_NE(r.status, 0);
    EXPECT_THAT(r.err, HasSubstr("/nonexistent/popek-disk.img"));
}

TEST_P(XenBlkifTest, NoDiskMeansNoVbd) {
    RUN_XEN(r, "xen_blkif");
    EXPECT_THAT(r.out, HasSubstr("blkif.connect                    got=-2 want=0 FAIL"));
    EXPECT_NE(r.status, 0);
}

INSTANTIATE_FOR_ENGINES(XenBlkifTest);

}  // namespace
}  // namespace popek::test
