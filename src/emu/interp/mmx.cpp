/// MMX (SDM Vol. 1 ch. 9, Vol. 2 instruction pages) and the SSE/SSE2/SSSE3 instructions with MMX
/// operands: the integer SIMD ops of sse_int_ops.h, shifts, MOVD/MOVQ, PSHUFW, PEXTRW/PINSRW,
/// PMOVMSKB, MOVNTQ, MASKMOVQ, PALIGNR, MOVQ2DQ/MOVDQ2Q, CVTPI2PS/PD, CVT(T)PS2PI, CVT(T)PD2PI.
///
/// MMi is the mantissa of physical x87 register Ri (SDM Vol. 1 9.5): every MMX instruction first
/// checks CR0.EM (#UD), CR0.TS (#NM) and a pending x87 exception (#MF), then sets TOP = 0 and all
/// tags valid; a written MMi gets exponent/sign bits all 1s. This family registers last: it wraps
/// the XMM selectors of the shared mnemonics and takes the forms with an MMX register operand.
/// Operations run on host MMX registers, each followed by EMMS so the host x87 stays usable.
#include "emu/interp/sse_common.h"
#include "emu/interp/sse_int_ops.h"
#include "emu/interp/x87_common.h"

namespace popek::emu {
namespace {

// ---- MMX state ----

void check_mmx(Cpu& c) {
    if (c.cr0 & hv::kCr0Em) c.raise(kUd);
    if (c.cr0 & hv::kCr0Ts) c.raise(kNm);
    if (c.fpu.fsw & x87::kFswEs) c.raise(kMf);
}
uint64_t mm(const Cpu& c, unsigned r) {
    uint64_t v;
    std::memcpy(&v, c.fpu.st[(r - x87::top(c.fpu)) & 7], 8);
    return v;
}
/// The x87 -> MMX transition: TOP = 0 (registers stay), all tags valid. Called once all reads and
/// checks are done.
void enter_mmx(Cpu& c) {
    x87::set_fsw_keep_registers(c.fpu, static_cast<uint16_t>(c.fpu.fsw & ~0x3800u));
    c.fpu.ftw = 0xff;
}
void set_mm(Cpu& c, unsigned r, uint64_t v) {   // after enter_mmx (TOP = 0)
    std::memcpy(c.fpu.st[r], &v, 8);
    x87::put16(c.fpu.st[r] + 8, 0xffff);
}
/// 64-bit operand 1: MMX register or m64.
uint64_t src64(Cpu& c, const Insn& i) { return i.k1 == kOpReg ? mm(c, i.r1) : read_mem<uint64_t>(c, i); }

// ---- host operations ----

using MmOp = uint64_t (*)(uint64_t, uint64_t);
#define POPEK_MM_OP(name, insn)                                                                    \
    uint64_t name(uint64_t a, uint64_t b) {                                                        \
        asm("movq %0, %%mm0\n\tmovq %1, %%mm1\n\t" insn " %%mm1, %%mm0\n\tmovq %%mm0, %0\n\temms" \
            : "+r"(a) : "r"(b) : "mm0", "mm1");                                                    \
        return a;                                                                                  \
    }
#define X(m, insn) POPEK_MM_OP(mm_##m, insn)
POPEK_INT_OPS(X)
POPEK_SHIFT_OPS(X)
#undef X

template <MmOp F>
void binary(Cpu& c, const Insn& i) {
    check_mmx(c);
    const uint64_t r = F(mm(c, i.r0), src64(c, i));
    enter_mmx(c);
    set_mm(c, i.r0, r);
}
template <MmOp F>
void shift_imm(Cpu& c, const Insn& i) {
    check_mmx(c);
    const uint64_t r = F(mm(c, i.r0), i.imm & 0xff);
    enter_mmx(c);
    set_mm(c, i.r0, r);
}

/// PALIGNR mm, mm/m64, imm8: bytes imm..imm+7 of dest:src.
void palignr(Cpu& c, const Insn& i) {
    check_mmx(c);
    const unsigned n = static_cast<unsigned>(i.imm & 0xff);
    const unsigned __int128 v = (static_cast<unsigned __int128>(mm(c, i.r0)) << 64) | src64(c, i);
    const uint64_t r = n >= 16 ? 0 : static_cast<uint64_t>(v >> (8 * n));
    enter_mmx(c);
    set_mm(c, i.r0, r);
}

/// PSHUFW mm, mm/m64, imm8.
void pshufw(Cpu& c, const Insn& i) {
    check_mmx(c);
    const uint64_t s = src64(c, i);
    uint64_t r = 0;
    for (unsigned k = 0; k < 4; ++k) r |= ((s >> (16 * ((i.imm >> (2 * k)) & 3))) & 0xffff) << (16 * k);
    enter_mmx(c);
    set_mm(c, i.r0, r);
}

// ---- moves ----

/// MOVD/MOVQ mm <- r/m32|r/m64 (zero-extended), MOVQ mm <- mm (extra = 1).
template <unsigned N>
void mov_to_mm(Cpu& c, const Insn& i) {
    check_mmx(c);
    uint64_t v;
    if (i.k1 == kOpMem) v = N == 4 ? read_mem<uint32_t>(c, i) : read_mem<uint64_t>(c, i);
    else v = i.extra ? mm(c, i.r1) : (N == 4 ? c.gpr[i.r1] & 0xffffffffULL : c.gpr[i.r1]);
    enter_mmx(c);
    set_mm(c, i.r0, v);
}
/// MOVD/MOVQ r/m32|r/m64 <- mm, MOVNTQ m64 <- mm.
template <unsigned N>
void mov_from_mm(Cpu& c, const Insn& i) {
    check_mmx(c);
    const uint64_t v = mm(c, i.r1);
    if (i.k0 == kOpMem) {
        if (N == 4) write_mem<uint32_t>(c, i, static_cast<uint32_t>(v));
        else write_mem<uint64_t>(c, i, v);
    }
    enter_mmx(c);
    if (i.k0 == kOpReg) c.gpr[i.r0] = N == 4 ? (v & 0xffffffffULL) : v;
}

void pextrw(Cpu& c, const Insn& i) {
    check_mmx(c);
    const uint64_t v = mm(c, i.r1);
    enter_mmx(c);
    c.gpr[i.r0] = (v >> (16 * (i.imm & 3))) & 0xffff;
}
void pinsrw(Cpu& c, const Insn& i) {
    check_mmx(c);
    const uint64_t w = i.k1 == kOpMem ? read_mem<uint16_t>(c, i) : (c.gpr[i.r1] & 0xffff);
    const unsigned sh = 16 * static_cast<unsigned>(i.imm & 3);
    const uint64_t r = (mm(c, i.r0) & ~(0xffffULL << sh)) | (w << sh);
    enter_mmx(c);
    set_mm(c, i.r0, r);
}
void pmovmskb(Cpu& c, const Insn& i) {
    check_mmx(c);
    const uint64_t v = mm(c, i.r1);
    uint32_t m = 0;
    for (unsigned k = 0; k < 8; ++k) m |= static_cast<uint32_t>((v >> (8 * k + 7)) & 1) << k;
    enter_mmx(c);
    c.gpr[i.r0] = m;
}
/// MASKMOVQ mm1, mm2: bytes of mm1 selected by bit 7 of mm2's bytes go to DS:rDI.
void maskmovq(Cpu& c, const Insn& i) {
    check_mmx(c);
    const uint64_t v = mm(c, i.r0), mask = mm(c, i.r1);
    const uint64_t ea = effective_address(c, i), amask = addr_mask(i.asize);
    for (unsigned k = 0; k < 8; ++k)
        if ((mask >> (8 * k + 7)) & 1) c.write<uint8_t>(i.seg, (ea + k) & amask, static_cast<uint8_t>(v >> (8 * k)));
    enter_mmx(c);
}
void movq2dq(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    check_mmx(c);
    const uint64_t v = mm(c, i.r1);
    enter_mmx(c);
    sse::set_xmm(c, i.r0, _mm_cvtsi64_si128(static_cast<long long>(v)));
}
void movdq2q(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    check_mmx(c);
    enter_mmx(c);
    set_mm(c, i.r0, sse::xmm_q(c, i.r1, 0));
}

// ---- conversions with an MMX operand (run under the guest MXCSR) ----

/// CVTPI2PS / CVTPI2PD xmm, mm/m64 (PS keeps the upper half of the destination).
template <bool Double>
void cvtpi2p(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    if (i.k1 == kOpReg) check_mmx(c);
    const uint64_t s = src64(c, i);
    sse::Vec d = sse::xmm(c, i.r0);
    const uint32_t host = sse::fp_enter(c);
    if constexpr (Double) asm volatile("movq %1, %%mm0\n\tcvtpi2pd %%mm0, %0\n\temms" : "+x"(d) : "r"(s) : "mm0");
    else asm volatile("movq %1, %%mm0\n\tcvtpi2ps %%mm0, %0\n\temms" : "+x"(d) : "r"(s) : "mm0");
    sse::fp_commit(c, sse::fp_leave(host));
    if (i.k1 == kOpReg) enter_mmx(c);
    sse::set_xmm(c, i.r0, d);
}
/// CVT(T)PS2PI mm, xmm/m64 and CVT(T)PD2PI mm, xmm/m128.
#define POPEK_TO_PI(name, insn)                                                                    \
    uint64_t name(sse::Vec s) {                                                                   \
        uint64_t r;                                                                                \
        asm volatile(insn " %1, %%mm0\n\tmovq %%mm0, %0\n\temms" : "=r"(r) : "x"(s) : "mm0");     \
        return r;                                                                                  \
    }
POPEK_TO_PI(cvtps2pi, "cvtps2pi")
POPEK_TO_PI(cvttps2pi, "cvttps2pi")
POPEK_TO_PI(cvtpd2pi, "cvtpd2pi")
POPEK_TO_PI(cvttpd2pi, "cvttpd2pi")

template <uint64_t (*F)(sse::Vec)>
void cvt_to_pi(Cpu& c, const Insn& i) {
    sse::check_sse(c);
    check_mmx(c);
    const sse::Vec s = sse::src1(c, i);
    const uint32_t host = sse::fp_enter(c);
    const uint64_t r = F(s);
    sse::fp_commit(c, sse::fp_leave(host));
    enter_mmx(c);
    set_mm(c, i.r0, r);
}

// ---- selection ----

int mm_index(ZydisRegister r) {
    return (r >= ZYDIS_REGISTER_MM0 && r <= ZYDIS_REGISTER_MM7) ? r - ZYDIS_REGISTER_MM0 : -1;
}
bool is_mm(const DecodeView& d, unsigned n) {
    return n < d.ins.operand_count_visible && d.ops[n].type == ZYDIS_OPERAND_TYPE_REGISTER &&
           mm_index(d.ops[n].reg.value) >= 0;
}
bool has_mm(const DecodeView& d) {
    for (unsigned n = 0; n < d.ins.operand_count_visible; ++n)
        if (is_mm(d, n)) return true;
    return false;
}
/// Register numbers: MMX and XMM operands get their own numbering, GPRs keep the decoder's.
void fix_regs(const DecodeView& d, Insn& i) {
    sse::fix_xmm(d, i);
    uint8_t* regs[3] = {&i.r0, &i.r1, &i.r2};
    for (unsigned n = 0; n < 3 && n < d.ins.operand_count_visible; ++n)
        if (is_mm(d, n)) *regs[n] = static_cast<uint8_t>(mm_index(d.ops[n].reg.value));
}

sse::MnemonicMap g_binary, g_shift_imm;
bool g_special[ZYDIS_MNEMONIC_MAX_VALUE + 1]{};
Selector g_prev[ZYDIS_MNEMONIC_MAX_VALUE + 1]{};

Handler select_binary(const DecodeView& d, Insn& i) {
    if (!is_mm(d, 0) || (i.prefix & kPrefixLock)) return nullptr;
    if (d.ins.operand_count_visible == 2 && d.ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        fix_regs(d, i);
        return g_shift_imm[d.ins.mnemonic];
    }
    if (!(is_mm(d, 1) || sse::is_mem(d, 1))) return nullptr;
    fix_regs(d, i);
    return g_binary[d.ins.mnemonic];
}

/// Forms of the moves and conversions, by which operand is an MMX/XMM/GPR/memory operand.
Handler select_special(const DecodeView& d, Insn& i) {
    if (i.prefix & kPrefixLock) return nullptr;
    const bool m0 = is_mm(d, 0), m1 = is_mm(d, 1);
    const bool mem0 = sse::is_mem(d, 0), mem1 = sse::is_mem(d, 1);
    const bool g0 = sse::is_gpr(d, 0), g1 = sse::is_gpr(d, 1);
    const bool x0 = sse::is_xmm(d, 0), x1 = sse::is_xmm(d, 1);
    fix_regs(d, i);
    switch (d.ins.mnemonic) {
        case ZYDIS_MNEMONIC_MOVD:
            if (m0 && (g1 || mem1)) return mov_to_mm<4>;
            if (m1 && (g0 || mem0)) return mov_from_mm<4>;
            return nullptr;
        case ZYDIS_MNEMONIC_MOVQ:
            if (m0 && m1) { i.extra = 1; return mov_to_mm<8>; }
            if (m0 && (g1 || mem1)) return mov_to_mm<8>;
            if (m1 && (g0 || mem0)) return mov_from_mm<8>;
            return nullptr;
        case ZYDIS_MNEMONIC_MOVNTQ: return mem0 && m1 ? mov_from_mm<8> : nullptr;
        case ZYDIS_MNEMONIC_PSHUFW: return m0 && (m1 || mem1) ? pshufw : nullptr;
        case ZYDIS_MNEMONIC_PALIGNR: return m0 && (m1 || mem1) ? palignr : nullptr;
        case ZYDIS_MNEMONIC_PEXTRW: return g0 && m1 ? pextrw : nullptr;
        case ZYDIS_MNEMONIC_PINSRW: return m0 && (g1 || mem1) ? pinsrw : nullptr;
        case ZYDIS_MNEMONIC_PMOVMSKB: return g0 && m1 ? pmovmskb : nullptr;
        case ZYDIS_MNEMONIC_MASKMOVQ: return m0 && m1 ? maskmovq : nullptr;
        case ZYDIS_MNEMONIC_MOVQ2DQ: return x0 && m1 ? movq2dq : nullptr;
        case ZYDIS_MNEMONIC_MOVDQ2Q: return m0 && x1 ? movdq2q : nullptr;
        case ZYDIS_MNEMONIC_CVTPI2PS: return x0 && (m1 || mem1) ? cvtpi2p<false> : nullptr;
        case ZYDIS_MNEMONIC_CVTPI2PD: return x0 && (m1 || mem1) ? cvtpi2p<true> : nullptr;
        case ZYDIS_MNEMONIC_CVTPS2PI: return m0 && (x1 || mem1) ? cvt_to_pi<cvtps2pi> : nullptr;
        case ZYDIS_MNEMONIC_CVTTPS2PI: return m0 && (x1 || mem1) ? cvt_to_pi<cvttps2pi> : nullptr;
        case ZYDIS_MNEMONIC_CVTPD2PI: return m0 && (x1 || mem1) ? cvt_to_pi<cvtpd2pi> : nullptr;
        case ZYDIS_MNEMONIC_CVTTPD2PI: return m0 && (x1 || mem1) ? cvt_to_pi<cvttpd2pi> : nullptr;
        default: return nullptr;
    }
}

/// Installed over the XMM selector of a shared mnemonic: MMX forms here, the rest there.
Handler select_mmx_or_prev(const DecodeView& d, Insn& i) {
    const unsigned m = d.ins.mnemonic;
    // CVTPI2PS/PD xmm, m64 have no MMX register operand but are MMX-family only.
    if (has_mm(d) || (g_special[m] && !g_prev[m])) return g_special[m] ? select_special(d, i) : select_binary(d, i);
    return g_prev[m] ? g_prev[m](d, i) : nullptr;
}

void wrap(HandlerTable& t, ZydisMnemonic m) {
    g_prev[m] = t.select[m];
    t.add(m, select_mmx_or_prev, t.cls[m]);
}

}  // namespace

void register_mmx(HandlerTable& t) {
#define X(m, insn)                                          \
    g_binary.h[ZYDIS_MNEMONIC_##m] = binary<mm_##m>;        \
    wrap(t, ZYDIS_MNEMONIC_##m);
    POPEK_INT_OPS(X)
#undef X
#define X(m, insn)                                          \
    g_binary.h[ZYDIS_MNEMONIC_##m] = binary<mm_##m>;        \
    g_shift_imm.h[ZYDIS_MNEMONIC_##m] = shift_imm<mm_##m>;  \
    wrap(t, ZYDIS_MNEMONIC_##m);
    POPEK_SHIFT_OPS(X)
#undef X
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_MOVD, ZYDIS_MNEMONIC_MOVQ, ZYDIS_MNEMONIC_MOVNTQ, ZYDIS_MNEMONIC_PSHUFW,
                            ZYDIS_MNEMONIC_PALIGNR, ZYDIS_MNEMONIC_PEXTRW, ZYDIS_MNEMONIC_PINSRW,
                            ZYDIS_MNEMONIC_PMOVMSKB, ZYDIS_MNEMONIC_MASKMOVQ, ZYDIS_MNEMONIC_MOVQ2DQ,
                            ZYDIS_MNEMONIC_MOVDQ2Q, ZYDIS_MNEMONIC_CVTPI2PS, ZYDIS_MNEMONIC_CVTPI2PD,
                            ZYDIS_MNEMONIC_CVTPS2PI, ZYDIS_MNEMONIC_CVTTPS2PI, ZYDIS_MNEMONIC_CVTPD2PI,
                            ZYDIS_MNEMONIC_CVTTPD2PI}) {
        g_special[m] = true;
        wrap(t, m);
    }
}

}  // namespace popek::emu
