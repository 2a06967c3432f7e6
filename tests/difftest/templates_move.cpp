// Data movement: MOV, MOVZX/MOVSX/MOVSXD, LEA, XCHG, XADD, CMPXCHG, CMPXCHG8B/16B, BSWAP,
// CBW..CQO, CMOVcc, SETcc (SDM Vol. 2A/2B, one entry per instruction).
#include "templates.h"

namespace popek::difftest {
namespace {

using Xbyak::CodeGenerator;
using Xbyak::Operand;
using Xbyak::Reg;
using CG = Xbyak::CodeGenerator;
constexpr uint32_t kRax = 1u << 0, kRdx = 1u << 2;

// Indexed by the condition code nibble (SDM Vol. 2B Table B-1 / "CMOVcc", "SETcc").
constexpr void (CG::*kCmov[16])(const Reg&, const Operand&) = {
    &CG::cmovo, &CG::cmovno, &CG::cmovb, &CG::cmovae, &CG::cmove, &CG::cmovne, &CG::cmovbe, &CG::cmova,
    &CG::cmovs, &CG::cmovns, &CG::cmovp, &CG::cmovnp, &CG::cmovl, &CG::cmovge, &CG::cmovle, &CG::cmovg};
constexpr void (CG::*kSet[16])(const Operand&) = {
    &CG::seto, &CG::setno, &CG::setb, &CG::setae, &CG::sete, &CG::setne, &CG::setbe, &CG::seta,
    &CG::sets, &CG::setns, &CG::setp, &CG::setnp, &CG::setl, &CG::setge, &CG::setle, &CG::setg};

void t_mov(Gen& g) {
    OperandSet ops;
    const int bits = g.size();
    switch (g.rng.below(5)) {
        case 0: {  // r/m <- r
            g.rm(ops, bits, true, [&](const Operand& dst) {
                const Reg src = g.reg(ops, bits, false);
                g.insn("mov", FlagEffect::none(), [&](CodeGenerator& c) { c.mov(dst, src); });
            });
            return;
        }
        case 1: {  // r <- m
            const auto src = g.mem(ops, bits);
            const Reg dst = g.reg(ops, bits, true);
            g.insn("mov", FlagEffect::none(), [&](CodeGenerator& c) { c.mov(dst, src); });
            return;
        }
        case 2: {  // r/m <- imm (MOV takes 8/16-bit immediates as they are, unlike the ALU forms)
            const uint64_t v = bits == 16 ? g.imm(bits) & 0xffff : g.imm(bits);
            g.rm(ops, bits, true, [&](const Operand& dst) {
                g.insn("mov", FlagEffect::none(), [&](CodeGenerator& c) { c.mov(dst, v); });
            });
            return;
        }
        case 3: {  // r64 <- imm64 (movabs)
            const Reg dst = g.reg(ops, 64, true);
            const uint64_t v = g.interesting_value();
            g.insn("mov", FlagEffect::none(), [&](CodeGenerator& c) { c.mov(dst, v); });
            return;
        }
        default: {  // r <- r, same or 32-bit (zero-extends)
            const Reg dst = g.reg(ops, bits, true);
            const Reg src = g.reg(ops, bits, false);
            g.insn("mov", FlagEffect::none(), [&](CodeGenerator& c) { c.mov(dst, src); });
            return;
        }
    }
}

void t_movx(Gen& g) {
    OperandSet ops;
    const int dst_bits = g.size_no8();
    const int src_bits = dst_bits == 16 || g.rng.chance(50) ? 8 : 16;
    const bool sign = g.rng.chance(50);
    const Reg dst = g.reg(ops, dst_bits, true);
    g.rm(ops, src_bits, false, [&](const Operand& src) {
        g.insn(sign ? "movsx" : "movzx", FlagEffect::none(), [&](CodeGenerator& c) {
            sign ? c.movsx(dst, src) : c.movzx(dst, src);
        });
    });
}

void t_movsxd(Gen& g) {
    OperandSet ops;
    const Reg dst = g.reg(ops, 64, true);
    g.rm(ops, 32, false, [&](const Operand& src) {
        g.insn("movsxd", FlagEffect::none(), [&](CodeGenerator& c) { c.movsxd(Xbyak::Reg64(dst.getIdx()), src); });
    });
}

void t_lea(Gen& g) {
    // LEA computes an address without touching memory, so any registers can form it.
    OperandSet ops;
    const int bits = g.size_no8();
    const Reg dst = g.reg(ops, bits, true);
    const int disp = static_cast<int>(g.imm(32));
    if (g.rng.chance(15)) {
        g.set_rip_target(kDataAddr + g.rng.below(kDataSize));
        g.insn("lea", FlagEffect::none(), [&](CodeGenerator& c) { c.lea(dst, c.ptr[Xbyak::util::rip]); });
        return;
    }
    const bool addr32 = g.rng.chance(25);
    const int abits = addr32 ? 32 : 64;
    const Reg base = Reg(static_cast<int>(g.rng.below(16)), Operand::REG, abits);
    int index = static_cast<int>(g.rng.below(16));
    if (index == 4) index = 5;  // RSP cannot be an index
    const Reg idx = Reg(index, Operand::REG, abits);
    const int scale = 1 << g.rng.below(4);
    g.insn("lea", FlagEffect::none(), [&](CodeGenerator& c) {
        switch (g.rng.below(3)) {
            case 0: c.lea(dst, c.ptr[base + disp]); break;
            case 1: c.lea(dst, c.ptr[idx * scale + disp]); break;
            default: c.lea(dst, c.ptr[base + idx * scale + disp]); break;
        }
    });
}

void t_xchg(Gen& g) {
    OperandSet ops;
    const int bits = g.size();
    g.rm(ops, bits, true, [&](const Operand& a) {
        const Reg b = g.reg(ops, bits, true);
        g.insn("xchg", FlagEffect::none(), [&](CodeGenerator& c) { c.xchg(a, b); });
    });
}

void t_xadd(Gen& g) {
    OperandSet ops;
    const int bits = g.size();
    const bool lock = g.rng.chance(30);
    g.rm(ops, bits, true, [&](const Operand& dst) {
        const Reg src = g.reg(ops, bits, true);
        g.insn("xadd", FlagEffect::arith(), [&](CodeGenerator& c) {
            if (lock && dst.isMEM()) c.lock();
            c.xadd(dst, src);
        });
    });
}

void t_cmpxchg(Gen& g) {
    // Compares the accumulator with r/m; writes r/m or the accumulator (RAX is never reserved).
    OperandSet ops;
    const int bits = g.size();
    const bool lock = g.rng.chance(30);
    g.rm(ops, bits, true, [&](const Operand& dst) {
        const Reg src = g.reg(ops, bits, false);
        if (g.rng.chance(40)) {  // make the equal case likely: copy r/m into the accumulator
            g.insn("cmpxchg setup", FlagEffect::none(), [&](CodeGenerator& c) { c.mov(Gen::fixed(0, bits), dst); });
        }
        g.insn("cmpxchg", FlagEffect::arith(), [&](CodeGenerator& c) {
            if (lock && dst.isMEM()) c.lock();
            c.cmpxchg(dst, src);
        });
    }, kRax);
}

void t_cmpxchg_wide(Gen& g) {
    // CMPXCHG8B/16B: only ZF is written (SDM Vol. 2A). 16B needs 16-byte alignment (else #GP),
    // which the generator asks for almost always.
    OperandSet ops;
    const bool wide = g.rng.chance(50);
    const int align = wide && g.rng.chance(97) ? 16 : 8;
    // A 64-bit frame with 8 bytes of margin keeps all 16 bytes of CMPXCHG16B in the buffer.
    const auto m = g.mem(ops, 64, 8, kRax | kRdx, align);
    if (g.rng.chance(40)) {  // make the equal case likely
        const Xbyak::AddressFrame q(64);
        g.insn("cmpxchg8b/16b setup", FlagEffect::none(), [&](CodeGenerator& c) { c.mov(c.rax, m); });
        if (wide) {
            // Same memory operand shifted by 8: re-pick would change the address, so reuse via LEA.
            g.insn("cmpxchg16b setup", FlagEffect::none(), [&](CodeGenerator& c) { c.lea(c.rdx, m); });
            g.insn("cmpxchg16b setup", FlagEffect::none(), [&](CodeGenerator& c) { c.mov(c.rdx, q[c.rdx + 8]); });
        } else {
            g.insn("cmpxchg8b setup", FlagEffect::none(), [&](CodeGenerator& c) { c.mov(c.rdx, c.rax); });
            g.insn("cmpxchg8b setup", FlagEffect::none(), [&](CodeGenerator& c) { c.shr(c.rdx, 32); });
        }
    }
    const bool lock = g.rng.chance(30);
    g.insn(wide ? "cmpxchg16b" : "cmpxchg8b", {0, kZF, 0}, [&](CodeGenerator& c) {
        if (lock) c.lock();
        wide ? c.cmpxchg16b(m) : c.cmpxchg8b(m);
    });
}

void t_bswap(Gen& g) {
    // BSWAP of a 16-bit register is undefined (SDM Vol. 2A), so only 32 and 64.
    OperandSet ops;
    const int bits = g.rng.chance(50) ? 32 : 64;
    const Reg r = g.reg(ops, bits, true);
    const Xbyak::Reg32e r32e(r.getIdx(), bits);
    g.insn("bswap", FlagEffect::none(), [&](CodeGenerator& c) { c.bswap(r32e); });
}

void t_convert(Gen& g) {
    static constexpr std::string_view kNames[] = {"cbw", "cwde", "cdqe", "cwd", "cdq", "cqo"};
    const uint64_t which = g.rng.below(6);
    g.insn(kNames[which], FlagEffect::none(), [&](CodeGenerator& c) {
        switch (which) {
            case 0: c.cbw(); break;
            case 1: c.cwde(); break;
            case 2: c.cdqe(); break;
            case 3: c.cwd(); break;
            case 4: c.cdq(); break;
            default: c.cqo(); break;
        }
    });
}

void t_cmovcc(Gen& g) {
    // A 32-bit CMOV zero-extends the destination even when the condition is false.
    OperandSet ops;
    const int bits = g.size_no8();
    const int cc = static_cast<int>(g.rng.below(16));
    const Reg dst = g.reg(ops, bits, true);
    g.rm(ops, bits, false, [&](const Operand& src) {
        g.insn("cmovcc", {condition_reads(cc), 0, 0}, [&](CodeGenerator& c) {
            (c.*kCmov[cc])(dst, src);
        });
    });
}

void t_setcc(Gen& g) {
    OperandSet ops;
    const int cc = static_cast<int>(g.rng.below(16));
    g.rm(ops, 8, true, [&](const Operand& dst) {
        g.insn("setcc", {condition_reads(cc), 0, 0}, [&](CodeGenerator& c) {
            (c.*kSet[cc])(dst);
        });
    });
}

constexpr Template kTemplates[] = {
    {"mov", 10, t_mov},         {"movx", 5, t_movx},       {"movsxd", 2, t_movsxd},
    {"lea", 5, t_lea},          {"xchg", 3, t_xchg},       {"xadd", 3, t_xadd},
    {"cmpxchg", 3, t_cmpxchg},  {"cmpxchg8b16b", 2, t_cmpxchg_wide},
    {"bswap", 2, t_bswap},      {"convert", 3, t_convert}, {"cmovcc", 4, t_cmovcc},
    {"setcc", 4, t_setcc},
};

}  // namespace

std::span<const Template> data_move_templates() { return kTemplates; }

}  // namespace popek::difftest
