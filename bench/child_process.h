#pragma once
// Shared by the benchmark programs: run a VMM as a child process, read its serial output until a
// marker, and collect wall time, CPU time and peak RSS.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace bench {

using Clock = std::chrono::steady_clock;
using Argv = std::vector<std::string>;

struct RunResult {
    double first_byte_s = -1, marker_s = -1, exit_s = -1;
    double cpu_s = -1;   ///< user + system time of the child
    std::string output;  ///< the last MiB of what it printed
    long maxrss_kib = -1;
    int status = -1;
    /// Host seconds (since spawn) at which each line starting with one of run_once's `stamp`
    /// prefixes was first read, in the order of `stamp`; -1 where it never came. Host-side timing
    /// of guest phases, independent of the guest's own clock (which may run slow: a guest that
    /// marks its TSC unstable falls back to jiffies and loses ticks on a loaded host).
    std::vector<double> stamps;
};

inline double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

inline pid_t spawn(const Argv& argv, int* out_fd, bool with_stderr = false) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0);
        dup2(p[1], 1);
        dup2(with_stderr ? p[1] : devnull, 2);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        execvp(args[0], args.data());
        _exit(127);
    }
    close(p[1]);
    *out_fd = p[0];
    return pid;
}

/// Reads the child's stdout until `marker` shows up (then calls `at_marker`) and until EOF.
inline RunResult run_once(const Argv& argv, const std::string& marker, double timeout_s,
                   const std::function<void(pid_t)>& at_marker = nullptr, bool with_stderr = false,
                   const std::vector<std::string>& stamp = {}) {
    RunResult r;
    r.stamps.assign(stamp.size(), -1);
    size_t scanned = 0;   // lines before this offset of `seen` were matched against `stamp`
    int fd = -1;
    auto t0 = Clock::now();
    pid_t pid = spawn(argv, &fd, with_stderr);
    if (pid < 0) return r;
    std::string seen;
    char buf[4096];
    for (;;) {
        double left = timeout_s - since(t0);
        if (left <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        pollfd pfd{fd, POLLIN, 0};
        if (poll(&pfd, 1, static_cast<int>(left * 1000) + 1) <= 0) continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        if (r.first_byte_s < 0) r.first_byte_s = since(t0);
        seen.append(buf, static_cast<size_t>(n));
        for (size_t nl; !stamp.empty() && (nl = seen.find('\n', scanned)) != std::string::npos; scanned = nl + 1)
            for (size_t k = 0; k < stamp.size(); ++k)
                if (r.stamps[k] < 0 && seen.compare(scanned, stamp[k].size(), stamp[k]) == 0) r.stamps[k] = since(t0);
        if (r.marker_s < 0 && seen.find(marker) != std::string::npos) {
            r.marker_s = since(t0);
            if (at_marker) at_marker(pid);
        }
        if (seen.size() > (1 << 20)) {
            size_t drop = seen.size() - 4096;
            seen.erase(0, drop);
            scanned = scanned > drop ? scanned - drop : 0;
        }
    }
    close(fd);
    int status = 0;
    rusage ru{};
    wait4(pid, &status, 0, &ru);
    r.exit_s = since(t0);
    r.maxrss_kib = ru.ru_maxrss;
    r.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    r.output = std::move(seen);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return r;
}

inline double mib(long kib) { return static_cast<double>(kib) / 1024.0; }

inline double median(std::vector<double> v) {
    v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return x < 0; }), v.end());
    if (v.empty()) return -1;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

/// The host CPU clock in kHz from /proc/cpuinfo ("cpu MHz"), as the baseline's bench-qemu.sh reads
/// it: Linux under QEMU microvm TCG gets tsc_early_khz=<this> (baseline README, pitfalls).
inline long host_cpu_khz() {
    std::ifstream info("/proc/cpuinfo");
    for (std::string line; std::getline(info, line);)
        if (line.rfind("cpu MHz", 0) == 0) return static_cast<long>(std::stod(line.substr(line.find(':') + 1)) * 1000);
    return 2'000'000;
}

}  // namespace bench
