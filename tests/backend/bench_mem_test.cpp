// The memory-heavy benchmark guest (tests/guests/bench_mem.pvh.S, issue 12) in its 64x smaller
// variant: every part prints the same checksum on interp and bt, and that checksum is the one
// QEMU 7.2 TCG printed for the same ELF (`-append Xs`). The timing lives in bench/mem_bench,
// never here: speed goals are not unit-test material.
#include <gmock/gmock.h>

#include "popek_process.h"

namespace popek::test {
namespace {

struct Part {
    char selector;
    const char* name;
    const char* checksum;  ///< as QEMU TCG prints it for the small variant
};

[[maybe_unused]] void PrintTo(const Part& p, std::ostream* os) { *os << p.selector << " " << p.name; }

const Part kParts[] = {
    {'0', "none", "0000000000000000"},   {'a', "memcpy", "109bff40f2253e2c"}, {'b', "scan", "00feae054c1f3914"},
    {'c', "list", "19fa175190aaa5a0"},   {'d', "sieve", "54167f413a403c11"},  {'e', "recur", "b9aa160ed266bdbc"},
    {'f', "switch", "d72e8277c6ae62ba"}, {'g', "cpyq", "109bff40f2253e2c"},
    {'h', "cpyq64", "109bff40f2253e2c"},  // g and h copy a's data: a's checksum
};

class BenchMemTest : public ::testing::TestWithParam<std::tuple<const char*, Part>> {};

TEST_P(BenchMemTest, SmallVariantPrintsQemusChecksum) {
    const auto& [engine, part] = GetParam();
    const std::string cmdline = std::string(1, part.selector) + "s";
    RunResult r = run_popek({"run", "--accel", engine, "--mem", "256", "--kernel", guest_elf("bench_mem"), "--cmdline",
                             cmdline});
    if (auto why = engine_unusable(r)) GTEST_SKIP() << "--accel " << engine << " unusable here: " << *why;
    ASSERT_FALSE(r.timed_out) << "part " << part.selector << " on " << engine;
    EXPECT_EQ(r.status, 1) << r.err;
    EXPECT_EQ(r.out, std::string("BENCH-MEM part=") + part.selector + " " + part.name + " checksum=" + part.checksum +
                         "\n");
}

INSTANTIATE_TEST_SUITE_P(Parts, BenchMemTest,
                         ::testing::Combine(::testing::Values("interp", "bt"), ::testing::ValuesIn(kParts)),
                         [](const auto& param_info) {
                             return std::string(std::get<0>(param_info.param)) + "_" + std::get<1>(param_info.param).name;
                         });

}  // namespace
}  // namespace popek::test
