// libFuzzer target: blkif request handling with a hostile guest. The input provides the grant
// table frame (which refs are granted to whom, for which frames), the ring page (indices and
// requests) and a few raw requests; the backend must answer or shut the ring, never touch memory
// outside guest RAM, and never crash.
// fuzz-sources: src/pv/grant_table.cpp src/pv/grant_access.cpp src/pv/backends/blkif_handler.cpp src/pv/backends/blkif_backend.cpp src/host/block_file.cpp src/memory/guest_memory.cpp src/util/huge_mapping.cpp
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "pv/backends/blkif_backend.h"

using namespace popek;
using namespace popek::pv;
using popek::host::BlockFile;

namespace {

constexpr uint64_t kTablePfn = 0x10, kRingPfn = 0x11;

struct World {
    memory::GuestMemory mem = memory::GuestMemory::create(256 * 4096).value();
    std::string path;
    std::unique_ptr<BlockFile> disk;
    World() {
        char tmpl[] = "/tmp/popek-fuzz-blkif-XXXXXX";
        int fd = ::mkstemp(tmpl);
        path = tmpl;
        if (fd < 0 || ::ftruncate(fd, 64 * 512) != 0) __builtin_trap();
        ::close(fd);
        disk = std::make_unique<BlockFile>(BlockFile::open(path, false).value());
        ::unlink(path.c_str());  // the open descriptor keeps it alive
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static World world;
    GrantTable grants(world.mem, 1, 4, 64);
    if (!grants.place_frame(0, kTablePfn)) __builtin_trap();
    uint8_t* table = world.mem.host_ptr(kTablePfn << 12, 4096);
    uint8_t* ring = world.mem.host_ptr(kRingPfn << 12, 4096);
    std::memset(table, 0, 4096);
    std::memset(ring, 0, 4096);
    // First 512 bytes: grant entries 0..63; next bytes: the ring page header and entries.
    size_t n = std::min<size_t>(size, 512);
    std::memcpy(table, data, n);
    grant_entry_v1_t before[64];
    std::memcpy(before, table, sizeof(before));
    data += n;
    size -= n;
    n = std::min<size_t>(size, 4096);
    std::memcpy(ring, data, n);
    data += n;
    size -= n;

    LocalGrantAccess access(grants, 0);
    BlkifHandler handler(access, *world.disk);
    BlkifBackend be(handler, std::span(ring, 4096));
    for (int round = 0; round < 4; ++round) {
        auto out = be.process();
        if (!out.more) break;
    }
    // Remaining bytes: raw requests handed to handle() directly.
    while (size >= sizeof(blkif_request_t)) {
        blkif_request_t req;
        std::memcpy(&req, data, sizeof(req));
        blkif_response_t rsp = handler.handle(req);
        if (rsp.id != req.id) __builtin_trap();
        data += sizeof(req);
        size -= sizeof(req);
    }
    // Every transient pin was released: no entry gained GTF_reading / GTF_writing. Unless the
    // guest granted the grant table's own frame: then a read request it made legitimately wrote
    // disk bytes (which earlier inputs' writes chose) over its entries, flags included.
    if (grants.active_mappings() != 0) __builtin_trap();
    bool table_granted = false;
    for (const grant_entry_v1_t& e : before) table_granted = table_granted || e.frame == kTablePfn;
    auto* after = reinterpret_cast<grant_entry_v1_t*>(table);
    const uint16_t busy = GTF_reading | GTF_writing;
    for (int i = 0; i < 64 && !table_granted; ++i)
        if ((after[i].flags & busy) && !(before[i].flags & busy)) __builtin_trap();
    return 0;
}
