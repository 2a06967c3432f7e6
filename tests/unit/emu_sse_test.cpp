// SSE/SSE2/SSE3/SSSE3 instructions in the interpreter against this host CPU running the same
// instruction on the same random edge-value states (NaNs, denormals, infinities, saturation
// bounds, every rounding mode, FTZ).
#include "emu_fp_harness.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

using Case = FpCase;
void run_cases(const std::vector<Case>& cases, int n = 200) { run_fp_cases(cases, n, false); }

// "op xmm1, xmm2" and "op xmm9, [rbx+32]" (m128, aligned) of each binary instruction.
#define BIN(op)                                                                  \
    Case{#op " reg", [](G& g) { g.op(xmm1, xmm2); }},                            \
    Case{#op " mem", [](G& g) { g.op(xmm9, g.ptr[rbx + 32]); }},                 \
    Case{#op " same", [](G& g) { g.op(xmm3, xmm3); }}

TEST(EmuSse, IntegerArithmetic) {
    run_cases({BIN(paddb), BIN(paddw), BIN(paddd), BIN(paddq), BIN(paddsb), BIN(paddsw), BIN(paddusb),
               BIN(paddusw), BIN(psubb), BIN(psubw), BIN(psubd), BIN(psubq), BIN(psubsb), BIN(psubsw),
               BIN(psubusb), BIN(psubusw), BIN(pmullw), BIN(pmulhw), BIN(pmulhuw), BIN(pmuludq),
               BIN(pmaddwd), BIN(pavgb), BIN(pavgw), BIN(psadbw), BIN(pminub), BIN(pmaxub), BIN(pminsw),
               BIN(pmaxsw)});
}

TEST(EmuSse, IntegerCompareLogicPack) {
    run_cases({BIN(pcmpeqb), BIN(pcmpeqw), BIN(pcmpeqd), BIN(pcmpgtb), BIN(pcmpgtw), BIN(pcmpgtd), BIN(pand),
               BIN(pandn), BIN(por), BIN(pxor), BIN(punpcklbw), BIN(punpcklwd), BIN(punpckldq),
               BIN(punpcklqdq), BIN(punpckhbw), BIN(punpckhwd), BIN(punpckhdq), BIN(punpckhqdq),
               BIN(packsswb), BIN(packssdw), BIN(packuswb)});
}

TEST(EmuSse, Ssse3) {
    run_cases({BIN(pshufb), BIN(phaddw), BIN(phaddd), BIN(phaddsw), BIN(phsubw), BIN(phsubd), BIN(phsubsw),
               BIN(pmaddubsw), BIN(pmulhrsw), BIN(psignb), BIN(psignw), BIN(psignd), BIN(pabsb), BIN(pabsw),
               BIN(pabsd),
               Case{"palignr 0", [](G& g) { g.palignr(xmm1, xmm2, 0); }},
               Case{"palignr 5", [](G& g) { g.palignr(xmm1, xmm2, 5); }},
               Case{"palignr 16", [](G& g) { g.palignr(xmm1, xmm2, 16); }},
               Case{"palignr 21 mem", [](G& g) { g.palignr(xmm1, g.ptr[rbx + 16], 21); }},
               Case{"palignr 40", [](G& g) { g.palignr(xmm1, xmm2, 40); }}});
}

TEST(EmuSse, ShiftsAndShuffles) {
    std::vector<Case> cases = {BIN(psllw), BIN(pslld), BIN(psllq), BIN(psrlw), BIN(psrld), BIN(psrlq),
                               BIN(psraw), BIN(psrad)};
    for (int n : {0, 1, 7, 15, 16, 31, 33, 63, 64, 200}) {
        const uint8_t k = static_cast<uint8_t>(n);
        cases.push_back({"psllw imm", [k](G& g) { g.psllw(xmm4, k); }});
        cases.push_back({"pslld imm", [k](G& g) { g.pslld(xmm4, k); }});
        cases.push_back({"psllq imm", [k](G& g) { g.psllq(xmm12, k); }});
        cases.push_back({"psrlw imm", [k](G& g) { g.psrlw(xmm4, k); }});
        cases.push_back({"psrld imm", [k](G& g) { g.psrld(xmm4, k); }});
        cases.push_back({"psrlq imm", [k](G& g) { g.psrlq(xmm4, k); }});
        cases.push_back({"psraw imm", [k](G& g) { g.psraw(xmm4, k); }});
        cases.push_back({"psrad imm", [k](G& g) { g.psrad(xmm4, k); }});
        cases.push_back({"pslldq", [k](G& g) { g.pslldq(xmm5, k); }});
        cases.push_back({"psrldq", [k](G& g) { g.psrldq(xmm13, k); }});
    }
    for (int imm : {0x00, 0x1b, 0xe4, 0x4e, 0xff, 0x93}) {
        const uint8_t k = static_cast<uint8_t>(imm);
        cases.push_back({"pshufd", [k](G& g) { g.pshufd(xmm1, xmm2, k); }});
        cases.push_back({"pshufd mem", [k](G& g) { g.pshufd(xmm1, g.ptr[rbx + 48], k); }});
        cases.push_back({"pshuflw", [k](G& g) { g.pshuflw(xmm1, xmm2, k); }});
        cases.push_back({"pshufhw", [k](G& g) { g.pshufhw(xmm1, xmm1, k); }});
        cases.push_back({"shufps", [k](G& g) { g.shufps(xmm1, xmm2, k); }});
        cases.push_back({"shufpd", [k](G& g) { g.shufpd(xmm1, g.ptr[rbx], k); }});
    }
    run_cases(cases, 40);
}

TEST(EmuSse, FloatArithmetic) {
    run_cases({BIN(addps), BIN(addpd), BIN(subps), BIN(subpd), BIN(mulps), BIN(mulpd), BIN(divps), BIN(divpd),
               BIN(minps), BIN(minpd), BIN(maxps), BIN(maxpd), BIN(sqrtps), BIN(sqrtpd), BIN(rcpps),
               BIN(rsqrtps), BIN(andps), BIN(andpd), BIN(andnps), BIN(andnpd), BIN(orps), BIN(orpd),
               BIN(xorps), BIN(xorpd), BIN(unpcklps), BIN(unpcklpd), BIN(unpckhps), BIN(unpckhpd),
               BIN(addsubps), BIN(addsubpd), BIN(haddps), BIN(haddpd), BIN(hsubps), BIN(hsubpd)});
}

// Scalar forms: the memory operand is m32/m64 and may be unaligned.
#define SCALAR(op)                                                               \
    Case{#op " reg", [](G& g) { g.op(xmm1, xmm2); }},                            \
    Case{#op " mem", [](G& g) { g.op(xmm9, g.ptr[rbx + 4]); }}

TEST(EmuSse, ScalarArithmetic) {
    run_cases({SCALAR(addss), SCALAR(addsd), SCALAR(subss), SCALAR(subsd), SCALAR(mulss), SCALAR(mulsd),
               SCALAR(divss), SCALAR(divsd), SCALAR(minss), SCALAR(minsd), SCALAR(maxss), SCALAR(maxsd),
               SCALAR(sqrtss), SCALAR(sqrtsd), SCALAR(rcpss), SCALAR(rsqrtss), SCALAR(comiss),
               SCALAR(comisd), SCALAR(ucomiss), SCALAR(ucomisd)});
}

TEST(EmuSse, Compares) {
    std::vector<Case> cases;
    for (int p = 0; p < 8; ++p) {
        const uint8_t k = static_cast<uint8_t>(p);
        cases.push_back({"cmpps", [k](G& g) { g.cmpps(xmm1, xmm2, k); }});
        cases.push_back({"cmppd", [k](G& g) { g.cmppd(xmm1, g.ptr[rbx + 64], k); }});
        cases.push_back({"cmpss", [k](G& g) { g.cmpss(xmm1, g.ptr[rbx + 4], k); }});
        cases.push_back({"cmpsd", [k](G& g) { g.cmpsd(xmm14, xmm2, k); }});
    }
    run_cases(cases, 100);
}

TEST(EmuSse, Conversions) {
    run_cases({BIN(cvtps2dq), BIN(cvttps2dq), BIN(cvtdq2ps), BIN(cvtpd2ps), BIN(cvtpd2dq), BIN(cvttpd2dq),
               SCALAR(cvtps2pd), SCALAR(cvtdq2pd), SCALAR(cvtss2sd), SCALAR(cvtsd2ss),
               Case{"cvtsi2sd r32", [](G& g) { g.cvtsi2sd(xmm1, eax); }},
               Case{"cvtsi2sd r64", [](G& g) { g.cvtsi2sd(xmm1, rax); }},
               Case{"cvtsi2sd m32", [](G& g) { g.cvtsi2sd(xmm1, g.dword[rbx + 4]); }},
               Case{"cvtsi2sd m64", [](G& g) { g.cvtsi2sd(xmm1, g.qword[rbx + 8]); }},
               Case{"cvtsi2ss r32", [](G& g) { g.cvtsi2ss(xmm1, ecx); }},
               Case{"cvtsi2ss r64", [](G& g) { g.cvtsi2ss(xmm10, r10); }},
               Case{"cvtsd2si r32", [](G& g) { g.cvtsd2si(eax, xmm2); }},
               Case{"cvtsd2si r64", [](G& g) { g.cvtsd2si(r9, xmm2); }},
               Case{"cvttsd2si r32", [](G& g) { g.cvttsd2si(eax, xmm2); }},
               Case{"cvttsd2si r64 mem", [](G& g) { g.cvttsd2si(rax, g.ptr[rbx + 8]); }},
               Case{"cvtss2si r32", [](G& g) { g.cvtss2si(edx, xmm2); }},
               Case{"cvtss2si r64", [](G& g) { g.cvtss2si(rdx, xmm2); }},
               Case{"cvttss2si r32 mem", [](G& g) { g.cvttss2si(edx, g.ptr[rbx + 12]); }},
               Case{"cvttss2si r64", [](G& g) { g.cvttss2si(rdx, xmm15); }}});
}

TEST(EmuSse, Moves) {
    run_cases({
        Case{"movaps load", [](G& g) { g.movaps(xmm1, g.ptr[rbx + 16]); }},
        Case{"movaps store", [](G& g) { g.movaps(g.ptr[rbx + 32], xmm1); }},
        Case{"movapd reg", [](G& g) { g.movapd(xmm8, xmm1); }},
        Case{"movdqa load", [](G& g) { g.movdqa(xmm11, g.ptr[rbx + 64]); }},
        Case{"movdqa store", [](G& g) { g.movdqa(g.ptr[rbx + 64], xmm11); }},
        Case{"movups load", [](G& g) { g.movups(xmm1, g.ptr[rbx + 3]); }},
        Case{"movupd store", [](G& g) { g.movupd(g.ptr[rbx + 7], xmm1); }},
        Case{"movdqu load", [](G& g) { g.movdqu(xmm1, g.ptr[rbx + 9]); }},
        Case{"movdqu store", [](G& g) { g.movdqu(g.ptr[rbx + 1], xmm15); }},
        Case{"lddqu", [](G& g) { g.lddqu(xmm1, g.ptr[rbx + 5]); }},
        Case{"movntdq", [](G& g) { g.movntdq(g.ptr[rbx + 16], xmm2); }},
        Case{"movntps", [](G& g) { g.movntps(g.ptr[rbx + 16], xmm2); }},
        Case{"movnti 32", [](G& g) { g.movnti(g.ptr[rbx + 4], eax); }},
        Case{"movnti 64", [](G& g) { g.movnti(g.ptr[rbx + 8], r11); }},
        Case{"movss reg", [](G& g) { g.movss(xmm1, xmm2); }},
        Case{"movss load", [](G& g) { g.movss(xmm1, g.ptr[rbx + 4]); }},
        Case{"movss store", [](G& g) { g.movss(g.ptr[rbx + 4], xmm1); }},
        Case{"movsd reg", [](G& g) { g.movsd(xmm1, xmm2); }},
        Case{"movsd load", [](G& g) { g.movsd(xmm1, g.ptr[rbx + 4]); }},
        Case{"movsd store", [](G& g) { g.movsd(g.ptr[rbx + 12], xmm9); }},
        Case{"movd xmm,r32", [](G& g) { g.movd(xmm1, eax); }},
        Case{"movd xmm,m32", [](G& g) { g.movd(xmm1, g.ptr[rbx + 4]); }},
        Case{"movd r32,xmm", [](G& g) { g.movd(ecx, xmm1); }},
        Case{"movd m32,xmm", [](G& g) { g.movd(g.ptr[rbx + 4], xmm1); }},
        Case{"movq xmm,r64", [](G& g) { g.movq(xmm1, rax); }},
        Case{"movq r64,xmm", [](G& g) { g.movq(r12, xmm13); }},
        Case{"movq xmm,xmm", [](G& g) { g.movq(xmm1, xmm2); }},
        Case{"movq xmm,m64", [](G& g) { g.movq(xmm1, g.ptr[rbx + 8]); }},
        Case{"movq m64,xmm", [](G& g) { g.movq(g.ptr[rbx + 8], xmm1); }},
        Case{"movhps load", [](G& g) { g.movhps(xmm1, g.ptr[rbx + 8]); }},
        Case{"movhps store", [](G& g) { g.movhps(g.ptr[rbx + 8], xmm1); }},
        Case{"movlps load", [](G& g) { g.movlps(xmm1, g.ptr[rbx + 8]); }},
        Case{"movlpd store", [](G& g) { g.movlpd(g.ptr[rbx + 8], xmm1); }},
        Case{"movhpd load", [](G& g) { g.movhpd(xmm1, g.ptr[rbx + 8]); }},
        Case{"movhlps", [](G& g) { g.movhlps(xmm1, xmm2); }},
        Case{"movlhps", [](G& g) { g.movlhps(xmm1, xmm2); }},
        Case{"movmskps", [](G& g) { g.movmskps(eax, xmm2); }},
        Case{"movmskpd", [](G& g) { g.movmskpd(r8d, xmm2); }},
        Case{"pmovmskb", [](G& g) { g.pmovmskb(eax, xmm10); }},
        Case{"pextrw", [](G& g) { g.pextrw(eax, xmm2, 5); }},
        Case{"pinsrw reg", [](G& g) { g.pinsrw(xmm2, eax, 3); }},
        Case{"pinsrw mem", [](G& g) { g.pinsrw(xmm2, g.ptr[rbx + 6], 7); }},
        Case{"movddup", [](G& g) { g.movddup(xmm1, g.ptr[rbx + 8]); }},
        Case{"movsldup", [](G& g) { g.movsldup(xmm1, xmm2); }},
        Case{"movshdup", [](G& g) { g.movshdup(xmm1, g.ptr[rbx + 16]); }},
        Case{"maskmovdqu", [](G& g) { g.push(rdi); g.mov(rdi, rbx); g.maskmovdqu(xmm1, xmm2); g.pop(rdi); }},
    });
}

}  // namespace
}  // namespace popek::emu::test
