/// Single-step (SDM Vol. 3A 17.3.1.4): with RFLAGS.TF = 1 each instruction is followed by a #DB
/// trap with DR6.BS; the instruction that sets TF (POPF) is not trapped, the one after it is; an
/// instruction that exits to the VMM (OUT) is trapped after its exit completes. Interp and bt.
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

INSTANTIATE_TEST_SUITE_P(Engines, EmuSingleStep, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? std::string("bt") : std::string("interp"); });

}  // namespace
}  // namespace popek::emu::test
