// Issue 12 benchmark: the memory-heavy guest (tests/guests/bench_mem.pvh.S) part by part on
// popek --accel bt (and --accel interp with --interp: slow) beside QEMU TCG, the same ELF in the
// same run. Per part: CPU time (user + system of the child: the host is shared, wall time would
// measure the neighbours) minus the CPU time of part 0 (the same boot, no work), median of --runs
// runs, engines interleaved run by run so that they see the same load. The checksums must be
// equal on every engine: MISMATCH (and exit status 1) otherwise.
//
// usage: mem_bench [--runs N] [--interp] [--parts aghbcdef] [--guest ELF]
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "child_process.h"

namespace {

using namespace bench;

struct Engine {
    std::string label;
    std::function<Argv(char part)> argv;
    int runs;
};

const std::map<char, const char*> kPartNames = {
    {'a', "memcpy 64 MiB rep movsb, x4"}, {'g', "memcpy 64 MiB 8-byte loop, x4"},
    {'h', "g, dst 64 MiB after src, x4"},    {'b', "byte scan 64 MiB, x4"},       {'c', "list walk 1 Mi nodes, x4"},
    {'d', "sieve 32 Mi, x2"},              {'e', "recursion 1 Mi deep, x64"},   {'f', "switch dispatch 32 Mi ops"},
};

struct Sample {
    double cpu_s = -1;
    std::string checksum;  ///< "" when the run failed
};

Sample run_part(const Engine& e, char part) {
    RunResult r = run_once(e.argv(part), "BENCH-MEM", 900.0);
    Sample s;
    auto at = r.output.find("checksum=");
    if (r.status != 1 || at == std::string::npos) {
        std::fprintf(stderr, "mem_bench: %s part %c failed (status %d): %s\n", e.label.c_str(), part, r.status,
                     r.output.substr(0, 200).c_str());
        return s;
    }
    s.cpu_s = r.cpu_s;
    s.checksum = r.output.substr(at + 9, 16);
    return s;
}

/// Median CPU seconds of each engine for one part, runs interleaved; checksums in `sums`.
std::vector<double> measure(const std::vector<Engine>& engines, char part, std::vector<std::string>& sums) {
    std::vector<std::vector<double>> cpu(engines.size());
    sums.assign(engines.size(), "");
    int most = 0;
    for (const Engine& e : engines) most = std::max(most, e.runs);
    for (int i = 0; i < most; ++i)
        for (size_t k = 0; k < engines.size(); ++k) {
            if (i >= engines[k].runs) continue;
            Sample s = run_part(engines[k], part);
            cpu[k].push_back(s.cpu_s);
            if (sums[k].empty() || s.checksum.empty()) sums[k] = s.checksum.empty() ? "FAILED" : s.checksum;
        }
    std::vector<double> out;
    for (auto& v : cpu) out.push_back(median(v));
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    int runs = 3;
    bool with_interp = false;
    std::string parts = "aghbcdef", elf = std::string(POPEK_GUEST_DIR) + "/bench_mem.elf";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--interp") with_interp = true;
        else if (a == "--runs" && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
        else if (a == "--parts" && i + 1 < argc) parts = argv[++i];
        else if (a == "--guest" && i + 1 < argc) elf = argv[++i];
        else if (a == "--help" || a == "-h") {
            std::printf("usage: mem_bench [--runs N] [--interp] [--parts aghbcdef] [--guest ELF]\n");
            return 0;
        } else {
            std::fprintf(stderr, "mem_bench: bad option %s (usage: mem_bench [--runs N] [--interp] [--parts aghbcdef] [--guest ELF])\n", a.c_str());
            return 2;
        }
    }
    for (char part : parts)
        if (!kPartNames.contains(part)) {
            std::fprintf(stderr, "mem_bench: unknown part %c (a-h)\n", part);
            return 2;
        }
    if (std::system("command -v qemu-system-x86_64 >/dev/null") != 0) {
        std::fprintf(stderr, "mem_bench: qemu-system-x86_64 not found (apt-get install qemu-system-x86)\n");
        return 2;
    }
    if (access(elf.c_str(), R_OK) != 0) {
        std::fprintf(stderr, "mem_bench: %s missing: build the guest_bench_mem target\n", elf.c_str());
        return 2;
    }
    auto popek = [&](const std::string& accel) {
        return [accel, elf](char part) {
            return Argv{POPEK_BINARY, "run", "--accel", accel, "--mem", "256", "--kernel", elf, "--cmdline",
                        std::string(1, part)};
        };
    };
    auto qemu = [elf](char part) {
        return Argv{"qemu-system-x86_64", "-M", "microvm", "-m", "256", "-nographic", "-no-reboot", "-accel", "tcg",
                    "-kernel", elf, "-append", std::string(1, part), "-device", "isa-debug-exit,iobase=0xf4,iosize=4"};
    };
    std::vector<Engine> engines = {{"popek bt", popek("bt"), runs}, {"qemu tcg", qemu, runs}};
    if (with_interp) engines.push_back({"popek interp", popek("interp"), 1});  // ~10x slower than bt: one run

    std::vector<std::string> sums;
    std::vector<double> base = measure(engines, '0', sums);
    std::printf("mem_bench: %s, median of %d runs%s, CPU seconds (user+sys) minus an empty boot", elf.c_str(), runs,
                with_interp ? " (interp: 1)" : "");
    for (size_t k = 0; k < engines.size(); ++k) std::printf("%s %s %.3f s", k ? "," : ":", engines[k].label.c_str(), base[k]);
    std::printf("\n\n  %-4s %-28s %10s %10s %10s %9s  %-16s %s\n", "part", "what", "bt CPU s", "TCG CPU s",
                with_interp ? "interp s" : "", "bt/TCG", "checksum", "target bt/TCG <= 1.0");
    bool mismatch = false;
    for (char part : parts) {
        auto name = kPartNames.find(part);
        std::vector<double> t = measure(engines, part, sums);
        for (size_t k = 0; k < t.size(); ++k) t[k] = t[k] >= 0 && base[k] >= 0 ? std::max(0.0, t[k] - base[k]) : -1;
        bool equal = true;
        for (const std::string& s : sums) equal = equal && s == sums[0] && s != "FAILED";
        mismatch = mismatch || !equal;
        double ratio = t[0] > 0 && t[1] > 0 ? t[0] / t[1] : -1;
        char interp[16] = "";
        if (with_interp) std::snprintf(interp, sizeof interp, "%.3f", t[2]);
        std::printf("  %-4c %-28s %10.3f %10.3f %10s %9.2f  %-16s %s\n", part, name->second, t[0], t[1], interp,
                    ratio, equal ? sums[0].c_str() : "MISMATCH", ratio < 0 ? "?" : ratio <= 1.0 ? "met" : "NOT MET");
        if (!equal)
            for (size_t k = 0; k < engines.size(); ++k)
                std::printf("       %s checksum %s\n", engines[k].label.c_str(), sums[k].c_str());
        std::fflush(stdout);
    }
    return mismatch ? 1 : 0;
}
