// x87 instructions in the interpreter against this host's x87 on random stacks of 80-bit edge
// values (zeros, infinities, NaNs, denormals, huge/tiny), random TOP, precision and rounding
// control, sometimes unmasked exceptions (then FSW.ES and the unwritten destination must match).
#include "emu_fp_harness.h"
#include "emu/interp/x87_common.h"

namespace popek::emu::test {
namespace {

using namespace Xbyak::util;
using G = Xbyak::CodeGenerator;

using Case = FpCase;
void run_cases(const std::vector<Case>& cases, int n = 150) { run_fp_cases(cases, n, true); }

TEST(EmuX87, Arithmetic) {
    // fiadd & co. take the mnemonic without the leading "f".
#define ARITH2(op, iop)                                                                      \
    Case{#op " st0,st3", [](G& g) { g.op(st0, st3); }}, Case{#op " st5,st0", [](G& g) { g.op(st5, st0); }}, \
    Case{#op " m32", [](G& g) { g.op(g.dword[rbx + 4]); }}, Case{#op " m64", [](G& g) { g.op(g.qword[rbx + 8]); }}, \
    Case{#op "p", [](G& g) { g.op##p(st2, st0); }}, Case{#iop " m16", [](G& g) { g.iop(g.word[rbx + 2]); }}, \
    Case{#iop " m32", [](G& g) { g.iop(g.dword[rbx + 12]); }}
    run_cases({ARITH2(fadd, fiadd), ARITH2(fsub, fisub), ARITH2(fsubr, fisubr), ARITH2(fmul, fimul),
               ARITH2(fdiv, fidiv), ARITH2(fdivr, fidivr)});
#undef ARITH2
}

TEST(EmuX87, LoadsAndStores) {
    run_cases({
        Case{"fld st3", [](G& g) { g.fld(st3); }},
        Case{"fld m32", [](G& g) { g.fld(g.dword[rbx + 4]); }},
        Case{"fld m64", [](G& g) { g.fld(g.qword[rbx + 8]); }},
        Case{"fld m80", [](G& g) { g.db(0xdb); g.db(0x6b); g.db(16); }},    // fld tbyte [rbx+16]
        Case{"fstp m80", [](G& g) { g.db(0xdb); g.db(0x7b); g.db(16); }},   // fstp tbyte [rbx+16]
        Case{"fst m32", [](G& g) { g.fst(g.dword[rbx + 4]); }},
        Case{"fst m64", [](G& g) { g.fst(g.qword[rbx + 8]); }},
        Case{"fstp m32", [](G& g) { g.fstp(g.dword[rbx + 4]); }},
        Case{"fstp m64", [](G& g) { g.fstp(g.qword[rbx + 8]); }},
        Case{"fst st4", [](G& g) { g.fst(st4); }},
        Case{"fstp st1", [](G& g) { g.fstp(st1); }},
        Case{"fild m16", [](G& g) { g.fild(g.word[rbx + 2]); }},
        Case{"fild m32", [](G& g) { g.fild(g.dword[rbx + 4]); }},
        Case{"fild m64", [](G& g) { g.fild(g.qword[rbx + 8]); }},
        Case{"fist m16", [](G& g) { g.fist(g.word[rbx + 2]); }},
        Case{"fist m32", [](G& g) { g.fist(g.dword[rbx + 4]); }},
        Case{"fistp m16", [](G& g) { g.fistp(g.word[rbx + 2]); }},
        Case{"fistp m32", [](G& g) { g.fistp(g.dword[rbx + 4]); }},
        Case{"fistp m64", [](G& g) { g.fistp(g.qword[rbx + 8]); }},
        Case{"fisttp m16", [](G& g) { g.fisttp(g.word[rbx + 2]); }},
        Case{"fisttp m32", [](G& g) { g.fisttp(g.dword[rbx + 4]); }},
        Case{"fisttp m64", [](G& g) { g.fisttp(g.qword[rbx + 8]); }},
        Case{"fbld", [](G& g) { g.fbld(g.ptr[rbx + 32]); }},
        Case{"fbstp", [](G& g) { g.fbstp(g.ptr[rbx + 32]); }},
        Case{"fld1", [](G& g) { g.fld1(); }}, Case{"fldz", [](G& g) { g.fldz(); }},
        Case{"fldpi", [](G& g) { g.fldpi(); }}, Case{"fldl2e", [](G& g) { g.fldl2e(); }},
        Case{"fldl2t", [](G& g) { g.fldl2t(); }}, Case{"fldlg2", [](G& g) { g.fldlg2(); }},
        Case{"fldln2", [](G& g) { g.fldln2(); }},
        Case{"fxch st5", [](G& g) { g.fxch(st5); }},
        Case{"ffree st2", [](G& g) { g.ffree(st2); }},
        Case{"fincstp", [](G& g) { g.fincstp(); }}, Case{"fdecstp", [](G& g) { g.fdecstp(); }},
        Case{"fnop", [](G& g) { g.fnop(); }},
    });
}

TEST(EmuX87, CompareAndClassify) {
    run_cases({
        Case{"fcom st2", [](G& g) { g.fcom(st2); }}, Case{"fcomp m32", [](G& g) { g.fcomp(g.dword[rbx + 4]); }},
        Case{"fcom m64", [](G& g) { g.fcom(g.qword[rbx + 8]); }}, Case{"fcompp", [](G& g) { g.fcompp(); }},
        Case{"fucom st1", [](G& g) { g.fucom(st1); }}, Case{"fucomp st3", [](G& g) { g.fucomp(st3); }},
        Case{"fucompp", [](G& g) { g.fucompp(); }},
        Case{"fcomi", [](G& g) { g.fcomi(st0, st1); }}, Case{"fcomip", [](G& g) { g.fcomip(st0, st4); }},
        Case{"fucomi", [](G& g) { g.fucomi(st0, st2); }}, Case{"fucomip", [](G& g) { g.fucomip(st0, st1); }},
        Case{"ficom m16", [](G& g) { g.ficom(g.word[rbx + 2]); }},
        Case{"ficomp m32", [](G& g) { g.ficomp(g.dword[rbx + 4]); }},
        Case{"ftst", [](G& g) { g.ftst(); }}, Case{"fxam", [](G& g) { g.fxam(); }},
        Case{"fcmovb", [](G& g) { g.fcmovb(st0, st3); }}, Case{"fcmove", [](G& g) { g.fcmove(st0, st1); }},
        Case{"fcmovbe", [](G& g) { g.fcmovbe(st0, st2); }}, Case{"fcmovu", [](G& g) { g.fcmovu(st0, st7); }},
        Case{"fcmovnb", [](G& g) { g.fcmovnb(st0, st3); }}, Case{"fcmovne", [](G& g) { g.fcmovne(st0, st1); }},
        Case{"fcmovnbe", [](G& g) { g.fcmovnbe(st0, st2); }}, Case{"fcmovnu", [](G& g) { g.fcmovnu(st0, st7); }},
    });
}

TEST(EmuX87, UnaryAndTranscendental) {
    run_cases({
        Case{"fchs", [](G& g) { g.fchs(); }}, Case{"fabs", [](G& g) { g.fabs(); }},
        Case{"frndint", [](G& g) { g.frndint(); }}, Case{"fsqrt", [](G& g) { g.fsqrt(); }},
        Case{"fscale", [](G& g) { g.fscale(); }}, Case{"fxtract", [](G& g) { g.fxtract(); }},
        Case{"fprem", [](G& g) { g.fprem(); }}, Case{"fprem1", [](G& g) { g.fprem1(); }},
        Case{"f2xm1", [](G& g) { g.f2xm1(); }}, Case{"fyl2x", [](G& g) { g.fyl2x(); }},
        Case{"fyl2xp1", [](G& g) { g.fyl2xp1(); }}, Case{"fptan", [](G& g) { g.fptan(); }},
        Case{"fpatan", [](G& g) { g.fpatan(); }}, Case{"fsin", [](G& g) { g.fsin(); }},
        Case{"fcos", [](G& g) { g.fcos(); }}, Case{"fsincos", [](G& g) { g.fsincos(); }},
    });
}

TEST(EmuX87, ControlWordStatusWord) {
    run_cases({
        Case{"fninit", [](G& g) { g.fninit(); }},
        Case{"fnclex", [](G& g) { g.fnclex(); }},
        Case{"fnstcw", [](G& g) { g.fnstcw(g.word[rbx + 2]); }},
        Case{"fnstsw m16", [](G& g) { g.fnstsw(g.word[rbx + 2]); }},
        Case{"fnstsw ax", [](G& g) { g.fnstsw(ax); }},
        Case{"fldcw", [](G& g) { g.mov(g.word[rbx + 2], 0x0e7f); g.fldcw(g.word[rbx + 2]); }},
        Case{"emms", [](G& g) { g.emms(); }},
        Case{"fwait", [](G& g) { g.fwait(); }},
    }, 60);
}

}  // namespace
}  // namespace popek::emu::test
