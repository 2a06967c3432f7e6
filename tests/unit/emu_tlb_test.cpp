/// The engine's TLB invalidation (SDM Vol. 3A 4.10.4): INVLPG drops the page it names — and a
/// large page's translation as a whole — but no other page; MOV to CR3 drops non-global
/// translations and keeps global ones (CR4.PGE); code reached through a remapped page runs the
/// new code after INVLPG. The guest edits its own page tables; interp and bt alike.
#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

/// 4 KiB pages (PT of 2-4 MiB) whose TLB slots (bits 19:12) no code, stack or table access shares.
constexpr uint64_t kX = kPtBase + 0x30000, kY = kPtBase + 0x31000;
constexpr uint64_t kPageA = kPtBase + 0x20000, kPageB = kPtBase + 0x21000;
constexpr uint64_t kLarge = 0x400000;   ///< PD entry 2: a 2 MiB page made by the test
constexpr uint64_t kPteG = 0x100;

void* va(uint64_t a) { return reinterpret_cast<void*>(a); }

/// INVLPG [RDI] (0F 01 /7) and MOV RCX,CR3 / MOV CR3,RCX (0F 20 /r, 0F 22 /r): not in xbyak.
void invlpg_rdi(G& g) { g.db(0x0f); g.db(0x01); g.db(0x3f); }
void reload_cr3(G& g) {
    for (int b : {0x0f, 0x20, 0xd9, 0x0f, 0x22, 0xd9}) g.db(static_cast<uint8_t>(b));
}

uint64_t pte_addr(uint64_t la) { return kPt + ((la - kPtBase) >> 12) * 8; }

class EmuTlbTest : public ::testing::TestWithParam<bool> {
protected:
    void SetUp() override {
        h.setup_long_mode();
        h.use_translator(GetParam());
        h.poke<uint64_t>(kPageA, 0xaaaa);
        h.poke<uint64_t>(kPageB, 0xbbbb);
    }
    void run(const SnippetEmit& emit) {
        h.load_code(assemble_with_hlt(emit));
        auto exit = h.run();
        ASSERT_TRUE(is_halt(exit));
        ASSERT_FALSE(h.reported()) << "exception at rip " << std::hex << h.reported_rip();
    }
    uint64_t r(int g) { return h.cpu().gpr[g]; }
    /// "mov eax, 1; ret" in page A and "mov eax, 2; ret" in page B; kX maps page A.
    void map_two_functions() {
        const uint8_t ret1[] = {0xb8, 1, 0, 0, 0, 0xc3}, ret2[] = {0xb8, 2, 0, 0, 0, 0xc3};
        h.write(kPageA, {std::begin(ret1), std::end(ret1)});
        h.write(kPageB, {std::begin(ret2), std::end(ret2)});
        h.set_pte(kX, kPageA | 3);
    }
    EmuHarness h;
};

TEST_P(EmuTlbTest, InvlpgDropsOnlyThePageItNames) {
    h.set_pte(kX, kPageA | 3);
    h.set_pte(kY, kPageA | 3);
    run([](G& g) {
        g.mov(rax, qword[va(kX)]);
        g.mov(rbx, qword[va(kY)]);
        g.mov(rsi, kPageB | 3);
        g.mov(qword[va(pte_addr(kX))], rsi);
        g.mov(qword[va(pte_addr(kY))], rsi);
        g.mov(rdi, kX);
        invlpg_rdi(g);
        g.mov(rcx, qword[va(kX)]);
        g.mov(rdx, qword[va(kY)]);
    });
    EXPECT_EQ(r(hv::RAX), 0xaaaau);
    EXPECT_EQ(r(hv::RBX), 0xaaaau);
    EXPECT_EQ(r(hv::RCX), 0xbbbbu) << "INVLPG X must drop X's translation";
    EXPECT_EQ(r(hv::RDX), 0xaaaau) << "INVLPG X flushed Y too (correct, but the whole-TLB flush it costs)";
}

TEST_P(EmuTlbTest, MovToCr3KeepsGlobalTranslationsOnly) {
    h.cpu().cr4 |= hv::kCr4Pge;
    h.set_pte(kX, kPageA | kPteG | 3);
    h.set_pte(kY, kPageA | 3);
    run([](G& g) {
        g.mov(rax, qword[va(kX)]);
        g.mov(rbx, qword[va(kY)]);
        g.mov(rsi, kPageB | 3);
        g.mov(qword[va(pte_addr(kY))], rsi);
        g.or_(rsi, kPteG);
        g.mov(qword[va(pte_addr(kX))], rsi);
        reload_cr3(g);
        g.mov(rcx, qword[va(kX)]);
        g.mov(rdx, qword[va(kY)]);
    });
    EXPECT_EQ(r(hv::RCX), 0xaaaau) << "a global translation survives MOV to CR3 (SDM Vol. 3A 4.10.4.1)";
    EXPECT_EQ(r(hv::RDX), 0xbbbbu) << "a non-global translation must not survive MOV to CR3";
}

TEST_P(EmuTlbTest, InvlpgInsideALargePageDropsAllOfIt) {
    // PD[2] maps 4-6 MiB onto gpa 2-4 MiB as one 2 MiB page; it is then moved onto gpa 0-2 MiB.
    h.poke<uint64_t>(kPd + 2 * 8, 0x200000 | 0x83);
    h.poke<uint64_t>(0x20000, 0xcccc);
    h.poke<uint64_t>(0x21000, 0xdddd);
    run([](G& g) {
        g.mov(rax, qword[va(kLarge + 0x20000)]);   // gpa 0x220000 = page A
        g.mov(rbx, qword[va(kLarge + 0x21000)]);   // page B
        g.mov(rsi, 0x83);
        g.mov(qword[va(kPd + 2 * 8)], rsi);
        g.mov(rdi, kLarge + 0x20000);
        invlpg_rdi(g);
        g.mov(rcx, qword[va(kLarge + 0x20000)]);
        g.mov(rdx, qword[va(kLarge + 0x21000)]);
    });
    EXPECT_EQ(r(hv::RAX), 0xaaaau);
    EXPECT_EQ(r(hv::RBX), 0xbbbbu);
    EXPECT_EQ(r(hv::RCX), 0xccccu);
    EXPECT_EQ(r(hv::RDX), 0xddddu) << "the other 4 KiB of the same large page kept a stale translation";
}

TEST_P(EmuTlbTest, CodeThroughARemappedPageRunsTheNewCodeAfterInvlpg) {
    // kX runs "mov eax, N; ret" from page A (N = 1), then page B (N = 2) once its PTE is
    // changed and INVLPG'd: the jump cache must forget the block it found through kX.
    map_two_functions();
    run([](G& g) {
        g.mov(rdi, kX);
        g.call(rdi);
        g.mov(ebx, eax);
        g.call(rdi);   // twice: under bt the second run is the translated block
        g.add(ebx, eax);
        g.mov(rsi, kPageB | 3);
        g.mov(qword[va(pte_addr(kX))], rsi);
        invlpg_rdi(g);
        g.call(rdi);
        g.mov(ecx, eax);
    });
    EXPECT_EQ(r(hv::RBX), 2u);
    EXPECT_EQ(r(hv::RCX), 2u) << "the block of the old page ran after INVLPG";
}

TEST_P(EmuTlbTest, CodeThroughARemappedPageRunsTheNewCodeAfterMovToCr3) {
    // As above with MOV to CR3 instead of INVLPG: the jump-cache entry of kX (a non-global page)
    // is revalidated by a new translation, which now leads to another block.
    map_two_functions();
    run([](G& g) {
        g.mov(rdi, kX);
        g.call(rdi);
        g.call(rdi);
        g.mov(ebx, eax);
        g.mov(rsi, kPageB | 3);
        g.mov(qword[va(pte_addr(kX))], rsi);
        reload_cr3(g);
        g.call(rdi);
        g.mov(ecx, eax);
    });
    EXPECT_EQ(r(hv::RBX), 1u);
    EXPECT_EQ(r(hv::RCX), 2u) << "the block of the old page ran after MOV to CR3";
}

// The TLB is 2-way set-associative (emu/mmu/mmu.h TlbTable): kX and kX2 are 1 MiB apart, so they share a
// set. A TLB may drop a translation whenever it likes (SDM Vol. 3A 4.10.2.4), so a stale read
// after an unflushed PTE change is allowed, not required; here it shows that both pages stayed
// cached, and the invalidations must reach the way each page sits in.
constexpr uint64_t kX2 = kX + 0x100000;

TEST_P(EmuTlbTest, TwoPagesOfOneSetStayCachedAndInvlpgReachesBothWays) {
    h.set_pte(kX, kPageA | 3);
    h.set_pte(kX2, kPageB | 3);
    run([](G& g) {
        g.mov(rax, qword[va(kX)]);    // kX in way 0
        g.mov(rbx, qword[va(kX2)]);   // kX2 in way 0, kX in way 1
        g.mov(rax, qword[va(kX)]);    // a way-1 hit
        g.mov(rsi, kPageB | 3);       // swap the two mappings, no invalidation yet
        g.mov(qword[va(pte_addr(kX))], rsi);
        g.mov(rsi, kPageA | 3);
        g.mov(qword[va(pte_addr(kX2))], rsi);
        g.mov(rcx, qword[va(kX)]);
        g.mov(rdx, qword[va(kX2)]);
        g.mov(rdi, kX);
        invlpg_rdi(g);
        g.mov(rdi, kX2);
        invlpg_rdi(g);
        g.mov(r8, qword[va(kX)]);
        g.mov(r9, qword[va(kX2)]);
    });
    EXPECT_EQ(r(hv::RAX), 0xaaaau);
    EXPECT_EQ(r(hv::RBX), 0xbbbbu);
    EXPECT_EQ(r(hv::RCX), 0xaaaau) << "kX was evicted by kX2: the set kept one way only";
    EXPECT_EQ(r(hv::RDX), 0xbbbbu);
    EXPECT_EQ(r(8), 0xbbbbu) << "INVLPG missed the way kX sat in";
    EXPECT_EQ(r(9), 0xaaaau) << "INVLPG missed the way kX2 sat in";
}

TEST_P(EmuTlbTest, MovToCr3DropsNonGlobalTranslationsInEitherWay) {
    h.set_pte(kX, kPageA | 3);
    h.set_pte(kX2, kPageB | 3);
    run([](G& g) {
        g.mov(rax, qword[va(kX)]);
        g.mov(rbx, qword[va(kX2)]);   // kX now in way 1
        g.mov(rsi, kPageB | 3);
        g.mov(qword[va(pte_addr(kX))], rsi);
        reload_cr3(g);
        g.mov(rcx, qword[va(kX)]);
    });
    EXPECT_EQ(r(hv::RCX), 0xbbbbu) << "a non-global translation in way 1 survived MOV to CR3";
}

TEST_P(EmuTlbTest, AWriteThroughWayOneIntoCodeIsSeen) {
    // kX is written (a write mapping of page A) while page A is not code yet, and pushed to way
    // 1; page A then becomes code, run through its identity mapping. A write through kX must not
    // use a write mapping kept in way 1, or the code written is not seen.
    map_two_functions();
    h.set_pte(kX2, kPageB | 3);
    run([](G& g) {
        g.mov(dword[va(kX + 0x800)], 0);   // write mapping of kX, way 0
        g.mov(rax, qword[va(kX2)]);        // kX to way 1
        g.mov(rdi, kPageA);
        g.call(rdi);                        // page A is code now
        g.call(rdi);
        g.mov(byte[va(kX + 1)], 7);        // mov eax, 1 -> mov eax, 7
        g.call(rdi);
        g.mov(ecx, eax);
    });
    EXPECT_EQ(r(hv::RCX), 7u) << "the old code ran after a write through a way-1 entry";
}

INSTANTIATE_TEST_SUITE_P(Engines, EmuTlbTest, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? std::string("bt") : std::string("interp"); });

}  // namespace
}  // namespace popek::emu::test
