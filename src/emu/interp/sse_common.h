#pragma once
/// Shared machinery of the SSE/SSE2/SSE3/SSSE3 families (sse_*.cpp): the availability checks of
/// SDM Vol. 3A 13.1-13.4 (CR0.EM/TS, CR4.OSFXSR), XMM register access, memory operands with the
/// 16-byte alignment rule of legacy-SSE m128 operands (SDM Vol. 1 11.6.6), the guest MXCSR run on
/// the host around floating-point operations and the SIMD exception rules of SDM Vol. 1 11.5.
///
/// Operations execute on the host CPU (inline assembly over host XMM registers), so results,
/// rounding, NaN propagation and exception flags are the host's, i.e. a real x86 CPU's.
/// Selectors fill Insn::r0/r1 with XMM numbers (0-15) for XMM operands; GPR operands keep the
/// decoder's GPR number; Insn::size1 is the byte size of operand 1 (the memory operand's size).
#include <emmintrin.h>

#include <cstdint>
#include <cstring>

#include "emu/interp/families.h"

namespace popek::emu::sse {

using Vec = __m128i;
using VecOp = void (*)(Vec&, Vec);

// MXCSR (SDM Vol. 1 10.2.3): flags 0-5, DAZ 6, masks 7-12, RC 13-14, FTZ 15.
inline constexpr uint32_t kMxcsrFlags = 0x3f, kMxcsrMasks = 0x1f80;
inline constexpr uint32_t kMxcsrPrecompute = 0x07;   ///< IE DE ZE: detected before computing
/// MXCSR bits this engine supports (FXSAVE's MXCSR_MASK, SDM Vol. 1 11.6.6): the host's, since
/// operations run under the guest's MXCSR on the host (0xffbf, no DAZ, if the host reports 0).
uint32_t mxcsr_mask();   // fxsave.cpp

/// #UD/#NM rules for SSE instructions (SDM Vol. 3A 13.2 table 13-?, Vol. 2 "SIMD exceptions").
inline void check_sse(Cpu& c) {
    if ((c.cr0 & hv::kCr0Em) || !(c.cr4 & hv::kCr4Osfxsr)) c.raise(kUd);
    if (c.cr0 & hv::kCr0Ts) c.raise(kNm);
}

inline Vec xmm(const Cpu& c, unsigned r) {
    Vec v;
    std::memcpy(&v, c.fpu.xmm[r], 16);
    return v;
}
inline void set_xmm(Cpu& c, unsigned r, Vec v) { std::memcpy(c.fpu.xmm[r], &v, 16); }
inline uint64_t xmm_q(const Cpu& c, unsigned r, unsigned k) {
    uint64_t v;
    std::memcpy(&v, c.fpu.xmm[r] + 8 * k, 8);
    return v;
}
inline void set_xmm_q(Cpu& c, unsigned r, unsigned k, uint64_t v) { std::memcpy(c.fpu.xmm[r] + 8 * k, &v, 8); }

template <class T, size_t N = 16 / sizeof(T)>
struct Lanes {
    T v[N];
};
template <class T> inline Lanes<T> lanes(Vec v) { Lanes<T> l; std::memcpy(&l, &v, 16); return l; }
template <class T> inline Vec from_lanes(const Lanes<T>& l) { Vec v; std::memcpy(&v, &l, 16); return v; }

/// Linear address of the memory operand, #GP(0) when `aligned` and not 16-byte aligned.
inline uint64_t mem_la(Cpu& c, const Insn& i, unsigned size, Access acc, bool aligned) {
    const uint64_t la = c.linear(i.seg, effective_address(c, i), size, acc);
    if (aligned && (la & 15)) c.raise(kGp, 0);
    return la;
}

/// Reads `size` (4, 8 or 16) bytes of the memory operand, zero-extended to 128 bits.
inline Vec load_mem(Cpu& c, const Insn& i, unsigned size, bool aligned) {
    const uint64_t la = mem_la(c, i, size, Access::Read, aligned);
    Vec v = _mm_setzero_si128();
    switch (size) {
        case 16: v = c.read_la<Vec>(la); break;
        case 8: { uint64_t q = c.read_la<uint64_t>(la); std::memcpy(&v, &q, 8); break; }
        case 4: { uint32_t d = c.read_la<uint32_t>(la); std::memcpy(&v, &d, 4); break; }
        case 2: { uint16_t w = c.read_la<uint16_t>(la); std::memcpy(&v, &w, 2); break; }
        default: { uint8_t b = c.read_la<uint8_t>(la); std::memcpy(&v, &b, 1); break; }
    }
    return v;
}

/// Writes the low `size` bytes of v to the memory operand.
inline void store_mem(Cpu& c, const Insn& i, unsigned size, Vec v, bool aligned) {
    const uint64_t la = mem_la(c, i, size, Access::Write, aligned);
    switch (size) {
        case 16: c.write_la<Vec>(la, v); break;
        case 8: { uint64_t q; std::memcpy(&q, &v, 8); c.write_la<uint64_t>(la, q); break; }
        case 4: { uint32_t d; std::memcpy(&d, &v, 4); c.write_la<uint32_t>(la, d); break; }
        default: { uint16_t w; std::memcpy(&w, &v, 2); c.write_la<uint16_t>(la, w); break; }
    }
}

/// Operand 1 as a vector: an XMM register, or memory of Insn::size1 bytes (m128 must be aligned).
inline Vec src1(Cpu& c, const Insn& i) {
    return i.k1 == kOpReg ? xmm(c, i.r1) : load_mem(c, i, i.size1, i.size1 == 16);
}

/// Loads the guest MXCSR (all exceptions masked, flags clear) into the host MXCSR and returns the
/// host's value. Nothing between fp_enter and fp_leave may touch guest memory or raise.
inline uint32_t fp_enter(const Cpu& c) {
    uint32_t host, guest = (c.fpu.mxcsr & ~kMxcsrFlags) | kMxcsrMasks;
    asm volatile("stmxcsr %0\n\tldmxcsr %1" : "=m"(host) : "m"(guest) : "memory");
    return host;
}
/// Restores the host MXCSR and returns the exception flags the operation raised.
inline uint32_t fp_leave(uint32_t host) {
    uint32_t after;
    asm volatile("stmxcsr %0\n\tldmxcsr %1" : "=m"(after) : "m"(host) : "memory");
    return after & kMxcsrFlags;
}

/// Records raised SIMD exceptions in the guest MXCSR; an unmasked one raises #XM (CR4.OSXMMEXCPT)
/// or #UD and the caller's result is discarded (SDM Vol. 1 11.5.1-11.5.3: unmasked pre-computation
/// exceptions suppress the post-computation ones).
inline void fp_commit(Cpu& c, uint32_t raised) {
    if (!raised) return;
    const uint32_t masked = (c.fpu.mxcsr >> 7) & kMxcsrFlags;
    const uint32_t unmasked = raised & ~masked;
    if (!unmasked) {
        c.fpu.mxcsr |= raised;
        return;
    }
    c.fpu.mxcsr |= (unmasked & kMxcsrPrecompute) ? (raised & kMxcsrPrecompute) : raised;
    c.raise((c.cr4 & hv::kCr4Osxmmexcpt) ? kXm : kUd);
}

/// Runs a host SIMD FP operation under the guest MXCSR.
template <VecOp F>
inline void run_fp(Cpu& c, Vec& d, Vec s) {
    const uint32_t host = fp_enter(c);
    F(d, s);
    fp_commit(c, fp_leave(host));
}

/// d = F(d, src1): the common "xmm, xmm/m" shape. Fp: runs under the guest MXCSR.
template <VecOp F, bool Fp>
void binary(Cpu& c, const Insn& i) {
    check_sse(c);
    const Vec s = src1(c, i);
    Vec d = xmm(c, i.r0);
    if constexpr (Fp) run_fp<F>(c, d, s);
    else F(d, s);
    set_xmm(c, i.r0, d);
}

// ---- selectors ----

inline int xmm_index(ZydisRegister r) {
    return (r >= ZYDIS_REGISTER_XMM0 && r <= ZYDIS_REGISTER_XMM15) ? r - ZYDIS_REGISTER_XMM0 : -1;
}
inline bool is_xmm(const DecodeView& d, unsigned n) {
    return n < d.ins.operand_count_visible && d.ops[n].type == ZYDIS_OPERAND_TYPE_REGISTER &&
           xmm_index(d.ops[n].reg.value) >= 0;
}
inline bool is_gpr(const DecodeView& d, unsigned n) {
    return n < d.ins.operand_count_visible && d.ops[n].type == ZYDIS_OPERAND_TYPE_REGISTER &&
           gpr_index(d.ops[n].reg.value) >= 0;
}
inline bool is_mem(const DecodeView& d, unsigned n) {
    return n < d.ins.operand_count_visible && d.ops[n].type == ZYDIS_OPERAND_TYPE_MEMORY;
}
/// Replaces the decoder's register numbers of XMM operands 0..2 by XMM numbers.
inline void fix_xmm(const DecodeView& d, Insn& i) {
    uint8_t* regs[3] = {&i.r0, &i.r1, &i.r2};
    for (unsigned n = 0; n < 3 && n < d.ins.operand_count_visible; ++n) {
        if (!is_xmm(d, n)) continue;
        *regs[n] = static_cast<uint8_t>(xmm_index(d.ops[n].reg.value));
        i.xmms = static_cast<uint8_t>(i.xmms | (1u << n));   // the translator's native SSE (emu/bt/sse_ops.cpp)
    }
}
/// "xmm, xmm/m" (MMX forms of the same mnemonic are rejected: no MMX in this engine).
inline bool form_xx(const DecodeView& d, Insn& i) {
    if (!is_xmm(d, 0) || !(is_xmm(d, 1) || is_mem(d, 1)) || (i.prefix & kPrefixLock)) return false;
    fix_xmm(d, i);
    return true;
}

/// "xmm, imm8" (shift-by-immediate group).
inline bool form_x_imm(const DecodeView& d) {
    return d.ins.operand_count_visible == 2 && is_xmm(d, 0) && d.ops[1].type == ZYDIS_OPERAND_TYPE_IMMEDIATE;
}

inline Handler when(bool ok, Handler h) { return ok ? h : nullptr; }

/// A table of handlers indexed by mnemonic, used by a family's shared selector.
struct MnemonicMap {
    Handler h[ZYDIS_MNEMONIC_MAX_VALUE + 1]{};
    Handler operator[](unsigned m) const { return h[m]; }
};

}  // namespace popek::emu::sse
