/// Superblocks: a block goes on past forward conditional jumps (BlockCache::continues_block), and
/// the translator (emu/bt/side_branch.cpp) jumps from such a Jcc to a merge point later in the
/// block, or leaves through a side exit when the target is outside it. Each snippet runs on the
/// interpreter and on the translator from the same state (BtPair): registers, flags, RIP and the
/// exact instruction count must agree, on both outcomes of every branch.
#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using G = Xbyak::CodeGenerator;
using namespace Xbyak::util;

constexpr uint64_t kCf = 1ULL, kZf = 0x40ULL, kSf = 0x80ULL, kOf = 0x800ULL;

class BtSuperblock : public ::testing::Test {
protected:
    /// Runs the snippet from several register patterns (RAX selects the branch outcomes) and
    /// flag sets on both engines.
    void check(const SnippetEmit& code, const char* what, uint64_t undefined = 0) {
        p.load(assemble_with_hlt(code));
        for (uint64_t pattern = 0; pattern < 8; ++pattern) {
            for (const uint64_t flags : {uint64_t{0}, kCf, kCf | kZf | kSf | kOf}) {
                uint64_t gpr[16];
                for (int i = 0; i < 16; ++i) gpr[i] = 0x0123456789abcdefULL * static_cast<uint64_t>(i + 3) + 0x10101ULL * static_cast<uint64_t>(i);
                gpr[hv::RAX] = pattern;
                gpr[hv::RCX] = 5 + pattern;
                EXPECT_TRUE(p.same(gpr, flags, undefined)) << what << ", pattern " << pattern;
            }
        }
    }
    BtPair p{false, true};
};

TEST_F(BtSuperblock, ForwardJumpsMeetTheFallThroughWithItsRegisters) {
    // Each skipped instruction writes a register the other path leaves alone (dirty on one path
    // only); the merge point's later reads must see the right value on both.
    check([](G& g) {
        Xbyak::Label a, b;
        g.test(al, 1);
        g.jz(a);
        g.mov(rdx, 0x1111);
        g.add(r9, rdx);
        g.L(a);
        g.test(al, 2);
        g.jnz(b);
        g.lea(r10, ptr[r9 + rdx * 2]);
        g.xor_(r11, r10);
        g.L(b);
        g.add(rdx, r10);
        g.add(r11, r9);
    }, "two forward skips");
    EXPECT_EQ(p.stats().blocks, 1u) << "the snippet was meant to be one superblock";
}

TEST_F(BtSuperblock, RegisterDirtyOnTheJumpPathOnlyIsWrittenBack) {
    // RDX is written before the JNZ; the fall-through evicts it (more registers than the pool
    // holds) and reads it back clean, maybe into the host register it had: the merge point must
    // still treat it as dirty, or the taken path's value never reaches Cpu::gpr.
    // Which host register a reload picks depends on the allocator's LRU order: every number of
    // evicting registers from 5 to 11 is tried.
    static const Xbyak::Reg64 kFill[] = {r8, r9, r10, r11, r12, r13, r14, r15, rbx, rbp, rdi};
    for (size_t fill = 5; fill <= std::size(kFill); ++fill) {
        check([fill](G& g) {
            Xbyak::Label a;
            g.lea(rdx, ptr[rax + rcx * 4 + 7]);
            g.test(al, 1);
            g.jnz(a);
            for (size_t i = 0; i < fill; ++i) g.add(kFill[i], rcx);
            g.add(rsi, rdx);
            g.L(a);
        }, "dirty on the jump path, clean on the fall-through");
    }
}

TEST_F(BtSuperblock, FlagsHeldOnOnePathOnlyAreMerged) {
    // Taken: the flags of TEST are live in the host; not taken: CMC (a handler call) left them in
    // Cpu::rflags. ADC and SETcc after the merge point read CF, ZF, SF and OF.
    check([](G& g) {
        Xbyak::Label a;
        g.cmp(rax, 3);
        g.jb(a);
        g.cmc();
        g.inc(rsi);
        g.L(a);
        g.adc(rdx, rcx);
        g.setz(bl);
        g.sets(bh);
        g.seto(r8b);
    }, "cmp; jb; cmc; inc; merge; adc; setcc");
    EXPECT_GT(p.stats().helper_insns, 0u) << "CMC was meant to be a handler call";
}

TEST_F(BtSuperblock, HandlerCallOnTheSkippedPathMovesRipAndCount) {
    // CMC writes Cpu::rip and counts itself on the fall-through only: after the merge point a
    // second handler call (CMC again) sees the RIP and instruction count of whichever path ran.
    check([](G& g) {
        Xbyak::Label a;
        g.test(al, 1);
        g.jnz(a);
        g.cmc();
        g.add(rsi, rdi);
        g.cmc();
        g.L(a);
        g.inc(rdx);
        g.cmc();
        g.adc(rbx, rdx);
    }, "handler calls on one path and after the merge point");
}

TEST_F(BtSuperblock, TargetOutsideTheBlockIsASideExit) {
    // JNZ jumps out of the block (past the JMP, then past the block's last instruction): a side
    // exit, whose state (registers written in the block, flags) must be what the next block sees.
    check([](G& g) {
        Xbyak::Label out, end;
        g.add(rdx, rax);
        g.test(al, 4);
        g.jnz(out);
        g.add(rsi, rdx);
        g.jmp(end);
        g.nop();
        g.L(out);
        g.sub(rsi, rdx);
        g.L(end);
        g.adc(rdi, rsi);
    }, "side exit past the block's JMP");
}

TEST_F(BtSuperblock, AJmpTheJccJumpsOverLeavesAndTheBlockGoesOn) {
    // `jnz 1f; ...; jmp end; 1: ...`: the block goes on past the JMP (BlockCache), which always
    // leaves (on the interpreter it ends the block's run; translated, a chained exit), and the JNZ
    // meets the code after it inside the block. The interpreter must not run on past the JMP.
    check([](G& g) {
        Xbyak::Label out, end;
        g.add(rdx, rax);
        g.test(al, 4);
        g.jnz(out);
        g.add(rsi, rdx);
        g.jmp(end);
        g.L(out);
        g.sub(rsi, rdx);
        g.inc(r8);
        g.L(end);
        g.adc(rdi, rsi);
    }, "JMP jumped over");
    EXPECT_EQ(p.stats().blocks, 2u) << "the superblock through the JMP, and the block at its target";
}

TEST_F(BtSuperblock, CompareLoopWithEarlyExitsStaysOneBlock) {
    // gzip's longest_match: an unrolled byte compare whose mismatches leave through `add; jmp
    // done` and whose matches jump over them, the back edge at the end. One block, looping in its
    // translation; every early exit is checked (the first mismatch at each position).
    p.load(assemble_with_hlt([](G& g) {
        Xbyak::Label top, done, same[3];
        g.mov(edx, 0x30000);
        g.mov(eax, 0x30400);
        g.lea(rcx, ptr[rax + 0x60]);
        g.L(top);
        for (int k = 0; k < 3; ++k) {
            g.mov(r8b, byte[rdx + k + 1]);
            g.cmp(r8b, byte[rax + k + 1]);
            g.je(same[k]);
            g.add(rax, k + 1);
            g.jmp(done, Xbyak::CodeGenerator::T_NEAR);
            g.L(same[k]);
        }
        g.add(rax, 3);
        g.add(rdx, 3);
        g.cmp(rax, rcx);
        g.jb(top);
        g.L(done);
        g.sub(rax, 0x30400);
    }));
    for (int mismatch = 0; mismatch <= 0x60; mismatch += 7) {
        for (EmuHarness* h : {&p.interp, &p.bt})
            for (uint64_t k = 0; k < 0x80; ++k) {
                h->poke<uint8_t>(0x30000 + k, static_cast<uint8_t>(k * 13));
                h->poke<uint8_t>(0x30400 + k, static_cast<uint8_t>(k * 13 + (static_cast<int>(k) == mismatch ? 1 : 0)));
            }
        uint64_t gpr[16] = {};
        EXPECT_TRUE(p.same(gpr, 0)) << "first mismatch at " << mismatch;
        EXPECT_EQ(p.interp.cpu().gpr[hv::RAX], p.bt.cpu().gpr[hv::RAX]);
    }
    EXPECT_GT(p.stats().chains_taken, 10u) << "the back edge was meant to run";
    EXPECT_EQ(p.stats().blocks, 3u) << "the entry, the loop (entered at its head) and the code after it";
}

TEST_F(BtSuperblock, LoopWithAnIfInsideStaysOneBlock) {
    // The loop body holds a forward skip (an if): the loop is still a block branching to its own
    // start, so it loops inside its translation; the exact count checks the skipped INC.
    check([](G& g) {
        Xbyak::Label top, skip;
        g.L(top);
        g.add(rdx, rcx);
        g.test(dl, 3);
        g.jnz(skip);
        g.inc(rsi);
        g.L(skip);
        g.xor_(rdi, rdx);
        g.dec(rcx);
        g.jnz(top);
    }, "loop with an if");
    EXPECT_EQ(p.stats().blocks, 2u) << "the loop and the HLT after it";
    EXPECT_GT(p.stats().chains_taken, 0u) << "the back edge was meant to run";
}

TEST_F(BtSuperblock, LoopLeavingInItsFirstPassAfterASkipCountsExactly) {
    // One pass, the INC skipped: the skip's stub gives the skipped instruction back to the loop's
    // budget register before any back edge charged a pass, so the count folded at the exit
    // (budget - register) is negative and must reach the 64-bit count sign-extended.
    p.load(assemble_with_hlt([](G& g) {
        Xbyak::Label top, skip;
        g.L(top);
        g.add(rdx, rcx);
        g.test(dl, 3);
        g.jnz(skip);
        g.inc(rsi);
        g.L(skip);
        g.xor_(rdi, rdx);
        g.dec(rcx);
        g.jnz(top);
    }));
    for (const uint64_t rdx : {uint64_t{0}, uint64_t{1}, uint64_t{2}, uint64_t{3}}) {
        uint64_t gpr[16] = {};
        gpr[hv::RCX] = 1;
        gpr[hv::RDX] = rdx;   // 1 + rdx: the skip is taken unless it is a multiple of 4
        EXPECT_TRUE(p.same(gpr, 0)) << "rdx " << rdx;
    }
}

TEST_F(BtSuperblock, BackwardJccEndsTheBlock) {
    // Only forward Jccs continue a block: a loop's branch backwards ends it, so the code after
    // the loop is a block of its own.
    check([](G& g) {
        Xbyak::Label top;
        g.L(top);
        g.add(rdx, rcx);
        g.dec(rcx);
        g.jnz(top);
        g.add(rsi, rdx);
    }, "loop then code");
    EXPECT_EQ(p.stats().blocks, 2u) << "the loop and the code after it";
}

}  // namespace
}  // namespace popek::emu::test
