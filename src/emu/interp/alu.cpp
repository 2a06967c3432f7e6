/// Integer arithmetic and logic: ADD OR ADC SBB AND SUB XOR CMP TEST INC DEC NEG NOT, XADD, CMPXCHG,
/// CMPXCHG8B/16B (SDM Vol. 2). LOCK-prefixed memory forms run as host atomics on guest RAM.
#include "emu/interp/families.h"
#include "emu/interp/host_ops.h"

namespace popek::emu {
namespace {

constexpr uint64_t kIncDecFlags = kArithFlags & ~kCf;

/// Specialised at decode time on the operand kinds (K0: destination, K1: source), so the hot
/// register and immediate forms test nothing at run time.
template <int Op, class T, uint8_t K0, uint8_t K1>
void binary(Cpu& c, const Insn& i) {
    constexpr bool kWrites = Op != host::kCmp && Op != host::kTest;
    T s;
    if constexpr (K1 == kOpReg) s = c.reg<T>(i.r1);
    else if constexpr (K1 == kOpImm) s = static_cast<T>(i.imm);
    else s = read_mem<T>(c, i);
    const uint64_t cf = c.rflags & kCf;
    uint64_t f;
    if constexpr (K0 == kOpReg) {
        T d = c.reg<T>(i.r0);
        f = host::bin<T>(Op, d, s, cf);
        if constexpr (kWrites) c.set_reg<T>(i.r0, d);
    } else if (!kWrites) {
        T d = read_mem<T>(c, i);
        f = host::bin<T>(Op, d, s, cf);
    } else {
        T* p = (i.prefix & kPrefixLock) ? c.rmw_ptr<T>(i.seg, effective_address(c, i)) : nullptr;
        if (p) {
            f = host::bin_locked<T>(Op, p, s, cf);
        } else {
            uint64_t la = c.linear(i.seg, effective_address(c, i), sizeof(T), Access::Write);
            T d = c.read_la<T>(la);
            f = host::bin<T>(Op, d, s, cf);
            c.write_la<T>(la, d);
        }
    }
    merge_flags(c, f, kArithFlags);
}

template <int Op, class T>
void unary(Cpu& c, const Insn& i) {
    uint64_t f;
    if (i.k0 == kOpReg) {
        T d = c.reg<T>(i.r0);
        f = host::un<T>(Op, d);
        c.set_reg<T>(i.r0, d);
    } else {
        T* p = (i.prefix & kPrefixLock) ? c.rmw_ptr<T>(i.seg, effective_address(c, i)) : nullptr;
        if (p) {
            f = host::un_locked<T>(Op, p);
        } else {
            uint64_t la = c.linear(i.seg, effective_address(c, i), sizeof(T), Access::Write);
            T d = c.read_la<T>(la);
            f = host::un<T>(Op, d);
            c.write_la<T>(la, d);
        }
    }
    if constexpr (Op == host::kInc || Op == host::kDec) merge_flags(c, f, kIncDecFlags);
    else if constexpr (Op == host::kNeg) merge_flags(c, f, kArithFlags);
}

template <int Op, uint8_t K0, uint8_t K1>
Handler binary_by_size(unsigned osize) {
    switch (osize) {
        case 1: return binary<Op, uint8_t, K0, K1>;
        case 2: return binary<Op, uint16_t, K0, K1>;
        case 4: return binary<Op, uint32_t, K0, K1>;
        default: return binary<Op, uint64_t, K0, K1>;
    }
}

template <int Op, uint8_t K0>
Handler binary_by_source(const Insn& i) {
    switch (i.k1) {
        case kOpReg: return binary_by_size<Op, K0, kOpReg>(i.osize);
        case kOpImm: return binary_by_size<Op, K0, kOpImm>(i.osize);
        case kOpMem: return binary_by_size<Op, K0, kOpMem>(i.osize);
        default: return nullptr;
    }
}

template <int Op>
Handler select_binary(const DecodeView&, Insn& i) {
    // LOCK is only valid with a memory destination (SDM Vol. 2A LOCK).
    if ((i.prefix & kPrefixLock) && (i.k0 != kOpMem || Op == host::kCmp || Op == host::kTest)) return nullptr;
    if (i.k0 == kOpReg) return binary_by_source<Op, kOpReg>(i);
    if (i.k0 == kOpMem) return binary_by_source<Op, kOpMem>(i);
    return nullptr;
}

template <int Op>
Handler select_unary(const DecodeView&, Insn& i) {
    if ((i.prefix & kPrefixLock) && i.k0 != kOpMem) return nullptr;
    switch (i.osize) {
        case 1: return unary<Op, uint8_t>;
        case 2: return unary<Op, uint16_t>;
        case 4: return unary<Op, uint32_t>;
        default: return unary<Op, uint64_t>;
    }
}

// ---- XADD / CMPXCHG (SDM Vol. 2B, 2A) ----

template <class T>
void xadd(Cpu& c, const Insn& i) {
    T s = c.reg<T>(i.r1);
    uint64_t f;
    if (i.k0 == kOpReg) {
        T d = c.reg<T>(i.r0);
        T sum = d;
        f = host::bin<T>(host::kAdd, sum, s, 0);
        c.set_reg<T>(i.r1, d);
        c.set_reg<T>(i.r0, sum);
    } else {
        T* p = c.rmw_ptr<T>(i.seg, effective_address(c, i));
        T old;
        if (p) {
            asm("lock xadd %[s], %[m]" POPEK_HOST_FLAGS_TAIL : [m] "+m"(*p), [s] "+q"(s), [f] "=&r"(f) : : "cc", "memory");
            old = s;
        } else {
            uint64_t la = c.linear(i.seg, effective_address(c, i), sizeof(T), Access::Write);
            old = c.read_la<T>(la);
            T sum = old;
            f = host::bin<T>(host::kAdd, sum, s, 0);
            c.write_la<T>(la, sum);
        }
        c.set_reg<T>(i.r1, old);
    }
    merge_flags(c, f, kArithFlags);
}

template <class T>
void cmpxchg(Cpu& c, const Insn& i) {
    T acc = c.reg<T>(hv::RAX);
    T s = c.reg<T>(i.r1);
    uint64_t f;
    if (i.k0 == kOpReg) {
        T d = c.reg<T>(i.r0);
        asm("cmpxchg %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+q"(d), "+a"(acc), [f] "=&r"(f) : [s] "q"(s) : "cc");
        // Only the register the CPU writes is written (and, at 32 bits, zero-extended): the
        // destination when equal, the accumulator when not (SDM Vol. 2A CMPXCHG operation).
        if (f & kZf) c.set_reg<T>(i.r0, d);
        else c.set_reg<T>(hv::RAX, acc);
        merge_flags(c, f, kArithFlags);
        return;
    } else if (T* p = c.rmw_ptr<T>(i.seg, effective_address(c, i))) {
        asm("lock cmpxchg %[s], %[m]" POPEK_HOST_FLAGS_TAIL : [m] "+m"(*p), "+a"(acc), [f] "=&r"(f) : [s] "q"(s) : "cc", "memory");
    } else {
        // Split or MMIO operand: the destination is written either way (SDM: "the processor never
        // produces a locked read without also producing a locked write").
        uint64_t la = c.linear(i.seg, effective_address(c, i), sizeof(T), Access::Write);
        T d = c.read_la<T>(la);
        asm("cmpxchg %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+q"(d), "+a"(acc), [f] "=&r"(f) : [s] "q"(s) : "cc");
        c.write_la<T>(la, d);
    }
    if (!(f & kZf)) c.set_reg<T>(hv::RAX, acc);   // RAX keeps its upper half on success
    merge_flags(c, f, kArithFlags);
}

/// CMPXCHG8B / CMPXCHG16B m64/m128 (SDM Vol. 2A).
void cmpxchg_wide(Cpu& c, const Insn& i) {
    const bool wide = i.osize == 16;
    const uint64_t ea = effective_address(c, i);
    if (wide && (ea & 15)) c.raise(kGp, 0);
    const uint64_t lo_mask = wide ? ~0ULL : 0xffffffffULL;
    const unsigned half = wide ? 8 : 4;
    uint64_t exp_lo = c.gpr[hv::RAX] & lo_mask, exp_hi = c.gpr[hv::RDX] & lo_mask;
    uint64_t new_lo = c.gpr[hv::RBX] & lo_mask, new_hi = c.gpr[hv::RCX] & lo_mask;
    uint64_t la = c.linear(i.seg, ea, 2 * half, Access::Write);
    bool equal;
    uint64_t cur_lo, cur_hi;
    if (!wide) {
        uint64_t* p = c.rmw_ptr<uint64_t>(i.seg, ea);
        uint64_t expected = exp_lo | (exp_hi << 32), desired = new_lo | (new_hi << 32);
        if (p) {
            uint64_t cur = expected;
            equal = __atomic_compare_exchange_n(p, &cur, desired, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
            cur_lo = cur & 0xffffffffULL;
            cur_hi = cur >> 32;
        } else {
            uint64_t cur = c.read_la<uint64_t>(la);
            equal = cur == expected;
            c.write_la<uint64_t>(la, equal ? desired : cur);
            cur_lo = cur & 0xffffffffULL;
            cur_hi = cur >> 32;
        }
    } else {
        unsigned __int128* p = c.rmw_ptr<unsigned __int128>(i.seg, ea);
        unsigned __int128 expected = (static_cast<unsigned __int128>(exp_hi) << 64) | exp_lo;
        unsigned __int128 desired = (static_cast<unsigned __int128>(new_hi) << 64) | new_lo;
        unsigned __int128 cur;
        if (p) {
            uint64_t rax = exp_lo, rdx = exp_hi;
            uint8_t ok;
            asm volatile("lock cmpxchg16b %[m]\n\tsetz %[ok]"
                         : [m] "+m"(*p), "+a"(rax), "+d"(rdx), [ok] "=q"(ok)
                         : "b"(new_lo), "c"(new_hi) : "cc", "memory");
            equal = ok;
            cur = (static_cast<unsigned __int128>(rdx) << 64) | rax;
        } else {
            c.read_bytes_la(la, &cur, 16, Access::Read, false);
            equal = cur == expected;
            unsigned __int128 w = equal ? desired : cur;
            c.write_bytes_la(la, &w, 16, false);
        }
        cur_lo = static_cast<uint64_t>(cur);
        cur_hi = static_cast<uint64_t>(cur >> 64);
    }
    if (equal) {
        c.rflags |= kZf;
    } else {
        c.rflags &= ~kZf;
        c.gpr[hv::RAX] = cur_lo;   // 32-bit writes zero-extend, as on hardware
        c.gpr[hv::RDX] = cur_hi;
    }
}

template <template <class> class H>
Handler by_osize(const Insn& i) {
    switch (i.osize) {
        case 1: return H<uint8_t>::fn;
        case 2: return H<uint16_t>::fn;
        case 4: return H<uint32_t>::fn;
        default: return H<uint64_t>::fn;
    }
}
template <class T> struct XaddH { static constexpr Handler fn = xadd<T>; };
template <class T> struct CmpxchgH { static constexpr Handler fn = cmpxchg<T>; };

}  // namespace

void register_alu(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_ADD, select_binary<host::kAdd>);
    t.add(ZYDIS_MNEMONIC_OR, select_binary<host::kOr>);
    t.add(ZYDIS_MNEMONIC_ADC, select_binary<host::kAdc>);
    t.add(ZYDIS_MNEMONIC_SBB, select_binary<host::kSbb>);
    t.add(ZYDIS_MNEMONIC_AND, select_binary<host::kAnd>);
    t.add(ZYDIS_MNEMONIC_SUB, select_binary<host::kSub>);
    t.add(ZYDIS_MNEMONIC_XOR, select_binary<host::kXor>);
    t.add(ZYDIS_MNEMONIC_CMP, select_binary<host::kCmp>);
    t.add(ZYDIS_MNEMONIC_TEST, select_binary<host::kTest>);
    t.add(ZYDIS_MNEMONIC_INC, select_unary<host::kInc>);
    t.add(ZYDIS_MNEMONIC_DEC, select_unary<host::kDec>);
    t.add(ZYDIS_MNEMONIC_NEG, select_unary<host::kNeg>);
    t.add(ZYDIS_MNEMONIC_NOT, select_unary<host::kNot>);
    t.add(ZYDIS_MNEMONIC_XADD, [](const DecodeView&, Insn& i) { return by_osize<XaddH>(i); });
    t.add(ZYDIS_MNEMONIC_CMPXCHG, [](const DecodeView&, Insn& i) { return by_osize<CmpxchgH>(i); });
    t.add(ZYDIS_MNEMONIC_CMPXCHG8B, [](const DecodeView&, Insn& i) -> Handler {
        i.osize = 8;
        return i.k0 == kOpMem ? cmpxchg_wide : nullptr;
    });
    t.add(ZYDIS_MNEMONIC_CMPXCHG16B, [](const DecodeView&, Insn& i) -> Handler {
        i.osize = 16;
        return i.k0 == kOpMem ? cmpxchg_wide : nullptr;
    });
}

}  // namespace popek::emu
