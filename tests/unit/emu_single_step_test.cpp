/// Single-step (SDM Vol. 3A 17.3.1.4): with RFLAGS.TF = 1 each instruction is followed by a #DB
/// trap with DR6.BS; the instruction that sets TF (POPF) is not trapped, the one after it is; an
/// instruction that exits to the VMM (OUT) is trapped after its exit completes; SYSCALL and SYSRET
/// trap on TF at their end. Interp and bt.
#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using G = Xbyak::CodeGenerator;
using namespace Xbyak::util;

class EmuSingleStep : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        h.setup_long_mode();
        h.use_translator(GetParam());
    }
    /// pushf; or $TF, (%rsp); popf; then `body`; returns the RIP the #DB handler saw.
    uint64_t first_trap(const std::function<void(G&)>& body, int* exits = nullptr) {
        h.load_code(assemble_with_hlt([&](G& g) {
            g.pushfq();
            g.or_(qword[rsp], 0x100);
            g.popfq();
            body(g);
        }));
        for (;;) {
            auto e = h.run();
            if (std::holds_alternative<hv::PioOut>(e)) {
                if (exits) ++*exits;
                EXPECT_FALSE(h.reported()) << "#DB before the OUT's exit completed";
                h.cpu().complete_io();
                continue;
            }
            EXPECT_TRUE(is_halt(e));
            break;
        }
        EXPECT_TRUE(h.reported());
        return h.reported_rip() - kCode;
    }
    EmuHarness h;
};

TEST_P(EmuSingleStep, TrapAfterTheFirstInstructionRunWithTf) {
    EXPECT_EQ(first_trap([](G& g) { g.nop(); g.nop(); }), 1u + 8 + 1 + 1);   // pushf, or (8 bytes), popf: after the first NOP
    EXPECT_TRUE(h.cpu().dr[6] & (1u << 14)) << "DR6.BS";
}

TEST_P(EmuSingleStep, TrapAfterAnIoExit) {
    int exits = 0;
    EXPECT_EQ(first_trap([](G& g) { g.out_(0x80, al); g.nop(); }, &exits), 1u + 8 + 1 + 2);
    EXPECT_EQ(exits, 1);
}

/// SYSCALL and SYSRET trap on TF as they leave it (DebugState::step_at_end; kvm-unit-tests syscall
/// "TF handling"): SYSCALL whose IA32_FMASK clears TF is not trapped...
TEST_P(EmuSingleStep, SyscallClearingTfThroughFmaskDoesNotTrap) {
    constexpr uint64_t kTarget = kCode + 0x100;
    h.write(kTarget, {0x90, 0xf4});   // nop; hlt
    Cpu& c = h.cpu();
    c.lstar = kTarget;
    c.star = uint64_t{kCode64} << 32;
    c.sfmask = kTf;
    h.load_code(assemble_with_hlt([](G& g) {
        g.pushfq();
        g.or_(qword[rsp], 0x100);
        g.popfq();
        g.syscall();
    }));
    EXPECT_TRUE(is_halt(h.run()));
    EXPECT_FALSE(h.reported()) << "#DB at rip " << std::hex << h.reported_rip();
    EXPECT_EQ(c.rip, kTarget + 2);
}

/// ...and SYSRET loading TF from R11 traps at once, before the first user instruction.
TEST_P(EmuSingleStep, SysretLoadingTfTrapsInTheUserContext) {
    constexpr uint64_t kUser = kCode + 0x100;
    h.write(kUser, {0x90, 0xf4});   // nop; hlt (the #DB comes first)
    Cpu& c = h.cpu();
    c.star = uint64_t{kCode32} << 48;   // SYSRET to 64-bit: CS = 18h + 16 = 2bh, SS = 23h
    c.gpr[hv::RCX] = kUser;
    c.gpr[hv::R11] = 2 | kTf;
    h.load_code({0x48, 0x0f, 0x07});   // sysretq
    EXPECT_TRUE(is_halt(h.run()));
    ASSERT_TRUE(h.reported());
    EXPECT_EQ(h.reported_rip(), kUser);
    EXPECT_TRUE(c.dr[6] & kDr6Bs);
}

INSTANTIATE_TEST_SUITE_P(Engines, EmuSingleStep, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? std::string("bt") : std::string("interp"); });

}  // namespace
}  // namespace popek::emu::test
