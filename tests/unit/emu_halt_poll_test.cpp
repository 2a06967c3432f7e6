/// Halt polling (Cpu::HaltPoll): with more than one vCPU a halted vCPU spins on its attention
/// flag before it sleeps, once its halts have been short; an event raised meanwhile ends the poll
/// (and the sleep never happens). A single vCPU never polls.
#include <xbyak/xbyak.h>

#include "emu_harness.h"
#include "emu_quiet_interrupts.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

constexpr uint64_t kCount = 0x7800, kHandler = kCode + 0x1000;
constexpr uint8_t kVector = 0x40;

/// An interrupt that arrives while the vCPU is about to halt: the check before the halt finds
/// nothing pending but raises attention (as an IPI sent at that moment does), and the next check
/// finds the vector. `waits` counts the calls of wait() (this fake returns from each at once).
struct IpiWhileHalting : QuietInterrupts {
    Cpu* cpu = nullptr;
    bool pending = false;
    int waits = 0;
    bool interrupt_pending() override {
        if (pending) return true;
        if (!cpu->halted) return false;   // it comes while the vCPU halts
        pending = true;
        cpu->attention = true;
        return false;
    }
    std::optional<uint8_t> acknowledge_interrupt() override {
        pending = false;
        return kVector;
    }
    void wait(uint64_t, WakeOn) override { ++waits; }
};

class EmuHaltPoll : public ::testing::TestWithParam<int> {};

TEST_P(EmuHaltPoll, AnEventRaisedWhileHaltingEndsThePollWithMoreThanOneVcpu) {
    const int vcpus = GetParam();
    IpiWhileHalting ints;
    EmuHarness g(&ints);
    g.setup_long_mode();
    ints.cpu = &g.cpu();
    g.cpu().shared().vcpus = vcpus;   // (the harness has one Cpu; only the count matters here)
    // sti; 1: hlt; jmp 1b   -- the handler counts to 4, then leaves through an OUT exit.
    g.write(kCode, {0xfb, 0xf4, 0xeb, 0xfd});
    alignas(16) static uint8_t buffer[4096];
    G c(sizeof(buffer), buffer);
    Xbyak::Label back;
    c.mov(rbx, kCount);
    c.inc(qword[rbx]);
    c.cmp(qword[rbx], 4);
    c.jb(back);
    c.out_(0x80, al);
    c.L(back);
    c.db(0x48);
    c.db(0xcf);   // iretq
    g.write(kHandler, {c.getCode(), c.getCode() + c.getSize()});
    g.set_gate(kVector, kHandler);
    g.cpu().rip = kCode;
    const auto exit = g.run();
    ASSERT_FALSE(is_halt(exit));
    ASSERT_FALSE(g.reported()) << "exception at rip " << std::hex << g.reported_rip();
    ASSERT_EQ(g.read<uint64_t>(kCount), 4u);
    const Cpu::HaltPoll& p = g.cpu().halt_poll();
    if (vcpus == 1) {
        EXPECT_EQ(p.polls, 0u);
        EXPECT_EQ(p.window_ns, 0u);
        EXPECT_EQ(ints.waits, 4);
        return;
    }
    // The first halt had no window yet: it went straight to wait() (a short halt: the window
    // opened). The three after it polled and saw the attention raised before they halted.
    EXPECT_EQ(p.polls, 3u);
    EXPECT_EQ(p.hits, 3u);
    EXPECT_GE(p.window_ns, Cpu::kHaltPollStartNs);
    EXPECT_LE(p.window_ns, Cpu::kHaltPollMaxNs);
}

INSTANTIATE_TEST_SUITE_P(Vcpus, EmuHaltPoll, ::testing::Values(1, 2),
                         [](const auto& param_info) { return std::to_string(param_info.param) + "vcpus"; });

}  // namespace
}  // namespace popek::emu::test
