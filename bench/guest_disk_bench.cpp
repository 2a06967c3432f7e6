// Sealed disk throughput (issue 16; docs/guest-os.md "Storage", "Figures"): popek-os under
// `--xen --disk` runs `sdisk bench KIB`, which times sequential 64 KiB writes and reads of KIB KiB
// on the raw blkif disk and then through the sealed layer (XChaCha20-Poly1305 per 4 KiB unit, version
// tree), in one boot. Printed next to two host baselines measured in the same run: the bare
// XChaCha20-Poly1305 encrypt + decrypt of 4 KiB units, and the same sealdisk::Volume code on
// the host over an in-memory disk. The ratio that matters is sealed / raw inside the guest
// (target >= 0.5).
//
// usage: guest_disk_bench [--kib N] [--runs R]
#include "bench_args.h"
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "../tests/unit/sealdisk_test_util.h"
#include "child_process.h"
#include "netsec_baselines.h"
#include "vm_console.h"

namespace {

using namespace bench;
namespace fs = std::filesystem;
namespace sd = popek::sealdisk;

struct Figures {
    double raw_w = -1, raw_r = -1, sealed_w = -1, sealed_r = -1;   ///< MB/s as the guest measured them
    std::string failure;
};

/// One boot of popek-os with a fresh 8 MiB disk: `sdisk bench kib`.
Figures guest_run(const std::string& accel, long kib) {
    Figures f;
    char tmpl[] = "/tmp/popek-guest-disk-bench-XXXXXX";
    const fs::path dir = ::mkdtemp(tmpl);
    const fs::path disk = dir / "disk.img";
    std::ofstream(disk).close();
    fs::resize_file(disk, 8 << 20);
    {
        Console vm({POPEK_BINARY, "run", "--xen", "--accel", accel, "--kernel", POPEK_OS_ELF, "--disk", disk.string()});
        if (vm.wait_for("$ ", 60) < 0) f.failure = "no prompt";
        vm.type("sdisk bench " + std::to_string(kib) + "\n");
        if (f.failure.empty() && vm.wait_for("sealed/raw", 600) < 0) f.failure = "no result: " + vm.seen();
        vm.type("exit\n");
        std::smatch m;
        const std::regex line(R"(sdisk bench: [0-9]+ KiB (raw|sealed) write [0-9]+ us ([0-9]+) KB/s read [0-9]+ us ([0-9]+) KB/s)");
        std::string seen = vm.seen();
        for (auto it = std::sregex_iterator(seen.begin(), seen.end(), line); it != std::sregex_iterator(); ++it) {
            double w = std::stod((*it)[2]) / 1e3, r = std::stod((*it)[3]) / 1e3;
            if ((*it)[1] == "raw") f.raw_w = w, f.raw_r = r;
            else f.sealed_w = w, f.sealed_r = r;
        }
        if (f.failure.empty() && (f.raw_w < 0 || f.sealed_w < 0)) f.failure = "unparsed output";
    }
    fs::remove_all(dir);
    return f;
}

/// The same Volume code on the host over memory: write then read `mib` MiB; MB/s each.
std::pair<double, double> host_volume_mb_s(long mib) {
    sd::testing::MemoryDisk disk(static_cast<uint64_t>(mib) * 2048 * 9 / 8 + 64);   // data + tree
    std::vector<uint8_t> tree(16384 * sd::kSectorSize);
    sd::Volume v;
    if (v.format(disk.device(), sd::testing::test_secret(), tree.data(), tree.size()) != sd::Status::Ok) std::abort();
    std::vector<uint8_t> chunk(128 * sd::kSectorSize, 0x5a);
    const uint64_t sectors = static_cast<uint64_t>(mib) * 2048;
    double t0 = now_s();
    for (uint64_t at = 0; at < sectors; at += 128)
        if (v.write(at, chunk.data(), 128) != sd::Status::Ok) std::abort();
    double w = static_cast<double>(mib) * 1048576 / (now_s() - t0) / 1e6;
    t0 = now_s();
    for (uint64_t at = 0; at < sectors; at += 128)
        if (v.read(at, chunk.data(), 128) != sd::Status::Ok) std::abort();
    double r = static_cast<double>(mib) * 1048576 / (now_s() - t0) / 1e6;
    return {w, r};
}

}  // namespace

int main(int argc, char** argv) {
    long kib = 4096;
    int runs = 3;
    if (auto rc = parse_bench_args(argc, argv, "usage: guest_disk_bench [--kib N] [--runs N]",
                                   {{"--kib", [&](const std::string& v) { kib = std::max(64L, std::atol(v.c_str())); }},
                                    {"--runs", [&](const std::string& v) { runs = std::max(1, std::atoi(v.c_str())); }}}))
        return *rc;
    if (sodium_init() < 0) return 2;
    std::printf("guest_disk_bench: %ld KiB sequential write then read in 64 KiB requests, median of %d boots\n", kib, runs);
    std::printf("  raw XChaCha20-Poly1305 encrypt+decrypt of 4 KiB units (the format's), host (baseline)  %8.1f MB/s\n",
                raw_aead_mb_s(25000, sd::kUnitBytes));
    auto [hw, hr] = host_volume_mb_s(64);
    std::printf("  sealdisk::Volume on the host over memory, 64 MiB (baseline)   write %8.1f MB/s  read %8.1f MB/s\n", hw, hr);
    for (const char* accel : {"kvm", "interp", "bt"}) {
        if (std::string(accel) == "kvm" && !kvm_usable()) {
            std::printf("  popek --xen --accel kvm: skipped (/dev/kvm not usable)\n");
            continue;
        }
        std::vector<double> rw, rr, sw, sr;
        std::string failure;
        for (int r = 0; r < runs; ++r) {
            Figures f = guest_run(accel, kib);
            if (!f.failure.empty()) failure = f.failure;
            rw.push_back(f.raw_w), rr.push_back(f.raw_r), sw.push_back(f.sealed_w), sr.push_back(f.sealed_r);
        }
        if (median(sw) < 0) {
            std::printf("  popek --xen --accel %-6s failed: %s\n", accel, failure.c_str());
            continue;
        }
        std::printf("  popek --xen --accel %-6s raw blkif  write %8.1f MB/s  read %8.1f MB/s\n", accel, median(rw), median(rr));
        std::printf("  popek --xen --accel %-6s sealed     write %8.1f MB/s  read %8.1f MB/s  (sealed/raw: write %.3fx, read "
                    "%.3fx; sealed/host volume: write %.3fx, read %.3fx)%s\n",
                    accel, median(sw), median(sr), median(sw) / median(rw), median(sr) / median(rr), median(sw) / hw,
                    median(sr) / hr, failure.empty() ? "" : " (a run failed)");
    }
    return 0;
}
