// Issue 15 part 2: the cost of deterministic record and replay (docs/record-replay.md).
//
// For each workload, in the same run and alternating: a normal run, a `--record` run and a
// `--replay` of that recording, on --accel bt (and interp with --interp). Prints the median wall
// and CPU time of each, the ratios record/normal and replay/normal, the log's size and its bytes
// per second of recording (record and replay also hash all of guest RAM at the end: a fixed
// ~0.3-0.7 s of CPU for 256 MiB, which dominates short guests). Workloads: the rr_timer guest (tests/guests/rr_timer.S: APIC timer
// interrupts, RDTSC, RDRAND, RTC reads) and, when present, the Debian kernel + initrd-min boot to
// poweroff (/tmp/vmm-guest, made by ../shared/baseline/fetch-guest.sh).
// usage: record_replay_bench [--runs N] [--interp] [--guest-dir DIR]
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "child_process.h"

namespace {

using namespace bench;

struct Times {
    std::vector<double> wall, cpu;
};

void add(Times& t, const RunResult& r) {
    t.wall.push_back(r.exit_s);
    t.cpu.push_back(r.cpu_s);
}

void workload(const std::string& name, const std::string& accel, const Argv& vm, int runs) {
    const std::string log = "/tmp/popek-rr-bench-" + std::to_string(::getpid()) + ".rr";
    Times normal, record, replay;
    long log_bytes = -1;
    bool ok = true;
    for (int i = 0; i < runs && ok; ++i) {
        Argv base{POPEK_BINARY, "run", "--accel", accel};
        base.insert(base.end(), vm.begin(), vm.end());
        RunResult n = run_once(base, "\x01", 600);
        Argv rec = base;
        rec.insert(rec.end(), {"--record", log});
        RunResult r = run_once(rec, "\x01", 600);
        struct stat st {};
        if (::stat(log.c_str(), &st) == 0) log_bytes = static_cast<long>(st.st_size);
        Argv rep = base;
        rep.insert(rep.end(), {"--replay", log});
        RunResult p = run_once(rep, "\x01", 600);
        if (r.status != n.status || p.status != r.status || p.output != r.output) {
            std::printf("%-22s %-6s FAILED: status normal %d record %d replay %d, replay output %s\n", name.c_str(),
                        accel.c_str(), n.status, r.status, p.status, p.output == r.output ? "same" : "differs");
            ok = false;
        }
        add(normal, n);
        add(record, r);
        add(replay, p);
    }
    ::unlink(log.c_str());
    if (!ok) return;
    const double nw = median(normal.wall), rw = median(record.wall), pw = median(replay.wall);
    const double nc = median(normal.cpu), rc = median(record.cpu), pc = median(replay.cpu);
    std::printf("%-24s %-6s wall: normal %6.2f s, record %6.2f s = %.2fx, replay %6.2f s = %.2fx | cpu: normal %6.2f s, "
                "record %6.2f s = %.2fx, replay %6.2f s = %.2fx | log %.2f MiB, %.0f KiB per recorded second\n",
                name.c_str(), accel.c_str(), nw, rw, rw / nw, pw, pw / nw, nc, rc, rc / nc, pc, pc / nc,
                static_cast<double>(log_bytes) / (1 << 20), static_cast<double>(log_bytes) / 1024.0 / rw);
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 3;
    bool interp = false;
    std::string guest_dir = "/tmp/vmm-guest";
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--runs") && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
        else if (!std::strcmp(argv[i], "--interp")) interp = true;
        else if (!std::strcmp(argv[i], "--guest-dir") && i + 1 < argc) guest_dir = argv[++i];
        else {
            std::fprintf(stderr, "usage: record_replay_bench [--runs N] [--interp] [--guest-dir DIR]\n");
            return 2;
        }
    }
    std::printf("record/replay: median of %d runs each, normal / record / replay alternating (same host, same run)\n", runs);
    std::vector<std::string> accels{"bt"};
    if (interp) accels.push_back("interp");
    for (const auto& accel : accels) {
        workload("rr_timer", accel, {"--kernel", std::string(POPEK_GUEST_DIR) + "/rr_timer.elf"}, runs);
        const std::string vmlinux = guest_dir + "/vmlinux", initrd = guest_dir + "/initrd-min.cpio.gz";
        struct stat st {};
        if (::stat(vmlinux.c_str(), &st) == 0 && ::stat(initrd.c_str(), &st) == 0)
            workload("linux boot (initrd-min)", accel, {"--kernel", vmlinux, "--initrd", initrd, "--cmdline", "console=ttyS0"}, runs);
        else
            std::printf("linux boot: skipped, %s or %s missing\n", vmlinux.c_str(), initrd.c_str());
    }
    return 0;
}
