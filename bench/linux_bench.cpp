// Issue 12 benchmark: the shared baseline's Debian kernel (PVH vmlinux) under popek --accel bt
// beside QEMU microvm TCG, the same kernel, initrd and command line in the same run, runs
// interleaved so that both see the same host load:
//   blk  reading 64 MiB from a virtio-blk disk with dd (initrd-virtio, probe.mode=blk), MB/s as
//        the guest reports it (GUEST-DD ... MBps=), and as the host times it (from the GUEST-BLK
//        line to the GUEST-DD line: the dd plus the guest shell's forks around it)
// Both sides boot with tsc=reliable: without it, Linux on QEMU microvm (no HPET, no PM timer)
// watches its TSC against jiffies, and on a loaded host, where QEMU's timer loses ticks, marks
// the TSC unstable and keeps time with refined-jiffies, which then runs slow (measured: 0.74 s
// of guest time over 1.07 s of host time), so every time the guest reports is inflated.
//   cpu  busybox sha256sum, md5sum and gzip over 32 MiB of /dev/zero, seconds as the guest
//        measures them (an initrd built at run time in OUT by bench/make_cpu_initrd.sh)
//   smp  boot to GUEST-INIT-REACHED (initrd-min), wall time, --cpus 1 vs --cpus 2 (popek bt, and
//        QEMU TCG -smp 1 vs 2 for reference: MTTCG)
// --cpus N runs blk and cpu with N vCPUs on both sides. --popek-before PATH adds a second popek binary
// (e.g. a copy of main's) as a third side, interleaved run by run with the others, so a change is
// measured before/after in the same run. Skips with the reason when the guest directory
// (bash /work/shared/baseline/fetch-guest.sh) is absent.
//
// usage: linux_bench [--runs N] [--guest-dir DIR] [--out DIR] [--cpus N] [--cases blk,cpu,smp]
//                    [--popek-before BINARY]
#include "bench_args.h"
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "child_process.h"

namespace {

using namespace bench;

struct Config {
    int runs = 3, cpus = 1;
    std::string guest_dir = "/tmp/vmm-guest", out = "/tmp/popek-bench12", cases = "blk,cpu,smp";
    std::string popek_before;   ///< --popek-before: a second popek binary beside this build (every case)
};

/// Linux on popek --accel bt, or on QEMU microvm TCG (with tsc_early_khz, as bench-qemu.sh does);
/// both with tsc=reliable (see the top of this file).
struct Side {
    std::string label;
    bool qemu;
    int cpus;
    std::string binary = POPEK_BINARY;   ///< popek sides only
};

Argv linux_argv(const Config& c, const Side& s, const std::string& initrd, const std::string& cmdline,
                const std::string& disk) {
    const std::string vmlinux = c.guest_dir + "/vmlinux", cpus = std::to_string(s.cpus);
    const std::string line = cmdline + " tsc=reliable";
    if (!s.qemu) {
        Argv a{s.binary, "run", "--accel", "bt", "--mem", "256", "--cpus", cpus, "--kernel", vmlinux,
               "--initrd", initrd, "--cmdline", line};
        if (!disk.empty()) a.insert(a.end(), {"--disk", disk});
        return a;
    }
    Argv a{"qemu-system-x86_64", "-M", "microvm", "-accel", "tcg", "-m", "256", "-smp", cpus, "-nographic",
           "-no-reboot", "-kernel", vmlinux, "-initrd", initrd, "-append",
           line + " tsc_early_khz=" + std::to_string(host_cpu_khz())};
    if (!disk.empty())
        a.insert(a.end(), {"-drive", "id=d0,file=" + disk + ",format=raw,if=none", "-device", "virtio-blk-device,drive=d0"});
    return a;
}

/// The number after `key` on the first line of `out` that starts with `prefix`; -1 if absent.
double field(const std::string& out, const std::string& prefix, const std::string& key) {
    for (size_t at = out.find(prefix); at != std::string::npos; at = out.find(prefix, at + 1)) {
        if (at != 0 && out[at - 1] != '\n') continue;
        size_t end = out.find('\n', at), k = out.find(key, at);
        if (k == std::string::npos || k > end) return -1;
        return std::strtod(out.c_str() + k + key.size(), nullptr);
    }
    return -1;
}

void print_fail(const Side& s, const RunResult& r, const std::string& what) {
    std::printf("  %s: no %s (status %d); last output: %s\n", s.label.c_str(), what.c_str(), r.status,
                r.output.substr(r.output.size() > 300 ? r.output.size() - 300 : 0).c_str());
}

void bench_blk(const Config& c, const std::vector<Side>& sides) {
    const std::string disk = c.out + "/disk-64M.img";
    if (access(disk.c_str(), R_OK) != 0 &&
        std::system(("mkdir -p " + c.out + " && head -c 67108864 /dev/urandom > " + disk).c_str()) != 0) {
        std::printf("blk: skipped (cannot write %s)\n", disk.c_str());
        return;
    }
    const std::string initrd = c.guest_dir + "/initrd-virtio.cpio.gz", line = "console=ttyS0 quiet probe.mode=blk";
    constexpr double kBytes = 64.0 * 1048576.0;
    const size_t n = sides.size();
    std::vector<std::vector<double>> mbps(n), host(n), cpu(n);
    for (int i = 0; i < c.runs; ++i)
        for (size_t k = 0; k < n; ++k) {
            const Side& s = sides[k];
            RunResult r = run_once(linux_argv(c, s, initrd, line, disk), "GUEST-HALT", 600.0, nullptr, false,
                                   {"GUEST-BLK", "GUEST-DD"});
            double v = field(r.output, "GUEST-DD", "MBps=");
            if (v < 0) print_fail(s, r, "GUEST-DD line");
            mbps[k].push_back(v);
            double dt = r.stamps[0] >= 0 && r.stamps[1] > r.stamps[0] ? r.stamps[1] - r.stamps[0] : -1;
            host[k].push_back(dt > 0 ? kBytes / dt / 1e6 : -1);
            cpu[k].push_back(r.cpu_s);
        }
    std::printf("\nblk: dd 64 MiB from /dev/vda (virtio-mmio), %d vCPU(s), median of %d; MB/s as the guest reports it,\n"
                "     and host-timed (GUEST-BLK to GUEST-DD line: the dd and the shell's forks around it)\n",
                c.cpus, c.runs);
    std::vector<double> g(n), h(n);
    for (size_t k = 0; k < n; ++k) {
        g[k] = median(mbps[k]), h[k] = median(host[k]);
        std::printf("  %-34s %8.0f MB/s guest  %8.0f MB/s host-timed   whole run %6.2f s CPU\n", sides[k].label.c_str(),
                    g[k], h[k], median(cpu[k]));
    }
    const size_t q = n - 1;   // QEMU is the last side, popek (this build) the first
    if (g[0] > 0 && g[q] > 0)
        std::printf("  bt/TCG = %.3f guest-reported (target >= 1.0: %s), %.3f host-timed\n", g[0] / g[q],
                    g[0] >= g[q] ? "met" : "NOT MET", h[q] > 0 ? h[0] / h[q] : -1);
    for (size_t k = 1; k < q; ++k)
        if (g[k] > 0 && h[k] > 0)
            std::printf("  this build / %s = %.3f guest-reported, %.3f host-timed\n", sides[k].label.c_str(), g[0] / g[k],
                        h[0] / h[k]);
}

void bench_cpu(const Config& c, const std::vector<Side>& sides) {
    const std::string script = std::string(POPEK_BENCH_DIR) + "/make_cpu_initrd.sh";
    if (std::system(("bash " + script + " " + c.guest_dir + " " + c.out).c_str()) != 0) {
        std::printf("cpu: skipped (%s failed)\n", script.c_str());
        return;
    }
    const std::string initrd = c.out + "/initrd-cpu.cpio.gz";
    const char* programs[] = {"sha256sum", "md5sum", "gzip"};
    const size_t n = sides.size(), tcg = n - 1;   // sides: bt, [before,] TCG
    std::vector<std::array<std::vector<double>, 3>> secs(n);
    std::vector<std::vector<double>> cpu(n);
    std::vector<std::array<std::string, 3>> outs(n);
    for (int i = 0; i < c.runs; ++i)
        for (size_t k = 0; k < n; ++k) {
            const Side& s = sides[k];
            RunResult r = run_once(linux_argv(c, s, initrd, "console=ttyS0 quiet", ""), "GUEST-HALT", 900.0);
            cpu[k].push_back(r.cpu_s);
            for (int p = 0; p < 3; ++p) {
                const std::string prefix = std::string("GUEST-CPU ") + programs[p] + " ";
                double ns = field(r.output, prefix, "ns=");
                if (ns < 0) print_fail(s, r, prefix + "line");
                secs[k][p].push_back(ns < 0 ? -1 : ns / 1e9);
                size_t at = r.output.find(prefix);
                if (at != std::string::npos) {
                    size_t o = r.output.find("out=", at);
                    outs[k][p] = r.output.substr(o + 4, r.output.find(' ', o) - o - 4);
                }
            }
        }
    std::printf("\ncpu: busybox over 32 MiB of /dev/zero, seconds as the guest measures them, %d vCPU(s), median of %d\n",
                c.cpus, c.runs);
    for (size_t k = 0; k < tcg; ++k) {
        if (n > 2) std::printf("  [%s]\n", sides[k].label.c_str());
        std::printf("  %-10s %12s %12s %8s  %s\n", "program", "bt s", "TCG s", "bt/TCG", "output (bt / TCG)");
        for (int p = 0; p < 3; ++p) {
            double b = median(secs[k][p]), q = median(secs[tcg][p]);
            bool same = outs[k][p] == outs[tcg][p] && !outs[k][p].empty();
            std::printf("  %-10s %12.3f %12.3f %8.2f  %s%s (target bt/TCG <= 1.0: %s)\n", programs[p], b, q,
                        b > 0 && q > 0 ? b / q : -1, outs[k][p].c_str(),
                        same ? "" : (" / " + outs[tcg][p] + " MISMATCH").c_str(), b > 0 && q > 0 && b <= q ? "met" : "NOT MET");
        }
    }
    for (size_t k = 0; k < n; ++k) std::printf("  whole run CPU: %s %.2f s\n", sides[k].label.c_str(), median(cpu[k]));
}

void bench_smp(const Config& c) {
    const std::string initrd = c.guest_dir + "/initrd-min.cpio.gz";
    std::vector<Side> sides{{"popek bt --cpus 1", false, 1}, {"popek bt --cpus 2", false, 2},
                            {"qemu microvm tcg -smp 1", true, 1}, {"qemu microvm tcg -smp 2", true, 2}};
    if (!c.popek_before.empty()) {
        sides.push_back({"before bt --cpus 1", false, 1, c.popek_before});
        sides.push_back({"before bt --cpus 2", false, 2, c.popek_before});
    }
    const size_t n = sides.size();
    std::vector<std::vector<double>> wall(n), up(n), cpu(n);
    for (int i = 0; i < c.runs; ++i)
        for (size_t k = 0; k < n; ++k) {
            RunResult r = run_once(linux_argv(c, sides[k], initrd, "console=ttyS0 quiet", ""), "GUEST-INIT-REACHED", 600.0);
            if (r.marker_s < 0) print_fail(sides[k], r, "marker");
            wall[k].push_back(r.marker_s);
            up[k].push_back(field(r.output, "GUEST-INIT-REACHED", "uptime="));
            cpu[k].push_back(r.cpu_s);
        }
    std::printf("\nsmp: Debian vmlinux + initrd-min to GUEST-INIT-REACHED, median of %d\n", c.runs);
    std::printf("  %-26s %12s %14s %16s\n", "", "wall s", "guest uptime s", "whole run CPU s");
    for (size_t k = 0; k < n; ++k)
        std::printf("  %-26s %12.2f %14.2f %16.2f\n", sides[k].label.c_str(), median(wall[k]), median(up[k]),
                    median(cpu[k]));
    double one = median(wall[0]), two = median(wall[1]);
    if (one > 0 && two > 0)
        std::printf("  bt --cpus 2 / --cpus 1 wall = %.3f (target <= 1.0: %s); TCG -smp 2 / -smp 1 = %.3f\n", two / one,
                    two <= one ? "met" : "NOT MET", median(wall[3]) / median(wall[2]));
    if (n > 4 && median(wall[4]) > 0)
        std::printf("  before: --cpus 2 / --cpus 1 wall = %.3f\n", median(wall[5]) / median(wall[4]));
}

}  // namespace

int main(int argc, char** argv) {
    Config c;
    if (auto rc = parse_bench_args(argc, argv, "usage: linux_bench [--runs N] [--guest-dir DIR] [--out DIR] [--cpus N] [--cases blk,cpu,smp] [--popek-before BINARY]",
                                   {{"--runs", [&](const std::string& v) { c.runs = std::max(1, std::atoi(v.c_str())); }},
                                    {"--guest-dir", [&](const std::string& v) { c.guest_dir = v; }},
                                    {"--out", [&](const std::string& v) { c.out = v; }},
                                    {"--cpus", [&](const std::string& v) { c.cpus = std::max(1, std::atoi(v.c_str())); }},
                                    {"--cases", [&](const std::string& v) { c.cases = v; }},
                                    {"--popek-before", [&](const std::string& v) { c.popek_before = v; }}}))
        return *rc;
    for (const char* f : {"vmlinux", "initrd-min.cpio.gz", "initrd-virtio.cpio.gz"})
        if (access((c.guest_dir + "/" + f).c_str(), R_OK) != 0) {
            std::printf("linux_bench: skipped (%s/%s missing: bash /work/shared/baseline/fetch-guest.sh %s)\n",
                        c.guest_dir.c_str(), f, c.guest_dir.c_str());
            return 0;
        }
    if (std::system("command -v qemu-system-x86_64 >/dev/null") != 0) {
        std::printf("linux_bench: skipped (qemu-system-x86_64 not found: apt-get install qemu-system-x86)\n");
        return 0;
    }
    std::printf("linux_bench: Debian vmlinux (PVH) from %s, popek --accel bt vs QEMU microvm TCG, runs interleaved\n",
                c.guest_dir.c_str());
    std::vector<Side> sides{{"popek bt --cpus " + std::to_string(c.cpus), false, c.cpus}};
    if (!c.popek_before.empty())
        sides.push_back({"before bt --cpus " + std::to_string(c.cpus), false, c.cpus, c.popek_before});
    sides.push_back({"qemu microvm tcg -smp " + std::to_string(c.cpus), true, c.cpus});
    if (c.cases.find("blk") != std::string::npos) bench_blk(c, sides);
    std::fflush(stdout);
    if (c.cases.find("cpu") != std::string::npos) bench_cpu(c, sides);
    std::fflush(stdout);
    if (c.cases.find("smp") != std::string::npos) bench_smp(c);
    return 0;
}
