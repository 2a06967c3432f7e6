/// Bit operations: BT BTS BTR BTC, BSF BSR, TZCNT LZCNT POPCNT (only when the host has them:
/// they run on the host and CPUID reports them accordingly), BSWAP, SETcc (SDM Vol. 2A/2B).
#include <cpuid.h>

#include "emu/interp/families.h"
#include "emu/interp/host_ops.h"

namespace popek::emu {
namespace {

enum BitOp { kBt, kBts, kBtr, kBtc };

template <int Op, class T>
void bit_test(Cpu& c, const Insn& i) {
    constexpr unsigned bits = sizeof(T) * 8;
    uint64_t off = i.k1 == kOpImm ? (i.imm & (bits - 1)) : c.reg<T>(i.r1);
    bool cf;
    if (i.k0 == kOpReg) {
        T v = c.reg<T>(i.r0);
        T m = static_cast<T>(T{1} << (off & (bits - 1)));
        cf = v & m;
        if (Op == kBts) v |= m;
        if (Op == kBtr) v &= static_cast<T>(~m);
        if (Op == kBtc) v ^= m;
        if (Op != kBt) c.set_reg<T>(i.r0, v);
    } else {
        // A register bit offset is signed and may address outside the operand (SDM Vol. 2A BT).
        uint64_t ea = effective_address(c, i);
        if (i.k1 == kOpReg) {
            int64_t soff = static_cast<int64_t>(sext(off, sizeof(T)));
            ea = (ea + static_cast<uint64_t>((soff >> (sizeof(T) == 8 ? 6 : sizeof(T) == 4 ? 5 : 4)) * static_cast<int64_t>(sizeof(T)))) & addr_mask(i.asize);
            off = static_cast<uint64_t>(soff) & (bits - 1);
        }
        T m = static_cast<T>(T{1} << off);
        if (Op == kBt) {
            cf = c.read<T>(i.seg, ea) & m;
        } else if (T* p = (i.prefix & kPrefixLock) ? c.rmw_ptr<T>(i.seg, ea) : nullptr) {
            T old = Op == kBts ? __atomic_fetch_or(p, m, __ATOMIC_SEQ_CST)
                  : Op == kBtr ? __atomic_fetch_and(p, static_cast<T>(~m), __ATOMIC_SEQ_CST)
                               : __atomic_fetch_xor(p, m, __ATOMIC_SEQ_CST);
            cf = old & m;
        } else {
            uint64_t la = c.linear(i.seg, ea, sizeof(T), Access::Write);
            T v = c.read_la<T>(la);
            cf = v & m;
            if (Op == kBts) v |= m;
            if (Op == kBtr) v &= static_cast<T>(~m);
            if (Op == kBtc) v ^= m;
            c.write_la<T>(la, v);
        }
    }
    c.rflags = (c.rflags & ~kCf) | (cf ? kCf : 0);
}

template <int Op>
Handler select_bt(const DecodeView&, Insn& i) {
    if ((i.prefix & kPrefixLock) && (Op == kBt || i.k0 != kOpMem)) return nullptr;
    switch (i.osize) {
        case 2: return bit_test<Op, uint16_t>;
        case 4: return bit_test<Op, uint32_t>;
        case 8: return bit_test<Op, uint64_t>;
        default: return nullptr;
    }
}

enum ScanOp { kBsf, kBsr, kTzcnt, kLzcnt, kPopcnt };

template <int Op, class T>
void scan(Cpu& c, const Insn& i) {
    T s = get_op1<T>(c, i);
    T d = c.reg<T>(i.r0);
    uint64_t f;
    switch (Op) {
        case kBsf: asm("bsf %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+r"(d), [f] "=&r"(f) : [s] "r"(s) : "cc"); break;
        case kBsr: asm("bsr %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+r"(d), [f] "=&r"(f) : [s] "r"(s) : "cc"); break;
        case kTzcnt: asm("tzcnt %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+r"(d), [f] "=&r"(f) : [s] "r"(s) : "cc"); break;
        case kLzcnt: asm("lzcnt %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+r"(d), [f] "=&r"(f) : [s] "r"(s) : "cc"); break;
        default: asm("popcnt %[s], %[d]" POPEK_HOST_FLAGS_TAIL : [d] "+r"(d), [f] "=&r"(f) : [s] "r"(s) : "cc"); break;
    }
    c.set_reg<T>(i.r0, d);
    merge_flags(c, f, kArithFlags);
}

template <int Op>
Handler select_scan(const DecodeView&, Insn& i) {
    if (Op == kTzcnt && !host_has_bmi1()) return nullptr;
    if (Op == kLzcnt && !host_has_lzcnt()) return nullptr;
    if (Op == kPopcnt && !host_has_popcnt()) return nullptr;
    switch (i.osize) {
        case 2: return scan<Op, uint16_t>;
        case 4: return scan<Op, uint32_t>;
        case 8: return scan<Op, uint64_t>;
        default: return nullptr;
    }
}

void bswap(Cpu& c, const Insn& i) {
    if (i.osize == 8) c.gpr[i.r0] = __builtin_bswap64(c.gpr[i.r0]);
    else if (i.osize == 4) c.set_reg<uint32_t>(i.r0, __builtin_bswap32(static_cast<uint32_t>(c.gpr[i.r0])));
    else c.set_reg<uint16_t>(i.r0, 0);   // 16-bit BSWAP: undefined, zero on Intel processors
}

void setcc(Cpu& c, const Insn& i) {
    uint8_t v = condition(c.rflags, i.extra) ? 1 : 0;
    set_op0<uint8_t>(c, i, v);
}

bool cpuid_bit(unsigned leaf, int reg, unsigned bit) {
    unsigned r[4] = {};
    if (!__get_cpuid_count(leaf, 0, &r[0], &r[1], &r[2], &r[3])) return false;
    return (r[reg] >> bit) & 1;
}

}  // namespace

bool host_has_popcnt() { static const bool v = cpuid_bit(1, 2, 23); return v; }
bool host_has_lzcnt() { static const bool v = cpuid_bit(0x80000001, 2, 5); return v; }
bool host_has_bmi1() { static const bool v = cpuid_bit(7, 1, 3); return v; }
bool host_has_aes() { static const bool v = cpuid_bit(1, 2, 25); return v; }
bool host_has_pclmulqdq() { static const bool v = cpuid_bit(1, 2, 1); return v; }

void register_bits(HandlerTable& t) {
    t.add(ZYDIS_MNEMONIC_BT, select_bt<kBt>);
    t.add(ZYDIS_MNEMONIC_BTS, select_bt<kBts>);
    t.add(ZYDIS_MNEMONIC_BTR, select_bt<kBtr>);
    t.add(ZYDIS_MNEMONIC_BTC, select_bt<kBtc>);
    t.add(ZYDIS_MNEMONIC_BSF, select_scan<kBsf>);
    t.add(ZYDIS_MNEMONIC_BSR, select_scan<kBsr>);
    t.add(ZYDIS_MNEMONIC_TZCNT, select_scan<kTzcnt>);
    t.add(ZYDIS_MNEMONIC_LZCNT, select_scan<kLzcnt>);
    t.add(ZYDIS_MNEMONIC_POPCNT, select_scan<kPopcnt>);
    t.add(ZYDIS_MNEMONIC_BSWAP, [](const DecodeView&, Insn&) -> Handler { return bswap; });
    auto set_sel = [](const DecodeView& d, Insn& i) -> Handler {
        i.extra = d.ins.opcode & 0xf;
        return setcc;
    };
    for (ZydisMnemonic m : {ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB, ZYDIS_MNEMONIC_SETNB,
                            ZYDIS_MNEMONIC_SETZ, ZYDIS_MNEMONIC_SETNZ, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE,
                            ZYDIS_MNEMONIC_SETS, ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP, ZYDIS_MNEMONIC_SETNP,
                            ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE, ZYDIS_MNEMONIC_SETNLE})
        t.add(m, set_sel);
}

}  // namespace popek::emu
