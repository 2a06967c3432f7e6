#pragma once
/// Integer operations executed by the host CPU itself, returning the host RFLAGS: the guest gets
/// bit-exact results and flags (including the "undefined" flags of this very x86 host, which is
/// what a guest running natively here would see) at the cost of one PUSHF per operation.
/// The arithmetic flags are therefore computed eagerly; see docs/ARCHITECTURE.md "own engine".
#include <cstdint>

#include "emu/interp/operands.h"

namespace popek::emu::host {

enum BinOp : int { kAdd, kOr, kAdc, kSbb, kAnd, kSub, kXor, kCmp, kTest };
enum UnOp : int { kInc, kDec, kNeg, kNot };
enum ShiftOp : int { kRol, kRor, kRcl, kRcr, kShl, kShr, kSal, kSar };

#define POPEK_BIN(mn)                                                                               \
    asm(mn " %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+q"(d), [f] "=&r"(f) : [s] "q"(s) : "cc")
#define POPEK_BIN_CF(mn)                                                                            \
    asm("btq $0, %[c]\n\t" mn " %[s], %[d]" POPEK_HOST_FLAGS_TAIL                                   \
        : [d] "+q"(d), [f] "=&r"(f) : [s] "q"(s), [c] "r"(cf) : "cc")

/// d = d OP s (CMP/TEST leave d unchanged by the caller); `cf` is the guest CF for ADC/SBB.
template <class T>
inline uint64_t bin(int op, T& d, T s, uint64_t cf) {
    uint64_t f;
    switch (op) {
        case kAdd: POPEK_BIN("add"); break;
        case kOr: POPEK_BIN("or"); break;
        case kAdc: POPEK_BIN_CF("adc"); break;
        case kSbb: POPEK_BIN_CF("sbb"); break;
        case kAnd: POPEK_BIN("and"); break;
        case kSub: POPEK_BIN("sub"); break;
        case kXor: POPEK_BIN("xor"); break;
        case kCmp: { T t = d; asm("cmp %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+q"(t), [f] "=&r"(f) : [s] "q"(s) : "cc"); break; }
        default: { T t = d; asm("test %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+q"(t), [f] "=&r"(f) : [s] "q"(s) : "cc"); break; }
    }
    return f;
}

#define POPEK_BIN_LOCK(mn)                                                                          \
    asm("lock " mn " %[s], %[m]" POPEK_HOST_FLAGS_TAIL : [m] "+m"(*p), [f] "=&r"(f) : [s] "q"(s) : "cc", "memory")
#define POPEK_BIN_LOCK_CF(mn)                                                                       \
    asm("btq $0, %[c]\n\tlock " mn " %[s], %[m]" POPEK_HOST_FLAGS_TAIL                              \
        : [m] "+m"(*p), [f] "=&r"(f) : [s] "q"(s), [c] "r"(cf) : "cc", "memory")

/// LOCK-prefixed form on host memory (atomic against other vCPUs).
template <class T>
inline uint64_t bin_locked(int op, T* p, T s, uint64_t cf) {
    uint64_t f;
    switch (op) {
        case kAdd: POPEK_BIN_LOCK("add"); break;
        case kOr: POPEK_BIN_LOCK("or"); break;
        case kAdc: POPEK_BIN_LOCK_CF("adc"); break;
        case kSbb: POPEK_BIN_LOCK_CF("sbb"); break;
        case kAnd: POPEK_BIN_LOCK("and"); break;
        case kSub: POPEK_BIN_LOCK("sub"); break;
        default: POPEK_BIN_LOCK("xor"); break;
    }
    return f;
}

template <class T>
inline uint64_t un(int op, T& d) {
    uint64_t f;
    switch (op) {
        case kInc: asm("inc %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+q"(d), [f] "=&r"(f) : : "cc"); break;
        case kDec: asm("dec %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+q"(d), [f] "=&r"(f) : : "cc"); break;
        case kNeg: asm("neg %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+q"(d), [f] "=&r"(f) : : "cc"); break;
        default: d = static_cast<T>(~d); f = 0; break;
    }
    return f;
}

template <class T>
inline uint64_t un_locked(int op, T* p) {
    uint64_t f;
    switch (op) {
        // LOCK ADD/SUB of 1 set OF SF ZF AF PF exactly as INC/DEC do (only CF differs, and the
        // caller keeps the guest's CF). A bare "lock inc %[m]" would not work: with no register
        // operand the assembler cannot size a memory operand and defaults to 32 bits.
        case kInc: f = bin_locked<T>(kAdd, p, T{1}, 0); break;
        case kDec: f = bin_locked<T>(kSub, p, T{1}, 0); break;
        case kNeg: {   // no LOCK NEG on memory with a result we can see: CAS loop
            T old = __atomic_load_n(p, __ATOMIC_RELAXED), n;
            do { n = old; f = un(kNeg, n); } while (!__atomic_compare_exchange_n(p, &old, n, false, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED));
            break;
        }
        default: __atomic_fetch_xor(p, static_cast<T>(~T{0}), __ATOMIC_SEQ_CST); f = 0; break;
    }
    return f;
}

#define POPEK_SHIFT(mn)                                                                             \
    asm("btq $0, %[c]\n\t" mn " %%cl, %[d]" POPEK_HOST_FLAGS_TAIL                                   \
        : [d] "+q"(d), [f] "=&r"(f) : "c"(count), [c] "r"(cf) : "cc")

/// Shift/rotate by `count` (already masked by the caller, non-zero).
template <class T>
inline uint64_t shift(int op, T& d, uint8_t count, uint64_t cf) {
    uint64_t f;
    switch (op) {
        case kRol: POPEK_SHIFT("rol"); break;
        case kRor: POPEK_SHIFT("ror"); break;
        case kRcl: POPEK_SHIFT("rcl"); break;
        case kRcr: POPEK_SHIFT("rcr"); break;
        case kShl: case kSal: POPEK_SHIFT("shl"); break;
        case kShr: POPEK_SHIFT("shr"); break;
        default: POPEK_SHIFT("sar"); break;
    }
    return f;
}

/// SHLD/SHRD (16/32/64-bit).
template <class T>
inline uint64_t double_shift(bool left, T& d, T s, uint8_t count) {
    uint64_t f;
    if (left) asm("shld %%cl, %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+r"(d), [f] "=&r"(f) : [s] "r"(s), "c"(count) : "cc");
    else asm("shrd %%cl, %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+r"(d), [f] "=&r"(f) : [s] "r"(s), "c"(count) : "cc");
    return f;
}

#undef POPEK_BIN
#undef POPEK_BIN_CF
#undef POPEK_BIN_LOCK
#undef POPEK_BIN_LOCK_CF
#undef POPEK_SHIFT

}  // namespace popek::emu::host
