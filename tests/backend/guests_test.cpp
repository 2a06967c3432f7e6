// Backend tests: the basic in-tree guests (tests/guests/), on every engine.
#include <cpuid.h>
#include <gmock/gmock.h>

#include <map>

#include "popek_process.h"

namespace popek::test {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class GuestTest : public EngineTest {};

TEST_P(GuestTest, HelloPrintsOneLineAndExitsWithStatusOne) {
    RUN_GUEST(r, "hello");
    EXPECT_EQ(r.out, "hello from a popek test guest\n");
    EXPECT_EQ(r.status, 1) << r.err;  // debug-exit value 0 -> 0*2+1
    EXPECT_THAT(r.err, IsEmpty());
}

TEST_P(GuestTest, DebugExitValueBecomesTwiceItPlusOne) {
    // value -> (2*value+1) & 0xff, as a process exit status carries 8 bits
    const std::map<int, int> expected{{0, 1}, {5, 11}, {100, 201}, {255, 255}};
    for (auto [value, status] : expected) {
        RUN_GUEST(r, "exit_" + std::to_string(value));
        EXPECT_EQ(r.status, status) << "exit_" << value << ": " << r.err;
        EXPECT_EQ(r.out, "exitcode guest: debug-exit value " + std::to_string(value) + "\n");
    }
}

TEST_P(GuestTest, ResetThroughPortCf9ExitsWithStatusZero) {
    RUN_GUEST(r, "exit_reset");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, "exitcode guest: reset through port 0xcf9\n");
}

TEST_P(GuestTest, EveryVcpuReportsExactlyOnce) {
    for (int cpus : {1, 2, 4}) {
        RUN_GUEST(r, "smp", {"--cpus", std::to_string(cpus)});
        EXPECT_EQ(r.status, 1) << "--cpus " << cpus << ": " << r.err << r.out;
        for (int i = 0; i < cpus; ++i) {
            std::string line = "cpu " + std::to_string(i) + " of " + std::to_string(cpus);
            auto lines = lines_of(r.out);
            EXPECT_EQ(std::count(lines.begin(), lines.end(), line), 1) << line << " in:\n" << r.out;
        }
        EXPECT_EQ(count_lines(r.out, "cpu "), static_cast<size_t>(cpus)) << r.out;
        EXPECT_THAT(r.out, HasSubstr("all " + std::to_string(cpus) + " vCPUs reported, problems: 0\n"));
    }
}

TEST_P(GuestTest, SerialEchoUpperCasesLinesUntilQuit) {
    // '\r' is dropped, an empty line is echoed, "quit" (any case) ends; exit value = lines echoed
    RUN_GUEST(r, "serial_echo", {}, "hello world\r\nMixed Case 42\n\nQuit\nnot read\n");
    EXPECT_EQ(r.out, "serial echo ready\nHELLO WORLD\nMIXED CASE 42\n\nbye\n");
    EXPECT_EQ(r.status, 2 * 3 + 1) << r.err;
}

TEST_P(GuestTest, SerialEchoSplitsLinesLongerThanItsBuffer) {
    std::string long_line(150, 'x');
    RUN_GUEST(r, "serial_echo", {}, long_line + "\nquit\n");
    std::string upper(64, 'X');
    EXPECT_EQ(r.out, "serial echo ready\n" + upper + "\n" + upper + "\n" + std::string(22, 'X') + "\nbye\n");
    EXPECT_EQ(r.status, 2 * 3 + 1) << r.err;
}

TEST_P(GuestTest, PortAndMemoryMappedIoOfEverySize) {
    RUN_GUEST(r, "pio_mmio", {"--test-dev"});
    EXPECT_EQ(r.status, 1) << r.err << r.out;
    EXPECT_EQ(count_lines(r.out, " PASS"), 39u) << r.out;
    EXPECT_EQ(count_lines(r.out, " FAIL"), 0u) << r.out;
    EXPECT_THAT(r.out, HasSubstr("failures: 0\n"));
    // values worked out by hand from the device's initial pattern and the guest's writes
    for (const char* row : {"pio inl initial              got=0xa7a6a5a4 ",
                            "pio inl bytes 0-3            got=0x12345aa0 ",
                            "rep insb x3 from 0x701       got=0xffffffffff5a5a5a ",
                            "mmio movq initial +0xff8     got=0xdfdedddcdbdad9d8 ",
                            "mmio movq of mixed writes    got=0x445566772233b111 ",
                            "mmio movq unaligned +0x13    got=0xddeeff4455667722 ",
                            "rep movsb mmio->ram          got=0x0303030303030303 ",
                            "mmio orb                     got=0xaf "})
        EXPECT_THAT(r.out, HasSubstr(row));
}

TEST_P(GuestTest, TestDeviceIsAbsentWithoutTheFlag) {
    // Without --test-dev nothing answers at 0x700 / 0xfe000000: the first check must fail.
    RUN_GUEST(r, "pio_mmio");
    EXPECT_THAT(r.out, HasSubstr("pio inb initial"));
    EXPECT_THAT(r.out, ::testing::Not(HasSubstr("pio inb initial              got=0xa0 want=0xa0 PASS")));
    EXPECT_NE(r.status, 1) << r.out;
}

TEST_P(GuestTest, AesNiAndPclmulqdqGiveTheKnownAnswers) {
    // FIPS-197 C.1 AES-128 (key schedule, encryption, decryption), PCLMULQDQ's four selectors,
    // and a 200000-block chain checked against the host's result (tests/guests/aesni.S).
    RUN_GUEST(r, "aesni");
    EXPECT_EQ(r.status, 1) << r.out << r.err;   // no failures
    EXPECT_THAT(r.out, HasSubstr("failures: 0\n"));
    unsigned a, b, c, d;
    if (__get_cpuid(1, &a, &b, &c, &d) && ((c >> 25) & 1) && ((c >> 1) & 1)) {
        EXPECT_THAT(r.out, HasSubstr("ciphertext low"));   // CPUID shows them as the host has them
    }
}

INSTANTIATE_FOR_ENGINES(GuestTest);

}  // namespace
}  // namespace popek::test
