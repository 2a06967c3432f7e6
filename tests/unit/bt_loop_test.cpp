/// Self-loops of the translator (emu/bt/block_loop.cpp): a block whose branch goes back to its
/// own first instruction loops inside its translation. Each loop here runs on the interpreter
/// and on the translator from the same state (BtPair) and must end the same: registers, flags
/// (including those the body never writes, which the back edge keeps in the host), RIP and the
/// exact instruction count; and the loop must still see a VMM write into its code while it spins.
#include <chrono>
#include <thread>

#include "bt_pair.h"
#include "emu/vmm_write.h"

namespace popek::emu::test {
namespace {

using G = Xbyak::CodeGenerator;
using namespace Xbyak::util;

constexpr uint64_t kCf = 1ULL, kZf = 0x40ULL, kSf = 0x80ULL, kOf = 0x800ULL;

/// Registers for a pair run: RCX the iteration count, the others distinct patterns.
void seed(uint64_t (&gpr)[16], uint64_t iterations) {
    for (int i = 0; i < 16; ++i) gpr[i] = 0x0123456789abcdefULL * static_cast<uint64_t>(i + 1) + 0x1111ULL * static_cast<uint64_t>(i);
    gpr[hv::RCX] = iterations;
}

class BtLoop : public ::testing::Test {
protected:
    /// Runs the loop from each starting flag set and iteration count on both engines.
    void check(const SnippetEmit& loop, const char* what, uint64_t undefined = 0) {
        p.load(assemble_with_hlt(loop));
        for (const uint64_t flags : {uint64_t{0}, kCf, kCf | kZf | kSf | kOf}) {
            // 5000 passes outlast the dispatcher's poll budget (2048 instructions): the loop
            // leaves on its budget guard and comes back, several times, with the count exact.
            for (const uint64_t n : {1ULL, 2ULL, 300ULL, 5000ULL}) {
                uint64_t gpr[16];
                seed(gpr, n);
                EXPECT_TRUE(p.same(gpr, flags, undefined)) << what << ", " << n << " iterations";
            }
        }
    }
    BtPair p{false, true};
};

TEST_F(BtLoop, CarryReadBeforeItIsWrittenCrossesTheBackEdge) {
    // ADC reads the CF the previous iteration's ADC wrote (DEC keeps CF): CF is live at the head.
    check([](G& g) {
        Xbyak::Label top;
        g.L(top);
        g.adc(eax, eax);
        g.dec(ecx);
        g.jnz(top);
    }, "adc eax, eax; dec ecx; jnz");
    EXPECT_GT(p.stats().chains_taken, 0u);
}

TEST_F(BtLoop, FlagsTheBodyNeverWritesSurviveTheLoop) {
    // INC/DEC never write CF: the loop's CF on exit is the one it was entered with, and the
    // other flags are DEC's, kept in the host over the back edge (dead at the head).
    check([](G& g) {
        Xbyak::Label top;
        g.L(top);
        g.inc(rax);
        g.dec(rcx);
        g.jnz(top);
    }, "inc rax; dec rcx; jnz");
}

TEST_F(BtLoop, MemoryAccessInTheBodyKeepsFlagsExact) {
    // An inline memory access takes the guest flags from Cpu::rflags (its slow path may fault,
    // and the TLB probe clobbers the host's): the previous iteration's flags must be there at
    // the head. ADC into a stack slot reads the CF of the previous iteration's ADD (which
    // carries in most iterations); the slot is read back after the loop.
    check([](G& g) {
        Xbyak::Label top;
        g.mov(qword[rsp - 8], 0);
        g.mov(rbx, 0x9e3779b97f4a7c15ULL);
        g.L(top);
        g.adc(qword[rsp - 8], rcx);
        g.add(rax, rbx);
        g.dec(rcx);
        g.jnz(top);
        g.mov(rdx, qword[rsp - 8]);
    }, "adc [rsp-8], rcx; add rax, rbx; dec rcx; jnz");
}

TEST_F(BtLoop, BudgetHeldInARegisterCountsEveryPassThroughEveryExit) {
    // No handler call in the body: the budget stays in a host register (block_loop.cpp) and the
    // count is folded back at each exit: the budget guard's (many times over 200000 passes), the
    // side exit of the forward branch (taken when RCX reaches 0x80000) and the memory access's
    // slow path (its first pass, before the TLB holds the stack page). Registers, flags and the
    // instruction count must match the interpreter's.
    p.load(assemble_with_hlt([](G& g) {
        Xbyak::Label top, skip, out;
        g.L(top);
        g.add(qword[rsp - 16], rcx);
        g.test(cl, cl);
        g.js(skip);
        g.add(rax, rcx);
        g.L(skip);
        g.cmp(rcx, 0x80000);
        g.je(out);
        g.dec(rcx);
        g.jnz(top);
        g.L(out);
        g.mov(rdx, qword[rsp - 16]);
    }));
    for (const uint64_t n : {3ULL, 0x80006ULL, 200000ULL}) {
        uint64_t gpr[16];
        seed(gpr, n);
        EXPECT_TRUE(p.same(gpr, kCf)) << n << " iterations";
    }
    EXPECT_GT(p.stats().chains_taken, 100000u) << "the loop was meant to run inside its translation";
}

TEST_F(BtLoop, InvariantAddressesAreProbedOnceAndChangingOnesEachPass) {
    // [rsp-24], [rsp-32] and [rsp-40]: no instruction of the loop writes RSP, so they may be
    // probed once before the head (at most two: kMaxHoisted; the first pass misses the TLB for
    // them and probes again after its slow path). [rdx] moves with RDX (LEA) and [rsi] with
    // RSI (XCHG writes both of its registers): they come first, so a loop that took them for
    // invariant would hoist them and store every pass to the first address.
    const SnippetEmit loops[] = {
        [](G& g) {
            Xbyak::Label top;
            g.mov(qword[rsp - 24], 0);
            g.mov(qword[rsp - 40], 0);
            g.lea(rdx, ptr[rsp - 0x400]);
            g.L(top);
            g.mov(qword[rdx], rax);
            g.add(qword[rsp - 24], rcx);
            g.lea(rdx, ptr[rdx + 8]);
            g.sub(qword[rsp - 40], rcx);
            g.dec(rcx);
            g.jnz(top);
            g.mov(r8, qword[rsp - 24]);
            g.mov(r9, qword[rsp - 0x400]);
            g.mov(r10, qword[rsp - 40]);
        },
        [](G& g) {
            Xbyak::Label top;
            g.mov(qword[rsp - 32], 7);
            g.lea(rsi, ptr[rsp - 0x800]);
            g.lea(rdi, ptr[rsp - 0x900]);
            g.L(top);
            g.mov(qword[rsi], rcx);
            g.xchg(rsi, rdi);
            g.xor_(rax, qword[rsp - 32]);
            g.dec(rcx);
            g.jnz(top);
            g.mov(r8, qword[rsp - 0x800]);
            g.mov(r9, qword[rsp - 0x900]);
        },
    };
    for (const SnippetEmit& loop : loops) {
        p.load(assemble_with_hlt(loop));
        for (const uint64_t n : {1ULL, 2ULL, 101ULL}) {
            uint64_t gpr[16];
            seed(gpr, n);
            EXPECT_TRUE(p.same(gpr, 0)) << n << " iterations";
        }
    }
}

TEST_F(BtLoop, OperandsOffOneBaseShareOneHoistedProbeBesideSevenRegisters) {
    // gzip's insert-string loop (busybox deflate): [rbx-0x20], [rbx-0x28] and [rbx-0x24] read,
    // written and read-modify-written, the pass count itself in memory, and seven other guest
    // registers. RBX is only an address: the three form one hoisted group (one probe of
    // [rbx-0x28, rbx-0x1c) before the head, one pool register), which fits beside the seven
    // and the budget register; the others move each pass.
    p.load(assemble_with_hlt([](G& g) {
        Xbyak::Label top;
        g.mov(ebx, 0x90000);
        g.mov(edx, 0x100000);
        g.mov(r9d, 0x180000);
        g.mov(dword[rbx - 0x24], ecx);
        g.mov(dword[rbx - 0x20], 7);
        g.mov(dword[rbx - 0x28], 0x1234);
        g.L(top);
        g.mov(esi, dword[rbx - 0x20]);
        g.mov(r8d, dword[rbx - 0x28]);
        g.lea(edi, ptr[rsi + 1]);
        g.lea(eax, ptr[rsi + 3]);
        g.shl(r8d, 5);
        g.mov(dword[rbx - 0x20], edi);
        g.movzx(eax, byte[rdx + rax]);
        g.xor_(eax, r8d);
        g.mov(r8d, edi);
        g.and_(eax, 0x7fff);
        g.and_(r8d, 0x7fff);
        g.mov(dword[rbx - 0x28], eax);
        g.add(eax, 0x8000);
        g.add(rax, rax);
        g.add(rax, r9);
        g.mov(r10w, word[rax]);
        g.mov(word[r9 + r8 * 2], r10w);
        g.mov(word[rax], di);
        g.dec(dword[rbx - 0x24]);
        g.jnz(top);
        g.mov(r11d, dword[rbx - 0x20]);
        g.mov(r12d, dword[rbx - 0x28]);
        g.movzx(r13d, word[r9 + 0x2222]);
    }));
    for (EmuHarness* h : {&p.interp, &p.bt})
        for (uint64_t a = 0; a < 0x2000; a += 8) h->poke<uint64_t>(0x100000 + a, a * 0x9e3779b97f4a7c15ULL);
    for (const uint64_t n : {1ULL, 2ULL, 300ULL, 5000ULL}) {
        uint64_t gpr[16];
        seed(gpr, n);
        EXPECT_TRUE(p.same(gpr, kCf)) << n << " iterations";
        EXPECT_EQ(p.interp.read<uint64_t>(0x180000 + 0x10000), p.bt.read<uint64_t>(0x180000 + 0x10000));
    }
    EXPECT_GT(p.stats().chains_taken, 1000u) << "the loop was meant to run inside its translation";
}

TEST_F(BtLoop, HoistedGroupAcrossAPageFallsBackToEachOperandsOwnProbe) {
    // [rbx-8] and [rbx+8] with RBX page-aligned: the group's range crosses the page, so its
    // probe always misses. Each operand then probes on its own (and hits after the first pass),
    // instead of taking its slow path (the interpreter's handler) every pass.
    p.load(assemble_with_hlt([](G& g) {
        Xbyak::Label top;
        g.mov(ebx, 0x90000);
        g.mov(qword[rbx - 8], 0);
        g.mov(qword[rbx + 8], rcx);
        g.L(top);
        g.add(qword[rbx - 8], rcx);
        g.xor_(rax, qword[rbx + 8]);
        g.sub(qword[rbx + 8], 3);
        g.dec(rcx);
        g.jnz(top);
        g.mov(r8, qword[rbx - 8]);
        g.mov(r9, qword[rbx + 8]);
    }));
    bt::Translator* t = p.bt.cpu().translator();
    ASSERT_NE(t, nullptr);
    const uint64_t slow_before = t->handler_exits(ZYDIS_MNEMONIC_ADD) + t->handler_exits(ZYDIS_MNEMONIC_SUB);
    uint64_t gpr[16];
    seed(gpr, 5000);
    EXPECT_TRUE(p.same(gpr, 0));
    const uint64_t slow = t->handler_exits(ZYDIS_MNEMONIC_ADD) + t->handler_exits(ZYDIS_MNEMONIC_SUB) - slow_before;
    EXPECT_LT(slow, 50u) << "the operands of a group that missed went to their slow path every pass";
}

TEST_F(BtLoop, HandlerCallInTheBodyReloadsRegistersAndRip) {
    // CMC runs as a handler call: it writes Cpu::rip and may change any register, so the back
    // edge reloads the head's registers and moves RIP back to the block's start.
    check([](G& g) {
        Xbyak::Label top;
        g.L(top);
        g.cmc();
        g.adc(rax, rcx);
        g.lea(rdx, ptr[rdx + rax * 2 + 1]);
        g.dec(rcx);
        g.jnz(top);
    }, "cmc; adc rax, rcx; lea; dec; jnz");
    EXPECT_GT(p.stats().helper_insns, 0u) << "CMC was meant to be a handler call";
}

TEST_F(BtLoop, MoreRegistersThanThePoolHolds) {
    check([](G& g) {
        Xbyak::Label top;
        g.L(top);
        g.add(rax, rbx);
        g.add(rdx, rsi);
        g.xor_(rdi, r8);
        g.add(r9, r10);
        g.sub(r11, r12);
        g.add(r13, r14);
        g.add(r15, rax);
        g.dec(rcx);
        g.jnz(top);
    }, "eleven registers");
}

TEST_F(BtLoop, EightRegistersAndTheBudgetFillTheWholePool) {
    // Eight guest registers and the budget register take all nine pool registers (R8 and R9
    // among them), so every path that needs a scratch register while they are resident must
    // use one outside the pool: the forward skip's merge stub, the SSE guard run with the
    // guest's CF live in the host (MOVQ between ADD and ADC), the flag-free probe of the ADC
    // from memory, and the back edge's guards.
    auto loop = [](G& g) {
        Xbyak::Label top, skip;
        g.mov(qword[rsp - 8], rbx);
        g.L(top);
        g.add(rax, rbx);
        g.jc(skip);
        g.add(rdx, rdi);
        g.L(skip);
        g.add(r8, rax);
        g.movq(xmm0, rdi);
        g.adc(rdi, qword[rsp - 8]);
        g.xor_(r9, rdx);
        g.rol(r8, 7);
        g.add(r9, r8);
        g.dec(rcx);
        g.jnz(top);
    };
    p.load(assemble_with_hlt(loop));
    for (EmuHarness* h : {&p.interp, &p.bt}) h->cpu().cr4 |= hv::kCr4Osfxsr;   // MOVQ runs, no #UD
    for (const uint64_t flags : {uint64_t{0}, kCf, kCf | kZf | kSf | kOf}) {
        for (const uint64_t n : {1ULL, 2ULL, 300ULL, 5000ULL}) {
            uint64_t gpr[16];
            seed(gpr, n);
            EXPECT_TRUE(p.same(gpr, flags)) << n << " iterations";
        }
    }
    EXPECT_GT(p.stats().chains_taken, 0u);
}

TEST_F(BtLoop, LoadAtTheHeadWithMoreRegistersThanThePool) {
    // The head's first instruction is a load (its slow path observes every flag): the head holds
    // the guest flags in the host and the back edge leaves them there. Ten registers: no budget
    // register, so the back edge's guards keep Cpu::budget in memory without touching the flags.
    // ADC reads the CF of the previous pass's ADD.
    check([](G& g) {
        Xbyak::Label top;
        g.mov(qword[rsp - 8], rbx);
        g.L(top);
        g.adc(rax, qword[rsp - 8]);
        g.add(rdx, rsi);
        g.xor_(rdi, r8);
        g.add(r9, r10);
        g.sub(r11, r12);
        g.add(r13, rax);
        g.dec(rcx);
        g.jnz(top);
    }, "adc rax, [rsp-8]; ...; dec rcx; jnz (ten registers)");
    EXPECT_GT(p.stats().chains_taken, 0u);
}

TEST(BtLoopFault, PageFaultAtTheHeadSeesTheFlagsOfThePreviousPass) {
    // A loop reading upwards runs into a page that is not present after `passes` passes: the
    // fault of the load at the head must see the flags the previous pass left (CF of ADD, the
    // rest of DEC) in the pushed RFLAGS (the handler keeps them to the HLT), the exact RIP, CR2
    // and instruction count. Once with few registers (budget in a register), once with more
    // than the pool holds (budget in memory).
    const uint64_t hole = kPtBase + 0x5000;
    for (const bool many : {false, true}) {
        SCOPED_TRACE(many ? "more registers than the pool" : "budget in a register");
        BtPair p(false, true);
        for (EmuHarness* h : {&p.interp, &p.bt}) {
            h->set_pte(hole, 0);
            h->set_gate(kPfv, kHandlerErr);
        }
        p.load(assemble_with_hlt([many](G& g) {
            Xbyak::Label top;
            g.L(top);
            g.mov(rdx, qword[rsi]);
            g.add(rdi, rdx);
            g.add(rdi, rcx);
            if (many) {
                g.xor_(r8, r9);
                g.add(r10, r11);
                g.sub(r12, r13);
                g.add(r14, r15);
            }
            g.lea(rsi, ptr[rsi + 8]);
            g.dec(rcx);
            g.jnz(top);
        }));
        for (const uint64_t passes : {1ULL, 7ULL, 300ULL, 511ULL}) {
            for (const uint64_t flags : {uint64_t{0}, kCf | kZf | kSf | kOf}) {
                uint64_t gpr[16];
                seed(gpr, 100000);
                gpr[hv::RSI] = hole - 8 * passes;
                gpr[hv::RDI] = ~uint64_t{0} - 3 * passes;   // ADD carries now and then
                ASSERT_TRUE(p.same(gpr, flags)) << passes << " passes";
                ASSERT_TRUE(p.bt.reported());
                EXPECT_EQ(p.interp.reported_cr2(), p.bt.reported_cr2());
                EXPECT_EQ(p.interp.reported_rip(), p.bt.reported_rip());
            }
        }
        EXPECT_GT(p.stats().chains_taken, 0u) << "the loop was meant to run inside its translation";
    }
}

TEST_F(BtLoop, LoopInFlatProtectedMode) {
    BtPair p32(true, true);
    p32.load(assemble_with_hlt([](G& g) {
        Xbyak::Label top;
        g.L(top);
        g.add(eax, ecx);
        g.rol(eax, 3);
        g.dec(ecx);
        g.jnz(top);
    }));
    for (const uint64_t n : {1ULL, 5ULL, 1000ULL}) {
        uint64_t gpr[16];
        seed(gpr, n);
        for (auto& r : gpr) r &= 0xffffffffULL;
        EXPECT_TRUE(p32.same(gpr, kCf)) << n << " iterations";
    }
    EXPECT_GT(p32.stats().chains_taken, 0u);
}

TEST_F(BtLoop, EndlessLoopSeesTheVmmRewriteItsCode) {
    // jmp $ (EB FE) spins inside its translation; the VMM then writes HLT over it and says so
    // (emu::note_vmm_write), as a device model writing guest RAM does. The back edge must notice and leave,
    // and the re-verified block must halt. (A watchdog stops the vCPU if it never does.)
    EmuHarness& h = p.bt;
    h.load_code({0xeb, 0xfe});
    h.cpu().shared().dma_epoch.fetch_add(1);
    h.cpu().rip = kCode;
    std::atomic<bool> done{false};
    std::thread vmm([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        h.poke<uint8_t>(kCode, 0xf4);
        emu::note_vmm_write(h.cpu().shared());
        for (int i = 0; i < 500 && !done.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (!done.load()) h.cpu().request_stop();
    });
    auto exit = h.run();
    done = true;
    vmm.join();
    EXPECT_TRUE(is_halt(exit)) << "the loop did not leave after its code was rewritten";
    EXPECT_GT(p.stats().chains_taken, 0u) << "the loop never ran inside its translation";
}

}  // namespace
}  // namespace popek::emu::test
