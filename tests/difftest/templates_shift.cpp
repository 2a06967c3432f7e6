// Shifts, rotates and bit instructions: ROL ROR RCL RCR SHL SHR SAR (count 1, imm8, CL), SHLD/SHRD,
// BT BTS BTR BTC, BSF BSR (SDM Vol. 2A/2B).
#include "emu/interp/families.h"
#include "templates.h"

namespace popek::difftest {
namespace {

using CG = Xbyak::CodeGenerator;
using Xbyak::Operand;
using Xbyak::Reg;
constexpr uint32_t kRcx = 1u << 1;

struct ShiftKind {
    std::string_view name;
    ShiftOp op;
    void (CG::*by_cl)(const Operand&, const Xbyak::Reg8&);
    void (CG::*by_imm)(const Operand&, int);
};

const ShiftKind kShifts[] = {
    {"rol", ShiftOp::Rol, &CG::rol, &CG::rol}, {"ror", ShiftOp::Ror, &CG::ror, &CG::ror},
    {"rcl", ShiftOp::Rcl, &CG::rcl, &CG::rcl}, {"rcr", ShiftOp::Rcr, &CG::rcr, &CG::rcr},
    {"shl", ShiftOp::Shl, &CG::shl, &CG::shl}, {"shr", ShiftOp::Shr, &CG::shr, &CG::shr},
    {"sar", ShiftOp::Sar, &CG::sar, &CG::sar},
};

void t_shift(Gen& g) {
    const ShiftKind& k = kShifts[g.rng.below(std::size(kShifts))];
    OperandSet ops;
    const int bits = g.size();
    const bool by_cl = g.rng.chance(50);
    const unsigned count = g.rng.chance(15) ? 1 : g.count();
    g.rm(ops, bits, true, [&](const Operand& dst) {
        const FlagEffect effect = shift_effect(k.op, bits, count);
        if (by_cl) {
            g.insn("shift count", FlagEffect::none(), [&](CG& c) { c.mov(c.cl, static_cast<uint8_t>(count)); });
            g.insn(k.name, effect, [&](CG& c) { (c.*k.by_cl)(dst, c.cl); });
        } else {
            g.insn(k.name, effect, [&](CG& c) { (c.*k.by_imm)(dst, static_cast<int>(count)); });
        }
    }, kRcx);
}

void t_double_shift(Gen& g) {
    OperandSet ops;
    const int bits = g.size_no8();
    const bool left = g.rng.chance(50);
    const bool by_cl = g.rng.chance(50);
    unsigned count = g.count();
    // A 16-bit SHLD/SHRD by more than 16 has an undefined result (SDM Vol. 2B): not generated.
    if (bits == 16 && masked_count(16, count) > 16) count &= 0xf;
    const FlagEffect effect = double_shift_effect(bits, count);
    g.rm(ops, bits, true, [&](const Operand& dst) {
        const Reg src = g.reg(ops, bits, false);
        const std::string_view name = left ? "shld" : "shrd";
        if (by_cl) {
            g.insn("shift count", FlagEffect::none(), [&](CG& c) { c.mov(c.cl, static_cast<uint8_t>(count)); });
            g.insn(name, effect, [&](CG& c) { left ? c.shld(dst, src, c.cl) : c.shrd(dst, src, c.cl); });
        } else {
            const auto imm = static_cast<uint8_t>(count);
            g.insn(name, effect, [&](CG& c) { left ? c.shld(dst, src, imm) : c.shrd(dst, src, imm); });
        }
    }, kRcx);
}

struct BitOp {
    std::string_view name;
    bool writes;
    void (CG::*by_reg)(const Operand&, const Reg&);
    void (CG::*by_imm)(const Operand&, uint8_t);
};

const BitOp kBitOps[] = {
    {"bt", false, &CG::bt, &CG::bt},
    {"bts", true, &CG::bts, &CG::bts},
    {"btr", true, &CG::btr, &CG::btr},
    {"btc", true, &CG::btc, &CG::btc},
};

void t_bit_test(Gen& g) {
    const BitOp& op = kBitOps[g.rng.below(std::size(kBitOps))];
    OperandSet ops;
    const int bits = g.size_no8();
    const bool lock = op.writes && g.rng.chance(20);
    switch (g.rng.below(3)) {
        case 0: {  // reg, reg: the offset is taken modulo the operand size
            const Reg dst = g.reg(ops, bits, op.writes);
            const Reg off = g.reg(ops, bits, false);
            g.insn(op.name, FlagEffect::bit_test(), [&](CG& c) { (c.*op.by_reg)(dst, off); });
            return;
        }
        case 1: {  // r/m, imm8 (also taken modulo the operand size for memory)
            const auto imm = static_cast<uint8_t>(g.rng.below(256));
            g.rm(ops, bits, op.writes, [&](const Operand& dst) {
                g.insn(op.name, FlagEffect::bit_test(), [&](CG& c) {
                    if (lock && dst.isMEM()) c.lock();
                    (c.*op.by_imm)(dst, imm);
                });
            });
            return;
        }
        default: {
            // mem, reg: the signed offset selects a bit outside the operand too (SDM Vol. 2A
            // "BT": bit string addressing). A preloaded offset in [-256, 255] stays in the buffer.
            const auto dst = g.mem(ops, bits, 40);
            const uint32_t exclude = ops.index_reg >= 0 ? 1u << ops.index_reg : 0;
            const Reg off = g.reg(ops, bits, true, exclude);
            const int64_t k = static_cast<int64_t>(g.rng.below(512)) - 256;
            g.insn("bit offset", FlagEffect::none(), [&](CG& c) {
                if (bits == 64)
                    c.mov(off, static_cast<uint64_t>(k));
                else
                    c.mov(off, static_cast<uint64_t>(k) & (bits == 16 ? 0xffffu : 0xffffffffu));
            });
            g.insn(op.name, FlagEffect::bit_test(), [&](CG& c) {
                if (lock) c.lock();
                (c.*op.by_reg)(dst, off);
            });
            return;
        }
    }
}

void t_bit_scan(Gen& g) {
    // With a zero source the destination is undefined (SDM Vol. 2A "BSF"): AMD leaves it as it
    // was, Intel writes the old value back, which clears bits 63:32 of a 32-bit destination. The
    // source is therefore always loaded right before: nonzero mostly, zero now and then with the
    // destination's upper half cleared first, so both vendors' CPUs give the same result.
    OperandSet ops;
    const int bits = g.size_no8();
    const bool reverse = g.rng.chance(50);
    const bool zero = g.rng.chance(20);
    const Reg dst = g.reg(ops, bits, true);
    if (zero && bits == 32) {
        const auto v = static_cast<uint32_t>(g.rng.next());
        g.insn("bit scan setup", FlagEffect::none(), [&](CG& c) { c.mov(dst, v); });
    }
    uint64_t value = 0;
    if (!zero) {
        value = g.rng.chance(50) ? uint64_t{1} << g.rng.below(static_cast<uint64_t>(bits)) : g.rng.next();
        if (bits < 64) value &= (uint64_t{1} << bits) - 1;
        if (value == 0) value = 1;
    }
    g.rm(ops, bits, true, [&](const Operand& src) {
        g.insn("bit scan setup", FlagEffect::none(), [&](CG& c) {
            if (src.isMEM() && bits == 64) {
                // MOV m64, imm32 sign-extends: keep a nonzero value nonzero.
                const auto imm = static_cast<uint32_t>(value | (value >> 32));
                c.mov(src, static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(imm))));
            } else {
                c.mov(src, value);
            }
        });
        g.insn(reverse ? "bsr" : "bsf", FlagEffect::bit_scan(), [&](CG& c) {
            reverse ? c.bsr(dst, src) : c.bsf(dst, src);
        });
    }, 1u << dst.getIdx());
}

void t_bit_count(Gen& g) {
    // TZCNT LZCNT POPCNT (SDM Vol. 2B), each only when this host has it (the runners execute the
    // case on it; the interpreter decodes them only then): BSF otherwise.
    OperandSet ops;
    const int bits = g.size_no8();
    const unsigned pick = static_cast<unsigned>(g.rng.below(3));
    const bool have[3] = {emu::host_has_bmi1(), emu::host_has_lzcnt(), emu::host_has_popcnt()};
    const Reg dst = g.reg(ops, bits, true);
    const bool zero = g.rng.chance(15);
    g.rm(ops, bits, true, [&](const Operand& src) {   // writable: it may be zeroed first
        if (zero) g.insn("bit count setup", FlagEffect::none(), [&](CG& c) { c.mov(src, 0u); });
        if (!have[pick]) {
            if (zero) return;   // BSF of zero: an undefined destination
            g.insn("bsf", FlagEffect::bit_scan(), [&](CG& c) { c.bsf(dst, src); });
            return;
        }
        constexpr FlagEffect kCount{0, kCF | kZF, kOF | kSF | kAF | kPF};
        constexpr FlagEffect kPopcnt{0, kStatusFlags, 0};
        switch (pick) {
            case 0: g.insn("tzcnt", kCount, [&](CG& c) { c.tzcnt(dst, src); }); break;
            case 1: g.insn("lzcnt", kCount, [&](CG& c) { c.lzcnt(dst, src); }); break;
            default: g.insn("popcnt", kPopcnt, [&](CG& c) { c.popcnt(dst, src); }); break;
        }
    }, 1u << dst.getIdx());
}

constexpr Template kTemplates[] = {
    {"shift", 16, t_shift},
    {"shxd", 5, t_double_shift},
    {"bt", 6, t_bit_test},
    {"bsf", 4, t_bit_scan},
    {"bitcount", 3, t_bit_count},
};

}  // namespace

std::span<const Template> shift_templates() { return kTemplates; }

}  // namespace popek::difftest
