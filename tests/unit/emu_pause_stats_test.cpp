// PAUSE spin-waits are counted per vCPU (`--stats` "idle:" line: Cpu::IdleStats), and every 256th
// gives the host core away, whether the loop is interpreted or translated.
#include <gtest/gtest.h>

#include "emu_harness.h"

namespace popek::emu::test {
namespace {

void spin_1000_pauses(EmuHarness& h) {
    h.setup_long_mode();
    // mov ecx, 1000; 1: pause; dec ecx; jnz 1b; hlt
    h.load_code({0xb9, 0xe8, 0x03, 0x00, 0x00, 0xf3, 0x90, 0xff, 0xc9, 0x75, 0xfa, 0xf4});
    ASSERT_TRUE(is_halt(h.run()));
    EXPECT_EQ(h.cpu().gpr[hv::RCX], 0u);
}

TEST(PauseStats, InterpretedSpinsAreCountedAndYieldEvery256) {
    EmuHarness h;
    spin_1000_pauses(h);
    EXPECT_EQ(h.cpu().idle_stats().pauses, 1000u);
    EXPECT_EQ(h.cpu().idle_stats().pause_yields, 3u) << "1000 / 256";
    EXPECT_EQ(h.cpu().idle_stats().waits, 0u) << "no interrupt platform: HLT ends the run, no host sleep";
}

TEST(PauseStats, TranslatedSpinsAreCountedToo) {
    EmuHarness h;
    h.use_translator();
    spin_1000_pauses(h);
    EXPECT_EQ(h.cpu().idle_stats().pauses, 1000u);
    EXPECT_EQ(h.cpu().idle_stats().pause_yields, 3u);
}

TEST(PauseStats, EachVcpuCountsItsOwn) {
    EmuHarness h;
    spin_1000_pauses(h);
    std::unique_ptr<Cpu> other = h.another_cpu(1);
    EXPECT_EQ(other->idle_stats().pauses, 0u);
}

}  // namespace
}  // namespace popek::emu::test
