/// Floating-point SIMD arithmetic (SDM Vol. 1 10.4.2, 11.4.1): ADD SUB MUL DIV MIN MAX SQRT
/// (PS PD SS SD), RCP/RSQRT (PS SS), logic (AND ANDN OR XOR PS/PD), CMPcc (PS PD SS SD),
/// COMISS/COMISD/UCOMISS/UCOMISD, SHUFPS/SHUFPD, UNPCKL/UNPCKH (PS PD), SSE3 ADDSUB/HADD/HSUB.
/// Arithmetic runs on the host under the guest MXCSR (rounding, DAZ/FTZ, exception flags).
#include "emu/interp/sse_common.h"

namespace popek::emu {

namespace {

using sse::Vec;

#define POPEK_VEC_OP(name, insn) \
    void name(Vec& d, Vec s) { asm volatile(insn " %1, %0" : "+x"(d) : "x"(s)); }
#define POPEK_FP_OPS(X)                                                                            \
    X(ADDPS, "addps") X(ADDPD, "addpd") X(ADDSS, "addss") X(ADDSD, "addsd")                          \
    X(SUBPS, "subps") X(SUBPD, "subpd") X(SUBSS, "subss") X(SUBSD, "subsd")                          \
    X(MULPS, "mulps") X(MULPD, "mulpd") X(MULSS, "mulss") X(MULSD, "mulsd")                          \
    X(DIVPS, "divps") X(DIVPD, "divpd") X(DIVSS, "divss") X(DIVSD, "divsd")                          \
    X(MINPS, "minps") X(MINPD, "minpd") X(MINSS, "minss") X(MINSD, "minsd")                          \
    X(MAXPS, "maxps") X(MAXPD, "maxpd") X(MAXSS, "maxss") X(MAXSD, "maxsd")                          \
    X(SQRTPS, "sqrtps") X(SQRTPD, "sqrtpd") X(SQRTSS, "sqrtss") X(SQRTSD, "sqrtsd")                  \
    X(ADDSUBPS, "addsubps") X(ADDSUBPD, "addsubpd") X(HADDPS, "haddps") X(HADDPD, "haddpd")          \
    X(HSUBPS, "hsubps") X(HSUBPD, "hsubpd")
/// No MXCSR involvement (no FP exceptions): RCP/RSQRT approximations, logic, unpacks.
#define POPEK_FP_PLAIN_OPS(X)                                                                      \
    X(RCPPS, "rcpps") X(RCPSS, "rcpss") X(RSQRTPS, "rsqrtps") X(RSQRTSS, "rsqrtss")                  \
    X(ANDPS, "andps") X(ANDPD, "andpd") X(ANDNPS, "andnps") X(ANDNPD, "andnpd")                      \
    X(ORPS, "orps") X(ORPD, "orpd") X(XORPS, "xorps") X(XORPD, "xorpd")                              \
    X(UNPCKLPS, "unpcklps") X(UNPCKLPD, "unpcklpd") X(UNPCKHPS, "unpckhps") X(UNPCKHPD, "unpckhpd")

#define X(m, insn) POPEK_VEC_OP(op_##m, insn)
POPEK_FP_OPS(X)
POPEK_FP_PLAIN_OPS(X)
#undef X

/// CMPPS/CMPPD/CMPSS/CMPSD with predicate P (imm8[2:0], SDM Vol. 2A CMPPS table 3-7).
#define POPEK_CMP_OP(insn)                                                                         \
    template <int P> void op_##insn(Vec& d, Vec s) { asm volatile(#insn " %2, %1, %0" : "+x"(d) : "x"(s), "i"(P)); }
POPEK_CMP_OP(cmpps)
POPEK_CMP_OP(cmppd)
POPEK_CMP_OP(cmpss)
POPEK_CMP_OP(cmpsd)

template <template <int> class Op>
Handler cmp_handler(unsigned pred) {
    switch (pred & 7) {
        case 0: return sse::binary<Op<0>::fn, true>;
        case 1: return sse::binary<Op<1>::fn, true>;
        case 2: return sse::binary<Op<2>::fn, true>;
        case 3: return sse::binary<Op<3>::fn, true>;
        case 4: return sse::binary<Op<4>::fn, true>;
        case 5: return sse::binary<Op<5>::fn, true>;
        case 6: return sse::binary<Op<6>::fn, true>;
        default: return sse::binary<Op<7>::fn, true>;
    }
}
template <int P> struct CmpPs { static constexpr sse::VecOp fn = op_cmpps<P>; };
template <int P> struct CmpPd { static constexpr sse::VecOp fn = op_cmppd<P>; };
template <int P> struct CmpSs { static constexpr sse::VecOp fn = op_cmpss<P>; };
template <int P> struct CmpSd { static constexpr sse::VecOp fn = op_cmpsd<P>; };

/// COMISS/COMISD/UCOMISS/UCOMISD: ZF PF CF from the comparison, OF SF AF cleared.
#define POPEK_COMI_OP(insn)                                                                        \
    uint64_t op_##insn(Vec a, Vec b) {                                                             \
        uint64_t f;                                                                                \
        asm volatile(#insn " %[b], %[a]" POPEK_HOST_FLAGS_TAIL : [f] "=&r"(f) : [a] "x"(a), [b] "x"(b) : "cc"); \
        return f;                                                                                  \
    }
POPEK_COMI_OP(comiss)
POPEK_COMI_OP(comisd)
POPEK_COMI_OP(ucomiss)
POPEK_COMI_OP(ucomisd)

template <uint64_t (*F)(Vec, Vec)>
void comi(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const Vec b = sse::src1(c, i);
    const Vec a = sse::xmm(c, i.r0);
    const uint32_t host = sse::fp_enter(c);
    const uint64_t f = F(a, b);
    sse::fp_commit(c, sse::fp_leave(host));
    merge_flags(c, f, kArithFlags);
}

/// SHUFPS / SHUFPD xmm, xmm/m128, imm8.
template <bool Double>
void shuf(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const Vec s = sse::src1(c, i);
    const Vec d = sse::xmm(c, i.r0);
    const unsigned imm = static_cast<unsigned>(i.imm);
    if constexpr (Double) {
        const auto ld = sse::lanes<uint64_t>(d), ls = sse::lanes<uint64_t>(s);
        sse::Lanes<uint64_t> r{{ld.v[imm & 1], ls.v[(imm >> 1) & 1]}};
        sse::set_xmm(c, i.r0, sse::from_lanes(r));
    } else {
        const auto ld = sse::lanes<uint32_t>(d), ls = sse::lanes<uint32_t>(s);
        sse::Lanes<uint32_t> r{{ld.v[imm & 3], ld.v[(imm >> 2) & 3], ls.v[(imm >> 4) & 3], ls.v[(imm >> 6) & 3]}};
        sse::set_xmm(c, i.r0, sse::from_lanes(r));
    }
}

sse::MnemonicMap g_fp;

Handler select_fp(const DecodeView& d, Insn& i) {
    return sse::form_xx(d, i) && d.ins.operand_count_visible == 2 ? g_fp[d.ins.mnemonic] : nullptr;
}

Selector g_string_cmpsd = nullptr;

}  // namespace

void register_sse_fp(HandlerTable& t) {
#define X(m, insn)                                              \
    g_fp.h[ZYDIS_MNEMONIC_##m] = sse::binary<op_##m, true>;  \
    t.add(ZYDIS_MNEMONIC_##m, select_fp);
    POPEK_FP_OPS(X)
#undef X
#define X(m, insn)                                              \
    g_fp.h[ZYDIS_MNEMONIC_##m] = sse::binary<op_##m, false>; \
    t.add(ZYDIS_MNEMONIC_##m, select_fp);
    POPEK_FP_PLAIN_OPS(X)
#undef X
    t.add(ZYDIS_MNEMONIC_CMPPS, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), cmp_handler<CmpPs>(static_cast<unsigned>(i.imm))); });
    t.add(ZYDIS_MNEMONIC_CMPPD, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), cmp_handler<CmpPd>(static_cast<unsigned>(i.imm))); });
    t.add(ZYDIS_MNEMONIC_CMPSS, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), cmp_handler<CmpSs>(static_cast<unsigned>(i.imm))); });
    // CMPSD is also the string instruction (no XMM operand): chain to its selector.
    g_string_cmpsd = t.select[ZYDIS_MNEMONIC_CMPSD];
    t.add(ZYDIS_MNEMONIC_CMPSD, [](const DecodeView& d, Insn& i) -> Handler {
        if (!sse::is_xmm(d, 0)) return g_string_cmpsd ? g_string_cmpsd(d, i) : nullptr;
        return sse::form_xx(d, i) ? cmp_handler<CmpSd>(static_cast<unsigned>(i.imm)) : nullptr;
    });
    t.add(ZYDIS_MNEMONIC_COMISS, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), comi<op_comiss>); });
    t.add(ZYDIS_MNEMONIC_COMISD, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), comi<op_comisd>); });
    t.add(ZYDIS_MNEMONIC_UCOMISS, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), comi<op_ucomiss>); });
    t.add(ZYDIS_MNEMONIC_UCOMISD, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), comi<op_ucomisd>); });
    t.add(ZYDIS_MNEMONIC_SHUFPS, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), shuf<false>); });
    t.add(ZYDIS_MNEMONIC_SHUFPD, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), shuf<true>); });
}

}  // namespace popek::emu
