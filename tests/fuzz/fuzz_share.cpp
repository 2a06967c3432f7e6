// libFuzzer target: popekfs request handling (pv::ShareBackend over pv::ShareDir) with a hostile
// guest. The input provides a control byte (bit 0: read-only share), the grant table frame, the ring
// page (indices and requests), the head of two data pages (paths, write data) and raw requests. The
// back end must answer every request with its id or shut the ring, release every grant it pinned,
// never hold more handles than allowed, and never touch anything outside the shared directory (a
// sentinel file next to it, reachable only through a symlink inside, must stay as it was).
// fuzz-sources: src/pv/grant_table.cpp src/pv/backends/share_backend.cpp src/pv/backends/share_backend_snapshot.cpp src/pv/backends/share_dir.cpp src/memory/guest_memory.cpp src/util/huge_mapping.cpp
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "pv/backends/share_backend.h"

using namespace popek;
using namespace popek::pv;

namespace {

constexpr uint64_t kTablePfn = 0x10, kRingPfn = 0x11, kDataPfn = 0x12;
constexpr uint32_t kMaxHandles = 8;

struct World {
    memory::GuestMemory mem = memory::GuestMemory::create(256 * 4096).value();
    std::string root, sentinel;
    std::unique_ptr<ShareDir> rw, ro;
    World() {
        char tmpl[] = "/tmp/popek-fuzz-share-XXXXXX";
        if (!::mkdtemp(tmpl)) __builtin_trap();
        root = tmpl;
        const std::string dir = root + "/share";
        sentinel = root + "/sentinel";
        write_file(sentinel, "outside");
        if (::mkdir(dir.c_str(), 0755) != 0) __builtin_trap();
        restore();
        rw = std::make_unique<ShareDir>(ShareDir::open(dir, false).value());
        ro = std::make_unique<ShareDir>(ShareDir::open(dir, true).value());
    }
    /// Puts back what an earlier input may have removed: a file, a directory with a file, and the
    /// symlink to the sentinel outside.
    void restore() const {
        const std::string dir = root + "/share";
        (void)::mkdir((dir + "/d").c_str(), 0755);
        if (::access((dir + "/a").c_str(), F_OK) != 0) write_file(dir + "/a", "file a");
        if (::access((dir + "/d/b").c_str(), F_OK) != 0) write_file(dir + "/d/b", "file b");
        (void)::symlink(sentinel.c_str(), (dir + "/l").c_str());
    }
    ~World() {
        std::error_code ec;
        std::filesystem::remove_all(root, ec);
    }
    static void write_file(const std::string& path, std::string_view text) {
        FILE* f = std::fopen(path.c_str(), "w");
        if (!f) __builtin_trap();
        std::fwrite(text.data(), 1, text.size(), f);
        std::fclose(f);
    }
    bool sentinel_intact() const {
        struct stat st {};
        return ::lstat(sentinel.c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 7;
    }
};

size_t take(const uint8_t*& data, size_t& size, uint8_t* to, size_t max) {
    size_t n = std::min(size, max);
    std::memcpy(to, data, n);
    data += n;
    size -= n;
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static World world;
    if (size == 0) return 0;
    world.restore();
    const bool read_only = data[0] & 1;
    ++data;
    --size;
    GrantTable grants(world.mem, 1, 4, 64);
    if (!grants.place_frame(0, kTablePfn)) __builtin_trap();
    uint8_t* table = world.mem.host_ptr(kTablePfn << 12, 4096);
    uint8_t* ring = world.mem.host_ptr(kRingPfn << 12, 4096);
    uint8_t* pages = world.mem.host_ptr(kDataPfn << 12, 2 * 4096);
    std::memset(table, 0, 4096);
    std::memset(ring, 0, 4096);
    std::memset(pages, 0, 2 * 4096);
    take(data, size, table, 512);  // grant entries 0..63
    // A guest may grant its own grant-table frame and have file data read into it, rewriting
    // entries (their GTF_reading/GTF_writing bits too) behind the back end's back: legitimate, but
    // it would defeat the pin check below, so such grants point at an unrelated frame instead (as
    // in fuzz_netif.cpp). Without this a valid input tripped the check after ~78 s (issue 19).
    for (auto* e = reinterpret_cast<grant_entry_v1_t*>(table); e < reinterpret_cast<grant_entry_v1_t*>(table) + 64; ++e)
        if (e->frame == kTablePfn) e->frame = 0x20;
    grant_entry_v1_t before[64];
    std::memcpy(before, table, sizeof(before));
    take(data, size, ring, 4096);
    take(data, size, pages, 256);
    take(data, size, pages + 4096, 256);

    {
        ShareBackend be(grants, 0, read_only ? *world.ro : *world.rw, std::span(ring, 4096), kMaxHandles);
        for (int round = 0; round < 4; ++round) {
            auto out = be.process();
            if (!out.more) break;
        }
        // Remaining bytes: raw requests handed to handle() directly.
        while (size >= sizeof(popekfs_request)) {
            popekfs_request req;
            std::memcpy(&req, data, sizeof(req));
            popekfs_response rsp = be.handle(req);
            if (rsp.id != req.id || rsp.op != req.op || rsp.status > 0) __builtin_trap();
            if (be.open_handles() > kMaxHandles) __builtin_trap();
            data += sizeof(req);
            size -= sizeof(req);
        }
    }
    // Every transient pin was released: no entry gained GTF_reading / GTF_writing.
    if (grants.active_mappings() != 0) __builtin_trap();
    auto* after = reinterpret_cast<grant_entry_v1_t*>(table);
    const uint16_t busy = GTF_reading | GTF_writing;
    for (int i = 0; i < 64; ++i)
        if ((after[i].flags & busy) && !(before[i].flags & busy)) __builtin_trap();
    if (!world.sentinel_intact()) __builtin_trap();
    return 0;
}
