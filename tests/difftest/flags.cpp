#include "flags.h"

namespace popek::difftest {

unsigned masked_count(int bits, unsigned count) { return count & (bits == 64 ? 0x3fu : 0x1fu); }

FlagEffect shift_effect(ShiftOp op, int bits, unsigned count) {
    const unsigned c = masked_count(bits, count);
    // A zero (masked) count changes no flag at all. RCL/RCR still count as reading CF so that the
    // model's reads match the instruction's static description.
    if (c == 0) return op == ShiftOp::Rcl || op == ShiftOp::Rcr ? FlagEffect{kCF, 0, 0} : FlagEffect::none();
    const uint32_t of_bit = c == 1 ? 0 : kOF;
    switch (op) {
        case ShiftOp::Rol:
        case ShiftOp::Ror:
            // CF from the rotated bit; OF only for count 1; SF ZF AF PF unaffected.
            return {0, (kCF | kOF) & ~of_bit, of_bit};
        case ShiftOp::Rcl:
        case ShiftOp::Rcr: {
            // The carry rotates through the operand, so the result depends on CF. For 8/16-bit
            // operands the effective count is c mod (bits+1); when that is 0 CF keeps its value.
            const unsigned eff = bits <= 16 ? c % static_cast<unsigned>(bits + 1) : c;
            const uint32_t cf = eff == 0 ? 0 : kCF;
            return {kCF, (cf | kOF) & ~of_bit, of_bit};
        }
        case ShiftOp::Shl:
        case ShiftOp::Shr:
        case ShiftOp::Sar: {
            // CF is the last bit shifted out, undefined for SHL/SHR when count >= operand size.
            const bool cf_undefined = op != ShiftOp::Sar && c >= static_cast<unsigned>(bits);
            const uint32_t cf = cf_undefined ? 0 : kCF;
            const uint32_t undefined = kAF | of_bit | (cf_undefined ? kCF : 0);
            return {0, (cf | kOF | kSF | kZF | kPF) & ~undefined, undefined};
        }
    }
    return FlagEffect::divide();  // unreachable: treat as all undefined
}

FlagEffect double_shift_effect(int bits, unsigned count) {
    const unsigned c = masked_count(bits, count);
    if (c == 0) return FlagEffect::none();
    if (c > static_cast<unsigned>(bits)) return {0, 0, kStatusFlags};
    const uint32_t of_bit = c == 1 ? 0 : kOF;
    const uint32_t undefined = kAF | of_bit;
    return {0, (kCF | kOF | kSF | kZF | kPF) & ~undefined, undefined};
}

uint32_t condition_reads(int cc) {
    switch ((cc & 0xf) >> 1) {
        case 0: return kOF;               // O / NO
        case 1: return kCF;               // B / AE
        case 2: return kZF;               // E / NE
        case 3: return kCF | kZF;         // BE / A
        case 4: return kSF;               // S / NS
        case 5: return kPF;               // P / NP
        case 6: return kSF | kOF;         // L / GE
        default: return kZF | kSF | kOF;  // LE / G
    }
}

}  // namespace popek::difftest
