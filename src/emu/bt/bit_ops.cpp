/// Native bit operations of the block translator, register forms: SHLD/SHRD, BT/BTS/BTR/BTC,
/// BSF/BSR/TZCNT/LZCNT/POPCNT and XADD. Each is the same host instruction on the host registers
/// holding the guest's, with the flag masks emu/interp/bits.cpp, shift.cpp and alu.cpp merge, so the
/// results and flags (the "undefined" ones included) are the host's, as in the interpreter.
/// TZCNT/LZCNT/POPCNT decode to a handler only when the host has them (emu/interp/bits.cpp), so
/// they are native only then.
#include "emu/bt/block_emitter.h"
#include "emu/cpu.h"

namespace popek::emu::bt {
namespace {

constexpr bool has_gpr(const Insn& i, unsigned n) { return (i.gprs >> n) & 1u; }

/// Masked count of SHLD/SHRD (SDM Vol. 2B SHLD: 5 bits, 6 with REX.W).
unsigned double_shift_count(const Insn& i) {
    return static_cast<unsigned>(i.imm) & (i.osize == 8 ? 0x3fu : 0x1fu);
}

bool is_bit_test(uint16_t m) {
    return m == ZYDIS_MNEMONIC_BT || m == ZYDIS_MNEMONIC_BTS || m == ZYDIS_MNEMONIC_BTR || m == ZYDIS_MNEMONIC_BTC;
}

bool is_bit_scan(uint16_t m) {
    return m == ZYDIS_MNEMONIC_BSF || m == ZYDIS_MNEMONIC_BSR || m == ZYDIS_MNEMONIC_TZCNT ||
           m == ZYDIS_MNEMONIC_LZCNT || m == ZYDIS_MNEMONIC_POPCNT;
}

}  // namespace

bool is_native_bits(const Insn& i) {
    if (i.fn == nullptr || i.fn == handle_undefined || i.cls != 0 || (i.prefix & kPrefixLock)) return false;
    const bool reg0 = i.k0 == kOpReg && has_gpr(i, 0);
    const bool reg1 = i.k1 == kOpReg && has_gpr(i, 1);
    switch (static_cast<ZydisMnemonic>(i.mnemonic)) {
        case ZYDIS_MNEMONIC_SHLD: case ZYDIS_MNEMONIC_SHRD:
            if (!reg0 || !reg1 || i.osize < 2) return false;
            if (i.k2 == kOpImm) return double_shift_count(i) != 0;   // count 0: the handler's zero-count rule
            return i.k2 == kOpReg && has_gpr(i, 2) && i.r2 == 1;     // by CL
        case ZYDIS_MNEMONIC_BT: case ZYDIS_MNEMONIC_BTS: case ZYDIS_MNEMONIC_BTR: case ZYDIS_MNEMONIC_BTC:
            return reg0 && (reg1 || i.k1 == kOpImm) && i.osize >= 2;
        case ZYDIS_MNEMONIC_BSF: case ZYDIS_MNEMONIC_BSR: case ZYDIS_MNEMONIC_TZCNT: case ZYDIS_MNEMONIC_LZCNT:
        case ZYDIS_MNEMONIC_POPCNT:
            return reg0 && reg1 && i.osize >= 2;
        case ZYDIS_MNEMONIC_XADD:
            // Two views of one register, or AH..BH (no REX encoding with the pool): the handler.
            return reg0 && reg1 && base_of(i.r0) != base_of(i.r1) && !(i.osize == 1 && (i.r0 >= 16 || i.r1 >= 16));
        default:
            return false;
    }
}

void BlockEmitter::emit_bits(const Insn& in) {
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    if (is_bit_test(m)) return emit_bit_test(in);
    if (is_bit_scan(m)) return emit_bit_scan(in);
    const Xbyak::Reg dst = sized(greg(in.r0), in.osize);
    const Xbyak::Reg src = sized(greg(in.r1), in.osize);
    if (m == ZYDIS_MNEMONIC_XADD) {
        // SDM Vol. 2B XADD: r/m = r/m + r, r = the old r/m; the flags of the addition.
        xadd(dst, src);
        m_regs.mark(base_of(in.r0));
        m_regs.mark(base_of(in.r1));
        produced(kArithFlags);
        return;
    }
    // SDM Vol. 2B SHLD/SHRD. A masked count of 0 by CL leaves every flag alone, so the host's must
    // be the guest's first (as emit_shift does); a 32-bit destination is written (zero-extended)
    // either way, as by the interpreter's zero-count rule.
    const bool left = m == ZYDIS_MNEMONIC_SHLD;
    if (in.k2 == kOpReg) {
        mov(rcx, greg(hv::RCX));
        need_flags(kArithFlags);
        if (left) shld(dst, src, cl);
        else shrd(dst, src, cl);
    } else {
        const auto n = static_cast<uint8_t>(double_shift_count(in));
        if (left) shld(dst, src, n);
        else shrd(dst, src, n);
    }
    m_regs.mark(base_of(in.r0));
    produced(kArithFlags);   // the mask of emu/interp/shift.cpp
}

void BlockEmitter::emit_bit_test(const Insn& in) {
    // SDM Vol. 2A BT/BTS/BTR/BTC, register destination: the bit offset is taken modulo the operand
    // size. Only CF is written by the interpreter (OF SF AF PF are undefined, and it keeps them):
    // the guest's other flags go to Cpu::rflags first, and only CF is taken from the host.
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    const Xbyak::Reg dst = sized(greg(in.r0), in.osize);
    Xbyak::Reg src;
    if (in.k1 == kOpReg) src = sized(greg(in.r1), in.osize);
    materialize_flags();
    const auto imm = static_cast<uint8_t>(in.imm & (in.osize * 8u - 1));
    const bool by_imm = in.k1 == kOpImm;
    switch (m) {
        case ZYDIS_MNEMONIC_BTS: by_imm ? bts(dst, imm) : bts(dst, src); break;
        case ZYDIS_MNEMONIC_BTR: by_imm ? btr(dst, imm) : btr(dst, src); break;
        case ZYDIS_MNEMONIC_BTC: by_imm ? btc(dst, imm) : btc(dst, src); break;
        default: by_imm ? bt(dst, imm) : bt(dst, src); break;
    }
    if (m != ZYDIS_MNEMONIC_BT) m_regs.mark(base_of(in.r0));   // 32-bit: zero-extended, as set_reg does
    produced(kCf);
}

void BlockEmitter::emit_bit_scan(const Insn& in) {
    // SDM Vol. 2A BSF/BSR, LZCNT, Vol. 2B POPCNT, TZCNT. With a zero source BSF/BSR leave the
    // destination's value (undefined in the SDM): the interpreter keeps its operand-size part and,
    // at 32 bits, writes it back zero-extended, so the 32-bit form works on EAX and stores RAX.
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    const Xbyak::Reg src = sized(greg(in.r1), in.osize);
    const Xbyak::Reg64& full = greg(in.r0);
    Xbyak::Reg dst = sized(full, in.osize);
    if (in.osize == 4) {
        mov(eax, full.cvt32());
        dst = eax;
    }
    switch (m) {
        case ZYDIS_MNEMONIC_BSF: bsf(dst, src); break;
        case ZYDIS_MNEMONIC_BSR: bsr(dst, src); break;
        case ZYDIS_MNEMONIC_TZCNT: tzcnt(dst, src); break;
        case ZYDIS_MNEMONIC_LZCNT: lzcnt(dst, src); break;
        default: popcnt(dst, src); break;
    }
    if (in.osize == 4) mov(full, rax);   // MOV: the host flags stay
    m_regs.mark(base_of(in.r0));
    produced(kArithFlags);   // the mask of emu/interp/bits.cpp
}

}  // namespace popek::emu::bt
