/// SSE/SSE2/SSE3 data movement (SDM Vol. 2): MOVAPS MOVAPD MOVDQA (aligned), MOVUPS MOVUPD MOVDQU
/// LDDQU (unaligned), MOVNTPS MOVNTPD MOVNTDQ MOVNTI, MOVSS/MOVSD, MOVD/MOVQ (XMM <-> GPR/memory),
/// MOVHPS MOVHPD MOVLPS MOVLPD MOVHLPS MOVLHPS, MOVMSKPS MOVMSKPD PMOVMSKB, PEXTRW PINSRW,
/// MASKMOVDQU, MOVDDUP MOVSHDUP MOVSLDUP.
#include "emu/interp/sse_common.h"

namespace popek::emu {
namespace {

using sse::Vec;

/// 128-bit move: xmm <- xmm/m128 (k0 register) or m128 <- xmm.
template <bool Aligned>
void move128(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    if (i.k0 == kOpReg) sse::set_xmm(c, i.r0, i.k1 == kOpReg ? sse::xmm(c, i.r1) : sse::load_mem(c, i, 16, Aligned));
    else sse::store_mem(c, i, 16, sse::xmm(c, i.r1), Aligned);
}

/// MOVSS / MOVSD (N = 4 / 8): register form merges the low element, loads zero the rest.
template <unsigned N>
void move_scalar(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    if (i.k0 == kOpMem) {
        sse::store_mem(c, i, N, sse::xmm(c, i.r1), false);
    } else if (i.k1 == kOpMem) {
        sse::set_xmm(c, i.r0, sse::load_mem(c, i, N, false));
    } else {
        uint8_t lo[N];
        std::memcpy(lo, c.fpu.xmm[i.r1], N);
        std::memcpy(c.fpu.xmm[i.r0], lo, N);
    }
}

/// MOVD/MOVQ xmm <- r/m (zero-extended), and MOVQ xmm <- xmm (upper quadword cleared).
template <unsigned N>
void movdq_to_xmm(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    Vec v;
    if (i.k1 == kOpMem) {
        v = sse::load_mem(c, i, N, false);
    } else {
        const uint64_t q = N == 4 ? (c.gpr[i.r1] & 0xffffffffULL) : c.gpr[i.r1];
        v = _mm_cvtsi64_si128(static_cast<long long>(q));
    }
    sse::set_xmm(c, i.r0, v);
}
void movq_xmm_xmm(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    sse::set_xmm(c, i.r0, _mm_cvtsi64_si128(static_cast<long long>(sse::xmm_q(c, i.r1, 0))));
}
/// MOVD/MOVQ r/m <- xmm.
template <unsigned N>
void movdq_from_xmm(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    if (i.k0 == kOpMem) {
        sse::store_mem(c, i, N, sse::xmm(c, i.r1), false);
    } else {
        const uint64_t q = sse::xmm_q(c, i.r1, 0);
        c.gpr[i.r0] = N == 4 ? (q & 0xffffffffULL) : q;   // 32-bit GPR writes zero-extend
    }
}

/// MOVHPx/MOVLPx (memory forms; High selects the upper quadword) and MOVHLPS/MOVLHPS.
template <bool High>
void move_half(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const unsigned k = High ? 1 : 0;
    if (i.k0 == kOpMem) {
        const uint64_t q = sse::xmm_q(c, i.r1, k);
        sse::store_mem(c, i, 8, _mm_cvtsi64_si128(static_cast<long long>(q)), false);
    } else {
        const uint64_t q = static_cast<uint64_t>(_mm_cvtsi128_si64(sse::load_mem(c, i, 8, false)));
        sse::set_xmm_q(c, i.r0, k, q);
    }
}
void movhlps(Cpu& c, const Insn& i) { sse::check_sse(c); sse::set_xmm_q(c, i.r0, 0, sse::xmm_q(c, i.r1, 1)); }
void movlhps(Cpu& c, const Insn& i) { sse::check_sse(c); sse::set_xmm_q(c, i.r0, 1, sse::xmm_q(c, i.r1, 0)); }

/// MOVMSKPS (4), MOVMSKPD (8), PMOVMSKB (1): sign bits of the elements into a GPR.
template <unsigned Elem>
void movemask(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    uint32_t m = 0;
    for (unsigned k = 0; k < 16 / Elem; ++k)
        if (c.fpu.xmm[i.r1][k * Elem + Elem - 1] & 0x80) m |= 1u << k;
    c.gpr[i.r0] = m;
}

/// PEXTRW r32, xmm, imm8 / PINSRW xmm, r32/m16, imm8.
void pextrw(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const auto w = sse::lanes<uint16_t>(sse::xmm(c, i.r1));
    c.gpr[i.r0] = w.v[i.imm & 7];
}
void pinsrw(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const uint16_t v = i.k1 == kOpMem ? c.read<uint16_t>(i.seg, effective_address(c, i)) : c.reg<uint16_t>(i.r1);
    auto w = sse::lanes<uint16_t>(sse::xmm(c, i.r0));
    w.v[i.imm & 7] = v;
    sse::set_xmm(c, i.r0, sse::from_lanes(w));
}

/// MOVNTI m32/m64, r: a plain store (the non-temporal hint has no architectural effect).
template <class T>
void movnti(Cpu& c, const Insn& i) { write_mem<T>(c, i, c.reg<T>(i.r1)); }

/// MASKMOVDQU xmm1, xmm2: bytes of xmm1 whose mask byte in xmm2 has bit 7 set go to DS:rDI.
void maskmovdqu(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const uint64_t ea = effective_address(c, i);
    const uint64_t amask = addr_mask(i.asize);
    for (unsigned k = 0; k < 16; ++k)
        if (c.fpu.xmm[i.r1][k] & 0x80) c.write<uint8_t>(i.seg, (ea + k) & amask, c.fpu.xmm[i.r0][k]);
}

/// MOVDDUP (low quadword twice), MOVSLDUP / MOVSHDUP (even / odd dwords twice).
void movddup(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const uint64_t q = static_cast<uint64_t>(_mm_cvtsi128_si64(sse::src1(c, i)));
    sse::set_xmm_q(c, i.r0, 0, q);
    sse::set_xmm_q(c, i.r0, 1, q);
}
template <unsigned Odd>
void movdup(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const auto s = sse::lanes<uint32_t>(sse::src1(c, i));
    sse::Lanes<uint32_t> r{{s.v[Odd], s.v[Odd], s.v[2 + Odd], s.v[2 + Odd]}};
    sse::set_xmm(c, i.r0, sse::from_lanes(r));
}

template <bool Aligned>
Handler select_move128(const DecodeView& d, Insn& i) {
    if (i.prefix & kPrefixLock) return nullptr;
    if (sse::is_xmm(d, 0) && (sse::is_xmm(d, 1) || sse::is_mem(d, 1))) {
        sse::fix_xmm(d, i);
        return move128<Aligned>;
    }
    if (sse::is_mem(d, 0) && sse::is_xmm(d, 1)) {
        sse::fix_xmm(d, i);
        return move128<Aligned>;
    }
    return nullptr;
}

/// Forms that only store (MOVNTPS/PD/DQ m128, xmm).
Handler select_store128(const DecodeView& d, Insn& i) {
    return sse::is_mem(d, 0) ? select_move128<true>(d, i) : nullptr;
}
/// Forms that only load (LDDQU xmm, m128).
Handler select_load128u(const DecodeView& d, Insn& i) {
    return sse::is_mem(d, 1) ? select_move128<false>(d, i) : nullptr;
}

template <unsigned N>
Handler select_scalar(const DecodeView& d, Insn& i) {
    if (!(sse::is_xmm(d, 0) || sse::is_mem(d, 0)) || !(sse::is_xmm(d, 1) || sse::is_mem(d, 1))) return nullptr;
    sse::fix_xmm(d, i);
    return move_scalar<N>;
}

Selector g_string_movsd = nullptr;

Handler select_movsd(const DecodeView& d, Insn& i) {
    // MOVSD is also the string instruction (no XMM operand).
    if (!sse::is_xmm(d, 0) && !sse::is_xmm(d, 1)) return g_string_movsd ? g_string_movsd(d, i) : nullptr;
    return select_scalar<8>(d, i);
}

template <unsigned N>
Handler select_movdq(const DecodeView& d, Insn& i) {
    const bool x0 = sse::is_xmm(d, 0), x1 = sse::is_xmm(d, 1);
    if (!x0 && !x1) return nullptr;   // MMX forms
    const bool other_ok = x0 ? (sse::is_gpr(d, 1) || sse::is_mem(d, 1) || (N == 8 && x1))
                             : (sse::is_gpr(d, 0) || sse::is_mem(d, 0));
    if (!other_ok) return nullptr;
    sse::fix_xmm(d, i);
    if (x0 && x1) return movq_xmm_xmm;
    return x0 ? static_cast<Handler>(movdq_to_xmm<N>) : static_cast<Handler>(movdq_from_xmm<N>);
}

template <bool High>
Handler select_half_mem(const DecodeView& d, Insn& i) {
    if (!((sse::is_xmm(d, 0) && sse::is_mem(d, 1)) || (sse::is_mem(d, 0) && sse::is_xmm(d, 1)))) return nullptr;
    sse::fix_xmm(d, i);
    return move_half<High>;
}

Handler select_xx_regs(const DecodeView& d, Insn& i, Handler h) {
    if (!sse::is_xmm(d, 0) || !sse::is_xmm(d, 1)) return nullptr;
    sse::fix_xmm(d, i);
    return h;
}

template <unsigned Elem>
Handler select_movemask(const DecodeView& d, Insn& i) {
    if (!sse::is_gpr(d, 0) || !sse::is_xmm(d, 1)) return nullptr;
    sse::fix_xmm(d, i);
    return movemask<Elem>;
}

}  // namespace

void register_sse_move(HandlerTable& t) {
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_MOVAPS, ZYDIS_MNEMONIC_MOVAPD, ZYDIS_MNEMONIC_MOVDQA})
        t.add(m, select_move128<true>);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_MOVUPS, ZYDIS_MNEMONIC_MOVUPD, ZYDIS_MNEMONIC_MOVDQU})
        t.add(m, select_move128<false>);
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_MOVNTPS, ZYDIS_MNEMONIC_MOVNTPD, ZYDIS_MNEMONIC_MOVNTDQ})
        t.add(m, select_store128);
    t.add(ZYDIS_MNEMONIC_LDDQU, select_load128u);
    t.add(ZYDIS_MNEMONIC_MOVSS, select_scalar<4>);
    g_string_movsd = t.select[ZYDIS_MNEMONIC_MOVSD];
    t.add(ZYDIS_MNEMONIC_MOVSD, select_movsd);
    t.add(ZYDIS_MNEMONIC_MOVD, select_movdq<4>);
    t.add(ZYDIS_MNEMONIC_MOVQ, select_movdq<8>);
    t.add(ZYDIS_MNEMONIC_MOVHPS, select_half_mem<true>);
    t.add(ZYDIS_MNEMONIC_MOVHPD, select_half_mem<true>);
    t.add(ZYDIS_MNEMONIC_MOVLPS, select_half_mem<false>);
    t.add(ZYDIS_MNEMONIC_MOVLPD, select_half_mem<false>);
    t.add(ZYDIS_MNEMONIC_MOVHLPS, [](const DecodeView& d, Insn& i) { return select_xx_regs(d, i, movhlps); });
    t.add(ZYDIS_MNEMONIC_MOVLHPS, [](const DecodeView& d, Insn& i) { return select_xx_regs(d, i, movlhps); });
    t.add(ZYDIS_MNEMONIC_MOVMSKPS, select_movemask<4>);
    t.add(ZYDIS_MNEMONIC_MOVMSKPD, select_movemask<8>);
    t.add(ZYDIS_MNEMONIC_PMOVMSKB, select_movemask<1>);
    t.add(ZYDIS_MNEMONIC_PEXTRW, [](const DecodeView& d, Insn& i) -> Handler {
        if (!sse::is_gpr(d, 0) || !sse::is_xmm(d, 1)) return nullptr;
        sse::fix_xmm(d, i);
        return pextrw;
    });
    t.add(ZYDIS_MNEMONIC_PINSRW, [](const DecodeView& d, Insn& i) -> Handler {
        if (!sse::is_xmm(d, 0) || !(sse::is_gpr(d, 1) || sse::is_mem(d, 1))) return nullptr;
        sse::fix_xmm(d, i);
        return pinsrw;
    });
    t.add(ZYDIS_MNEMONIC_MOVNTI, [](const DecodeView& d, Insn& i) -> Handler {
        if (!sse::is_mem(d, 0) || !sse::is_gpr(d, 1)) return nullptr;
        return i.osize == 8 ? static_cast<Handler>(movnti<uint64_t>) : static_cast<Handler>(movnti<uint32_t>);
    });
    t.add(ZYDIS_MNEMONIC_MASKMOVDQU, [](const DecodeView& d, Insn& i) { return select_xx_regs(d, i, maskmovdqu); });
    t.add(ZYDIS_MNEMONIC_MOVDDUP, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), movddup); });
    t.add(ZYDIS_MNEMONIC_MOVSLDUP, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), movdup<0>); });
    t.add(ZYDIS_MNEMONIC_MOVSHDUP, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), movdup<1>); });
}

}  // namespace popek::emu
