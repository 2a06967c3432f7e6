/// MUL, IMUL (one, two and three operands), DIV, IDIV (SDM Vol. 2A/2B). Division checks #DE
/// (zero divisor, quotient overflow) before anything runs on the host.
#include "emu/interp/families.h"
#include "emu/interp/host_ops.h"

namespace popek::emu {
namespace {

template <bool Signed, class T>
void mul1(Cpu& c, const Insn& i) {
    T s = i.k0 == kOpReg ? c.reg<T>(i.r0) : read_mem<T>(c, i);
    uint64_t f;
    if constexpr (sizeof(T) == 1) {
        uint16_t ax = static_cast<uint8_t>(c.gpr[hv::RAX]);
        if (Signed) asm("imulb %[s]" POPEK_HOST_FLAGS_TAIL : "+a"(ax), [f] "=&r"(f) : [s] "q"(s) : "cc");
        else asm("mulb %[s]" POPEK_HOST_FLAGS_TAIL : "+a"(ax), [f] "=&r"(f) : [s] "q"(s) : "cc");
        c.set_reg<uint16_t>(hv::RAX, ax);
    } else {
        T a = static_cast<T>(c.gpr[hv::RAX]), d;
        if (Signed) asm("imul %[s]" POPEK_HOST_FLAGS_TAIL : "+a"(a), "=d"(d), [f] "=&r"(f) : [s] "r"(s) : "cc");
        else asm("mul %[s]" POPEK_HOST_FLAGS_TAIL : "+a"(a), "=d"(d), [f] "=&r"(f) : [s] "r"(s) : "cc");
        c.set_reg<T>(hv::RAX, a);
        c.set_reg<T>(hv::RDX, d);
    }
    merge_flags(c, f, kArithFlags);
}

template <class T>
void imul_n(Cpu& c, const Insn& i) {
    // Two operands: r = r * r/m. Three operands: r = r/m * imm.
    T a, b;
    if (i.k2 == kOpImm) {
        a = get_op1<T>(c, i);
        b = static_cast<T>(i.imm);
    } else {
        a = c.reg<T>(i.r0);
        b = get_op1<T>(c, i);
    }
    uint64_t f;
    asm("imul %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+r"(a), [f] "=&r"(f) : [s] "r"(b) : "cc");
    c.set_reg<T>(i.r0, a);
    merge_flags(c, f, kArithFlags);
}

template <bool Signed, class T>
void div1(Cpu& c, const Insn& i) {
    T s = i.k0 == kOpReg ? c.reg<T>(i.r0) : read_mem<T>(c, i);
    if (s == 0) c.raise(kDe);
    constexpr unsigned bits = sizeof(T) * 8;
    using W = unsigned __int128;
    W lo = static_cast<T>(c.gpr[hv::RAX]);
    W hi = sizeof(T) == 1 ? static_cast<uint8_t>(c.gpr[hv::RAX] >> 8) : static_cast<T>(c.gpr[hv::RDX]);
    W dividend = (hi << bits) | lo;
    T q, r;
    if constexpr (Signed) {
        // Sign-extend the double-width dividend and the divisor to 128 bits.
        __int128 n = static_cast<__int128>(dividend << (128 - 2 * bits)) >> (128 - 2 * bits);
        __int128 d = static_cast<__int128>(static_cast<std::make_signed_t<T>>(s));
        if (bits == 64 && n == static_cast<__int128>(static_cast<W>(1) << 127) && d == -1) c.raise(kDe);
        __int128 qq = n / d, rr = n % d;
        __int128 max = (static_cast<__int128>(1) << (bits - 1)) - 1, min = -max - 1;
        if (qq > max || qq < min) c.raise(kDe);
        q = static_cast<T>(qq);
        r = static_cast<T>(rr);
    } else {
        W qq = dividend / s;
        if (qq >> bits) c.raise(kDe);
        q = static_cast<T>(qq);
        r = static_cast<T>(dividend % s);
    }
    if constexpr (sizeof(T) == 1) {
        c.set_reg<uint16_t>(hv::RAX, static_cast<uint16_t>(q | (r << 8)));
    } else {
        c.set_reg<T>(hv::RAX, q);
        c.set_reg<T>(hv::RDX, r);
    }
}

template <bool Signed, bool Div>
Handler select_one(const DecodeView&, Insn& i) {
    switch (i.osize) {
        case 1: return Div ? div1<Signed, uint8_t> : mul1<Signed, uint8_t>;
        case 2: return Div ? div1<Signed, uint16_t> : mul1<Signed, uint16_t>;
        case 4: return Div ? div1<Signed, uint32_t> : mul1<Signed, uint32_t>;
        default: return Div ? div1<Signed, uint64_t> : mul1<Signed, uint64_t>;
    }
}

Handler select_imul(const DecodeView& d, Insn& i) {
    if (d.ins.operand_count_visible == 1) return select_one<true, false>(d, i);
    switch (i.osize) {
        case 2: return imul_n<uint16_t>;
        case 4: return imul_n<uint32_t>;
        case 8: return imul_n<uint64_t>;
        default: return nullptr;
    }
}

}  // namespace

void register_muldiv(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_MUL, select_one<false, false>);
    t.add(ZYDIS_MNEMONIC_IMUL, select_imul);
    t.add(ZYDIS_MNEMONIC_DIV, select_one<false, true>);
    t.add(ZYDIS_MNEMONIC_IDIV, select_one<true, true>);
}

}  // namespace popek::emu
