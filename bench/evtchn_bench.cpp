// Issue 6 item 10 benchmark: an event channel round trip between two vCPUs of a Xen PV guest, next
// to two host threads ping-ponging the same number of times through a pair of eventfds (blocking
// read, like SCHEDOP_poll) and through a pair of atomic flags (busy-polling, like the pending bit).
//   guest: build/guests/xen_evtchn_bench.elf with --xen --cpus 2 times each round trip on vCPU 0
//          (TSC scaled by the pvclock) and prints, per variant,
//          "evtchn-bench mode=<poll|spin> rounds=N ap_rounds=N mean_ns=.. median_ns=.. ...".
//   host:  the same N round trips between two std::threads, each one timed with steady_clock.
// Figures: the median over the runs of each run's mean and median round trip (ns).
//
// usage: evtchn_bench [--runs N] [--accel interp,kvm]
#include "bench_args.h"
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string>
#include <thread>

#include "child_process.h"

namespace {

using namespace bench;

struct Figures {
    std::vector<double> mean, median;
};

struct GuestLine {
    int rounds = -1, ap_rounds = -1;
    double mean_ns = -1, median_ns = -1;
};

/// The guest's "evtchn-bench mode=<mode> ..." line.
GuestLine parse(const std::string& out, const std::string& mode) {
    GuestLine g;
    std::string key = "evtchn-bench mode=" + mode + " ";
    auto at = out.find(key);
    if (at == std::string::npos) return g;
    unsigned long long mean = 0, med = 0;
    if (std::sscanf(out.c_str() + at + key.size(), "rounds=%d ap_rounds=%d mean_ns=%llu median_ns=%llu", &g.rounds,
                    &g.ap_rounds, &mean, &med) != 4)
        return GuestLine{};
    g.mean_ns = static_cast<double>(mean);
    g.median_ns = static_cast<double>(med);
    return g;
}

/// One guest run; adds its figures and returns its round count (-1 on failure).
int guest_run(const std::string& accel, Figures& poll, Figures& spin) {
    Argv argv{POPEK_BINARY, "run", "--accel", accel, "--xen", "--cpus", "2", "--kernel",
              std::string(POPEK_GUEST_DIR) + "/xen_evtchn_bench.elf"};
    RunResult r = run_once(argv, "failures:", 600.0);
    GuestLine p = parse(r.output, "poll"), s = parse(r.output, "spin");
    if (r.status != 0 || p.rounds <= 0 || p.rounds != p.ap_rounds || s.rounds != p.rounds || s.ap_rounds != s.rounds) {
        std::fprintf(stderr, "evtchn_bench: %s failed (status %d):\n%s\n", accel.c_str(), r.status, r.output.c_str());
        return -1;
    }
    poll.mean.push_back(p.mean_ns);
    poll.median.push_back(p.median_ns);
    spin.mean.push_back(s.mean_ns);
    spin.median.push_back(s.median_ns);
    return p.rounds;
}

void add_samples(Figures& f, std::vector<double> ns) {
    double sum = 0;
    for (double v : ns) sum += v;
    f.mean.push_back(ns.empty() ? -1 : sum / static_cast<double>(ns.size()));
    f.median.push_back(median(std::move(ns)));
}

/// Host baseline, blocking: thread A writes eventfd `ping` and reads `pong`; B answers.
void host_eventfd(int rounds, Figures& f) {
    int ping = ::eventfd(0, EFD_CLOEXEC), pong = ::eventfd(0, EFD_CLOEXEC);
    if (ping < 0 || pong < 0) return;
    auto signal = [](int fd) { uint64_t one = 1; return ::write(fd, &one, sizeof one) == sizeof one; };
    auto wait = [](int fd) { uint64_t v = 0; return ::read(fd, &v, sizeof v) == sizeof v; };
    std::thread peer([&] {
        for (int i = 0; i < rounds; ++i)
            if (!wait(ping) || !signal(pong)) return;
    });
    std::vector<double> ns;
    for (int i = 0; i < rounds; ++i) {
        auto t0 = Clock::now();
        if (!signal(ping) || !wait(pong)) break;
        ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
    }
    peer.join();
    ::close(ping);
    ::close(pong);
    add_samples(f, std::move(ns));
}

/// Host baseline, busy-polling: the same with two atomic flags (test-and-clear, like a pending bit).
void host_spin(int rounds, Figures& f) {
    std::atomic<bool> ping{false}, pong{false};
    auto wait = [](std::atomic<bool>& flag) {
        while (!flag.exchange(false, std::memory_order_acq_rel)) __builtin_ia32_pause();
    };
    std::thread peer([&] {
        for (int i = 0; i < rounds; ++i) {
            wait(ping);
            pong.store(true, std::memory_order_release);
        }
    });
    std::vector<double> ns;
    for (int i = 0; i < rounds; ++i) {
        auto t0 = Clock::now();
        ping.store(true, std::memory_order_release);
        wait(pong);
        ns.push_back(std::chrono::duration<double, std::nano>(Clock::now() - t0).count());
    }
    peer.join();
    add_samples(f, std::move(ns));
}

void row(const char* name, const Figures& f, const Figures& base) {
    double mean = median(f.mean), med = median(f.median), bmed = median(base.median);
    std::printf("  %-26s %12.0f %12.0f   %8.1fx\n", name, mean, med, bmed > 0 && med > 0 ? med / bmed : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 3;
    std::string accels = "interp,kvm";
    if (auto rc = parse_bench_args(argc, argv, "usage: evtchn_bench [--runs N] [--accel kvm,interp,bt]",
                                   {{"--runs", [&](const std::string& v) { runs = std::max(1, std::atoi(v.c_str())); }},
                                    {"--accel", [&](const std::string& v) { accels = v; }}}))
        return *rc;
    struct Engine {
        std::string accel;
        Figures poll, spin;
        bool usable = true;
    };
    std::vector<Engine> engines;
    std::stringstream list(accels);
    int rounds = -1;
    for (std::string accel; std::getline(list, accel, ',');) {
        Engine e{accel, {}, {}, !(accel == "kvm" && ::access("/dev/kvm", R_OK | W_OK) != 0)};
        for (int i = 0; e.usable && i < runs; ++i) {
            int n = guest_run(accel, e.poll, e.spin);
            if (n > 0) rounds = n;
        }
        engines.push_back(std::move(e));
    }
    if (rounds <= 0) rounds = 1000;  // the guest's default, when no guest run succeeded
    Figures host_block, host_busy;
    for (int i = 0; i < runs; ++i) {
        host_eventfd(rounds, host_block);
        host_spin(rounds, host_busy);
    }
    std::printf("event channel round trip between 2 vCPUs, %d round trips per run, median of %d runs (ns)\n",
                rounds, runs);
    std::printf("  %-26s %12s %12s   %9s\n", "", "mean", "median", "vs host");
    row("host threads, eventfd", host_block, host_block);
    row("host threads, spin", host_busy, host_busy);
    for (const auto& e : engines) {
        if (!e.usable) {
            std::printf("  %-26s (no usable /dev/kvm)\n", e.accel.c_str());
            continue;
        }
        row((e.accel + ", SCHEDOP_poll").c_str(), e.poll, host_block);
        row((e.accel + ", spin on pending").c_str(), e.spin, host_busy);
    }
    return 0;
}
