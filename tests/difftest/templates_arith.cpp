// Arithmetic and logic: ADD ADC SUB SBB AND OR XOR CMP TEST, INC DEC NEG NOT, MUL IMUL DIV IDIV
// (SDM Vol. 2A/2B, "Flags Affected" of each).
#include "templates.h"

namespace popek::difftest {
namespace {

using CG = Xbyak::CodeGenerator;
using Xbyak::Operand;
using Xbyak::Reg;
constexpr uint32_t kRax = 1u << 0, kRdx = 1u << 2;

struct BinaryOp {
    std::string_view name;
    FlagEffect effect;
    bool writes_dst;
    void (CG::*rr)(const Operand&, const Operand&);
    void (CG::*ri)(const Operand&, uint32_t);
};

const BinaryOp kBinary[] = {
    {"add", FlagEffect::arith(), true, &CG::add, &CG::add},
    {"adc", FlagEffect::arith_with_carry(), true, &CG::adc, &CG::adc},
    {"sub", FlagEffect::arith(), true, &CG::sub, &CG::sub},
    {"sbb", FlagEffect::arith_with_carry(), true, &CG::sbb, &CG::sbb},
    {"and", FlagEffect::logic(), true, &CG::and_, &CG::and_},
    {"or", FlagEffect::logic(), true, &CG::or_, &CG::or_},
    {"xor", FlagEffect::logic(), true, &CG::xor_, &CG::xor_},
    {"cmp", FlagEffect::arith(), false, &CG::cmp, &CG::cmp},
};

void binary(Gen& g, const BinaryOp& op) {
    OperandSet ops;
    const int bits = g.size();
    const bool lock = op.writes_dst && g.rng.chance(20);
    switch (g.rng.below(4)) {
        case 0:  // r/m, r
            g.rm(ops, bits, op.writes_dst, [&](const Operand& dst) {
                const Reg src = g.reg(ops, bits, false);
                g.insn(op.name, op.effect, [&](CG& c) {
                    if (lock && dst.isMEM()) c.lock();
                    (c.*op.rr)(dst, src);
                });
            });
            return;
        case 1: {  // r, m
            const auto src = g.mem(ops, bits);
            const Reg dst = g.reg(ops, bits, op.writes_dst);
            g.insn(op.name, op.effect, [&](CG& c) { (c.*op.rr)(dst, src); });
            return;
        }
        case 2: {  // r, r (the same register now and then: xor eax, eax; sub r, r)
            const Reg dst = g.reg(ops, bits, op.writes_dst);
            const Reg src = g.rng.chance(15) ? dst : g.reg(ops, bits, false);
            g.insn(op.name, op.effect, [&](CG& c) { (c.*op.rr)(dst, src); });
            return;
        }
        default: {  // r/m, imm (xbyak picks the imm8 sign-extended or accumulator form when it fits)
            const uint32_t v = static_cast<uint32_t>(g.imm(bits));
            g.rm(ops, bits, op.writes_dst, [&](const Operand& dst) {
                g.insn(op.name, op.effect, [&](CG& c) {
                    if (lock && dst.isMEM()) c.lock();
                    (c.*op.ri)(dst, v);
                });
            });
            return;
        }
    }
}

void t_alu(Gen& g) { binary(g, kBinary[g.rng.below(std::size(kBinary))]); }

void t_test(Gen& g) {
    OperandSet ops;
    const int bits = g.size();
    if (g.rng.chance(50)) {
        g.rm(ops, bits, false, [&](const Operand& a) {
            const Reg b = g.reg(ops, bits, false);
            g.insn("test", FlagEffect::logic(), [&](CG& c) { c.test(a, b); });
        });
    } else {
        const uint32_t v = static_cast<uint32_t>(g.imm(bits));
        g.rm(ops, bits, false, [&](const Operand& a) {
            g.insn("test", FlagEffect::logic(), [&](CG& c) { c.test(a, v); });
        });
    }
}

void t_unary(Gen& g) {
    OperandSet ops;
    const int bits = g.size();
    const uint64_t which = g.rng.below(4);
    static constexpr std::string_view kNames[] = {"inc", "dec", "neg", "not"};
    const FlagEffect effect = which < 2 ? FlagEffect::inc_dec() : which == 2 ? FlagEffect::arith() : FlagEffect::none();
    const bool lock = g.rng.chance(20);
    g.rm(ops, bits, true, [&](const Operand& dst) {
        g.insn(kNames[which], effect, [&](CG& c) {
            if (lock && dst.isMEM()) c.lock();
            switch (which) {
                case 0: c.inc(dst); break;
                case 1: c.dec(dst); break;
                case 2: c.neg(dst); break;
                default: c.not_(dst); break;
            }
        });
    });
}

void t_mul1(Gen& g) {
    // MUL/IMUL r/m: RDX:RAX (AX for bytes) <- accumulator * r/m.
    OperandSet ops;
    const int bits = g.size();
    const bool sign = g.rng.chance(50);
    g.rm(ops, bits, false, [&](const Operand& src) {
        g.insn(sign ? "imul" : "mul", FlagEffect::multiply(), [&](CG& c) { sign ? c.imul(src) : c.mul(src); });
    });
}

void t_imul(Gen& g) {
    OperandSet ops;
    const int bits = g.size_no8();
    const Reg dst = g.reg(ops, bits, true);
    const bool three = g.rng.chance(50);
    const int v = static_cast<int>(g.imm(bits == 16 ? 16 : 32));
    g.rm(ops, bits, false, [&](const Operand& src) {
        g.insn("imul", FlagEffect::multiply(), [&](CG& c) {
            if (three)
                c.imul(dst, src, bits == 16 ? static_cast<int16_t>(v) : v);
            else
                c.imul(dst, src);
        });
    });
}

void t_div(Gen& g) {
    // DIV/IDIV: the dividend's upper half is usually prepared so the quotient fits; otherwise
    // (and for a zero divisor) #DE, which both sides must report at the same instruction.
    OperandSet ops;
    const int bits = g.size();
    const bool sign = g.rng.chance(50);
    const bool prepare = g.rng.chance(80);
    g.rm(ops, bits, false, [&](const Operand& divisor) {
        if (prepare) {
            g.insn(sign ? "idiv setup" : "div setup", FlagEffect::none(), [&](CG& c) {
                if (bits == 8) {
                    sign ? c.cbw() : c.movzx(c.eax, c.al);
                } else if (sign) {
                    bits == 16 ? c.cwd() : bits == 32 ? c.cdq() : c.cqo();
                } else {
                    c.mov(c.edx, 0u);
                }
            });
        }
        g.insn(sign ? "idiv" : "div", FlagEffect::divide(), [&](CG& c) { sign ? c.idiv(divisor) : c.div(divisor); });
    }, kRax | kRdx);
}

void t_div_fit(Gen& g) {
    // DIV/IDIV by a loaded register divisor with a dividend whose high half is neither just zero
    // nor just the sign (unsigned: below the divisor, so the quotient fits), divisors of 1 and -1,
    // signed dividends that are not sign-extended: the block translator's fast-path checks and
    // its slow path (emu/bt/muldiv_ops.cpp) both come up, a #DE now and then.
    OperandSet ops;
    const int bits = g.size();
    const bool sign = g.rng.chance(50);
    const uint64_t mask = bits == 64 ? ~0ULL : (uint64_t{1} << bits) - 1;
    uint64_t d = g.rng.chance(15) ? mask : g.rng.chance(10) ? 1 : g.rng.next() & mask;
    if (d == 0) d = 3;
    const Reg divisor = g.reg(ops, bits, true, kRax | kRdx);
    uint64_t high = g.rng.next() & mask;
    if (!sign) high %= d;   // the quotient fits
    else if (g.rng.chance(50)) high = g.rng.chance(50) ? 0 : mask;
    else if (g.rng.chance(70)) high &= 3;
    const bool extend = sign && g.rng.chance(40);
    const std::string_view setup = sign ? "idiv fit setup" : "div fit setup";
    g.insn(setup, FlagEffect::none(), [&](CG& c) { c.mov(divisor, d); });   // at its own size (it may be CH)
    g.insn(setup, FlagEffect::none(), [&](CG& c) {   // one instruction per record
        if (extend) {
            bits == 8 ? c.cbw() : bits == 16 ? c.cwd() : bits == 32 ? c.cdq() : c.cqo();
        } else if (bits == 8) {
            c.mov(c.ah, static_cast<uint8_t>(high));
        } else {
            c.mov(c.rdx, high);
        }
    });
    g.insn(sign ? "idiv" : "div", FlagEffect::divide(), [&](CG& c) { sign ? c.idiv(divisor) : c.div(divisor); });
}

constexpr Template kTemplates[] = {
    {"alu", 30, t_alu},   {"test", 4, t_test}, {"unary", 8, t_unary},
    {"mul", 4, t_mul1},   {"imul", 4, t_imul}, {"div", 4, t_div},   {"divfit", 4, t_div_fit},
};

}  // namespace

std::span<const Template> arith_templates() { return kTemplates; }

}  // namespace popek::difftest
