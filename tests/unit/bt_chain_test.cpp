/// Chaining of translated blocks across pages (emu/bt/block_chain.cpp, ChainSlot): a direct
/// CALL/JMP/Jcc to another page jumps straight into the target's translation, and stops doing so
/// when the target's code is rewritten (by the guest or the VMM) or when the target's linear
/// address may lead elsewhere (INVLPG, MOV to CR3). Guest code is hand-encoded so that its
/// addresses are the guest's (rel32 computed from the guest address).
#include <cstring>

#include "bt_pair.h"
#include "emu/vmm_write.h"

namespace popek::emu::test {
namespace {

using Bytes = std::vector<uint8_t>;

/// Little-endian imm32 appended to `b`.
void imm32(Bytes& b, uint64_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
/// CALL rel32 at guest address `at` to `target` (SDM Vol. 2A CALL: E8 cd, relative to the next RIP).
Bytes call_to(uint64_t at, uint64_t target) {
    Bytes b{0xe8};
    imm32(b, target - (at + 5));
    return b;
}
/// MOV EAX, imm32; RET.
Bytes mov_eax_ret(uint32_t v) {
    Bytes b{0xb8};
    imm32(b, v);
    b.push_back(0xc3);
    return b;
}

constexpr uint64_t kCallee = kCode + 0x1000;    ///< on the page after the caller's
constexpr uint64_t kPatcher = kCode + 0x2000;

class BtChain : public ::testing::Test {
protected:
    void SetUp() override {
        h.setup_long_mode();
        h.cpu().shared().count_stats = true;   // chains_taken
        h.use_translator();   // every block translated on its first run
    }
    void run_from(uint64_t rip) {
        h.cpu().rip = rip;
        ASSERT_TRUE(is_halt(h.run()));
        ASSERT_FALSE(h.reported()) << "exception at rip " << std::hex << h.reported_rip();
    }
    /// A caller at kCode: CALL `target`; HLT.
    void load_caller(uint64_t target) {
        Bytes b = call_to(kCode, target);
        b.push_back(0xf4);
        h.write(kCode, b);
    }
    const bt::TranslatorStats& stats() { return h.cpu().translator()->stats(); }
    uint64_t& r(int g) { return h.cpu().gpr[g]; }
    /// Runs the caller until its call and the callee's return are both linked (each run returns
    /// `eax`), then once more, which must go through both chain slots.
    void warm_up_and_check_chained(uint32_t eax) {
        for (int i = 0; i < 3; ++i) {
            r(hv::RSP) = kStackTop;
            run_from(kCode);
            ASSERT_EQ(r(hv::RAX), eax);
        }
        const uint64_t chained = stats().chains_taken;
        r(hv::RSP) = kStackTop;
        run_from(kCode);
        ASSERT_EQ(r(hv::RAX), eax);
        ASSERT_EQ(stats().chains_taken, chained + 2) << "the call and the return were not both chained";
    }
    /// The callee's linear page (4 KiB pages from kPtBase) is remapped to another physical page
    /// holding other code; `flush` is the guest code that makes the new mapping visible. The
    /// caller, its stack and the flush code sit in the 2 MiB page at 0, made global (CR4.PGE) so
    /// that a CR3 reload keeps their translations and the call still runs natively.
    void remap_test(const Bytes& flush, const char* what) {
        const uint64_t la = kPtBase + 0x5000, p1 = kPtBase + 0x6000, p2 = kPtBase + 0x7000;
        h.poke<uint64_t>(kPd, 0x0 | 0x187);
        h.cpu().write_cr4(h.cpu().cr4 | hv::kCr4Pge);
        h.set_pte(la, p1 | 7);
        h.write(p1, mov_eax_ret(1));
        h.write(p2, mov_eax_ret(2));
        load_caller(la);
        h.write(kPatcher, flush);
        run_from(kPatcher);   // its page turns into code now, not later
        warm_up_and_check_chained(1);
        h.set_pte(la, p2 | 7);
        run_from(kPatcher);
        r(hv::RSP) = kStackTop;
        run_from(kCode);
        EXPECT_EQ(r(hv::RAX), 2u) << "after " << what << " the chained call still ran the old page's code";
    }
    EmuHarness h;
};

TEST_F(BtChain, CallToAnotherPageIsChainedAndCountsExactly) {
    // kCode: mov ecx, N; 1: call kCallee; dec ecx; jnz 1b; hlt    kCallee: add eax, 3; ret
    constexpr uint32_t n = 1000;
    Bytes a{0xb9};
    imm32(a, n);
    const Bytes call = call_to(kCode + 5, kCallee);
    a.insert(a.end(), call.begin(), call.end());
    a.insert(a.end(), {0xff, 0xc9, 0x75, 0xf7, 0xf4});   // dec ecx; jnz -9 (to the call); hlt
    h.write(kCode, a);
    h.write(kCallee, Bytes{0x83, 0xc0, 0x03, 0xc3});
    r(hv::RAX) = 0;
    r(hv::RSP) = kStackTop;
    run_from(kCode);
    EXPECT_EQ(r(hv::RAX), 3u * n);
    EXPECT_EQ(h.cpu().stats().instructions, 1u + 5u * n + 1u);
    // Each call went into the callee's translation directly, and each return into the caller's
    // through the return stack: no lookup between blocks once linked.
    EXPECT_GE(stats().links, 2u);
    EXPECT_LE(stats().lookups_taken, 4u);
}

TEST_F(BtChain, ReturnToAnAddressTheCalleeChangedIsNotPredicted) {
    // kCode: call f; inc eax; hlt   f (next page): add qword [rsp], 2 (skips the inc); ret
    Bytes a = call_to(kCode, kCallee);
    a.insert(a.end(), {0xff, 0xc0, 0xf4});
    h.write(kCode, a);
    h.write(kCallee, Bytes{0x48, 0x83, 0x04, 0x24, 0x02, 0xc3});
    for (int i = 0; i < 4; ++i) {
        r(hv::RAX) = 0;
        r(hv::RSP) = kStackTop;
        run_from(kCode);
        EXPECT_EQ(r(hv::RAX), 0u) << "run " << i << ": returned to the predicted address";
        EXPECT_EQ(h.cpu().rip, kCode + 8u);   // after the HLT
        EXPECT_EQ(r(hv::RSP), kStackTop);
    }
}

TEST_F(BtChain, ReturnPredictionSurvivesRecursionDeeperThanTheStack) {
    // f (next page): dec ecx; jz 1f; call f; 1: add eax, 1; ret. Depth 100 > the 32 entries.
    const uint64_t f = kCallee;
    Bytes body{0xff, 0xc9, 0x74, 0x05};   // dec ecx; jz +5 (over the call)
    const Bytes rec = call_to(f + 4, f);
    body.insert(body.end(), rec.begin(), rec.end());
    body.insert(body.end(), {0x83, 0xc0, 0x01, 0xc3});
    h.write(f, body);
    load_caller(f);
    for (int i = 0; i < 3; ++i) {
        r(hv::RAX) = 0;
        r(hv::RCX) = 100;
        r(hv::RSP) = kStackTop;
        run_from(kCode);
        EXPECT_EQ(r(hv::RAX), 100u);
        EXPECT_EQ(r(hv::RSP), kStackTop);
        EXPECT_EQ(h.cpu().rip, kCode + 6u);
    }
}

/// kCode: mov ecx, n; 1: call rbx; xor rbx, rdx; dec ecx; jnz 1b; hlt (RDX = 0: one target;
/// else the call alternates between RBX and RBX ^ RDX).
void load_indirect_loop(EmuHarness& h, uint32_t n) {
    Bytes a{0xb9};
    imm32(a, n);
    a.insert(a.end(), {0xff, 0xd3, 0x48, 0x31, 0xd3, 0xff, 0xc9, 0x75, 0xf7, 0xf4});
    h.write(kCode, a);
}

TEST_F(BtChain, IndirectCallToTheSameTargetIsChained) {
    constexpr uint32_t n = 1000;
    load_indirect_loop(h, n);
    h.write(kCallee, Bytes{0x83, 0xc0, 0x03, 0xc3});   // add eax, 3; ret
    r(hv::RAX) = 0;
    r(hv::RBX) = kCallee;
    r(hv::RDX) = 0;
    r(hv::RSP) = kStackTop;
    run_from(kCode);
    EXPECT_EQ(r(hv::RAX), 3u * n);
    EXPECT_EQ(h.cpu().stats().instructions, 1u + 6u * n + 1u);
    EXPECT_LE(stats().lookups_taken, 4u) << "the call through RBX was looked up every time";
}

TEST_F(BtChain, IndirectCallAlternatingTargetsReachesEach) {
    constexpr uint32_t n = 1000;
    const uint64_t other = kCallee + 0x1000;
    load_indirect_loop(h, n);
    h.write(kCallee, Bytes{0x83, 0xc0, 0x01, 0xc3});   // add eax, 1; ret
    h.write(other, Bytes{0x83, 0xc0, 0x02, 0xc3});     // add eax, 2; ret
    r(hv::RAX) = 0;
    r(hv::RBX) = kCallee;
    r(hv::RDX) = kCallee ^ other;
    r(hv::RSP) = kStackTop;
    run_from(kCode);
    EXPECT_EQ(r(hv::RAX), (n / 2) * 1u + (n / 2) * 2u);
    EXPECT_EQ(h.cpu().stats().instructions, 1u + 6u * n + 1u);
    // The call's own slot holds one target; the other is found in the shared target table
    // (emu/bt/block_emitter.h kIndirectTargets), not looked up by the dispatcher each time.
    EXPECT_LE(stats().lookups_taken, 8u) << "the second target was looked up on every call";
}

TEST_F(BtChain, CalleeRewrittenByTheGuestRunsTheNewCode) {
    load_caller(kCallee);
    h.write(kCallee, mov_eax_ret(1));
    // The patcher: mov [kCallee + 1], ebx (89 /r with an absolute disp32: ModRM 1C, SIB 25); hlt.
    // Run once first (writing the same value) so that the page turning into code does not drop
    // this vCPU's write mappings later: the call must run natively, through its chain slot.
    Bytes p{0x89, 0x1c, 0x25};
    imm32(p, kCallee + 1);
    p.push_back(0xf4);
    h.write(kPatcher, p);
    r(hv::RBX) = 1;
    run_from(kPatcher);
    warm_up_and_check_chained(1);
    r(hv::RBX) = 2;
    run_from(kPatcher);
    r(hv::RSP) = kStackTop;
    run_from(kCode);
    EXPECT_EQ(r(hv::RAX), 2u) << "the chained call ran the callee's stale translation";
}

TEST_F(BtChain, CalleeRewrittenByTheVmmRunsTheNewCode) {
    load_caller(kCallee);
    h.write(kCallee, mov_eax_ret(1));
    for (int i = 0; i < 3; ++i) {
        r(hv::RSP) = kStackTop;
        run_from(kCode);
    }
    h.poke<uint32_t>(kCallee + 1, 5);
    h.cpu().attention.store(false);
    emu::note_vmm_write(h.cpu().shared());   // as hv::Vcpu::run does after an exit
    EXPECT_TRUE(h.cpu().attention.load()) << "a VMM write must stop translated code from chaining on";
    r(hv::RSP) = kStackTop;
    run_from(kCode);
    EXPECT_EQ(r(hv::RAX), 5u);
}

TEST_F(BtChain, APageTurnedIntoCodeRaisesTheOtherVcpusAttention) {
    // Chained jumps check only attention (ChainSlot): a vCPU that decodes a page no vCPU ran
    // before must make the others stop and drop their write mappings to it (the dispatcher does)
    // before their translated code goes on writing there unchecked.
    auto second = h.another_cpu(1);
    h.write(kPatcher, Bytes{0xf4});
    h.cpu().attention.store(false);
    second->rip = kPatcher;
    ASSERT_TRUE(is_halt(second->execute()));
    EXPECT_TRUE(h.cpu().attention.load());
}

TEST_F(BtChain, InvlpgOfTheCalleesPageUnlinksTheCall) {
    // invlpg [kPtBase + 0x5000] (0F 01 /7, absolute disp32); hlt
    Bytes f{0x0f, 0x01, 0x3c, 0x25};
    imm32(f, kPtBase + 0x5000);
    f.push_back(0xf4);
    remap_test(f, "INVLPG");
}

TEST_F(BtChain, InvlpgOfAnotherPageKeepsALinkMadeWhileTheCalleeWasNotInTheTlb) {
    // A link is (re)made by the dispatcher, which finds the target through the jump cache, not
    // the TLB: here the callee's TLB entry is evicted every iteration (two data loads into its
    // TLB set), and the link is remade whenever the budget runs out. An INVLPG of an unrelated
    // page must not unlink it then (it once did: an evicted target counted as "any page").
    //   kCode: mov ecx, N
    //   1: mov rdx, [0x105000]; mov rdx, [kPtBase + 0x105000]   (TLB set 5, as the callee's page)
    //      call kPtBase + 0x5000; invlpg [kPtBase + 0x9000]; dec ecx; jnz 1b; hlt
    constexpr uint32_t n = 5000;
    constexpr uint64_t callee = kPtBase + 0x5000;
    Bytes a{0xb9};
    imm32(a, n);
    const uint64_t loop = kCode + a.size();
    for (const uint64_t la : {uint64_t{0x105000}, kPtBase + 0x105000}) {
        a.insert(a.end(), {0x48, 0x8b, 0x14, 0x25});   // mov rdx, [disp32]
        imm32(a, la);
    }
    const Bytes call = call_to(kCode + a.size(), callee);
    a.insert(a.end(), call.begin(), call.end());
    a.insert(a.end(), {0x0f, 0x01, 0x3c, 0x25});
    imm32(a, kPtBase + 0x9000);
    a.insert(a.end(), {0xff, 0xc9, 0x75});
    a.push_back(static_cast<uint8_t>(loop - (kCode + a.size() + 1)));
    a.push_back(0xf4);
    h.write(kCode, a);
    h.write(callee, Bytes{0x83, 0xc0, 0x03, 0xc3});   // add eax, 3; ret
    r(hv::RAX) = 0;
    r(hv::RSP) = kStackTop;
    run_from(kCode);
    EXPECT_EQ(r(hv::RAX), 3u * n);
    EXPECT_LT(stats().links, n / 10) << "the call or its return was relinked after (nearly) every INVLPG";
}

TEST_F(BtChain, Cr3ReloadUnlinksTheCall) {
    remap_test(Bytes{0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8, 0xf4}, "MOV CR3");   // mov rax, cr3; mov cr3, rax; hlt
}

}  // namespace
}  // namespace popek::emu::test
