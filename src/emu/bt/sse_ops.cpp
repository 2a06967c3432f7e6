/// Native SSE in the block translator: SSE/SSE2/SSSE3 integer, logic, shuffle and move
/// instructions (and SSE3's MOVDDUP, AES-NI and PCLMULQDQ: sse_crypto_ops.cpp) run as the same host instruction (the interpreter's handlers, emu/interp/sse_*.cpp,
/// run the same host instructions too, so results are bit for bit the same).
///
/// Guest XMMn lives in host XMMn from its first use to the next handler call (host XMMs are
/// caller-saved in the SysV ABI, and a handler may read or write Cpu::fpu.xmm); every write is
/// stored through to Cpu::fpu.xmm at once, so an exit, a fault or a handler never needs a
/// write-back, and a slow path only reloads the host XMMs on its way back (SlowPath::xmm_resume).
///
/// Availability (SDM Vol. 3A 13.1 and 2.5, Vol. 2 "SIMD Floating-Point Exceptions" of each page):
/// #UD when CR0.EM = 1 or CR4.OSFXSR = 0, else #NM when CR0.TS = 1. Blocks are not keyed by CR0
/// or CR4, so the check is made at run time: before the first native SSE instruction after the
/// block's entry, a handler call or a merge point (sse_forget), the emitted code tests CR0/CR4 and
/// goes to the instruction's slow path, i.e. the interpreter's handler, which raises the exception
/// exactly as the interpreter does. In between nothing can change CR0 or CR4: only handlers write
/// them (MOV CR, CLTS, LMSW, task switches, XRSTOR...), and a slow path's handler is that of a
/// memory-operand MOV/ALU/SSE instruction. Inside a self-loop the check is made once per pass
/// (the loop head starts with nothing checked).
///
/// Memory operands go through the TLB probe of memory_ops.cpp (16, 8 or 4 bytes); the legacy-SSE
/// alignment rule for m128 operands (SDM Vol. 1 11.6.6 / Vol. 2 MOVDQA, PADDB...: #GP(0) unless
/// 16-byte aligned) is checked before the probe, and a misaligned address takes the slow path,
/// where the handler raises #GP(0) after the segment checks, as in the interpreter.
#include <xbyak/xbyak_util.h>

#include "emu/bt/block_emitter.h"
#include "emu/cpu.h"

namespace popek::emu::bt {
namespace {

/// "xmm, xmm/m128" instructions (SSE2 integer, the SSE/SSE2 logic and unpacks that run without
/// MXCSR, the XMM-count shifts), as (Zydis mnemonic, xbyak member).
#define POPEK_BT_SSE2_BINARY(X)                                                                     \
    X(PADDB, paddb) X(PADDW, paddw) X(PADDD, paddd) X(PADDQ, paddq) X(PADDSB, paddsb)                \
    X(PADDSW, paddsw) X(PADDUSB, paddusb) X(PADDUSW, paddusw) X(PSUBB, psubb) X(PSUBW, psubw)        \
    X(PSUBD, psubd) X(PSUBQ, psubq) X(PSUBSB, psubsb) X(PSUBSW, psubsw) X(PSUBUSB, psubusb)          \
    X(PSUBUSW, psubusw) X(PMULLW, pmullw) X(PMULHW, pmulhw) X(PMULHUW, pmulhuw)                      \
    X(PMULUDQ, pmuludq) X(PMADDWD, pmaddwd) X(PAVGB, pavgb) X(PAVGW, pavgw) X(PSADBW, psadbw)        \
    X(PMINUB, pminub) X(PMAXUB, pmaxub) X(PMINSW, pminsw) X(PMAXSW, pmaxsw) X(PCMPEQB, pcmpeqb)      \
    X(PCMPEQW, pcmpeqw) X(PCMPEQD, pcmpeqd) X(PCMPGTB, pcmpgtb) X(PCMPGTW, pcmpgtw)                  \
    X(PCMPGTD, pcmpgtd) X(PAND, pand) X(PANDN, pandn) X(POR, por) X(PXOR, pxor)                      \
    X(PUNPCKLBW, punpcklbw) X(PUNPCKLWD, punpcklwd) X(PUNPCKLDQ, punpckldq)                          \
    X(PUNPCKHBW, punpckhbw) X(PUNPCKHWD, punpckhwd) X(PUNPCKHDQ, punpckhdq)                          \
    X(PUNPCKLQDQ, punpcklqdq) X(PUNPCKHQDQ, punpckhqdq) X(PACKSSWB, packsswb)                        \
    X(PACKSSDW, packssdw) X(PACKUSWB, packuswb) X(ANDPS, andps) X(ANDPD, andpd) X(ANDNPS, andnps)    \
    X(ANDNPD, andnpd) X(ORPS, orps) X(ORPD, orpd) X(XORPS, xorps) X(XORPD, xorpd)                    \
    X(UNPCKLPS, unpcklps) X(UNPCKLPD, unpcklpd) X(UNPCKHPS, unpckhps) X(UNPCKHPD, unpckhpd)
/// The same shape, SSSE3 (emitted only when the host has SSSE3).
#define POPEK_BT_SSSE3_BINARY(X)                                                                    \
    X(PSHUFB, pshufb) X(PHADDW, phaddw) X(PHADDD, phaddd) X(PHADDSW, phaddsw) X(PHSUBW, phsubw)      \
    X(PHSUBD, phsubd) X(PHSUBSW, phsubsw) X(PMADDUBSW, pmaddubsw) X(PMULHRSW, pmulhrsw)              \
    X(PSIGNB, psignb) X(PSIGNW, psignw) X(PSIGND, psignd) X(PABSB, pabsb) X(PABSW, pabsw)            \
    X(PABSD, pabsd)
/// Shifts with an XMM/m128 count or an imm8 count.
#define POPEK_BT_SSE2_SHIFT(X)                                                                      \
    X(PSLLW, psllw) X(PSLLD, pslld) X(PSLLQ, psllq) X(PSRLW, psrlw) X(PSRLD, psrld)                  \
    X(PSRLQ, psrlq) X(PSRAW, psraw) X(PSRAD, psrad)

enum class Kind : uint8_t {
    None,
    Move128,     ///< MOVDQA/MOVDQU/MOVAPS/MOVUPS/MOVAPD/MOVUPD/LDDQU/MOVNTDQ/MOVNTPS/MOVNTPD
    MoveInt,     ///< MOVD/MOVQ: XMM <-> GPR/memory, MOVQ xmm, xmm
    Scalar,      ///< MOVSS/MOVSD
    Half,        ///< MOVHPS/MOVHPD/MOVLPS/MOVLPD (memory forms)
    HalfReg,     ///< MOVHLPS/MOVLHPS
    Mask,        ///< PMOVMSKB/MOVMSKPS/MOVMSKPD
    Binary,      ///< xmm, xmm/m128 (and AESENC..AESIMC)
    ShiftImm,    ///< PSLLx/PSRLx/PSRAx xmm, imm8
    ByteShift,   ///< PSLLDQ/PSRLDQ xmm, imm8
    Shuffle,     ///< PSHUFD/PSHUFLW/PSHUFHW/PALIGNR/SHUFPS/SHUFPD/AESKEYGENASSIST/PCLMULQDQ xmm, xmm/m128, imm8
    Extract,     ///< PEXTRW r32, xmm, imm8
    Insert,      ///< PINSRW xmm, r32, imm8
    Dup,         ///< MOVDDUP xmm, xmm/m64 (SSE3; ChaCha20's counter in libsodium's SSSE3 code)
};

bool host_ssse3() {
    static const bool ssse3 = Xbyak::util::Cpu().has(Xbyak::util::Cpu::tSSSE3);
    return ssse3;
}

bool host_sse3() {
    static const bool sse3 = Xbyak::util::Cpu().has(Xbyak::util::Cpu::tSSE3);
    return sse3;
}

bool is_binary(unsigned m) {
    switch (m) {
#define X(M, f) case ZYDIS_MNEMONIC_##M:
        POPEK_BT_SSE2_BINARY(X)
        POPEK_BT_SSE2_SHIFT(X)
            return true;
        POPEK_BT_SSSE3_BINARY(X)
            return host_ssse3();
#undef X
        default:
            return is_crypto_binary(m);
    }
}

Kind kind_of(const Insn& i) {
    switch (static_cast<ZydisMnemonic>(i.mnemonic)) {
        case ZYDIS_MNEMONIC_MOVDQA: case ZYDIS_MNEMONIC_MOVAPS: case ZYDIS_MNEMONIC_MOVAPD:
        case ZYDIS_MNEMONIC_MOVDQU: case ZYDIS_MNEMONIC_MOVUPS: case ZYDIS_MNEMONIC_MOVUPD:
        case ZYDIS_MNEMONIC_LDDQU: case ZYDIS_MNEMONIC_MOVNTDQ: case ZYDIS_MNEMONIC_MOVNTPS:
        case ZYDIS_MNEMONIC_MOVNTPD:
            return Kind::Move128;
        case ZYDIS_MNEMONIC_MOVD: case ZYDIS_MNEMONIC_MOVQ: return Kind::MoveInt;
        case ZYDIS_MNEMONIC_MOVSS: case ZYDIS_MNEMONIC_MOVSD: return Kind::Scalar;
        case ZYDIS_MNEMONIC_MOVHPS: case ZYDIS_MNEMONIC_MOVHPD: case ZYDIS_MNEMONIC_MOVLPS:
        case ZYDIS_MNEMONIC_MOVLPD:
            return Kind::Half;
        case ZYDIS_MNEMONIC_MOVHLPS: case ZYDIS_MNEMONIC_MOVLHPS: return Kind::HalfReg;
        case ZYDIS_MNEMONIC_PMOVMSKB: case ZYDIS_MNEMONIC_MOVMSKPS: case ZYDIS_MNEMONIC_MOVMSKPD: return Kind::Mask;
        case ZYDIS_MNEMONIC_PSLLDQ: case ZYDIS_MNEMONIC_PSRLDQ: return Kind::ByteShift;
        case ZYDIS_MNEMONIC_PSHUFD: case ZYDIS_MNEMONIC_PSHUFLW: case ZYDIS_MNEMONIC_PSHUFHW:
        case ZYDIS_MNEMONIC_SHUFPS: case ZYDIS_MNEMONIC_SHUFPD:
            return Kind::Shuffle;
        case ZYDIS_MNEMONIC_PALIGNR: return host_ssse3() ? Kind::Shuffle : Kind::None;
        case ZYDIS_MNEMONIC_PEXTRW: return Kind::Extract;
        case ZYDIS_MNEMONIC_PINSRW: return Kind::Insert;
        case ZYDIS_MNEMONIC_MOVDDUP: return host_sse3() ? Kind::Dup : Kind::None;
        case ZYDIS_MNEMONIC_AESKEYGENASSIST: case ZYDIS_MNEMONIC_PCLMULQDQ:
            return is_crypto_imm(i.mnemonic) ? Kind::Shuffle : Kind::None;
        default:
            if (!is_binary(i.mnemonic)) return Kind::None;
            return i.k1 == kOpImm ? Kind::ShiftImm : Kind::Binary;   // only shifts have an imm8 form
    }
}

constexpr bool xmm_op(const Insn& i, unsigned n) { return (i.xmms >> n) & 1u; }
constexpr bool gpr_op(const Insn& i, unsigned n) { return (i.gprs >> n) & 1u; }

/// The operand shape the handler implements, checked as the interpreter's selector chose it.
bool form_ok(Kind k, const Insn& i) {
    const bool x0 = xmm_op(i, 0), x1 = xmm_op(i, 1), m0 = i.k0 == kOpMem, m1 = i.k1 == kOpMem;
    switch (k) {
        case Kind::Move128: case Kind::Scalar: return (x0 && (x1 || m1)) || (m0 && x1);
        case Kind::MoveInt:
            if (x0 && x1) return i.mnemonic == ZYDIS_MNEMONIC_MOVQ;
            return (x0 && (m1 || gpr_op(i, 1))) || (x1 && (m0 || gpr_op(i, 0)));
        case Kind::Half: return (x0 && m1) || (m0 && x1);
        case Kind::HalfReg: return x0 && x1;
        case Kind::Mask: return gpr_op(i, 0) && x1;
        case Kind::Binary: return x0 && (x1 || (m1 && i.size1 == 16)) && i.k2 == kOpNone;
        case Kind::ShiftImm: case Kind::ByteShift: return x0 && i.k1 == kOpImm;
        case Kind::Shuffle: return x0 && (x1 || (m1 && i.size1 == 16)) && i.k2 == kOpImm;
        case Kind::Extract: return gpr_op(i, 0) && x1 && i.k2 == kOpImm;
        case Kind::Insert: return x0 && gpr_op(i, 1) && i.k2 == kOpImm;
        case Kind::Dup: return x0 && (x1 || m1) && i.k2 == kOpNone;
        default: return false;
    }
}

/// Bytes of memory the instruction accesses.
unsigned access_size(Kind k, const Insn& i) {
    switch (k) {
        case Kind::MoveInt: return i.mnemonic == ZYDIS_MNEMONIC_MOVD ? 4 : 8;
        case Kind::Scalar: return i.mnemonic == ZYDIS_MNEMONIC_MOVSS ? 4 : 8;
        case Kind::Half: case Kind::Dup: return 8;   // MOVDDUP m64: no alignment rule (SDM Vol. 2 MOVDDUP)
        default: return 16;
    }
}

/// The m128 operand must be 16-byte aligned (#GP(0) otherwise): aligned moves, and every other
/// legacy-SSE m128 operand but MOVDQU/MOVUPS/MOVUPD/LDDQU (emu/interp/sse_common.h src1).
bool needs_alignment(Kind k, const Insn& i) {
    if (access_size(k, i) != 16) return false;
    switch (static_cast<ZydisMnemonic>(i.mnemonic)) {
        case ZYDIS_MNEMONIC_MOVDQU: case ZYDIS_MNEMONIC_MOVUPS: case ZYDIS_MNEMONIC_MOVUPD: case ZYDIS_MNEMONIC_LDDQU:
            return false;
        default:
            return true;
    }
}

void emit_binary_op(Xbyak::CodeGenerator& g, unsigned m, const Xbyak::Xmm& d, const Xbyak::Operand& s) {
    switch (m) {
#define X(M, f) case ZYDIS_MNEMONIC_##M: g.f(d, s); return;
        POPEK_BT_SSE2_BINARY(X)
        POPEK_BT_SSSE3_BINARY(X)
        POPEK_BT_SSE2_SHIFT(X)
#undef X
        default: emit_crypto_op(g, m, d, s, 0); return;   // AESENC..AESIMC
    }
}

void emit_shift_imm(Xbyak::CodeGenerator& g, unsigned m, const Xbyak::Xmm& d, int imm) {
    switch (m) {
#define X(M, f) case ZYDIS_MNEMONIC_##M: g.f(d, imm); return;
        POPEK_BT_SSE2_SHIFT(X)
#undef X
        case ZYDIS_MNEMONIC_PSLLDQ: g.pslldq(d, imm); return;
        case ZYDIS_MNEMONIC_PSRLDQ: g.psrldq(d, imm); return;
        default: throw Xbyak::Error(Xbyak::ERR_INTERNAL);
    }
}

/// PSHUFD/PSHUFLW/PSHUFHW/AESKEYGENASSIST write the whole destination from the source: it need
/// not be loaded.
bool writes_whole(unsigned m) {
    return m == ZYDIS_MNEMONIC_PSHUFD || m == ZYDIS_MNEMONIC_PSHUFLW || m == ZYDIS_MNEMONIC_PSHUFHW ||
           m == ZYDIS_MNEMONIC_AESKEYGENASSIST;
}

void emit_shuffle(Xbyak::CodeGenerator& g, unsigned m, const Xbyak::Xmm& d, const Xbyak::Operand& s, uint8_t imm) {
    switch (m) {
        case ZYDIS_MNEMONIC_PSHUFD: g.pshufd(d, s, imm); return;
        case ZYDIS_MNEMONIC_PSHUFLW: g.pshuflw(d, s, imm); return;
        case ZYDIS_MNEMONIC_PSHUFHW: g.pshufhw(d, s, imm); return;
        case ZYDIS_MNEMONIC_PALIGNR: g.palignr(d, s, imm); return;
        case ZYDIS_MNEMONIC_SHUFPS: g.shufps(d, s, imm); return;
        case ZYDIS_MNEMONIC_SHUFPD: g.shufpd(d, s, imm); return;
        default: emit_crypto_op(g, m, d, s, imm); return;   // AESKEYGENASSIST, PCLMULQDQ
    }
}

}  // namespace

bool is_native_sse(const Insn& i, bool memory_ok, bool flat32) {
    if (i.fn == nullptr || i.fn == handle_undefined || i.cls != 0 || (i.prefix & kPrefixLock) || i.xmms == 0)
        return false;
    const Kind k = kind_of(i);
    if (k == Kind::None || !form_ok(k, i)) return false;
    if (i.k0 != kOpMem && i.k1 != kOpMem) return true;
    // Memory operands as memory_ops.cpp takes them: 32/64-bit addressing; in flat 32-bit code only
    // DS/ES/SS (base 0, 4 GiB limit).
    if (!memory_ok || i.asize < 4) return false;
    return !flat32 || i.seg == kDs || i.seg == kEs || i.seg == kSs;
}

bool BlockEmitter::sse_inline(const Insn& in) const { return is_native_sse(in, m_mode64 || m_flat32, m_flat32); }

Xbyak::Xmm BlockEmitter::xmm_read(unsigned n) {
    const Xbyak::Xmm x(static_cast<int>(n));
    if (!((m_xmm_valid >> n) & 1u)) {
        movdqu(x, xword[rbx + m_layout.xmm + static_cast<int32_t>(16 * n)]);
        m_xmm_valid = static_cast<uint16_t>(m_xmm_valid | (1u << n));
    }
    return x;
}

void BlockEmitter::xmm_written(unsigned n) {
    movdqu(xword[rbx + m_layout.xmm + static_cast<int32_t>(16 * n)], Xbyak::Xmm(static_cast<int>(n)));
    m_xmm_valid = static_cast<uint16_t>(m_xmm_valid | (1u << n));
}

void BlockEmitter::emit_xmm_reload(uint16_t mask) {
    for (unsigned n = 0; n < 16; ++n)
        if ((mask >> n) & 1u) movdqu(Xbyak::Xmm(static_cast<int>(n)), xword[rbx + m_layout.xmm + static_cast<int32_t>(16 * n)]);
}

void BlockEmitter::emit_sse_guard(SlowPath& slow) {
    static_assert(hv::kCr0Em == 4 && hv::kCr0Ts == 8 && hv::kCr4Osfxsr == 0x200);
    if (!m_host_flags) {
        test(byte[rbx + m_layout.cr0], static_cast<uint8_t>(hv::kCr0Em | hv::kCr0Ts));
        jnz(slow.entry_label, T_NEAR);
        test(byte[rbx + m_layout.cr4 + 1], static_cast<uint8_t>(hv::kCr4Osfxsr >> 8));
        jz(slow.entry_label, T_NEAR);
        return;
    }
    // The guest's flags are live in the host (only with BMI2, see emit_sse): no flag may change.
    // RCX = EM,TS (CR0 bits 2-3) in bits 0-1; RDX = !OSFXSR (~CR4 bit 9) in bit 0.
    mov(esi, 60);
    mov(r10d, 62);
    mov(rcx, qword[rbx + m_layout.cr0]);
    shlx(rcx, rcx, rsi);
    shrx(rcx, rcx, r10);
    mov(rdx, qword[rbx + m_layout.cr4]);
    not_(rdx);
    mov(esi, 54);
    mov(r10d, 63);
    shlx(rdx, rdx, rsi);
    shrx(rdx, rdx, r10);
    lea(rcx, ptr[rcx + rdx * 4]);
    Xbyak::Label ok;
    jrcxz(ok);
    jmp(slow.entry_label, T_NEAR);
    L(ok);
}

void BlockEmitter::emit_align_check(SlowPath& slow) {
    if (!m_host_flags) {
        test(al, 15);
        jnz(slow.entry_label, T_NEAR);
        return;
    }
    mov(ecx, 60);   // RCX = la << 60: zero when the low four bits are (flags untouched)
    shlx(rcx, rax, rcx);
    Xbyak::Label ok;
    jrcxz(ok);
    jmp(slow.entry_label, T_NEAR);
    L(ok);
}

void BlockEmitter::emit_sse(const Insn& in) {
    const bool memory = in.k0 == kOpMem || in.k1 == kOpMem;
    if (!memory && m_sse_checked) {   // no slow path: the host flags may stay live
        emit_sse_register(in);
        return;
    }
    // A slow path (the guard, a TLB miss, misalignment) runs the handler, which may fault: the
    // guest flags must be exact there, as for emit_memory; registers resident first.
    if (flag_free_probes()) observe_flags(kArithFlags);
    else materialize_flags();
    if (memory) {
        if (in.base < 16) greg(in.base);
        if (in.index < 16) greg(in.index);
    }
    if (gpr_op(in, 0)) greg(in.r0);
    if (gpr_op(in, 1)) greg(in.r1);
    SlowPath& slow = new_slow_path(in);
    if (!m_sse_checked) emit_sse_guard(slow);
    m_sse_checked = true;
    if (memory) emit_sse_memory(in, slow);
    else emit_sse_register(in);
    slow.resume = m_regs.state();
    slow.flags_host_resume = m_host_flags != 0;
    slow.xmm_resume = m_xmm_valid;
    L(slow.resume_label);
}

void BlockEmitter::emit_sse_memory(const Insn& in, SlowPath& slow) {
    const Kind k = kind_of(in);
    const unsigned m = in.mnemonic;
    const bool store = in.k0 == kOpMem;
    emit_linear_address(in);
    if (needs_alignment(k, in)) emit_align_check(slow);
    const unsigned size = access_size(k, in);
    emit_probe(store, size, slow);
    const Xbyak::Address mem = size == 16 ? xword[rsi] : size == 8 ? qword[rsi] : dword[rsi];
    if (store) {   // the source: operand 1
        const Xbyak::Xmm s = xmm_read(in.r1);
        switch (k) {
            case Kind::Move128: movdqu(mem, s); return;
            case Kind::MoveInt: size == 4 ? movd(mem, s) : movq(mem, s); return;
            case Kind::Scalar: size == 4 ? movss(mem, s) : movsd(mem, s); return;
            default:   // MOVHPx / MOVLPx m64, xmm
                if (m == ZYDIS_MNEMONIC_MOVHPS || m == ZYDIS_MNEMONIC_MOVHPD) movhps(mem, s);
                else movlps(mem, s);
                return;
        }
    }
    const Xbyak::Xmm d(in.r0);
    switch (k) {
        case Kind::Move128: movdqu(d, mem); break;
        case Kind::MoveInt: size == 4 ? movd(d, mem) : movq(d, mem); break;   // zero-extended
        case Kind::Scalar: size == 4 ? movss(d, mem) : movsd(d, mem); break;  // upper part cleared
        case Kind::Half:
            xmm_read(in.r0);
            if (m == ZYDIS_MNEMONIC_MOVHPS || m == ZYDIS_MNEMONIC_MOVHPD) movhps(d, mem);
            else movlps(d, mem);
            break;
        case Kind::Binary: emit_binary_op(*this, m, xmm_read(in.r0), mem); break;   // aligned: checked
        case Kind::Dup: movddup(d, mem); break;   // the whole destination written
        default:   // Shuffle
            if (!writes_whole(m)) xmm_read(in.r0);
            emit_shuffle(*this, m, d, mem, static_cast<uint8_t>(in.imm));
            break;
    }
    xmm_written(in.r0);
}

void BlockEmitter::emit_sse_register(const Insn& in) {
    const Kind k = kind_of(in);
    const unsigned m = in.mnemonic;
    const Xbyak::Xmm d(in.r0);
    switch (k) {
        case Kind::Move128:
            if (in.r0 != in.r1) movdqa(d, xmm_read(in.r1));
            else xmm_read(in.r0);
            break;
        case Kind::MoveInt: {
            const bool dword_size = m == ZYDIS_MNEMONIC_MOVD;
            if (xmm_op(in, 0) && xmm_op(in, 1)) {
                movq(d, xmm_read(in.r1));   // MOVQ xmm, xmm: the upper quadword cleared
            } else if (xmm_op(in, 0)) {
                const Xbyak::Reg64& s = greg(in.r1);
                if (dword_size) movd(d, s.cvt32());
                else movq(d, s);
            } else {   // MOVD r32 / MOVQ r64, xmm: a 32-bit write zero-extends
                const Xbyak::Xmm s = xmm_read(in.r1);
                const Xbyak::Reg64& g = m_regs.write(base_of(in.r0));
                if (dword_size) movd(g.cvt32(), s);
                else movq(g, s);
                return;
            }
            break;
        }
        case Kind::Scalar:
            xmm_read(in.r0);
            if (m == ZYDIS_MNEMONIC_MOVSS) movss(d, xmm_read(in.r1));
            else movsd(d, xmm_read(in.r1));
            break;
        case Kind::HalfReg:
            xmm_read(in.r0);
            if (m == ZYDIS_MNEMONIC_MOVHLPS) movhlps(d, xmm_read(in.r1));
            else movlhps(d, xmm_read(in.r1));
            break;
        case Kind::Mask: {
            const Xbyak::Xmm s = xmm_read(in.r1);
            const Xbyak::Reg32 g = m_regs.write(base_of(in.r0)).cvt32();   // zero-extends to 64 bits
            if (m == ZYDIS_MNEMONIC_PMOVMSKB) pmovmskb(g, s);
            else if (m == ZYDIS_MNEMONIC_MOVMSKPS) movmskps(g, s);
            else movmskpd(g, s);
            return;
        }
        case Kind::Binary: {
            const bool zeroing = in.r0 == in.r1 && (m == ZYDIS_MNEMONIC_PXOR || m == ZYDIS_MNEMONIC_XORPS ||
                                                    m == ZYDIS_MNEMONIC_XORPD);
            if (zeroing) pxor(d, d);   // the destination's old value does not matter
            else emit_binary_op(*this, m, xmm_read(in.r0), xmm_read(in.r1));
            break;
        }
        case Kind::ShiftImm: case Kind::ByteShift:
            emit_shift_imm(*this, m, xmm_read(in.r0), static_cast<int>(in.imm & 0xff));
            break;
        case Kind::Shuffle: {
            const Xbyak::Xmm s = xmm_read(in.r1);
            if (!writes_whole(m)) xmm_read(in.r0);
            emit_shuffle(*this, m, d, s, static_cast<uint8_t>(in.imm));
            break;
        }
        case Kind::Extract: {
            const Xbyak::Xmm s = xmm_read(in.r1);
            pextrw(m_regs.write(base_of(in.r0)).cvt32(), s, static_cast<uint8_t>(in.imm));   // zero-extends
            return;
        }
        case Kind::Insert:
            xmm_read(in.r0);
            pinsrw(d, greg(in.r1).cvt32(), static_cast<int>(in.imm & 0xff));
            break;
        case Kind::Dup: movddup(d, xmm_read(in.r1)); break;
        default:
            throw Xbyak::Error(Xbyak::ERR_INTERNAL);
    }
    xmm_written(in.r0);
}

}  // namespace popek::emu::bt
