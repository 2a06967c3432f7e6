/// Integer SIMD on XMM registers (SDM Vol. 1 11.4.4, Vol. 2 instruction pages): SSE2 PADD*/PSUB*
/// (saturating too), PMUL*, PMADDWD, PAVG*, PMIN/PMAX, PSADBW, PCMPEQ/PCMPGT, logic, unpack/pack,
/// shifts by XMM count or immediate, PSLLDQ/PSRLDQ, PSHUFD/PSHUFLW/PSHUFHW; SSSE3 PSHUFB, PHADD*,
/// PHSUB*, PMADDUBSW, PMULHRSW, PSIGN*, PABS*, PALIGNR. Each runs as the host instruction.
#include "emu/interp/sse_common.h"
#include "emu/interp/sse_int_ops.h"

namespace popek::emu {
namespace {

using sse::Vec;

#define POPEK_VEC_OP(name, insn) \
    void name(Vec& d, Vec s) { asm(insn " %1, %0" : "+x"(d) : "x"(s)); }
#define X(m, insn) POPEK_VEC_OP(op_##m, insn)
POPEK_INT_OPS(X)
POPEK_INT_OPS_XMM_ONLY(X)
POPEK_SHIFT_OPS(X)
#undef X

/// PSLLx/PSRLx/PSRAx xmm, imm8: the host's XMM-count form with the count in a register gives the
/// same result (counts above the element width clear or fill, SDM Vol. 2B PSLLW).
template <sse::VecOp F>
void shift_imm(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    Vec d = sse::xmm(c, i.r0);
    F(d, _mm_cvtsi32_si128(static_cast<int>(i.imm & 0xff)));
    sse::set_xmm(c, i.r0, d);
}

/// PSLLDQ / PSRLDQ xmm, imm8: byte shifts of the whole register (count > 15 clears it).
template <bool Left>
void byte_shift(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const auto s = sse::lanes<uint8_t>(sse::xmm(c, i.r0));
    sse::Lanes<uint8_t> r{};
    const unsigned n = static_cast<unsigned>(i.imm & 0xff);
    for (unsigned k = 0; k < 16; ++k) {
        if (Left) r.v[k] = k >= n ? s.v[k - n] : 0;
        else r.v[k] = k + n < 16 ? s.v[k + n] : 0;
    }
    sse::set_xmm(c, i.r0, sse::from_lanes(r));
}

/// PSHUFD / PSHUFLW / PSHUFHW xmm, xmm/m128, imm8. Kind: 0 dwords, 1 low words, 2 high words.
template <int Kind>
void pshuf(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const Vec s = sse::src1(c, i);
    const unsigned imm = static_cast<unsigned>(i.imm);
    if constexpr (Kind == 0) {
        const auto l = sse::lanes<uint32_t>(s);
        sse::Lanes<uint32_t> r;
        for (unsigned k = 0; k < 4; ++k) r.v[k] = l.v[(imm >> (2 * k)) & 3];
        sse::set_xmm(c, i.r0, sse::from_lanes(r));
    } else {
        const auto l = sse::lanes<uint16_t>(s);
        auto r = l;
        const unsigned base = Kind == 1 ? 0 : 4;
        for (unsigned k = 0; k < 4; ++k) r.v[base + k] = l.v[base + ((imm >> (2 * k)) & 3)];
        sse::set_xmm(c, i.r0, sse::from_lanes(r));
    }
}

/// PALIGNR xmm, xmm/m128, imm8 (SSSE3): bytes imm..imm+15 of the 32-byte value dest:src.
void palignr(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    const auto s = sse::lanes<uint8_t>(sse::src1(c, i));
    const auto d = sse::lanes<uint8_t>(sse::xmm(c, i.r0));
    sse::Lanes<uint8_t> r;
    const unsigned n = static_cast<unsigned>(i.imm & 0xff);
    for (unsigned k = 0; k < 16; ++k) {
        const unsigned at = k + n;
        r.v[k] = at < 16 ? s.v[at] : at < 32 ? d.v[at - 16] : 0;
    }
    sse::set_xmm(c, i.r0, sse::from_lanes(r));
}

sse::MnemonicMap g_binary, g_shift_imm;

Handler select_binary(const DecodeView& d, Insn& i) {
    return sse::form_xx(d, i) && d.ins.operand_count_visible == 2 ? g_binary[d.ins.mnemonic] : nullptr;
}

Handler select_shift(const DecodeView& d, Insn& i) {
    if (sse::form_x_imm(d)) {
        sse::fix_xmm(d, i);
        return g_shift_imm[d.ins.mnemonic];
    }
    return select_binary(d, i);
}

}  // namespace

void register_sse_int(HandlerTable& t) {
#define X(m, insn)                                                      \
    g_binary.h[ZYDIS_MNEMONIC_##m] = sse::binary<op_##m, false>;     \
    t.add(ZYDIS_MNEMONIC_##m, select_binary);
    POPEK_INT_OPS(X)
    POPEK_INT_OPS_XMM_ONLY(X)
#undef X
#define X(m, insn)                                                      \
    g_binary.h[ZYDIS_MNEMONIC_##m] = sse::binary<op_##m, false>;     \
    g_shift_imm.h[ZYDIS_MNEMONIC_##m] = shift_imm<op_##m>;           \
    t.add(ZYDIS_MNEMONIC_##m, select_shift);
    POPEK_SHIFT_OPS(X)
#undef X
    t.add(ZYDIS_MNEMONIC_PSLLDQ, [](const DecodeView& d, Insn& i) -> Handler {
        if (!sse::form_x_imm(d)) return nullptr;
        sse::fix_xmm(d, i);
        return byte_shift<true>;
    });
    t.add(ZYDIS_MNEMONIC_PSRLDQ, [](const DecodeView& d, Insn& i) -> Handler {
        if (!sse::form_x_imm(d)) return nullptr;
        sse::fix_xmm(d, i);
        return byte_shift<false>;
    });
    t.add(ZYDIS_MNEMONIC_PSHUFD, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), pshuf<0>); });
    t.add(ZYDIS_MNEMONIC_PSHUFLW, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), pshuf<1>); });
    t.add(ZYDIS_MNEMONIC_PSHUFHW, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), pshuf<2>); });
    t.add(ZYDIS_MNEMONIC_PALIGNR, [](const DecodeView& d, Insn& i) { return sse::when(sse::form_xx(d, i), palignr); });
}

}  // namespace popek::emu
