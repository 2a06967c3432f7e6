// popek-os (guest/, docs/guest-os.md): boot to the shell prompt and the system call round trip,
// on every engine, on the PC devices and under --xen on the PV devices, each next to a baseline
// measured in the same run:
//   boot to `$ `     vs  QEMU microvm TCG booting the same image (PC devices; QEMU has no Xen
//                        personality without KVM's Xen support, which this host lacks)
//   getpid in guest  vs  getpid on the host (syscall(SYS_getpid) in this process)
//
// usage: guest_os_bench [--runs N]
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <regex>
#include <string>

#include "child_process.h"

namespace {

using namespace bench;

/// A VM with its console on pipes: types commands, reads what comes back.
class Console {
public:
    explicit Console(const Argv& argv) {
        int in[2], out[2];
        if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0) return;
        m_pid = fork();
        if (m_pid == 0) {
            dup2(in[0], 0);
            dup2(out[1], 1);
            int devnull = open("/dev/null", O_WRONLY);
            dup2(devnull, 2);
            std::vector<char*> args;
            for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
            args.push_back(nullptr);
            execvp(args[0], args.data());
            _exit(127);
        }
        close(in[0]);
        close(out[1]);
        m_in = in[1];
        m_out = out[0];
    }
    ~Console() {
        if (m_pid > 0) {
            kill(m_pid, SIGKILL);
            waitpid(m_pid, nullptr, 0);
        }
        if (m_in >= 0) close(m_in);
        if (m_out >= 0) close(m_out);
    }
    /// Waits for `text`; the time it took in seconds, or -1 on timeout.
    double wait_for(const std::string& text, double timeout_s) {
        auto t0 = Clock::now();
        while (m_seen.find(text, m_cursor) == std::string::npos) {
            double left = timeout_s - since(t0);
            pollfd p{m_out, POLLIN, 0};
            if (left <= 0 || poll(&p, 1, static_cast<int>(left * 1000) + 1) <= 0) return -1;
            char buf[4096];
            ssize_t n = read(m_out, buf, sizeof buf);
            if (n <= 0) return -1;
            m_seen.append(buf, static_cast<size_t>(n));
        }
        m_cursor = m_seen.find(text, m_cursor) + text.size();
        return since(t0);
    }
    void type(const std::string& s) {
        if (write(m_in, s.data(), s.size()) != static_cast<ssize_t>(s.size())) std::perror("write");
    }
    const std::string& seen() const { return m_seen; }

private:
    pid_t m_pid = -1;
    int m_in = -1, m_out = -1;
    std::string m_seen;
    size_t m_cursor = 0;
};

bool kvm_usable() { return access("/dev/kvm", R_OK | W_OK) == 0; }

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
