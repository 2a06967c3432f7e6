/// Translation ahead of use on a halted vCPU (emu/translation_log.h, bt::Translator::warm_one):
/// a second vCPU translates the blocks the first one translated, runs them without translating
/// again and computes the same; a block whose page was written since is not warmed (the new
/// bytes run); the warm loop stops at once for a pending event, a past deadline or a full buffer.
#include <limits>

#include "bt_pair.h"
#include "emu/engine_shared.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

class BtWarm : public ::testing::Test {
protected:
    void SetUp() override {
        h.setup_long_mode();
        h.cpu().shared().translate_after = 1;   // the production setting: translated on the 2nd run
        h.cpu().shared().bt_warm = true;
        h.cpu().enable_translation();
        // A loop over a called function: three blocks at least (loop, callee, tail).
        h.load_code(assemble_with_hlt([](G& g) {
            Xbyak::Label top, fn, done;
            g.xor_(eax, eax);
            g.mov(ecx, 10);
            g.L(top);
            g.call(fn);
            g.dec(ecx);
            g.jnz(top);
            g.jmp(done);
            g.L(fn);
            g.add(eax, 7);
            g.ret();
            g.L(done);
        }));
        second = h.another_cpu(1);
        second->enable_translation();
    }
    void run(Cpu& c) {
        c.rip = kCode;
        c.gpr[hv::RSP] = kStackTop;
        ASSERT_TRUE(is_halt(c.execute()));
        ASSERT_FALSE(h.reported()) << "exception at rip " << std::hex << h.reported_rip();
    }
    static const bt::TranslatorStats& stats(Cpu& c) { return c.translator()->stats(); }
    EmuHarness h;
    std::unique_ptr<Cpu> second;
};

TEST_F(BtWarm, AHaltedVcpuTranslatesTheOthersBlocksAndRunsThemWithoutTranslating) {
    run(h.cpu());
    run(h.cpu());   // translated on the second run, and logged
    const uint64_t first = stats(h.cpu()).blocks;
    ASSERT_GE(first, 2u);
    EXPECT_EQ(h.cpu().shared().translations.size(), first);

    bt::Translator& t = *second->translator();
    uint64_t warmed = 0;
    while (t.warm_one()) ++warmed;
    EXPECT_EQ(stats(*second).warmed, first);
    EXPECT_EQ(warmed, first);
    EXPECT_EQ(stats(*second).blocks, first);
    EXPECT_FALSE(t.warm_one()) << "the log was read to its end";

    run(*second);
    EXPECT_EQ(second->gpr[hv::RAX], 70u);
    EXPECT_EQ(stats(*second).blocks, first) << "the second vCPU translated again what it had warmed";
    EXPECT_GE(stats(*second).runs, 1u) << "the first run did not enter the warmed code";
    EXPECT_EQ(stats(*second).cold_runs, 0u) << "a block ran without its warmed translation";
    // The second vCPU's own translations are not logged for itself or warmed by the first
    // beyond what it lacks: the first has every block already.
    while (h.cpu().translator()->warm_one()) {
    }
    EXPECT_EQ(stats(h.cpu()).warmed, 0u);
}

TEST_F(BtWarm, ABlockWhosePageWasWrittenSinceIsNotWarmed) {
    run(h.cpu());
    run(h.cpu());
    ASSERT_GE(stats(h.cpu()).blocks, 2u);
    // The callee becomes `add eax, 9; ret` (83 C0 imm8: byte 2 of the ADD) after the first vCPU
    // translated it: its page's generation moved, so no entry of that page is warmed.
    const auto& code = h.cpu().shared().code;
    ASSERT_TRUE(code.is_code(kCode));
    uint64_t add_at = 0;
    for (uint64_t a = kCode; a < kCode + 64 && !add_at; ++a)
        if (h.read<uint8_t>(a) == 0x83 && h.read<uint8_t>(a + 1) == 0xc0 && h.read<uint8_t>(a + 2) == 7) add_at = a;
    ASSERT_NE(add_at, 0u);
    h.poke<uint8_t>(add_at + 2, 9);
    h.cpu().shared().code.invalidate(add_at);   // what a guest store to a code page does (Mmu)
    while (second->translator()->warm_one()) {
    }
    EXPECT_EQ(stats(*second).warmed, 0u);
    run(*second);
    EXPECT_EQ(second->gpr[hv::RAX], 90u) << "stale code ran";
}

TEST_F(BtWarm, TheIdleLoopStopsForAnEventOrThePastDeadline) {
    run(h.cpu());
    run(h.cpu());
    ASSERT_GE(stats(h.cpu()).blocks, 2u);
    bt::Translator& t = *second->translator();
    second->attention.store(true);   // an interrupt arrived (VcpuInterrupts::notify)
    t.warm_while_idle(kNever);
    EXPECT_EQ(stats(*second).warmed, 0u);
    second->attention.store(false);
    t.warm_while_idle(0);   // the timer deadline passed
    EXPECT_EQ(stats(*second).warmed, 0u);
    t.warm_while_idle(kNever);
    EXPECT_EQ(stats(*second).warmed, stats(h.cpu()).blocks);
}

TEST_F(BtWarm, AFullCodeBufferIsNotFlushedForWarming) {
    run(h.cpu());
    run(h.cpu());
    ASSERT_GE(stats(h.cpu()).blocks, 2u);
    // A buffer with room for less than one block's reserve: nothing is warmed, nothing flushed,
    // and the entries stay for later.
    auto third = h.another_cpu(2);
    third->set_translator(std::make_unique<bt::Translator>(*third, 1, bt::Translator::kMaxBlockCode / 2));
    EXPECT_FALSE(third->translator()->warm_one());
    EXPECT_EQ(stats(*third).warmed, 0u);
    EXPECT_EQ(stats(*third).flushes, 0u);
}

}  // namespace
}  // namespace popek::emu::test
