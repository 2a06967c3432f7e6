// P1/P2 (and the Linux boot figures later): boots the same guest with popek and with QEMU, in the
// same run, and prints time to the first serial byte, time to the marker line, time to exit, and
// the VMM's own memory (peak RSS minus the guest RAM it touched, from /proc/PID/smaps).
//
// usage: boot_bench [--runs N] [--guest-dir DIR] [--cases LIST]
//   cases: tiny-kvm (P1/P2 on KVM), tiny-interp, linux-interp and linux-bt (the Debian kernel +
//   initrd-min through the PVH entry, popek --accel interp / bt vs QEMU microvm TCG with the same
//   kernel, initrd and command line as bench-qemu.sh's linux-microvm-pvh case), linux-interp-bz
//   and linux-bt-bz (the same with the kernel's bzImage, as linux-microvm-bz). Default: tiny-kvm,tiny-interp
//   (KVM cases are left out when /dev/kvm is unusable).
#include "bench_args.h"
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "child_process.h"
#include "smaps_guest_ram.h"

namespace {

using namespace bench;
struct MemSample {
    long hwm_kib = -1, guest_ram_kib = -1;
};

/// VmHWM and the resident size of the guest-RAM mapping(s) (smaps_guest_ram.h).
MemSample sample_memory(pid_t pid, long mem_kib) {
    MemSample s;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);)
        if (line.rfind("VmHWM:", 0) == 0) s.hwm_kib = std::stol(line.substr(6));
    std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
    SmapsGuestRam ram{mem_kib};
    long total = 0;
    for (std::string line; std::getline(smaps, line);) {
        std::string first = line.substr(0, line.find(' '));
        if (first.empty() || first.back() != ':') {  // a mapping's header line
            ram.header(line);
            continue;
        }
        if (first == "Size:") ram.size(std::stol(line.substr(5)));
        if (first == "Rss:" && ram.is_guest_ram()) total += std::stol(line.substr(4));
    }
    s.guest_ram_kib = total;
    return s;
}

struct Side {
    std::string label;
    Argv run, hold;
};

struct Case {
    std::string name, marker;
    Side popek, baseline;
    double timeout_s;
    long mem_kib;
};

void bench_case(const Case& c, int runs) {
    struct Fig { double first, marker, exit; MemSample mem; int status; };
    auto measure = [&](const Side& s) {
        std::vector<double> first, mark, ex;
        int status = -1;
        run_once(s.run, c.marker, c.timeout_s);  // warm-up (page cache, first-run costs)
        for (int i = 0; i < runs; ++i) {
            RunResult r = run_once(s.run, c.marker, c.timeout_s);
            first.push_back(r.first_byte_s);
            mark.push_back(r.marker_s);
            ex.push_back(r.exit_s);
            status = r.status;
        }
        MemSample m;
        run_once(s.hold, c.marker, c.timeout_s, [&](pid_t pid) {
            usleep(300 * 1000);
            m = sample_memory(pid, c.mem_kib);
            kill(pid, SIGKILL);
        });
        return Fig{median(first), median(mark), median(ex), m, status};
    };
    Fig p = measure(c.popek), q = measure(c.baseline);
    std::printf("\n%s (median of %d runs; marker \"%s\")\n", c.name.c_str(), runs, c.marker.c_str());
    std::printf("  %-34s %12s %12s %12s %8s %12s %12s\n", "", "first byte", "marker", "exit", "status",
                "peak RSS", "VMM own");
    for (auto [side, f] : {std::pair{&c.popek, &p}, std::pair{&c.baseline, &q}}) {
        long own = f->mem.hwm_kib >= 0 ? f->mem.hwm_kib - f->mem.guest_ram_kib : -1;
        std::printf("  %-34s %9.1f ms %9.1f ms %9.1f ms %8d %8.1f MiB %8.1f MiB\n", side->label.c_str(),
                    f->first * 1e3, f->marker * 1e3, f->exit * 1e3, f->status, mib(f->mem.hwm_kib),
                    mib(own));
    }
    if (p.marker > 0 && q.marker > 0)
        std::printf("  ratio popek/baseline: marker %.3f, exit %.3f\n", p.marker / q.marker, p.exit / q.exit);
    long pown = p.mem.hwm_kib - p.mem.guest_ram_kib, qown = q.mem.hwm_kib - q.mem.guest_ram_kib;
    if (p.mem.hwm_kib > 0 && q.mem.hwm_kib > 0)
        std::printf("  VMM own memory: popek %.2f MiB, baseline %.2f MiB, ratio %.3f\n", mib(pown), mib(qown),
                    static_cast<double>(pown) / static_cast<double>(qown));
}

bool kvm_usable() { return access("/dev/kvm", R_OK | W_OK) == 0; }

std::vector<std::string> split_cases(const std::string& list) {
    std::vector<std::string> out;
    std::stringstream in(list);
    for (std::string item; std::getline(in, item, ',');) out.push_back(item);
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 10;
    std::string guest_dir = "/tmp/vmm-guest", cases = "tiny-kvm,tiny-interp";
    if (auto rc = parse_bench_args(argc, argv,
                                   "usage: boot_bench [--runs N] [--guest-dir DIR] [--cases tiny-kvm,tiny-interp,linux-interp,linux-bt,linux-interp-bz,linux-bt-bz]",
                                   {{"--runs", [&](const std::string& v) { runs = std::max(1, std::atoi(v.c_str())); }},
                                    {"--guest-dir", [&](const std::string& v) { guest_dir = v; }},
                                    {"--cases", [&](const std::string& v) { cases = v; }}}))
        return *rc;
    const std::string popek = POPEK_BINARY, tiny = guest_dir + "/tiny-pvh.elf", hold = guest_dir + "/tiny-pvh-hold.elf";
    if (access(tiny.c_str(), R_OK) != 0) {
        std::fprintf(stderr, "boot_bench: %s missing: run ../shared/baseline/fetch-guest.sh first\n", tiny.c_str());
        return 2;
    }
    const long mem_mib = 256;
    const std::string mem = std::to_string(mem_mib);
    auto qemu = [&](const std::string& accel, const std::string& kernel, Argv extra) {
        Argv a{"qemu-system-x86_64", "-M", "microvm", "-m", mem, "-nographic", "-no-reboot", "-kernel", kernel};
        if (accel == "kvm") a.insert(a.end(), {"-enable-kvm", "-cpu", "host,-arch-capabilities"});
        else a.insert(a.end(), {"-accel", "tcg"});
        a.insert(a.end(), extra.begin(), extra.end());
        return a;
    };
    const Argv debug_exit{"-device", "isa-debug-exit,iobase=0xf4,iosize=4"};
    std::vector<Case> all;
    auto tiny_case = [&](const std::string& accel, const std::string& qaccel) {
        return Case{"tiny-pvh: popek --accel " + accel + " vs QEMU microvm " + qaccel, "GUEST-INIT-REACHED",
                    Side{"popek --accel " + accel,
                         {popek, "run", "--accel", accel, "--mem", mem, "--kernel", tiny},
                         {popek, "run", "--accel", accel, "--mem", mem, "--kernel", hold}},
                    Side{"qemu microvm " + qaccel, qemu(qaccel, tiny, debug_exit), qemu(qaccel, hold, debug_exit)},
                    20.0, mem_mib * 1024};
    };
    std::printf("boot_bench: %d runs per side, guest RAM %ld MiB, guests from %s\n", runs, mem_mib, guest_dir.c_str());
    if (cases.find("tiny-kvm") != std::string::npos) {
        if (kvm_usable()) all.push_back(tiny_case("kvm", "kvm"));
        else std::printf("tiny-kvm: skipped (/dev/kvm not usable)\n");
    }
    if (cases.find("tiny-interp") != std::string::npos) all.push_back(tiny_case("interp", "tcg"));
    const std::string vmlinux = guest_dir + "/vmlinux", initrd = guest_dir + "/initrd-min.cpio.gz";
    const bool have_linux = access(vmlinux.c_str(), R_OK) == 0 && access(initrd.c_str(), R_OK) == 0;
    const std::vector<std::string> wanted = split_cases(cases);
    for (const std::string variant : {"interp", "bt", "interp-bz", "bt-bz"}) {
        // "-bz": the bzImage (vmlinuz) of the same kernel instead of its PVH vmlinux.
        const bool bz = variant.ends_with("-bz");
        const std::string accel = variant.substr(0, variant.find('-')), name = "linux-" + variant;
        const std::string kernel = bz ? guest_dir + "/vmlinuz" : vmlinux;
        if (std::find(wanted.begin(), wanted.end(), name) == wanted.end()) continue;
        if (!have_linux || access(kernel.c_str(), R_OK) != 0) {
            std::printf("%s: skipped (%s or %s missing: run tools/fetch-linux-guest.sh)\n", name.c_str(), kernel.c_str(),
                        initrd.c_str());
            continue;
        }
        // bench-qemu.sh linux-microvm-pvh: "console=ttyS0 quiet"; the hold run sleeps after the
        // marker so the memory sample sees the booted guest.
        const std::string cmdline = "console=ttyS0 quiet", hold_cmdline = cmdline + " probe.mode=hold probe.hold=3";
        auto popek_linux = [&](const std::string& line) {
            return Argv{popek, "run", "--accel", accel, "--mem", mem, "--kernel", kernel, "--initrd", initrd,
                        "--cmdline", line};
        };
        // QEMU microvm has no HPET or PM timer, and TCG Linux sometimes fails to calibrate the
        // TSC against the PIT and hangs: bench-qemu.sh gives it tsc_early_khz=<host MHz * 1000>
        // (baseline README, pitfalls), and so does this case. popek needs no such option: its
        // CPUID leaf 0x15 states the TSC frequency.
        const std::string tsc_khz = " tsc_early_khz=" + std::to_string(host_cpu_khz());
        auto qemu_linux = [&](const std::string& line) {
            return qemu("tcg", kernel, {"-initrd", initrd, "-append", line + tsc_khz});
        };
        all.push_back(Case{name + ": Debian " + (bz ? "bzImage" : "vmlinux (PVH)") + " + initrd-min, popek --accel " + accel +
                               " vs QEMU microvm tcg",
                           "GUEST-INIT-REACHED",
                           Side{"popek --accel " + accel, popek_linux(cmdline), popek_linux(hold_cmdline)},
                           Side{"qemu microvm tcg", qemu_linux(cmdline), qemu_linux(hold_cmdline)}, 180.0,
                           mem_mib * 1024});
    }
    for (const Case& c : all) bench_case(c, runs);
    return 0;
}
