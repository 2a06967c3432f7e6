// Issue 6 item 6/10 benchmark: blkif sequential throughput of one disk file, the back end in popek
// (in-VMM, dom0) vs in a driver domain process (`--driver-domain`, every byte a grant copy over
// the socket) vs the host's `dd` on the same file, side by side in the same run.
//   guest: build/guests/xen_blkbench.elf writes the whole disk in 44 KiB requests, flushes, reads
//          it all back; it reports bytes and Xen system time per pass (so boot is not counted).
//   dd:    bs=44K, write from /dev/zero with conv=fdatasync, read to /dev/null (the page cache
//          is warm for both dd and the guest: each reads right after writing).
// Figures: median MB/s over the runs.
//
// usage: blkif_bench [--runs N] [--size-mib M] [--accel interp,kvm]
#include "bench_args.h"
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>

#include "child_process.h"

namespace {

using namespace bench;

struct Rates {
    std::vector<double> write, read;
};

/// "blkbench: <name> <bytes> bytes <ns> ns" → MB/s.
double rate(const std::string& out, const std::string& name) {
    std::string key = "blkbench: " + name + " ";
    auto at = out.find(key);
    if (at == std::string::npos) return -1;
    unsigned long long bytes = 0, ns = 0;
    if (std::sscanf(out.c_str() + at + key.size(), "%llu bytes %llu ns", &bytes, &ns) != 2 || ns == 0) return -1;
    return static_cast<double>(bytes) / (static_cast<double>(ns) / 1e9) / 1e6;
}

void guest_run(Rates& rates, const std::string& accel, bool ddom, const std::string& disk) {
    Argv argv{POPEK_BINARY, "run", "--accel", accel, "--xen", "--disk", disk, "--kernel",
              std::string(POPEK_GUEST_DIR) + "/xen_blkbench.elf"};
    if (ddom) argv.push_back("--driver-domain");
    RunResult r = run_once(argv, "blkbench: read", 600.0);
    double w = rate(r.output, "write"), rd = rate(r.output, "read");
    if (r.status != 0 || w < 0 || rd < 0) {
        std::fprintf(stderr, "blkif_bench: %s%s failed (status %d):\n%s\n", accel.c_str(),
                     ddom ? " --driver-domain" : "", r.status, r.output.c_str());
        return;
    }
    rates.write.push_back(w);
    rates.read.push_back(rd);
}

double dd_run(const std::string& args, uint64_t bytes) {
    auto t0 = Clock::now();
    int rc = std::system(("dd " + args + " bs=45056 status=none").c_str());
    double s = since(t0);
    return rc == 0 ? static_cast<double>(bytes) / s / 1e6 : -1;
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 3;
    uint64_t size_mib = 64;
    std::string accels = "interp,kvm";
    if (auto rc = parse_bench_args(argc, argv, "usage: blkif_bench [--runs N] [--size-mib N] [--accel kvm,interp,bt]",
                                   {{"--runs", [&](const std::string& v) { runs = std::max(1, std::atoi(v.c_str())); }},
                                    {"--size-mib", [&](const std::string& v) { size_mib = std::max(1ULL, std::strtoull(v.c_str(), nullptr, 10)); }},
                                    {"--accel", [&](const std::string& v) { accels = v; }}}))
        return *rc;
    char tmpl[] = "/tmp/popek-blkbench-XXXXXX";
    int fd = ::mkstemp(tmpl);
    if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(size_mib << 20)) != 0) return 1;
    ::close(fd);
    const std::string disk = tmpl;
    const uint64_t bytes = size_mib << 20;
    const uint64_t count = (bytes + 45055) / 45056;

    std::printf("blkif sequential, %llu MiB disk file, 44 KiB requests, median of %d runs (MB/s)\n",
                static_cast<unsigned long long>(size_mib), runs);
    std::printf("  %-28s %10s %10s\n", "", "write", "read");
    Rates host;
    for (int i = 0; i < runs; ++i) {
        host.write.push_back(dd_run("if=/dev/zero of=" + disk + " conv=fdatasync,notrunc count=" + std::to_string(count),
                                    count * 45056));
        host.read.push_back(dd_run("if=" + disk + " of=/dev/null", bytes));
    }
    std::printf("  %-28s %10.0f %10.0f\n", "host dd", median(host.write), median(host.read));
    std::stringstream list(accels);
    for (std::string accel; std::getline(list, accel, ',');) {
        if (accel == "kvm" && ::access("/dev/kvm", R_OK | W_OK) != 0) {
            std::printf("  %-28s %10s %10s\n", "kvm", "(no /dev/kvm)", "");
            continue;
        }
        Rates in_vmm, ddom;
        for (int i = 0; i < runs; ++i) {  // interleaved, so that load from others hits both alike
            guest_run(in_vmm, accel, false, disk);
            guest_run(ddom, accel, true, disk);
        }
        double w0 = median(in_vmm.write), r0 = median(in_vmm.read);
        double w1 = median(ddom.write), r1 = median(ddom.read);
        std::printf("  %-28s %10.0f %10.0f\n", (accel + ", back end in popek").c_str(), w0, r0);
        std::printf("  %-28s %10.0f %10.0f   (%.2fx / %.2fx of in-popek)\n", (accel + ", driver domain").c_str(), w1,
                    r1, w0 > 0 ? w1 / w0 : 0.0, r0 > 0 ? r1 / r0 : 0.0);
    }
    ::unlink(disk.c_str());
    return 0;
}
