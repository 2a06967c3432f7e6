/// SSE/SSE2 conversions (SDM Vol. 1 11.4.1.6, Vol. 2 CVT* pages): between packed/scalar single,
/// double and doubleword integers, and between scalars and 32/64-bit GPRs (CVTSI2SS/SD,
/// CVT(T)SS2SI, CVT(T)SD2SI). The MMX-operand forms (CVTPI2PS...) are not implemented (#UD).
/// All run on the host under the guest MXCSR (rounding mode, exception flags).
#include "emu/interp/sse_common.h"

namespace popek::emu {
namespace {

using sse::Vec;

#define POPEK_VEC_OP(name, insn) \
    void name(Vec& d, Vec s) { asm volatile(insn " %1, %0" : "+x"(d) : "x"(s)); }
#define POPEK_CVT_OPS(X)                                                                           \
    X(CVTPS2PD, "cvtps2pd") X(CVTPD2PS, "cvtpd2ps") X(CVTSS2SD, "cvtss2sd") X(CVTSD2SS, "cvtsd2ss")  \
    X(CVTDQ2PS, "cvtdq2ps") X(CVTPS2DQ, "cvtps2dq") X(CVTTPS2DQ, "cvttps2dq")                         \
    X(CVTDQ2PD, "cvtdq2pd") X(CVTPD2DQ, "cvtpd2dq") X(CVTTPD2DQ, "cvttpd2dq")
#define X(m, insn) POPEK_VEC_OP(op_##m, insn)
POPEK_CVT_OPS(X)
#undef X

/// CVTSI2SS/CVTSI2SD xmm, r/m32|r/m64 (Double selects SD, N the integer size).
template <bool Double, unsigned N>
void int_to_scalar(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    using T = std::conditional_t<N == 8, uint64_t, uint32_t>;
    const T v = i.k1 == kOpMem ? c.read<T>(i.seg, effective_address(c, i)) : c.reg<T>(i.r1);
    Vec d = sse::xmm(c, i.r0);
    const uint32_t host = sse::fp_enter(c);
    if constexpr (Double) asm volatile("cvtsi2sd%z1 %1, %0" : "+x"(d) : "r"(v));
    else asm volatile("cvtsi2ss%z1 %1, %0" : "+x"(d) : "r"(v));
    sse::fp_commit(c, sse::fp_leave(host));
    sse::set_xmm(c, i.r0, d);
}

/// CVT(T)SS2SI / CVT(T)SD2SI r32|r64, xmm/m32|m64.
#define POPEK_TO_INT(name, insn)                                                                   \
    template <class T> T name(Vec s) { T r; asm volatile(insn " %1, %0" : "=r"(r) : "x"(s)); return r; }
POPEK_TO_INT(cvtss2si, "cvtss2si")
POPEK_TO_INT(cvttss2si, "cvttss2si")
POPEK_TO_INT(cvtsd2si, "cvtsd2si")
POPEK_TO_INT(cvttsd2si, "cvttsd2si")

template <class T, T (*F)(Vec)>
void scalar_to_int(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const Vec s = sse::src1(c, i);
    const uint32_t host = sse::fp_enter(c);
    const T r = F(s);
    sse::fp_commit(c, sse::fp_leave(host));
    c.gpr[i.r0] = r;   // 32-bit results zero-extend
}

sse::MnemonicMap g_cvt;

Handler select_cvt(const DecodeView& d, Insn& i) {
    return sse::form_xx(d, i) && d.ins.operand_count_visible == 2 ? g_cvt[d.ins.mnemonic] : nullptr;
}

template <bool Double>
Handler select_int_to_scalar(const DecodeView& d, Insn& i) {
    if (!sse::is_xmm(d, 0) || !(sse::is_gpr(d, 1) || sse::is_mem(d, 1))) return nullptr;
    sse::fix_xmm(d, i);
    return i.size1 == 8 ? static_cast<Handler>(int_to_scalar<Double, 8>) : static_cast<Handler>(int_to_scalar<Double, 4>);
}

template <Handler H32, Handler H64>
Handler select_to_int(const DecodeView& d, Insn& i) {
    if (!sse::is_gpr(d, 0) || !(sse::is_xmm(d, 1) || sse::is_mem(d, 1))) return nullptr;
    sse::fix_xmm(d, i);
    return i.osize == 8 ? H64 : H32;
}

}  // namespace

void register_sse_convert(HandlerTable& t) {
#define X(m, insn)                                               \
    g_cvt.h[ZYDIS_MNEMONIC_##m] = sse::binary<op_##m, true>;  \
    t.add(ZYDIS_MNEMONIC_##m, select_cvt);
    POPEK_CVT_OPS(X)
#undef X
    t.add(ZYDIS_MNEMONIC_CVTSI2SS, select_int_to_scalar<false>);
    t.add(ZYDIS_MNEMONIC_CVTSI2SD, select_int_to_scalar<true>);
    t.add(ZYDIS_MNEMONIC_CVTSS2SI, select_to_int<scalar_to_int<uint32_t, cvtss2si<uint32_t>>, scalar_to_int<uint64_t, cvtss2si<uint64_t>>>);
    t.add(ZYDIS_MNEMONIC_CVTTSS2SI, select_to_int<scalar_to_int<uint32_t, cvttss2si<uint32_t>>, scalar_to_int<uint64_t, cvttss2si<uint64_t>>>);
    t.add(ZYDIS_MNEMONIC_CVTSD2SI, select_to_int<scalar_to_int<uint32_t, cvtsd2si<uint32_t>>, scalar_to_int<uint64_t, cvtsd2si<uint64_t>>>);
    t.add(ZYDIS_MNEMONIC_CVTTSD2SI, select_to_int<scalar_to_int<uint32_t, cvttsd2si<uint32_t>>, scalar_to_int<uint64_t, cvttsd2si<uint64_t>>>);
}

}  // namespace popek::emu
