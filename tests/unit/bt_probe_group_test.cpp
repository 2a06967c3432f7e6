/// Probe groups of the block translator outside self-loops (emu/bt/block_loop.cpp
/// choose_hoisted, emu/bt/memory_ops.cpp emit_hoisted_access): memory operands of one address
/// form (base, index, scale, address size, segment) within 256 bytes, before the first write of
/// their base or index and before the first handler call, share one TLB probe at the block's
/// start; each member is a JRCXZ-guarded LEA off the group's host address, and probes on its own
/// when the group missed. Each block runs on the interpreter and the translator from the same
/// state (BtPair): registers, flags, RIP, the count and the memory must come out equal.
#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using G = Xbyak::CodeGenerator;
using namespace Xbyak::util;

constexpr uint64_t kBuf = 0x30000;      ///< RBX points into this page
constexpr uint64_t kPage2 = 0x90000;    ///< page-aligned: [kPage2 - 8] and [kPage2 + 8] straddle it

void seed(uint64_t (&gpr)[16]) {
    for (int i = 0; i < 16; ++i) gpr[i] = 0x0123456789abcdefULL * static_cast<uint64_t>(i + 3) + 0x2222ULL * static_cast<uint64_t>(i);
}

class BtProbeGroup : public ::testing::Test {
protected:
    void fill() {
        for (EmuHarness* h : {&p.interp, &p.bt}) {
            for (uint64_t k = 0; k < 0x200; k += 8) h->poke<uint64_t>(kBuf + k, k * 0x9e3779b97f4a7c15ULL + 5);
            for (uint64_t k = 0; k < 0x40; k += 8) h->poke<uint64_t>(kPage2 - 0x20 + k, k * 0x51ULL + 1);
        }
    }
    ::testing::AssertionResult same_memory() {
        for (uint64_t k = 0; k < 0x200; k += 8)
            if (p.interp.read<uint64_t>(kBuf + k) != p.bt.read<uint64_t>(kBuf + k))
                return ::testing::AssertionFailure() << "buffer +" << k << " differs";
        for (uint64_t k = 0; k < 0x40; k += 8)
            if (p.interp.read<uint64_t>(kPage2 - 0x20 + k) != p.bt.read<uint64_t>(kPage2 - 0x20 + k))
                return ::testing::AssertionFailure() << "second page -0x20 +" << k << " differs";
        return ::testing::AssertionSuccess();
    }
    /// Runs `block` (after a setup block that points RBX/RBP at the data) several times on both
    /// engines, from each flag set; the block is translated on its first run (translate_after 0).
    void check(const SnippetEmit& block, const char* what) {
        p.load(assemble_with_hlt(block));
        for (const uint64_t flags : {uint64_t{0}, kCf | kZf, kArithFlags}) {
            fill();
            uint64_t gpr[16];
            seed(gpr);
            EXPECT_TRUE(p.same(gpr, flags)) << what;
            EXPECT_TRUE(same_memory()) << what;
        }
    }
    BtPair p{false, true};
};

/// Points RBX at kBuf + 0x80 and RBP at kPage2 in a block of their own (the JMP ends it), so the
/// next block starts with both registers unwritten.
void set_bases(G& g) {
    Xbyak::Label next;
    g.mov(ebx, kBuf + 0x80);
    g.mov(ebp, kPage2);
    g.jmp(next);
    g.L(next);
}

TEST_F(BtProbeGroup, LoadsStoresAndReadModifyWritesOffOneBase) {
    // The LZMA range decoder's shape: one struct pointer, loads, stores and RMWs at small offsets
    // on both sides of it, flags consumed in between.
    check([](G& g) {
        set_bases(g);
        g.mov(eax, dword[rbx - 0x10]);
        g.mov(rcx, qword[rbx + 8]);
        g.add(dword[rbx + 0x40], eax);
        g.shr(ecx, 3);
        g.mov(dword[rbx - 0x10], ecx);
        g.sub(rax, qword[rbx + 0x18]);
        g.adc(qword[rbx + 0x20], rcx);
        g.movzx(edx, byte[rbx - 0x7f]);
        g.xor_(word[rbx + 0x7e], dx);
        g.cmp(dword[rbx], edx);
        g.setb(sil);
        g.inc(qword[rbx + 0x30]);
    }, "one base, nine operands");
}

TEST_F(BtProbeGroup, AWriteOfTheBaseEndsTheGroup) {
    // After RBX moves, [rbx + 8] is another address: it must not use the group's host address.
    // The same for an index register, and for RSP after a PUSH (a block that starts a function).
    check([](G& g) {
        set_bases(g);
        g.mov(rax, qword[rbx + 8]);
        g.add(qword[rbx + 0x10], rax);
        g.lea(rbx, ptr[rbx + 0x40]);
        g.mov(rdx, qword[rbx + 8]);
        g.mov(qword[rbx + 0x10], rdx);
        g.mov(ecx, 2);
        g.mov(rsi, qword[rbx + rcx * 8]);
        g.mov(qword[rbx + rcx * 8 + 8], rsi);
        g.inc(ecx);
        g.mov(rdi, qword[rbx + rcx * 8]);
        g.mov(qword[rbx + rcx * 8 + 8], rdi);
    }, "base and index written mid-block");
    check([](G& g) {
        set_bases(g);
        g.mov(qword[rsp - 8], rbx);
        g.mov(rax, qword[rsp - 8]);
        g.push(rax);
        g.mov(rdx, qword[rsp - 8]);
        g.mov(qword[rsp - 16], rdx);
        g.pop(rcx);
        g.mov(rsi, qword[rsp - 16]);
    }, "RSP written by PUSH and POP");
}

TEST_F(BtProbeGroup, AHandlerCallEndsTheGroup) {
    // CMC runs as a handler call (the caller-saved pool registers are not preserved): the
    // operands after it probe on their own.
    check([](G& g) {
        set_bases(g);
        g.mov(rax, qword[rbx + 8]);
        g.add(qword[rbx + 0x10], rax);
        g.cmc();
        g.adc(qword[rbx + 0x18], rax);
        g.mov(rdx, qword[rbx + 0x10]);
        g.mov(qword[rbx + 0x20], rdx);
    }, "cmc between group members");
}

TEST_F(BtProbeGroup, AGroupAcrossAPageFallsBackToEachOperandsOwnProbe) {
    // [rbp - 8] and [rbp + 8] with RBP page-aligned: the group's range crosses the page, its
    // probe always misses, and each operand probes on its own: on the later runs (the TLB
    // filled) none takes the slow path (the interpreter's handler).
    check([](G& g) {
        set_bases(g);
        g.add(qword[rbp - 8], rbx);
        g.xor_(rax, qword[rbp + 8]);
        g.sub(qword[rbp + 8], 3);
        g.mov(rdx, qword[rbp - 8]);
    }, "a group straddling a page");
    bt::Translator* t = p.bt.cpu().translator();
    ASSERT_NE(t, nullptr);
    const auto slow = [&] {
        return t->handler_exits(ZYDIS_MNEMONIC_ADD) + t->handler_exits(ZYDIS_MNEMONIC_SUB) +
               t->handler_exits(ZYDIS_MNEMONIC_XOR);
    };
    const uint64_t before = slow();
    for (int run = 0; run < 20; ++run) {
        uint64_t gpr[16];
        seed(gpr);
        EXPECT_TRUE(p.same(gpr, 0));
    }
    EXPECT_EQ(slow() - before, 0u) << "the operands of a group that missed went to their slow path";
}

TEST_F(BtProbeGroup, AStoreIntoTheBlocksOwnCodeStillLeavesTheBlock) {
    // A group with a writer on the page that holds the block's code: no write tag there, so
    // the group misses, the read members probe on their own, and the store takes its slow path
    // (self-modifying code), which rewrites the instruction that follows: the new one runs.
    p.load(assemble_with_hlt([](G& g) {
        Xbyak::Label patch, next;
        g.lea(rbx, ptr[rip + patch]);
        g.jmp(next);
        g.L(next);
        g.mov(eax, dword[rbx + 4]);
        g.mov(byte[rbx + 1], 0xc2);   // add eax, ecx (01 c8) -> add edx, eax (01 c2)
        g.L(patch);
        g.add(eax, ecx);
        g.mov(esi, dword[rbx]);
    }));
    uint64_t gpr[16];
    seed(gpr);
    EXPECT_TRUE(p.same(gpr, 0));
}

}  // namespace
}  // namespace popek::emu::test
