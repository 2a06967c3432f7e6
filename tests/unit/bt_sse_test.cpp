/// Native SSE in the block translator (emu/bt/sse_ops.cpp) against the interpreter: every
/// translated form (register and memory, 64-bit and flat 32-bit code) from random XMM contents,
/// with XMM registers, GPRs, flags, memory and instruction counts compared and each instruction
/// required to have been translated natively; then what must stay exact: page-crossing accesses
/// and #PF, the alignment #GP of m128 operands, #UD/#NM from CR0.EM, CR0.TS and CR4.OSFXSR (SDM
/// Vol. 3A 13.1), guest flags live in the host across the checks, and XMMs changed by a handler
/// in the middle of a block.
#include <xbyak/xbyak_util.h>

#include <functional>
#include <random>

#include "bt_pair.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

constexpr uint64_t kDataBuf = 0x30000;   ///< RDI points here (16-byte aligned)
constexpr size_t kDataLen = 128;
constexpr uint64_t kFlagSets[] = {0, kCf, kArithFlags};
/// Where the vector stubs (stub_for) put the vector number.
constexpr uint64_t kVectorReport = kReport + 0x20;

struct SseCase {
    std::string name;
    SnippetEmit emit;
    unsigned native;   ///< instructions of the snippet translated natively
};

/// A stub for `vector` that records it at kVectorReport and goes on to the report handler.
void route_vector(EmuHarness& h, int vector, bool error_code) {
    const uint64_t stub = kHandlerNoErr + 0x200 + 0x40 * static_cast<uint64_t>(vector);
    alignas(16) static uint8_t buffer[256];
    G g(sizeof(buffer), buffer);
    g.mov(qword[reinterpret_cast<void*>(kVectorReport)], vector);
    g.mov(rax, error_code ? kHandlerErr : kHandlerNoErr);
    g.jmp(rax);
    h.write(stub, {g.getCode(), g.getCode() + g.getSize()});
    h.set_gate(vector, stub);
}

/// Both machines: CR4.OSFXSR set (and CR0/CR4 bits changed as asked), #UD, #NM, #GP and #PF
/// routed to stubs that record the vector.
void setup(BtPair& p, uint64_t cr0_set = 0, uint64_t cr4_clear = 0) {
    for (EmuHarness* h : {&p.interp, &p.bt}) {
        Cpu& c = h->cpu();
        c.cr4 = (c.cr4 | hv::kCr4Osfxsr | hv::kCr4Osxmmexcpt) & ~cr4_clear;
        c.cr0 |= cr0_set;
        route_vector(*h, kUd, false);
        route_vector(*h, kNm, false);
        route_vector(*h, kGp, true);
        route_vector(*h, kPfv, true);
    }
}

void fill(BtPair& p, uint64_t seed) {
    std::mt19937_64 rng(seed);
    uint8_t xmm[16][16];
    for (auto& r : xmm)
        for (uint8_t& b : r) b = static_cast<uint8_t>(rng() % 4 == 0 ? (rng() % 2 ? 0x80 : 0xff) : rng());
    std::vector<uint8_t> data(kDataLen + 0x1010);
    for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
    for (EmuHarness* h : {&p.interp, &p.bt}) {
        std::memcpy(h->cpu().fpu.xmm, xmm, sizeof(xmm));
        h->write(kDataBuf, data);
        h->poke<uint64_t>(kVectorReport, ~0ULL);
    }
}

::testing::AssertionResult same_sse(BtPair& p) {
    for (int r = 0; r < 16; ++r)
        if (std::memcmp(p.interp.cpu().fpu.xmm[r], p.bt.cpu().fpu.xmm[r], 16) != 0)
            return ::testing::AssertionFailure() << "xmm" << r << " differs";
    for (size_t k = 0; k < kDataLen + 0x1010; k += 8)
        if (p.interp.read<uint64_t>(kDataBuf + k) != p.bt.read<uint64_t>(kDataBuf + k))
            return ::testing::AssertionFailure() << "data +" << k << " differs";
    if (p.interp.read<uint64_t>(kVectorReport) != p.bt.read<uint64_t>(kVectorReport))
        return ::testing::AssertionFailure() << "vector: interp " << p.interp.read<uint64_t>(kVectorReport) << " bt "
                                             << p.bt.read<uint64_t>(kVectorReport);
    return ::testing::AssertionSuccess();
}

void check(const std::vector<SseCase>& cases, bool protected32 = false) {
    BtPair p(protected32);
    setup(p);
    for (const SseCase& c : cases) {
        SCOPED_TRACE(c.name);
        p.load(assemble_with_hlt(c.emit));
        const uint64_t before = p.stats().native_insns;
        for (uint64_t seed = 0; seed < 6; ++seed) {
            uint64_t gpr[16];
            std::mt19937_64 rng(seed * 77 + 5);
            for (uint64_t& g : gpr) g = rng();
            gpr[hv::RDI] = kDataBuf;
            gpr[hv::RSI] = kDataBuf + 0x1000 - 16;
            for (uint64_t f : kFlagSets) {
                fill(p, seed);
                ASSERT_TRUE(p.same(gpr, f)) << "seed " << seed;
                ASSERT_TRUE(same_sse(p)) << "seed " << seed;
                ASSERT_FALSE(p.bt.reported()) << "unexpected fault, vector " << p.bt.read<uint64_t>(kVectorReport);
            }
        }
        EXPECT_EQ(p.stats().native_insns - before, c.native) << "not translated natively";
    }
}

#define POPEK_BIN(f) {#f, [](G& g) { g.f(xmm1, xmm2); g.f(xmm9, xword[rdi + 32]); g.f(xmm15, xmm0); }, 3}

TEST(BtSse, IntegerLogicAndUnpackForms) {
    check({POPEK_BIN(paddb), POPEK_BIN(paddw), POPEK_BIN(paddd), POPEK_BIN(paddq), POPEK_BIN(paddsb),
           POPEK_BIN(paddsw), POPEK_BIN(paddusb), POPEK_BIN(paddusw), POPEK_BIN(psubb), POPEK_BIN(psubw),
           POPEK_BIN(psubd), POPEK_BIN(psubq), POPEK_BIN(psubsb), POPEK_BIN(psubsw), POPEK_BIN(psubusb),
           POPEK_BIN(psubusw), POPEK_BIN(pmullw), POPEK_BIN(pmulhw), POPEK_BIN(pmulhuw), POPEK_BIN(pmuludq),
           POPEK_BIN(pmaddwd), POPEK_BIN(pavgb), POPEK_BIN(pavgw), POPEK_BIN(psadbw), POPEK_BIN(pminub),
           POPEK_BIN(pmaxub), POPEK_BIN(pminsw), POPEK_BIN(pmaxsw), POPEK_BIN(pcmpeqb), POPEK_BIN(pcmpeqw),
           POPEK_BIN(pcmpeqd), POPEK_BIN(pcmpgtb), POPEK_BIN(pcmpgtw), POPEK_BIN(pcmpgtd), POPEK_BIN(pand),
           POPEK_BIN(pandn), POPEK_BIN(por), POPEK_BIN(pxor), POPEK_BIN(punpcklbw), POPEK_BIN(punpcklwd),
           POPEK_BIN(punpckldq), POPEK_BIN(punpckhbw), POPEK_BIN(punpckhwd), POPEK_BIN(punpckhdq),
           POPEK_BIN(punpcklqdq), POPEK_BIN(punpckhqdq), POPEK_BIN(packsswb), POPEK_BIN(packssdw),
           POPEK_BIN(packuswb), POPEK_BIN(andps), POPEK_BIN(andpd), POPEK_BIN(andnps), POPEK_BIN(andnpd),
           POPEK_BIN(orps), POPEK_BIN(orpd), POPEK_BIN(xorps), POPEK_BIN(xorpd), POPEK_BIN(unpcklps),
           POPEK_BIN(unpcklpd), POPEK_BIN(unpckhps), POPEK_BIN(unpckhpd), POPEK_BIN(psllw), POPEK_BIN(pslld),
           POPEK_BIN(psllq), POPEK_BIN(psrlw), POPEK_BIN(psrld), POPEK_BIN(psrlq), POPEK_BIN(psraw),
           POPEK_BIN(psrad),
           {"pxor/xorps zeroing idiom", [](G& g) { g.pxor(xmm3, xmm3); g.xorps(xmm4, xmm4); g.xorpd(xmm12, xmm12); }, 3}});
}

TEST(BtSse, Ssse3Forms) {
    if (!Xbyak::util::Cpu().has(Xbyak::util::Cpu::tSSSE3)) GTEST_SKIP() << "host without SSSE3";
    check({POPEK_BIN(pshufb), POPEK_BIN(phaddw), POPEK_BIN(phaddd), POPEK_BIN(phaddsw), POPEK_BIN(phsubw),
           POPEK_BIN(phsubd), POPEK_BIN(phsubsw), POPEK_BIN(pmaddubsw), POPEK_BIN(pmulhrsw), POPEK_BIN(psignb),
           POPEK_BIN(psignw), POPEK_BIN(psignd), POPEK_BIN(pabsb), POPEK_BIN(pabsw), POPEK_BIN(pabsd),
           {"palignr", [](G& g) { g.palignr(xmm1, xmm2, 5); g.palignr(xmm3, xword[rdi + 16], 20); g.palignr(xmm4, xmm5, 33); }, 3}});
}
TEST(BtSse, AesAndPclmulqdqForms) {
    const Xbyak::util::Cpu host;
    if (!host.has(Xbyak::util::Cpu::tAESNI) || !host.has(Xbyak::util::Cpu::tPCLMULQDQ))
        GTEST_SKIP() << "host without AES-NI/PCLMULQDQ";
    check({POPEK_BIN(aesenc), POPEK_BIN(aesenclast), POPEK_BIN(aesdec), POPEK_BIN(aesdeclast), POPEK_BIN(aesimc),
           {"aeskeygenassist", [](G& g) { g.aeskeygenassist(xmm1, xmm2, 0x1b); g.aeskeygenassist(xmm9, xword[rdi + 16], 0x80); g.aeskeygenassist(xmm3, xmm3, 0); }, 3},
           {"pclmulqdq", [](G& g) {
                g.pclmulqdq(xmm1, xmm2, 0x00); g.pclmulqdq(xmm3, xmm4, 0x01); g.pclmulqdq(xmm5, xmm6, 0x10);
                g.pclmulqdq(xmm7, xmm8, 0x11); g.pclmulqdq(xmm10, xword[rdi + 32], 0x10); g.pclmulqdq(xmm11, xmm11, 0xee);
            }, 6}});
}
#undef POPEK_BIN

TEST(BtSse, ShiftsShufflesAndLaneMoves) {
    check({
        {"shift by imm", [](G& g) {
             g.psllw(xmm1, 3); g.pslld(xmm2, 31); g.psllq(xmm3, 64); g.psrlw(xmm4, 15); g.psrld(xmm5, 7);
             g.psrlq(xmm6, 63); g.psraw(xmm7, 20); g.psrad(xmm8, 1); g.pslldq(xmm9, 5); g.psrldq(xmm10, 17);
         }, 10},
        {"pshufd/lw/hw", [](G& g) {
             g.pshufd(xmm1, xmm2, 0x1b); g.pshufd(xmm3, xword[rdi + 48], 0x4e); g.pshuflw(xmm4, xmm5, 0x93);
             g.pshufhw(xmm6, xword[rdi], 0x39); g.pshufd(xmm7, xmm7, 0xb1);
         }, 5},
        {"shufps/shufpd", [](G& g) { g.shufps(xmm1, xmm2, 0x8d); g.shufpd(xmm3, xword[rdi + 16], 2); }, 2},
        {"pextrw/pinsrw", [](G& g) { g.pextrw(eax, xmm1, 3); g.pextrw(r12d, xmm9, 12); g.pinsrw(xmm2, ecx, 5); g.pinsrw(xmm10, r13d, 9); }, 4},
        {"pmovmskb/movmskps/movmskpd", [](G& g) { g.pmovmskb(eax, xmm1); g.movmskps(r9d, xmm2); g.movmskpd(rdx, xmm11); }, 3},
        {"movhlps/movlhps", [](G& g) { g.movhlps(xmm1, xmm2); g.movlhps(xmm3, xmm4); }, 2},
        {"movddup (SSE3)", [](G& g) { g.movddup(xmm1, xmm2); g.movddup(xmm9, qword[rdi + 5]); g.movddup(xmm15, xmm15); g.movddup(xmm3, qword[rdi + 64]); }, 4},
    });
}

TEST(BtSse, MovesBetweenRegistersAndMemory) {
    check({
        {"128-bit register moves", [](G& g) { g.movdqa(xmm1, xmm2); g.movaps(xmm3, xmm4); g.movdqu(xmm5, xmm5); g.movupd(xmm14, xmm1); }, 4},
        {"aligned loads and stores", [](G& g) {
             g.movdqa(xmm1, xword[rdi]); g.movaps(xmm2, xword[rdi + 16]); g.movapd(xmm3, xword[rdi + 32]);
             g.movdqa(xword[rdi + 48], xmm4); g.movaps(xword[rdi + 64], xmm1); g.movntdq(xword[rdi + 80], xmm5);
             g.movntps(xword[rdi + 96], xmm6);
         }, 7},
        {"unaligned loads and stores", [](G& g) {
             g.movdqu(xmm1, xword[rdi + 3]); g.movups(xmm2, xword[rdi + 17]); g.lddqu(xmm3, xword[rdi + 1]);
             g.movdqu(xword[rdi + 41], xmm4); g.movupd(xword[rdi + 70], xmm2);
         }, 5},
        {"movd/movq", [](G& g) {
             g.movq(xmm1, xmm2); g.movq(xmm3, rax); g.movd(xmm4, ecx); g.movq(rdx, xmm5); g.movd(r9d, xmm6);
             g.movq(xmm7, qword[rdi + 8]); g.movq(qword[rdi + 9], xmm8); g.movd(xmm9, dword[rdi + 2]);
             g.movd(dword[rdi + 6], xmm10); g.movq(r12, xmm12); g.movd(xmm13, r13d);
         }, 11},
        {"movss/movsd", [](G& g) {
             g.movss(xmm1, xmm2); g.movsd(xmm3, xmm4); g.movss(xmm5, dword[rdi + 4]); g.movsd(xmm6, qword[rdi + 12]);
             g.movss(dword[rdi + 20], xmm7); g.movsd(qword[rdi + 27], xmm8);
         }, 6},
        {"movhps/movlps/movhpd/movlpd", [](G& g) {
             g.movhps(xmm1, qword[rdi + 8]); g.movlps(xmm2, qword[rdi + 3]); g.movhpd(xmm3, qword[rdi]);
             g.movlpd(xmm4, qword[rdi + 40]); g.movhps(qword[rdi + 48], xmm5); g.movlps(qword[rdi + 57], xmm6);
         }, 6},
        {"rip-relative and fs", [](G& g) {
             Xbyak::Label data, over;
             g.movdqa(xmm1, xword[rip + data]);
             g.paddd(xmm1, xword[rip + data]);
             g.db(0x64);   // FS:
             g.movdqu(xmm2, xword[rdi + 8]);
             g.jmp(over);
             g.align(16);
             g.L(data);
             g.dq(0x0123456789abcdefULL);
             g.dq(0xfedcba9876543210ULL);
             g.L(over);
         }, 3},
        {"a chain through one register", [](G& g) {
             g.movdqu(xmm0, xword[rdi]); g.pshufb(xmm0, xmm1); g.paddd(xmm0, xmm2); g.pxor(xmm3, xmm0);
             g.pshufd(xmm4, xmm3, 0x93); g.movdqu(xword[rdi + 64], xmm4); g.pcmpeqb(xmm4, xmm0);
             g.pmovmskb(eax, xmm4);
         }, 8},
    });
}

TEST(BtSse, Flat32BitCode) {
    check({
        {"32-bit forms", [](G& g) {
             // 64-bit register names without REX: the same bytes address through EDI/ESP in 32-bit code.
             g.movdqu(xmm1, xword[rdi + 3]); g.paddq(xmm1, xword[rdi + 16]); g.movd(xmm2, eax);
             g.pshufd(xmm3, xmm1, 0x1b); g.movdqa(xword[rdi + 32], xmm3); g.movd(ecx, xmm2);
             g.pmovmskb(edx, xmm1); g.movq(xmm4, qword[rsp - 8]);
         }, 8},
    }, true);
}

TEST(BtSse, GuestFlagsLiveInTheHostAcrossTheChecks) {
    // A flag producer, then SSE instructions with a guard, an alignment check and a TLB probe,
    // then flag readers: with BMI2 the checks must not touch the host's flags.
    check({
        {"cmp; pxor; setc", [](G& g) { g.cmp(rax, rcx); g.pxor(xmm1, xmm2); g.setc(dl); g.adc(rbx, 1); }, 4},
        {"add; movdqa load; adc", [](G& g) { g.add(rax, rcx); g.movdqa(xmm1, xword[rdi + 16]); g.adc(rdx, rax); g.setz(bl); }, 4},
        {"sub; movdqu store; sbb", [](G& g) { g.sub(rax, rcx); g.movdqu(xword[rdi + 5], xmm1); g.sbb(rdx, rax); g.seto(bl); }, 4},
    });
}

/// Runs `emit` on both machines (translated on bt) and requires the fault `vector` on both at
/// the same place, with nothing changed by the faulting instruction. `prepare` runs on both
/// machines first (e.g. to unmap a page).
void expect_fault(const SnippetEmit& emit, int vector, uint64_t cr0_set = 0, uint64_t cr4_clear = 0,
                  uint64_t rdi = kDataBuf, const std::function<void(EmuHarness&)>& prepare = {}) {
    BtPair p;
    setup(p, cr0_set, cr4_clear);
    if (prepare)
        for (EmuHarness* h : {&p.interp, &p.bt}) prepare(*h);
    p.load(assemble_with_hlt(emit));
    uint64_t gpr[16] = {};
    for (int i = 0; i < 16; ++i) gpr[i] = 0x1111111111111111ULL * static_cast<uint64_t>(i);
    gpr[hv::RDI] = rdi;
    for (uint64_t seed = 0; seed < 3; ++seed) {   // the first run already translated (translate_after 0)
        fill(p, seed);
        ASSERT_TRUE(p.same(gpr, kCf));
        ASSERT_TRUE(same_sse(p));
        ASSERT_TRUE(p.bt.reported());
        EXPECT_EQ(p.bt.read<uint64_t>(kVectorReport), static_cast<uint64_t>(vector));
        EXPECT_EQ(p.interp.reported_rip(), p.bt.reported_rip());
        EXPECT_EQ(p.interp.reported_error(), p.bt.reported_error());
        EXPECT_EQ(p.interp.reported_cr2(), p.bt.reported_cr2());
    }
}

TEST(BtSse, MisalignedM128RaisesGp) {
    // The ADD to memory first puts the page in the TLB (read and write tags), so that the access
    // after it would hit there: the alignment check, not a TLB miss, must send it to the handler.
    const SnippetEmit cases[] = {
        [](G& g) { g.add(qword[rdi + 0x40], rcx); g.inc(rcx); g.movdqa(xmm1, xword[rdi + 8]); },
        [](G& g) { g.add(qword[rdi + 0x40], rcx); g.movdqa(xmm2, xmm3); g.movaps(xword[rdi + 4], xmm1); },
        [](G& g) { g.add(qword[rdi + 0x40], rcx); g.cmp(rax, rbx); g.paddb(xmm1, xword[rdi + 1]); g.setc(al); },   // flags live
        [](G& g) { g.add(qword[rdi + 0x40], rcx); g.pshufd(xmm1, xword[rdi + 8], 0); },
        [](G& g) { g.add(qword[rdi + 0x40], rcx); g.movntdq(xword[rdi + 8], xmm1); },
    };
    for (size_t k = 0; k < std::size(cases); ++k) {
        SCOPED_TRACE(k);
        expect_fault(cases[k], kGp);
    }
    // AES-NI and PCLMULQDQ: Exceptions Type 4 (SDM Vol. 2A 2.8), the same rule.
    const Xbyak::util::Cpu host;
    if (!host.has(Xbyak::util::Cpu::tAESNI) || !host.has(Xbyak::util::Cpu::tPCLMULQDQ)) return;
    expect_fault([](G& g) { g.add(qword[rdi + 0x40], rcx); g.aesenc(xmm1, xword[rdi + 8]); }, kGp);
    expect_fault([](G& g) { g.add(qword[rdi + 0x40], rcx); g.pclmulqdq(xmm1, xword[rdi + 4], 1); }, kGp);
}

TEST(BtSse, ControlRegistersMakeSseFault) {
    const SnippetEmit reg = [](G& g) { g.inc(rcx); g.paddd(xmm1, xmm2); g.inc(rdx); };
    const SnippetEmit live = [](G& g) { g.cmp(rax, rcx); g.movq(xmm1, rax); g.setc(dl); };
    const SnippetEmit mem = [](G& g) { g.movdqu(xmm1, xword[rdi + 3]); };
    for (const SnippetEmit& e : {reg, live, mem}) {
        expect_fault(e, kNm, hv::kCr0Ts);
        expect_fault(e, kUd, hv::kCr0Em);
        expect_fault(e, kUd, hv::kCr0Em | hv::kCr0Ts);   // EM wins
        expect_fault(e, kUd, 0, hv::kCr4Osfxsr);
    }
}

TEST(BtSse, PageCrossingAndPageFaults) {
    // Accesses crossing a 4 KiB boundary take the slow path and stay exact.
    check({{"page-crossing", [](G& g) {
                g.movdqu(xmm1, xword[rsi + 8]); g.movdqu(xword[rsi + 12], xmm2); g.movq(xmm3, qword[rsi + 12]);
                g.movd(dword[rsi + 14], xmm4); g.movhps(xmm5, qword[rsi + 11]); g.paddd(xmm1, xmm3);
            }, 6}});
    // A not-present page: #PF with the interpreter's CR2, error code and RIP, on the access and
    // on a crossing into it.
    const uint64_t hole = kPtBase + 0x5000;
    for (const SnippetEmit& e : std::vector<SnippetEmit>{
             [](G& g) { g.inc(rcx); g.movdqu(xmm1, xword[rdi + 8]); },
             [](G& g) { g.movdqa(xword[rdi + 16], xmm1); },
             [](G& g) { g.paddq(xmm1, xmm2); g.movq(xmm1, qword[rdi - 4]); }})
        expect_fault(e, kPfv, 0, 0, hole, [hole](EmuHarness& h) { h.set_pte(hole, 0); });
}

TEST(BtSse, SelfLoopHoldsXmmsAcrossPassesAndReloadsThemAfterAHandler) {
    // A self-loop (emu/bt/block_loop.cpp) holds the XMMs its body names in host XMMs from pass to
    // pass; ADDPS (MXCSR arithmetic: a handler call) writes the source of the next pass's PADDD,
    // so the back edge must load it again, and the first loop's values must carry over exactly.
    struct Loop {
        const char* name;
        SnippetEmit emit;
        bool handler;
    };
    const Loop loops[] = {
        {"paddd; pxor; movdqa m128 store; paddq m128; dec; jnz", [](G& g) {
             Xbyak::Label top;
             g.L(top);
             g.paddd(xmm0, xmm1);
             g.pxor(xmm1, xmm0);
             g.movdqa(xword[rdi + 16], xmm0);
             g.paddq(xmm2, xword[rdi + 16]);
             g.dec(ecx);
             g.jnz(top);
         }, false},
        {"paddd xmm0, xmm2; addps xmm2, xmm3 (a handler); dec; jnz", [](G& g) {
             Xbyak::Label top;
             g.L(top);
             g.paddd(xmm0, xmm2);
             g.addps(xmm2, xmm3);
             g.dec(ecx);
             g.jnz(top);
         }, true},
    };
    for (const Loop& l : loops) {
        SCOPED_TRACE(l.name);
        BtPair p(false, true);
        setup(p);
        p.load(assemble_with_hlt(l.emit));
        for (const uint64_t n : {1ULL, 3ULL, 300ULL, 5000ULL}) {
            uint64_t gpr[16] = {};
            gpr[hv::RDI] = kDataBuf;
            gpr[hv::RCX] = n;
            fill(p, n);
            ASSERT_TRUE(p.same(gpr, 0)) << n << " passes";
            ASSERT_TRUE(same_sse(p)) << n << " passes";
            ASSERT_FALSE(p.bt.reported()) << "unexpected fault, vector " << p.bt.read<uint64_t>(kVectorReport);
        }
        EXPECT_GT(p.stats().chains_taken, 0u) << "the loop's passes were meant to go through its back edge";
        if (l.handler) {
            EXPECT_GT(p.stats().helper_insns, 0u) << "ADDPS was meant to be a handler call";
        }
    }
}

TEST(BtSse, AHandlerInTheBlockSeesAndChangesTheGuestXmms) {
    // FXSAVE reads the XMMs written natively before it; FXRSTOR changes them, and the native code
    // after it must read the restored values, not stale host registers.
    check({{"fxsave/fxrstor between native SSE", [](G& g) {
                g.paddd(xmm1, xmm2);
                g.db(0x0f); g.db(0xae); g.db(0x47); g.db(0x40);   // fxsave [rdi+0x40]: sees xmm1
                g.movdqa(xmm2, xmm1);
                g.mov(qword[rdi + 0x40 + 160 + 16 * 2], rax);     // the saved XMM2's low quadword
                g.db(0x0f); g.db(0xae); g.db(0x4f); g.db(0x40);   // fxrstor [rdi+0x40]: XMM2 changes
                g.paddd(xmm1, xmm2);
                g.movdqa(xmm4, xmm2);
            }, 5}});
}

}  // namespace
}  // namespace popek::emu::test
