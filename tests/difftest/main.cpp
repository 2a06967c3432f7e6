// popek_difftest: random unprivileged instruction sequences, run natively and in a popek engine,
// compared register by register (docs/difftest.md).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>

#include "compare.h"
#include "engine_runner.h"
#include "generator.h"
#include "native_runner.h"
#include "triage.h"

namespace {

using namespace popek;
using namespace popek::difftest;
using Clock = std::chrono::steady_clock;

constexpr int kExitMismatch = 1;
constexpr int kExitError = 2;
constexpr int kExitSkipped = 77;   // ctest SKIP_RETURN_CODE: the engine is not usable here

struct Options {
    std::string accel = "interp";
    uint64_t cases = 1000;
    uint64_t seed = 0;
    bool seed_given = false;
    int length = 16;
    std::string filter;
    uint64_t max_mismatches = 10;
    bool verbose = false;
    bool list = false;
};

void print_mismatch(const Options& opt, const Case& c, const Outcome& native, const Outcome& engine,
                    const std::vector<std::string>& diffs, const std::optional<Divergence>& first) {
    fmt::print("MISMATCH seed {:#x} (reproduce: popek_difftest --accel {} --seed {:#x} --cases 1 --length {}{})\n",
               c.seed, opt.accel, c.seed, opt.length, opt.filter.empty() ? "" : " --filter " + opt.filter);
    fmt::print("  native: {}\n  engine: {}\n", describe_end(native), describe_end(engine));
    for (const std::string& d : diffs) fmt::print("  {}\n", d);
    if (first) {
        const InsnRecord& r = c.insns[first->index];
        fmt::print("first divergence after instruction {} at {:#x} ({}):\n", first->index, kCodeAddr + r.offset,
                   r.origin);
        for (const std::string& d : first->diffs) fmt::print("    {}\n", d);
    } else {
        fmt::print("first divergence: no shorter prefix differs\n");
    }
    fmt::print("initial state:\n{}", describe_initial(c));
    const auto stop = [](const Outcome& o) { return o.kind == EndKind::Completed ? uint64_t{0} : o.regs.rip; };
    const uint64_t diverged = first ? kCodeAddr + c.insns[first->index].offset : 0;
    fmt::print("sequence:\n{}\n", disassemble(c, stop(native), stop(engine), diverged));
}

int run(const Options& opt) {
    if (opt.list) {
        for (auto n : template_names()) fmt::print("{}\n", n);
        return 0;
    }
    const auto accel = hv::parse_accel(opt.accel);
    if (!accel) {
        fmt::print(stderr, "popek_difftest: {}\n", accel.error().message);
        return kExitError;
    }
    if (!filter_matches_any(opt.filter)) {
        fmt::print(stderr, "popek_difftest: --filter '{}' matches no template (see --list)\n", opt.filter);
        return kExitError;
    }
    // The native child is forked before the engine starts any thread.
    auto native = NativeRunner::create();
    if (!native) {
        fmt::print(stderr, "popek_difftest: native runner: {}\n", native.error().message);
        return kExitError;
    }
    auto engine = EngineRunner::create(*accel);
    if (!engine) {
        fmt::print("SKIPPED: --accel {} is not usable here: {}\n", opt.accel, engine.error().message);
        return kExitSkipped;
    }

    const uint64_t seed = opt.seed_given ? opt.seed : std::random_device{}() | (uint64_t{std::random_device{}()} << 32);
    fmt::print("popek_difftest: --accel {} --seed {:#x} --cases {} --length {}{}\n", opt.accel, seed, opt.cases,
               opt.length, opt.filter.empty() ? "" : " --filter " + opt.filter);
    std::fflush(stdout);
    const GeneratorOptions gen{opt.length, opt.filter};
    Clock::duration t_gen{}, t_native{}, t_engine{};
    uint64_t mismatches = 0, completed = 0, done = 0, instructions = 0;
    std::map<int, uint64_t> vectors;
    for (uint64_t i = 0; i < opt.cases && mismatches < opt.max_mismatches; ++i, ++done) {
        auto t0 = Clock::now();
        const Case c = generate_case(seed + i, gen);
        auto t1 = Clock::now();
        auto n = native->run(c);
        auto t2 = Clock::now();
        auto e = (*engine)->run(c);
        auto t3 = Clock::now();
        t_gen += t1 - t0;
        t_native += t2 - t1;
        t_engine += t3 - t2;
        instructions += c.insns.size();
        if (!n || !e) {
            fmt::print(stderr, "popek_difftest: seed {:#x}: {}\n", c.seed, (!n ? n.error() : e.error()).message);
            return kExitError;
        }
        if (n->kind == EndKind::Completed) ++completed;
        if (n->kind == EndKind::Exception) ++vectors[n->vector];
        const auto diffs = compare_outcomes(c, *n, *e);
        if (!diffs.empty()) {
            ++mismatches;
            print_mismatch(opt, c, *n, *e, diffs, first_divergence(c, *native, **engine));
        } else if (opt.verbose) {
            fmt::print("case {:#x}: {} ({} instructions)\n{}", c.seed, describe_end(*n), c.insns.size(),
                       disassemble(c, n->kind == EndKind::Exception ? n->regs.rip : 0,
                                   e->kind == EndKind::Exception ? e->regs.rip : 0));
        }
        std::fflush(stdout);
    }

    const auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
    const auto rate = [&](Clock::duration d) { return secs(d) > 0 ? static_cast<double>(done) / secs(d) : 0.0; };
    std::string ex;
    for (auto [v, k] : vectors) ex += fmt::format(" #{}:{}", v, k);
    fmt::print("{} cases ({} instructions), {} completed, exceptions:{}; {} mismatch{}\n", done, instructions,
               completed, ex.empty() ? " none" : ex, mismatches, mismatches == 1 ? "" : "es");
    fmt::print("cases/s: engine {} {:.0f}, native {:.0f}, generator {:.0f}\n", opt.accel, rate(t_engine),
               rate(t_native), rate(t_gen));
    return mismatches == 0 ? 0 : kExitMismatch;
}

}  // namespace

int main(int argc, char** argv) {
    Options opt;
    CLI::App app{"popek_difftest - random instruction sequences: host CPU vs. a popek engine", "popek_difftest"};
    app.add_option("--accel", opt.accel, "engine to test: interp, kvm or bt")->capture_default_str();
    app.add_option("--cases", opt.cases, "number of cases")->capture_default_str();
    app.add_option("--seed", opt.seed, "seed of the first case (case k uses seed+k); random if absent")
        ->each([&](const std::string&) { opt.seed_given = true; });
    app.add_option("--length", opt.length, "templates per case")->check(CLI::Range(1, 2000))->capture_default_str();
    app.add_option("--filter", opt.filter, "templates to use: names containing one of these, minus those containing a -part (comma-separated, see --list)");
    app.add_option("--max-mismatches", opt.max_mismatches, "stop after this many mismatches")->capture_default_str();
    app.add_flag("--verbose,-v", opt.verbose, "print every case");
    app.add_flag("--list", opt.list, "list the template names and exit");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    return run(opt);
}
