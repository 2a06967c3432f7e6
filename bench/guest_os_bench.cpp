// popek-os (guest/, docs/guest-os.md): boot to the shell prompt and the system call round trip,
// on every engine, on the PC devices and under --xen on the PV devices, each next to a baseline
// measured in the same run:
//   boot to `$ `     vs  QEMU microvm TCG booting the same image (PC devices; QEMU has no Xen
//                        personality without KVM's Xen support, which this host lacks)
//   getpid in guest  vs  getpid on the host (syscall(SYS_getpid) in this process)
//
// usage: guest_os_bench [--runs N]
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <regex>
#include <string>

#include "child_process.h"
#include "vm_console.h"

namespace {

using namespace bench;

double host_getpid_us() {
    constexpr int kCalls = 1'000'000;
    auto t0 = Clock::now();
    for (int i = 0; i < kCalls; ++i) syscall(SYS_getpid);
    return since(t0) * 1e6 / kCalls;
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 5;
    if (argc == 3 && std::string(argv[1]) == "--runs") runs = std::max(1, std::atoi(argv[2]));
    const std::string popek = POPEK_BINARY, image = POPEK_OS_ELF;
    std::printf("guest_os_bench: %s, %d boots per configuration (median)\n", image.c_str(), runs);

    // Boot to the prompt: QEMU TCG on the same image first, as the baseline.
    const Argv qemu{"qemu-system-x86_64", "-M", "microvm", "-m", "256", "-nographic", "-no-reboot", "-accel", "tcg",
                    "-kernel", image, "-device", "isa-debug-exit,iobase=0xf4,iosize=4"};
    auto boot_median = [&](const Argv& cmd) {
        std::vector<double> t;
        for (int i = 0; i < runs; ++i) {
            Console c(cmd);
            t.push_back(c.wait_for("$ ", 60));
        }
        return median(t);
    };
    double qemu_boot = boot_median(qemu);
    std::printf("boot to '$ ': qemu microvm tcg (PC devices)      %8.1f ms  (baseline)\n", qemu_boot * 1e3);

    std::vector<std::pair<std::string, bool>> configs;
    for (const char* accel : {"kvm", "interp"}) {
        if (std::string(accel) == "kvm" && !kvm_usable()) {
            std::printf("--accel kvm: skipped (/dev/kvm not usable)\n");
            continue;
        }
        configs.push_back({accel, false});
        configs.push_back({accel, true});
    }
    const double host_us = host_getpid_us();
    for (const auto& [accel, xen] : configs) {
        Argv cmd{popek, "run", "--accel", accel, "--kernel", image};
        if (xen) cmd.push_back("--xen");
        std::string label = "popek --accel " + accel + (xen ? " --xen (PV devices)" : " (PC devices)");
        double boot = boot_median(cmd);
        std::printf("boot to '$ ': %-36s %8.1f ms  ratio to qemu %.2f\n", label.c_str(), boot * 1e3,
                    qemu_boot > 0 ? boot / qemu_boot : 0.0);

        // The guest's own clock has 10 ms ticks: enough calls to take about a second.
        Console c(cmd);
        if (c.wait_for("$ ", 60) < 0) {
            std::printf("  no prompt\n");
            continue;
        }
        const long calls = accel == "interp" ? 200000 : 5000;
        c.type("bench " + std::to_string(calls) + "\n");
        std::smatch m;
        if (c.wait_for("spawn+wait", 120) < 0 || c.wait_for("\n$ ", 120) < 0 ||
            !std::regex_search(c.seen(), m, std::regex(R"(bench: syscall: ([0-9]+) in ([0-9]+) ms)"))) {
            std::printf("  bench failed: %s\n", c.seen().substr(c.seen().size() > 300 ? c.seen().size() - 300 : 0).c_str());
            continue;
        }
        double us = std::stod(m[2]) * 1e3 / std::stod(m[1]);
        std::printf("  getpid round trip: guest %.3f us, host %.3f us, ratio %.1f\n", us, host_us, us / host_us);
    }
    return 0;
}
