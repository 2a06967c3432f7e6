#pragma once
/// Operand access for handlers: effective addresses (SDM Vol. 2A 2.1.5), register/memory/immediate
/// operands by the kinds the decoder recorded, and host-flag helpers.
#include <cstdint>
#include <type_traits>

#include "emu/cpu.h"
#include "emu/decode/insn.h"

namespace popek::emu {

template <unsigned N> struct UintOf;
template <> struct UintOf<1> { using type = uint8_t; };
template <> struct UintOf<2> { using type = uint16_t; };
template <> struct UintOf<4> { using type = uint32_t; };
template <> struct UintOf<8> { using type = uint64_t; };
template <unsigned N> using U = typename UintOf<N>::type;

inline uint64_t addr_mask(unsigned asize) {
    return asize == 8 ? ~0ULL : asize == 4 ? 0xffffffffULL : 0xffffULL;
}

/// Effective address (offset in the segment) of the memory operand.
inline uint64_t effective_address(const Cpu& c, const Insn& i) {
    uint64_t a = static_cast<uint64_t>(i.disp);
    if (i.base == kRegRip) a += c.next_rip;
    else if (i.base != kRegNone) a += c.gpr[i.base];
    if (i.index != kRegNone) a += c.gpr[i.index] << i.scale_shift;
    return a & addr_mask(i.asize);
}

template <class T>
inline T read_mem(Cpu& c, const Insn& i) { return c.read<T>(i.seg, effective_address(c, i)); }
template <class T>
inline void write_mem(Cpu& c, const Insn& i, T v) { c.write<T>(i.seg, effective_address(c, i), v); }

/// Operand 0 (register or memory).
template <class T>
inline T get_op0(Cpu& c, const Insn& i) {
    return i.k0 == kOpReg ? c.reg<T>(i.r0) : read_mem<T>(c, i);
}
template <class T>
inline void set_op0(Cpu& c, const Insn& i, T v) {
    if (i.k0 == kOpReg) c.set_reg<T>(i.r0, v);
    else write_mem<T>(c, i, v);
}
/// Operand 1 (register, memory or immediate).
template <class T>
inline T get_op1(Cpu& c, const Insn& i) {
    if (i.k1 == kOpReg) return c.reg<T>(i.r1);
    if (i.k1 == kOpImm) return static_cast<T>(i.imm);
    return read_mem<T>(c, i);
}

/// Dispatches a template on the operand size in bytes.
template <template <class> class F, class... A>
inline void by_size(unsigned size, A&&... a) {
    switch (size) {
        case 1: F<uint8_t>::run(a...); break;
        case 2: F<uint16_t>::run(a...); break;
        case 4: F<uint32_t>::run(a...); break;
        default: F<uint64_t>::run(a...); break;
    }
}

/// Merges host-computed flags (`host`) for the bits in `mask` into RFLAGS.
inline void merge_flags(Cpu& c, uint64_t host, uint64_t mask) { c.rflags = (c.rflags & ~mask) | (host & mask); }

/// Runs `insn` on the host with the operands in registers and returns the host RFLAGS. The stack
/// pointer steps over the red zone before PUSHF so compiler temporaries there are not clobbered.
#define POPEK_HOST_FLAGS_TAIL "\n\tlea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %[f]\n\tlea 128(%%rsp), %%rsp"

/// Condition codes (SDM Vol. 1 appendix B), cc = low nibble of the Jcc/SETcc/CMOVcc opcode.
inline bool condition(uint64_t f, unsigned cc) {
    bool r;
    switch (cc >> 1) {
        case 0: r = f & kOf; break;
        case 1: r = f & kCf; break;
        case 2: r = f & kZf; break;
        case 3: r = f & (kCf | kZf); break;
        case 4: r = f & kSf; break;
        case 5: r = f & kPf; break;
        case 6: r = ((f & kSf) != 0) != ((f & kOf) != 0); break;
        default: r = (f & kZf) || (((f & kSf) != 0) != ((f & kOf) != 0)); break;
    }
    return (cc & 1) ? !r : r;
}

/// Sign-extends the low `bytes` of v.
inline uint64_t sext(uint64_t v, unsigned bytes) {
    switch (bytes) {
        case 1: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(v)));
        case 2: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(v)));
        case 4: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(v)));
        default: return v;
    }
}

/// A near branch to a non-canonical address faults on the branch itself: #GP(0) with RIP at
/// the branch (SDM Vol. 2A JMP/CALL/RET/Jcc 64-bit mode exceptions).
inline void check_branch_target(Cpu& c, uint64_t target, unsigned osize) {
    if (osize == 8 && static_cast<uint64_t>(static_cast<int64_t>(target << 16) >> 16) != target) c.raise(kGp, 0);
}

/// Sets RIP for a near branch, truncated to the operand size outside 64-bit mode.
inline void branch_to(Cpu& c, uint64_t target, unsigned osize) {
    check_branch_target(c, target, osize);
    c.next_rip = osize == 8 ? target : osize == 4 ? (target & 0xffffffffULL) : (target & 0xffffULL);
}

}  // namespace popek::emu
