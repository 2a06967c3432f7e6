// Snapshots of `--share` (docs/snapshot.md "SHRE"): a domain whose popekfs front end has a file
// open mid-read is saved, its guest RAM copied into a second domain built the same way on a copy
// of the directory elsewhere (the restoring run's --share), the state loaded there, and the
// guest's next READ on the same handle returns the file's next bytes. Then the hostile-file side:
// paths with "..", absolute paths, links, files gone, huge or wrong handle counts, bad kinds,
// writable handles on a read-only share, truncation at every length; and the snapshot refused when
// an open file was removed since it was opened.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "pv/backends/share_device.h"
#include "pv_guest_store.h"

using namespace popek;
using namespace popek::pv;
using namespace std::literals;
namespace fs = std::filesystem;

#define xen_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb() __atomic_thread_fence(__ATOMIC_RELEASE)

namespace {

constexpr uint64_t kSharedPfn = 0x10, kStorePfn = 0x11, kTablePfn = 0x12, kRingPfn = 0x13, kDataPfn = 0x14;
constexpr grant_ref_t kRingRef = 8, kDataRef = 9;
constexpr const char* kFrontend = "device/popekfs/0";

/// The file the guest reads: byte i is i * 7 mod 251 (no two 251-byte windows alike).
std::string file_bytes(size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 7 % 251);
    return s;
}

/// One "VM": guest RAM, the domain and the popekfs device on `dir`, built as XenPlatform does.
struct Machine {
    memory::GuestMemory mem = memory::GuestMemory::create(1 << 20).value();
    PvDomain dom{mem, PvDomainConfig{}, {}};
    std::unique_ptr<ShareDevice> share;
    test::GuestStore store{mem, dom, kStorePfn};

    Machine(const fs::path& dir, bool read_only) {
        EXPECT_TRUE(dom.connect_store(kStorePfn));
        share = std::make_unique<ShareDevice>(dom, ShareDir::open(dir.string(), read_only).value());
        EXPECT_TRUE(share->attach());
    }
    grant_entry_v1_t* table() { return reinterpret_cast<grant_entry_v1_t*>(mem.host_ptr(kTablePfn << 12, 4096)); }
    popekfs_sring* sring() { return reinterpret_cast<popekfs_sring*>(mem.host_ptr(kRingPfn << 12, 4096)); }
    uint8_t* data() { return mem.host_ptr(kDataPfn << 12, 4096); }

    struct Saved {
        std::vector<uint8_t> evtc, gntt, xstr, shre;
        std::vector<uint8_t> ram;
    };
    Saved save() {
        snapshot::Writer e, g, x, s;
        dom.event_channels().save(e);
        dom.grant_table().save(g);
        {
            auto held = dom.hold_store();
            dom.save_store(x);
        }
        share->save(s);
        const uint8_t* ram = mem.host_ptr(0, mem.size());
        return {e.buffer(), g.buffer(), x.buffer(), s.buffer(), {ram, ram + mem.size()}};
    }
    Result<void> load(const Saved& s) {
        std::memcpy(mem.host_ptr(0, mem.size()), s.ram.data(), std::min(s.ram.size(), mem.size()));
        auto part = [](const std::vector<uint8_t>& bytes, auto&& f, const char* what) -> Result<void> {
            snapshot::Reader r(bytes);
            f(r);
            return r.finish(what);
        };
        TRY_VOID(part(s.evtc, [&](snapshot::Reader& r) { dom.event_channels().load(r); }, "EVTC"));
        TRY_VOID(part(s.gntt, [&](snapshot::Reader& r) { dom.grant_table().load(r); }, "GNTT"));
        TRY_VOID(part(s.xstr, [&](snapshot::Reader& r) { dom.load_store(r); }, "XSTR"));
        return part(s.shre, [&](snapshot::Reader& r) { share->load(r); }, "SHRE");
    }
};

/// The guest's popekfs front end (what popek-os's driver does), one request at a time.
struct Front {
    popekfs_front_ring ring{};
    evtchn_port_t port = 0;
    uint64_t next_id = 1;

    popekfs_response call(Machine& m, popekfs_request req) {
        req.id = next_id++;
        *RING_GET_REQUEST(&ring, ring.req_prod_pvt++) = req;
        int notify = 0;
        RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&ring, notify);
        (void)notify;
        EXPECT_TRUE(m.dom.event_channels().send(port));
        if (!RING_HAS_UNCONSUMED_RESPONSES(&ring)) return popekfs_response{.id = 0, .op = 0, .type = 0, ._pad = 0,
                                                                         .status = -9999, .value = 0, .next = 0,
                                                                         .size = 0, .mtime_ns = 0};
        return *RING_GET_RESPONSE(&ring, ring.rsp_cons++);
    }
    popekfs_response open(Machine& m, const std::string& path, uint16_t flags) {
        std::memcpy(m.data(), path.data(), path.size());
        popekfs_request req{};
        req.op = POPEKFS_OP_OPEN;
        req.flags = flags;
        req.length = static_cast<uint32_t>(path.size());
        req.nr_pages = 1;
        req.data_ref[0] = kDataRef;
        return call(m, req);
    }
    /// READ of `len` bytes at `offset`: the bytes, or "error N".
    std::string read(Machine& m, uint32_t handle, uint64_t offset, uint32_t len) {
        popekfs_request req{};
        req.op = POPEKFS_OP_READ;
        req.handle = handle;
        req.offset = offset;
        req.length = len;
        req.nr_pages = 1;
        req.data_ref[0] = kDataRef;
        const popekfs_response rsp = call(m, req);
        if (rsp.status != 0) return "error " + std::to_string(rsp.status);
        return std::string(reinterpret_cast<const char*>(m.data()), rsp.value);
    }
};

struct ShareSnapshot : ::testing::Test {
    fs::path root;
    std::unique_ptr<Machine> a;
    const std::string contents = file_bytes(3000);

    void SetUp() override {
        char tmpl[] = "/tmp/popek-share-snap-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        root = tmpl;
        fs::create_directories(root / "a" / "sub");
        std::ofstream(root / "a" / "sub" / "data", std::ios::binary) << contents;
        std::ofstream(root / "outside") << "outside";
        a = std::make_unique<Machine>(root / "a", false);
    }
    void TearDown() override { fs::remove_all(root); }

    /// The front end connects (shared_info, grant frame, ring, channel, XenBus nodes).
    Front connect(Machine& m) {
        EXPECT_TRUE(m.dom.event_channels().place_shared_info(kSharedPfn << 12));
        EXPECT_TRUE(m.dom.grant_table().place_frame(0, kTablePfn));
        SHARED_RING_INIT(m.sring());
        m.table()[kRingRef] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kRingPfn)};
        m.table()[kDataRef] = grant_entry_v1_t{GTF_permit_access, 0, static_cast<uint32_t>(kDataPfn)};
        evtchn_alloc_unbound al{DOMID_SELF, 0, 0};
        EXPECT_TRUE(m.dom.event_channels().alloc_unbound(al));
        const std::string fe = kFrontend;
        EXPECT_EQ(m.store.write(fe + "/ring-ref", std::to_string(kRingRef)), "OK\0"s);
        EXPECT_EQ(m.store.write(fe + "/event-channel", std::to_string(al.port)), "OK\0"s);
        EXPECT_EQ(m.store.write(fe + "/state", "3"), "OK\0"s);
        EXPECT_TRUE(m.share->connected());
        Front f;
        f.port = al.port;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"  // Xen's macro stores a size_t ring size in an unsigned int
        FRONT_RING_INIT(&f.ring, m.sring(), 4096);
#pragma GCC diagnostic pop
        return f;
    }

    /// A copy of the snapshot's directory elsewhere, as the restoring host has it.
    fs::path restored_dir(const char* name) {
        fs::copy(root / "a", root / name, fs::copy_options::recursive);
        return root / name;
    }

    /// The share part's bytes before its handle table (XenBus state, connection, ring indices),
    /// then `handles` in place of the saved table: hostile sections made to measure.
    static std::vector<uint8_t> with_handles(const std::vector<uint8_t>& shre, const snapshot::Writer& handles) {
        // u32 state, bool failed, bool connected, u32 ring handle, u32 port, ring: 3 x u32 + bool.
        constexpr size_t kPrefix = 4 + 1 + 1 + 4 + 4 + 13;
        const std::vector<uint8_t>& table = handles.buffer();
        std::vector<uint8_t> out(kPrefix + table.size());
        std::memcpy(out.data(), shre.data(), kPrefix);
        if (!table.empty()) std::memcpy(out.data() + kPrefix, table.data(), table.size());
        return out;
    }
    /// A table of POPEKFS_MAX_HANDLES slots whose slot 0 is open with `kind` on `path`.
    static snapshot::Writer one_handle(uint8_t kind, std::string_view path, uint32_t count = POPEKFS_MAX_HANDLES) {
        snapshot::Writer w;
        w.u32(count);
        for (uint32_t i = 0; i < POPEKFS_MAX_HANDLES; ++i) {
            w.u16(1);
            w.boolean(i == 0);
            if (i != 0) continue;
            w.u8(kind);
            w.str(path);
        }
        return w;
    }
};

TEST_F(ShareSnapshot, AFileOpenMidReadGoesOnInTheRestoredDomainUnderAnotherDirectory) {
    Front f = connect(*a);
    const popekfs_response opened = f.open(*a, "sub/data", POPEKFS_O_READ);
    ASSERT_EQ(opened.status, 0);
    const auto handle = static_cast<uint32_t>(opened.value);
    const popekfs_response dir = f.open(*a, "sub", POPEKFS_O_DIRECTORY);
    ASSERT_EQ(dir.status, 0);
    ASSERT_EQ(f.read(*a, handle, 0, 1000), contents.substr(0, 1000));
    const Machine::Saved saved = a->save();

    a.reset();
    // The restoring host has the share elsewhere: the handle is reopened beneath that directory.
    Machine b(restored_dir("b"), false);
    auto loaded = b.load(saved);
    ASSERT_TRUE(loaded) << loaded.error().message;
    EXPECT_EQ(b.share->open_handles(), 2u);
    Front resumed = f;
    resumed.ring.sring = b.sring();
    EXPECT_EQ(resumed.read(b, handle, 1000, 1000), contents.substr(1000, 1000));
    EXPECT_EQ(resumed.read(b, handle, 2000, 2000), contents.substr(2000));
    // Only these two were carried out: nothing the guest asked before the snapshot ran again.
    EXPECT_EQ(b.share->stats().requests, 2u);
    EXPECT_EQ(b.share->open_handles(), 2u);
    // The restored handle is b's file, not a's: a change there is seen.
    std::ofstream(root / "b" / "sub" / "data", std::ios::binary | std::ios::in) << "XY";
    EXPECT_EQ(resumed.read(b, handle, 0, 4), "XY" + contents.substr(2, 2));
    // The directory handle lists, closing works, and a closed handle's generation moved on.
    popekfs_request close{};
    close.op = POPEKFS_OP_CLOSE;
    close.handle = handle;
    EXPECT_EQ(resumed.call(b, close).status, 0);
    EXPECT_EQ(resumed.read(b, handle, 0, 4), "error " + std::to_string(-EBADF));
    const popekfs_response again = resumed.open(b, "sub/data", POPEKFS_O_READ);
    ASSERT_EQ(again.status, 0);
    EXPECT_NE(static_cast<uint32_t>(again.value), handle);   // a stale handle does not come back to life
    EXPECT_EQ(b.share->open_handles(), 2u);
}

TEST_F(ShareSnapshot, AFileGoneBeforeTheRestoreIsAnErrorNamingIt) {
    Front f = connect(*a);
    ASSERT_EQ(f.open(*a, "sub/data", POPEKFS_O_READ).status, 0);
    const Machine::Saved saved = a->save();
    a.reset();
    const fs::path dir = restored_dir("b");
    fs::remove(dir / "sub" / "data");
    Machine b(dir, false);
    auto loaded = b.load(saved);
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message.find("`sub/data` cannot be opened again"), std::string::npos) << loaded.error().message;
}

TEST_F(ShareSnapshot, AFileRemovedWhileOpenMakesTheSnapshotRefused) {
    Front f = connect(*a);
    ASSERT_EQ(f.open(*a, "sub/data", POPEKFS_O_READ).status, 0);
    EXPECT_FALSE(a->share->unsaveable());
    fs::remove(root / "a" / "sub" / "data");
    auto why = a->share->unsaveable();
    ASSERT_TRUE(why);
    EXPECT_NE(why->find("`sub/data`"), std::string::npos) << *why;
    // Another file under the same name is no better: the handle's file is not that one.
    std::ofstream(root / "a" / "sub" / "data") << "new";
    EXPECT_TRUE(a->share->unsaveable());
}

TEST_F(ShareSnapshot, HostilePathsCountsAndKindsAreRefused) {
    Front f = connect(*a);
    ASSERT_EQ(f.open(*a, "sub/data", POPEKFS_O_READ | POPEKFS_O_WRITE).status, 0);
    const Machine::Saved saved = a->save();
    a.reset();
    const fs::path dir = restored_dir("b");
    fs::create_symlink("data", dir / "sub" / "link");
    constexpr uint8_t kRead = 1, kWrite = 2, kDir = 4;
    struct Case {
        const char* what;
        std::vector<uint8_t> shre;
        const char* error;
    };
    snapshot::Writer huge;
    huge.u32(0xffffffffu);
    const std::vector<Case> cases = {
        {"dot-dot", with_handles(saved.shre, one_handle(kRead, "../outside")), "is refused"},
        {"dot-dot inside", with_handles(saved.shre, one_handle(kRead, "sub/../../outside")), "is refused"},
        {"absolute", with_handles(saved.shre, one_handle(kRead, (root / "outside").string())), "is refused"},
        {"NUL", with_handles(saved.shre, one_handle(kRead, "sub/data\0x"sv)), "is refused"},
        {"link", with_handles(saved.shre, one_handle(kRead, "sub/link")), "cannot be opened again"},
        {"too long", with_handles(saved.shre, one_handle(kRead, std::string(POPEKFS_PATH_MAX + 1, 'a'))), "at most"},
        {"huge count", with_handles(saved.shre, huge), "handle count"},
        {"count of another back end", with_handles(saved.shre, one_handle(kRead, "sub/data", 63)), "slots"},
        {"no access", with_handles(saved.shre, one_handle(0, "sub/data")), "kind"},
        {"unknown kind", with_handles(saved.shre, one_handle(kRead | 8, "sub/data")), "kind"},
        {"writable directory", with_handles(saved.shre, one_handle(kDir | kRead | kWrite, "sub")), "kind"},
        {"directory as file", with_handles(saved.shre, one_handle(kRead, "sub")), "cannot be opened again"},
        {"file as directory", with_handles(saved.shre, one_handle(kDir | kRead, "sub/data")), "cannot be opened again"},
    };
    for (const Case& c : cases) {
        Machine b(dir, false);
        Machine::Saved s = saved;
        s.shre = c.shre;
        auto loaded = b.load(s);
        ASSERT_FALSE(loaded) << c.what;
        EXPECT_NE(loaded.error().message.find(c.error), std::string::npos) << c.what << ": " << loaded.error().message;
        EXPECT_EQ(b.share->open_handles(), 0u) << c.what;
    }
    // The same section is accepted as it was written; a read-only share refuses its writable handle.
    {
        Machine b(dir, false);
        EXPECT_TRUE(b.load(saved));
    }
    Machine ro(dir, true);
    auto loaded = ro.load(saved);
    ASSERT_FALSE(loaded);
    EXPECT_NE(loaded.error().message.find(std::strerror(EROFS)), std::string::npos) << loaded.error().message;
}

TEST_F(ShareSnapshot, TruncatedSectionIsAnErrorAtEveryLength) {
    Front f = connect(*a);
    ASSERT_EQ(f.open(*a, "sub/data", POPEKFS_O_READ).status, 0);
    const Machine::Saved saved = a->save();
    a.reset();
    const fs::path dir = restored_dir("b");
    for (size_t len = 0; len < saved.shre.size(); ++len) {
        Machine b(dir, false);
        Machine::Saved cut = saved;
        cut.shre.resize(len);
        EXPECT_FALSE(b.load(cut)) << "cut at " << len;
    }
}

}  // namespace
