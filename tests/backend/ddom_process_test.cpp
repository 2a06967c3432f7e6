// The driver domain process for real: this test plays the VMM (guest RAM, grant table, the
// ddom::RemoteBlkif proxy) and starts build/popek's `backend` subcommand. The child serves blkif
// requests through grant copies only: pages granted to driver domain 2 work, anything else is
// refused; it holds no mapping or descriptor of guest RAM, runs under seccomp with no new
// privileges, as nobody when started by root; malformed messages do not kill it; its death is a
// failure the proxy reports, not a crash.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>

#include "ddom/ddom_wire.h"
#include "ddom/remote_blkif.h"
#include "ddom/seqpacket.h"

using namespace popek;
using namespace popek::ddom;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

constexpr pv::DomId kGuest = 1;
constexpr uint64_t kTablePfn = 0x10, kDataPfn = 0x20, kSecretPfn = 0x21;
constexpr uint64_t kDiskBytes = 64 * 512;

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string fd_targets(pid_t pid) {
    std::string out;
    std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return "(cannot list " + dir + ")";
    while (dirent* e = ::readdir(d)) {
        char target[256] = {};
        if (::readlinkat(::dirfd(d), e->d_name, target, sizeof target - 1) > 0) out += std::string(target) + "\n";
    }
    ::closedir(d);
    return out;
}

struct DriverDomainProcess : ::testing::Test {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    pv::GrantTable grants{mem, kGuest};
    std::string disk_path;
    std::optional<host::BlockFile> disk;
    std::unique_ptr<RemoteBlkif> proxy;
    uint64_t next_id = 1;

    grant_entry_v1_t* table() { return reinterpret_cast<grant_entry_v1_t*>(mem.host_ptr(kTablePfn << 12, 4096)); }
    uint8_t* page(uint64_t pfn) { return mem.host_ptr(pfn << 12, 4096); }

    void SetUp() override {
        char tmpl[] = "/tmp/popek-ddom-XXXXXX";
        int fd = ::mkstemp(tmpl);
        ASSERT_GE(fd, 0);
        disk_path = tmpl;
        ASSERT_EQ(::ftruncate(fd, kDiskBytes), 0);
        ::close(fd);
        disk = host::BlockFile::open(disk_path, false).value();
        ASSERT_TRUE(grants.place_frame(0, kTablePfn));
        std::memset(page(kSecretPfn), 0x5e, 4096);
        table()[3] = {GTF_permit_access, kDriverDomain, kDataPfn};
        table()[4] = {GTF_permit_access, 0, kSecretPfn};                          // granted to dom0
        table()[5] = {GTF_permit_access | GTF_readonly, kDriverDomain, kSecretPfn};
        auto p = RemoteBlkif::spawn(grants, kDriverDomain, disk->fd(), false, POPEK_BINARY);
        ASSERT_TRUE(p) << p.error().message;
        proxy = std::move(*p);
    }
    void TearDown() override {
        proxy.reset();
        ::unlink(disk_path.c_str());
    }
    int16_t rw(uint8_t op, uint64_t sector, grant_ref_t ref, uint8_t first = 0, uint8_t last = 7) {
        blkif_request_t r{};
        r.operation = op;
        r.id = next_id++;
        r.sector_number = sector;
        r.nr_segments = 1;
        r.seg[0] = {ref, first, last};
        auto rsp = proxy->execute(r);
        EXPECT_TRUE(rsp) << proxy->failure().value_or("");
        if (!rsp) return -100;
        EXPECT_EQ(rsp->id, r.id);
        return rsp->status;
    }
    std::string proc(const char* what) { return slurp("/proc/" + std::to_string(proxy->pid()) + "/" + what); }
};

}  // namespace

TEST_F(DriverDomainProcess, ServesGrantedPagesOnly) {
    for (uint32_t i = 0; i < 4096; ++i) page(kDataPfn)[i] = static_cast<uint8_t>(i * 7 + 1);
    ASSERT_EQ(rw(BLKIF_OP_WRITE, 8, 3), BLKIF_RSP_OKAY);
    std::vector<uint8_t> file(4096);
    ASSERT_TRUE(disk->read(8 * 512, file));
    EXPECT_EQ(std::memcmp(file.data(), page(kDataPfn), 4096), 0);

    std::memset(page(kDataPfn), 0, 4096);
    ASSERT_EQ(rw(BLKIF_OP_READ, 8, 3, 1, 2), BLKIF_RSP_OKAY);  // sectors 1..2 of the page
    EXPECT_EQ(std::memcmp(page(kDataPfn) + 512, file.data(), 1024), 0);
    EXPECT_EQ(page(kDataPfn)[0], 0);

    // Not granted, granted to dom0, past the table, read-only for a read: refused, nothing moves.
    EXPECT_EQ(rw(BLKIF_OP_WRITE, 0, 6), BLKIF_RSP_ERROR);
    EXPECT_EQ(rw(BLKIF_OP_WRITE, 0, 4), BLKIF_RSP_ERROR);
    EXPECT_EQ(rw(BLKIF_OP_WRITE, 0, 100000), BLKIF_RSP_ERROR);
    EXPECT_EQ(rw(BLKIF_OP_READ, 0, 4), BLKIF_RSP_ERROR);
    EXPECT_EQ(rw(BLKIF_OP_READ, 0, 5), BLKIF_RSP_ERROR);
    std::vector<uint8_t> head(512);
    ASSERT_TRUE(disk->read(0, head));
    EXPECT_EQ(head, std::vector<uint8_t>(512, 0)) << "a refused write reached the disk";
    for (int i = 0; i < 4096; ++i) ASSERT_EQ(page(kSecretPfn)[i], 0x5e);
    EXPECT_EQ(grants.active_mappings(), 0u);
}

TEST_F(DriverDomainProcess, HasNoGuestMemoryAndIsConfined) {
    ASSERT_EQ(rw(BLKIF_OP_READ, 0, 3), BLKIF_RSP_OKAY);  // past start-up: sandbox in place
    EXPECT_THAT(proc("maps"), Not(HasSubstr("popek-guest-ram")));
    EXPECT_THAT(fd_targets(proxy->pid()), Not(HasSubstr("popek-guest-ram")));
    EXPECT_THAT(fd_targets(proxy->pid()), Not(HasSubstr("kvm")));
    std::string status = proc("status");
    EXPECT_THAT(status, HasSubstr("Seccomp:\t2"));
    EXPECT_THAT(status, HasSubstr("NoNewPrivs:\t1"));
    if (::geteuid() == 0) {
        EXPECT_THAT(status, HasSubstr("Uid:\t65534\t65534\t65534\t65534"));
        EXPECT_THAT(status, HasSubstr("Gid:\t65534\t65534\t65534\t65534"));
        EXPECT_THAT(status, ::testing::ContainsRegex("Groups:[ \t]*\n"));
    }
}

TEST_F(DriverDomainProcess, MalformedMessagesDoNotKillIt) {
    int fd = proxy->socket();
    ASSERT_TRUE(send_message(fd, std::vector<uint8_t>{1, 2, 3}));
    ASSERT_TRUE(send_message(fd, std::vector<uint8_t>(100, 0xff)));
    ASSERT_TRUE(send_message(fd, encode_copy_result(GNTST_okay, {})));  // unsolicited
    ASSERT_TRUE(send_message(fd, std::vector<uint8_t>(kMaxMessage + 100, 0)));  // oversized
    ASSERT_EQ(rw(BLKIF_OP_READ, 0, 3), BLKIF_RSP_OKAY);
    EXPECT_EQ(::kill(proxy->pid(), 0), 0);
}

TEST_F(DriverDomainProcess, DeathIsAFailureNotACrash) {
    ASSERT_EQ(::kill(proxy->pid(), SIGKILL), 0);
    blkif_request_t r{};
    r.operation = BLKIF_OP_READ;
    r.nr_segments = 1;
    r.seg[0] = {3, 0, 7};
    EXPECT_FALSE(proxy->execute(r));
    ASSERT_TRUE(proxy->failure());
    EXPECT_FALSE(proxy->execute(r));
}
