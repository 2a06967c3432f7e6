// VM density (issue 14 part 4): starts N tiny guests at once (tests/guests/hold.S: one line on
// COM1, then `sti; hlt` for good), each in its own popek process, and reports
//   - VMs started per second per host core, two ways: N / (time until every VM printed its line)
//     / cores (what a loaded host gives), and 1 / (CPU time each VM took until it was up: all its
//     threads' run time from /proc/PID/task/*/schedstat), which the other builds on a shared
//     host do not inflate; beside Firecracker's specification (docs/specification.md in its
//     repository: 5 microVMs per host core per second) and popek's target (>= 10 on the engine);
//   - each VMM's own memory while all N are up: RSS (and PSS) minus the guest RAM it touched,
//     from /proc/PID/smaps (the popek-guest-ram mapping).
// The raw baseline, measured in the same run: N processes of this program's own `--child` mode
// (exec, dynamic linking of a C++ program, one line on stdout, then pause()): the floor that any
// process-per-VM VMM starts from, with its RSS and PSS.
//
// usage: density_bench [--vms N] [--rounds R] [--accel interp|bt] [--mem MIB] [--guest ELF]
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "bench_args.h"
#include "child_process.h"
#include "smaps_guest_ram.h"

namespace {

using namespace bench;

constexpr const char* kUsage =
    "usage: density_bench [--vms N] [--rounds R] [--accel interp|bt] [--mem MIB] [--guest ELF]";
constexpr const char* kMarker = "hold: up";

struct Memory {
    long rss_kib = 0, pss_kib = 0, guest_rss_kib = 0, guest_pss_kib = 0;
    double cpu_s = 0;   ///< run time of all its threads so far
};

/// The CPU time of every thread of `pid` (schedstat's first field: ns on a CPU).
double cpu_seconds(pid_t pid) {
    double total = 0;
    const std::string dir = "/proc/" + std::to_string(pid) + "/task";
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            if (e->d_name[0] == '.') continue;
            std::ifstream st(dir + "/" + e->d_name + "/schedstat");
            unsigned long long ns = 0;
            if (st >> ns) total += static_cast<double>(ns) / 1e9;
        }
        closedir(d);
    }
    return total;
}

/// Rss and Pss of the whole process and of its guest-RAM mapping (smaps_guest_ram.h).
Memory sample(pid_t pid, long mem_kib) {
    Memory m;
    m.cpu_s = cpu_seconds(pid);
    std::ifstream smaps("/proc/" + std::to_string(pid) + "/smaps");
    SmapsGuestRam ram{mem_kib};
    for (std::string line; std::getline(smaps, line);) {
        const std::string first = line.substr(0, line.find(' '));
        if (first.empty() || first.back() != ':') {
            ram.header(line);
            continue;
        }
        if (first == "Size:") ram.size(std::stol(line.substr(5)));
        if (first == "Rss:" || first == "Pss:") {
            const long kib = std::stol(line.substr(4));
            (first == "Rss:" ? m.rss_kib : m.pss_kib) += kib;
            if (ram.is_guest_ram()) (first == "Rss:" ? m.guest_rss_kib : m.guest_pss_kib) += kib;
        }
    }
    return m;
}

struct Batch {
    double all_up_s = -1;          ///< until the last of the N printed its line
    std::vector<Memory> memory;    ///< of each, with all N up
    int up = 0;
};

/// Starts `n` copies of `argv` at once, waits until each printed the marker (or `timeout_s`),
/// samples their memory (guest RAM: `mem_kib`), then kills and reaps them.
Batch start_batch(const Argv& argv, int n, double timeout_s, long mem_kib) {
    Batch b;
    std::vector<pid_t> pids(static_cast<size_t>(n), -1);
    std::vector<int> fds(static_cast<size_t>(n), -1);
    std::vector<std::string> seen(static_cast<size_t>(n));
    std::vector<bool> up(static_cast<size_t>(n), false);
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) pids[static_cast<size_t>(i)] = spawn(argv, &fds[static_cast<size_t>(i)]);
    while (b.up < n && since(t0) < timeout_s) {
        std::vector<pollfd> pfds;
        std::vector<size_t> which;
        for (size_t i = 0; i < fds.size(); ++i)
            if (!up[i] && fds[i] >= 0) pfds.push_back({fds[i], POLLIN, 0}), which.push_back(i);
        if (pfds.empty() || poll(pfds.data(), pfds.size(), 100) <= 0) continue;
        for (size_t k = 0; k < pfds.size(); ++k) {
            if (!(pfds[k].revents & (POLLIN | POLLHUP))) continue;
            const size_t i = which[k];
            char buf[512];
            const ssize_t got = read(fds[i], buf, sizeof buf);
            if (got <= 0) {
                close(fds[i]);
                fds[i] = -1;
                continue;
            }
            seen[i].append(buf, static_cast<size_t>(got));
            if (seen[i].find(kMarker) != std::string::npos) up[i] = true, ++b.up;
        }
    }
    if (b.up == n) b.all_up_s = since(t0);
    for (pid_t pid : pids)
        if (pid > 0) b.memory.push_back(sample(pid, mem_kib));
    for (size_t i = 0; i < pids.size(); ++i) {
        if (pids[i] > 0) kill(pids[i], SIGKILL);
        if (fds[i] >= 0) close(fds[i]);
    }
    for (pid_t pid : pids)
        if (pid > 0) waitpid(pid, nullptr, 0);
    return b;
}

struct Figures {
    std::vector<double> rate, cpu_rate, own_rss, own_pss;
};

void add(Figures& f, const Batch& b, int n, long cores) {
    if (b.all_up_s > 0) f.rate.push_back(n / b.all_up_s / static_cast<double>(cores));
    for (const Memory& m : b.memory) {
        f.own_rss.push_back(mib(m.rss_kib - m.guest_rss_kib));
        f.own_pss.push_back(mib(m.pss_kib - m.guest_pss_kib));
        if (m.cpu_s > 0) f.cpu_rate.push_back(1.0 / m.cpu_s);
    }
}

int child() {
    std::printf("%s\n", kMarker);
    std::fflush(stdout);
    for (;;) pause();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc == 2 && std::string(argv[1]) == "--child") return child();
    int vms = 16, rounds = 3;
    std::string accel = "bt", mem = "32", guest = std::string(POPEK_GUEST_DIR) + "/hold.elf";
    if (auto status = parse_bench_args(argc, argv, kUsage,
                                       {{"--vms", [&](const std::string& v) { vms = std::stoi(v); }},
                                        {"--rounds", [&](const std::string& v) { rounds = std::stoi(v); }},
                                        {"--accel", [&](const std::string& v) { accel = v; }},
                                        {"--mem", [&](const std::string& v) { mem = v; }},
                                        {"--guest", [&](const std::string& v) { guest = v; }}}))
        return *status;
    if (vms < 1 || vms > 1024 || rounds < 1 || (accel != "interp" && accel != "bt")) {
        std::fprintf(stderr, "density_bench: --vms 1..1024, --rounds >= 1, --accel interp|bt (%s)\n", kUsage);
        return 2;
    }
    if (access(guest.c_str(), R_OK) != 0) {
        std::fprintf(stderr, "density_bench: cannot read the guest %s (build the guest_hold target)\n", guest.c_str());
        return 2;
    }
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    char self[4096];
    const ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return 2;
    self[len] = 0;
    const Argv popek{POPEK_BINARY, "run", "--accel", accel, "--mem", mem, "--kernel", guest};
    const Argv raw{self, "--child"};
    std::printf("density_bench: %d VMs at once, %d rounds, --accel %s --mem %s, %ld host cores\n", vms, rounds,
                accel.c_str(), mem.c_str(), cores);
    Figures p, r;
    for (int round = 0; round < rounds; ++round) {
        // Interleaved, so that both sides see the same host load.
        const Batch pb = start_batch(popek, vms, 120, std::atol(mem.c_str()) * 1024);
        const Batch rb = start_batch(raw, vms, 120, -1);
        if (pb.up != vms) std::printf("  round %d: only %d of %d popek VMs came up\n", round, pb.up, vms);
        add(p, pb, vms, cores);
        add(r, rb, vms, cores);
        std::printf("  round %d: popek %d VMs up in %.3f s, raw %d processes in %.3f s\n", round, pb.up, pb.all_up_s,
                    rb.up, rb.all_up_s);
    }
    const double prate = median(p.rate), rrate = median(r.rate);
    std::printf("  VMs started per second per core, wall (N / time to all up / cores): popek %.1f, raw processes "
                "%.1f, ratio %.2f\n", prate, rrate, rrate > 0 ? prate / rrate : -1);
    const double pcpu = median(p.cpu_rate), rcpu = median(r.cpu_rate);
    std::printf("  VMs started per CPU-second (1 / CPU time to up, median): popek %.1f, raw processes %.1f, ratio %.2f "
                "(Firecracker's specification 5 per core per second, target >= 10)\n", pcpu, rcpu,
                rcpu > 0 ? pcpu / rcpu : -1);
    std::printf("  own memory per VM (median, beyond guest RAM touched): popek RSS %.2f MiB, PSS %.2f MiB; "
                "raw process RSS %.2f MiB, PSS %.2f MiB\n", median(p.own_rss), median(p.own_pss), median(r.own_rss),
                median(r.own_pss));
    return prate > 0 ? 0 : 1;
}
