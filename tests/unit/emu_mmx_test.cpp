// MMX forms in the interpreter against this host, from random x87 stacks (random TOP and tags) so
// the x87 -> MMX transition (TOP = 0, all tags valid, exponent bits of written registers) is
// compared too; plus the MMX exception rules.
#include "emu_fp_harness.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

using Case = FpCase;
void run_cases(const std::vector<Case>& cases, int n = 120) { run_fp_cases(cases, n, true); }

#define BIN(op)                                                                  \
    Case{#op " reg", [](G& g) { g.op(mm1, mm2); }},                              \
    Case{#op " mem", [](G& g) { g.op(mm7, g.ptr[rbx + 8]); }}

TEST(EmuMmx, IntegerOps) {
    run_cases({BIN(paddb), BIN(paddw), BIN(paddd), BIN(paddq), BIN(paddsb), BIN(paddsw), BIN(paddusb), BIN(paddusw),
               BIN(psubb), BIN(psubw), BIN(psubd), BIN(psubq), BIN(psubsb), BIN(psubsw), BIN(psubusb), BIN(psubusw),
               BIN(pmullw), BIN(pmulhw), BIN(pmulhuw), BIN(pmuludq), BIN(pmaddwd), BIN(pavgb), BIN(pavgw),
               BIN(psadbw), BIN(pminub), BIN(pmaxub), BIN(pminsw), BIN(pmaxsw), BIN(pcmpeqb), BIN(pcmpeqw),
               BIN(pcmpeqd), BIN(pcmpgtb), BIN(pcmpgtw), BIN(pcmpgtd), BIN(pand), BIN(pandn), BIN(por), BIN(pxor),
               BIN(punpcklbw), BIN(punpcklwd), BIN(punpckldq), BIN(punpckhbw), BIN(punpckhwd), BIN(punpckhdq),
               BIN(packsswb), BIN(packssdw), BIN(packuswb), BIN(pshufb), BIN(phaddw), BIN(phaddd), BIN(phaddsw),
               BIN(phsubw), BIN(phsubd), BIN(phsubsw), BIN(pmaddubsw), BIN(pmulhrsw), BIN(psignb), BIN(psignw),
               BIN(psignd), BIN(pabsb), BIN(pabsw), BIN(pabsd), BIN(psllw), BIN(pslld), BIN(psllq), BIN(psrlw),
               BIN(psrld), BIN(psrlq), BIN(psraw), BIN(psrad)});
}

TEST(EmuMmx, ImmediateForms) {
    std::vector<Case> cases;
    for (int n : {0, 3, 15, 16, 33, 64, 255}) {
        const uint8_t k = static_cast<uint8_t>(n);
        cases.push_back({"psllw", [k](G& g) { g.psllw(mm3, k); }});
        cases.push_back({"psrad", [k](G& g) { g.psrad(mm3, k); }});
        cases.push_back({"psrlq", [k](G& g) { g.psrlq(mm0, k); }});
        cases.push_back({"pshufw", [k](G& g) { g.pshufw(mm1, mm2, k); }});
        cases.push_back({"pshufw mem", [k](G& g) { g.pshufw(mm1, g.ptr[rbx + 3], k); }});
        cases.push_back({"palignr", [k](G& g) { g.palignr(mm1, mm2, k); }});
        cases.push_back({"pextrw", [k](G& g) { g.pextrw(eax, mm2, k); }});
        cases.push_back({"pinsrw", [k](G& g) { g.pinsrw(mm5, ecx, k); }});
    }
    run_cases(cases, 40);
}

TEST(EmuMmx, MovesAndConversions) {
    run_cases({
        Case{"movd mm,r32", [](G& g) { g.movd(mm1, eax); }},
        Case{"movd mm,m32", [](G& g) { g.movd(mm1, g.ptr[rbx + 4]); }},
        Case{"movd r32,mm", [](G& g) { g.movd(ecx, mm6); }},
        Case{"movd m32,mm", [](G& g) { g.movd(g.ptr[rbx + 4], mm6); }},
        Case{"movq mm,r64", [](G& g) { g.movq(mm1, rax); }},
        Case{"movq r64,mm", [](G& g) { g.movq(rdx, mm4); }},
        Case{"movq mm,mm", [](G& g) { g.movq(mm1, mm2); }},
        Case{"movq mm,m64", [](G& g) { g.movq(mm1, g.ptr[rbx + 8]); }},
        Case{"movq m64,mm", [](G& g) { g.movq(g.ptr[rbx + 8], mm3); }},
        Case{"movntq", [](G& g) { g.movntq(g.ptr[rbx + 16], mm3); }},
        Case{"pmovmskb", [](G& g) { g.pmovmskb(eax, mm2); }},
        Case{"maskmovq", [](G& g) { g.push(rdi); g.mov(rdi, rbx); g.maskmovq(mm1, mm2); g.pop(rdi); }},
        Case{"movq2dq", [](G& g) { g.movq2dq(xmm9, mm2); }},
        Case{"movdq2q", [](G& g) { g.movdq2q(mm2, xmm9); }},
        Case{"cvtpi2ps reg", [](G& g) { g.cvtpi2ps(xmm1, mm2); }},
        Case{"cvtpi2ps mem", [](G& g) { g.cvtpi2ps(xmm1, g.ptr[rbx + 8]); }},
        Case{"cvtpi2pd", [](G& g) { g.cvtpi2pd(xmm1, mm2); }},
        Case{"cvtps2pi", [](G& g) { g.cvtps2pi(mm1, xmm2); }},
        Case{"cvttps2pi mem", [](G& g) { g.cvttps2pi(mm1, g.ptr[rbx + 8]); }},
        Case{"cvtpd2pi", [](G& g) { g.cvtpd2pi(mm1, xmm2); }},
        Case{"cvttpd2pi mem", [](G& g) { g.cvttpd2pi(mm1, g.ptr[rbx + 16]); }},
        Case{"emms after paddb", [](G& g) { g.paddb(mm1, mm2); g.emms(); }},
        Case{"fld after movq", [](G& g) { g.movq(mm1, rax); g.emms(); g.fld1(); }},
    });
}

TEST(EmuMmx, Exceptions) {
    std::mt19937_64 rng(11);
    FpState in = random_x87_state(rng);
    const auto code = assemble([](G& g) { g.paddb(mm1, mm2); });
    EXPECT_EQ(fp_machine().run(code, in, kCr0Default | hv::kCr0Em).vector, kUd);
    EXPECT_EQ(fp_machine().run(code, in, kCr0Default | hv::kCr0Ts).vector, kNm);
    // MMX does not depend on CR4.OSFXSR.
    EXPECT_FALSE(fp_machine().run(code, in, kCr0Default, kCr4Default & ~hv::kCr4Osfxsr).faulted);
    in.fx.fcw = 0x037e;
    in.fx.fsw = static_cast<uint16_t>(in.fx.fsw | 1 | x87::kFswEs);
    GuestRun r = fp_machine().run(code, in);
    ASSERT_TRUE(r.faulted);
    EXPECT_EQ(r.vector, kMf);
    EXPECT_EQ(r.out.fx.fsw, in.fx.fsw);   // no transition on a fault
    EXPECT_EQ(r.out.fx.ftw, in.fx.ftw);
}

}  // namespace
}  // namespace popek::emu::test
