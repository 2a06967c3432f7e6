// Equivalence across engines (issue 4, 5a): every in-tree guest produces byte-for-byte the same
// serial output and exit status on every engine that can run it here.
#include <gmock/gmock.h>

#include <map>

#include "popek_process.h"

namespace popek::test {
namespace {

struct GuestRun {
    const char* guest;
    std::vector<std::string> args;
    std::string input;
    bool order_free = false;          ///< vCPUs print concurrently: compare the sorted lines
    const char* pvm_limit = nullptr;  ///< why this host's PVM KVM cannot run it (see the guest tests)
};

/// gtest prints the parameter in test listings and failures: the guest's name, not its bytes.
[[maybe_unused]] void PrintTo(const GuestRun& run, std::ostream* os) { *os << run.guest; }

const std::vector<GuestRun>& guest_runs() {
    static const std::vector<GuestRun> runs = {
        {"hello", {}, ""},
        {"exit_5", {}, ""},
        {"exit_reset", {}, ""},
        {"smp", {"--cpus", "4"}, "", true},
        {"serial_echo", {}, "first line\nSecond Line\nquit\n"},
        {"pio_mmio", {"--test-dev"}, ""},
        {"sensitive", {}, "", false, "ring-3 MOV from CS/SS and LAR/LSL/VERR/VERW see the host"},
        {"fault_de", {}, ""},
        {"fault_ud", {}, ""},
        {"fault_gp", {}, ""},
        {"fault_pf", {}, ""},
        {"fault_bp", {}, "", false, "INT3 at CPL0 is not emulated"},
        {"fault_int", {}, "", false, "INT n is not emulated at CPL0 and is #UD at CPL3"},
        {"fault_iret", {}, ""},
        {"fault_iret_gp", {}, "", false, "IRETQ with a bad CS is not checked"},
    };
    return runs;
}

std::string comparable(const RunResult& r, bool order_free) {
    if (!order_free) return r.out;
    auto lines = lines_of(r.out);
    std::sort(lines.begin(), lines.end());
    std::string out;
    for (auto& l : lines) out += l + "\n";
    return out;
}

class EquivalenceTest : public ::testing::TestWithParam<GuestRun> {};

TEST_P(EquivalenceTest, SameOutputOnEveryEngine) {
    const GuestRun& g = GetParam();
    std::map<std::string, RunResult> results;
    std::string not_compared;
    for (const char* engine : kEngines) {
        if (g.pvm_limit && std::string_view(engine) == "kvm" && kvm_is_pvm()) {
            not_compared += std::string(" kvm (PVM: ") + g.pvm_limit + ");";
            continue;
        }
        std::vector<std::string> args{"run", "--accel", engine, "--kernel", guest_elf(g.guest)};
        args.insert(args.end(), g.args.begin(), g.args.end());
        RunResult r = run_popek(args, g.input);
        if (auto why = engine_unusable(r)) {
            not_compared += std::string(" ") + engine + " (" + *why + ");";
            continue;
        }
        ASSERT_FALSE(r.timed_out) << g.guest << " timed out on " << engine;
        results.emplace(engine, std::move(r));
    }
    if (results.size() < 2)
        GTEST_SKIP() << "fewer than two engines can run " << g.guest << " here; not compared:" << not_compared;
    const auto& [first_engine, first] = *results.begin();
    for (const auto& [engine, r] : results) {
        EXPECT_EQ(r.status, first.status) << g.guest << ": " << engine << " vs " << first_engine;
        EXPECT_EQ(comparable(r, g.order_free), comparable(first, g.order_free))
            << g.guest << ": " << engine << " vs " << first_engine;
    }
}

INSTANTIATE_TEST_SUITE_P(Guests, EquivalenceTest, ::testing::ValuesIn(guest_runs()),
                         [](const ::testing::TestParamInfo<GuestRun>& p) { return std::string(p.param.guest); });

}  // namespace
}  // namespace popek::test
