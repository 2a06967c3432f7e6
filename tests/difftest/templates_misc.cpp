// Flags, stack and string instructions: LAHF SAHF PUSHF POPF CLC STC CMC CLD STD, PUSH POP,
// MOVS STOS LODS CMPS SCAS with REP/REPE/REPNE (SDM Vol. 2A/2B).
#include "templates.h"

namespace popek::difftest {
namespace {

using CG = Xbyak::CodeGenerator;
using Xbyak::Operand;
using Xbyak::Reg;

void t_flag_bits(Gen& g) {
    switch (g.rng.below(5)) {
        case 0: g.insn("clc", {0, kCF, 0}, [](CG& c) { c.clc(); }); return;
        case 1: g.insn("stc", {0, kCF, 0}, [](CG& c) { c.stc(); }); return;
        case 2: g.insn("cmc", {kCF, kCF, 0}, [](CG& c) { c.cmc(); }); return;
        case 3: g.insn("cld", FlagEffect::none(), [](CG& c) { c.cld(); }); return;
        default: g.insn("std", FlagEffect::none(), [](CG& c) { c.std(); }); return;
    }
}

void t_lahf_sahf(Gen& g) {
    constexpr uint32_t kLow = kSF | kZF | kAF | kPF | kCF;  // the flags in AH (SDM Vol. 2A "LAHF")
    if (g.rng.chance(50))
        g.insn("lahf", {kLow, 0, 0}, [](CG& c) { c.lahf(); });
    else
        g.insn("sahf", {0, kLow, 0}, [](CG& c) { c.sahf(); });
}

void t_pushf(Gen& g) {
    // PUSHF stores the whole image, so every status flag must be defined. 16-bit form: 66 9C.
    const bool narrow = g.rng.chance(25);
    if (!g.can_push(8)) return;
    g.insn(narrow ? "pushfw" : "pushfq", {kStatusFlags, 0, 0}, [&](CG& c) {
        if (narrow) c.db(0x66);
        c.pushfq();
    });
    g.stack_depth += narrow ? 2 : 8;
}

void t_popf(Gen& g) {
    // POPF loads a value pushed just before: status flags and DF random, IF set, no TF/AC/NT/IOPL,
    // so both CPL3 (native) and CPL0 (engine) load the same image.
    if (!g.can_push(8)) return;
    const uint32_t image = static_cast<uint32_t>(kFixedFlags | (g.rng.next() & (kStatusFlags | kDF)));
    const bool narrow = g.rng.chance(25);
    g.insn("popf value", FlagEffect::none(), [&](CG& c) {
        if (narrow) {
            c.db(0x66);
            c.db(0x68);
            c.dw(image);
        } else {
            c.push(image);
        }
    });
    g.insn(narrow ? "popfw" : "popfq", {0, kStatusFlags, 0}, [&](CG& c) {
        if (narrow) c.db(0x66);
        c.popfq();
    });
}

void t_push(Gen& g) {
    OperandSet ops;
    const bool narrow = g.rng.chance(20);
    const int bits = narrow ? 16 : 64;
    if (!g.can_push(bits / 8)) return;
    switch (g.rng.below(3)) {
        case 0: {  // register, RSP included (pushes the value before the decrement)
            const Reg r = g.reg(ops, bits, false);
            g.insn("push", FlagEffect::none(), [&](CG& c) { c.push(r); });
            break;
        }
        case 1: {
            const auto m = g.mem(ops, bits);
            g.insn("push", FlagEffect::none(), [&](CG& c) { c.push(m); });
            break;
        }
        default: {  // imm8 / imm32, sign-extended; 66 6A/68 for a 16-bit push
            const uint32_t v = static_cast<uint32_t>(g.imm(narrow ? 16 : 32));
            g.insn("push", FlagEffect::none(), [&](CG& c) {
                if (narrow) {
                    c.db(0x66);
                    c.db(0x68);
                    c.dw(v);
                } else {
                    c.push(v);
                }
            });
            break;
        }
    }
    g.stack_depth += bits / 8;
}

void t_pop(Gen& g) {
    OperandSet ops;
    const bool narrow = g.rng.chance(20);
    const int bits = narrow ? 16 : 64;
    if (!g.can_pop(bits / 8)) return;
    g.rm(ops, bits, true, [&](const Operand& dst) {
        g.insn("pop", FlagEffect::none(), [&](CG& c) { c.pop(dst); });
    });
    g.stack_depth -= bits / 8;
}

enum class StringOp { Movs, Stos, Lods, Cmps, Scas };

void t_string(Gen& g) {
    // RSI/RDI point into the buffer and RCX holds a small count, so every iteration stays in
    // bounds whichever way DF points.
    static constexpr std::string_view kNames[] = {"movs", "stos", "lods", "cmps", "scas"};
    static constexpr uint8_t kOpcode[] = {0xA4, 0xAA, 0xAC, 0xA6, 0xAE};
    const auto op = static_cast<StringOp>(g.rng.below(5));
    const int width = 1 << g.rng.below(4);
    const bool compares = op == StringOp::Cmps || op == StringOp::Scas;
    // 0: none, 1: REP/REPE (F3), 2: REPNE (F2, only defined for CMPS/SCAS).
    const uint64_t rep = g.rng.below(compares ? 3 : 2);
    const unsigned count = rep ? static_cast<unsigned>(g.rng.below(17)) : 1;
    const int64_t reach = static_cast<int64_t>(count) * width + 16;
    const auto in_buffer = [&] {
        const uint64_t span = kBufferSize - 2 * static_cast<uint64_t>(reach);
        return static_cast<int>(static_cast<int64_t>(kDataAddr + static_cast<uint64_t>(reach) + g.rng.below(span)) -
                                static_cast<int64_t>(kBaseValue));
    };
    const Reg base = Xbyak::Reg64(g.base_reg());
    const bool down = g.rng.chance(30);
    g.insn(down ? "std" : "cld", FlagEffect::none(), [&](CG& c) { down ? c.std() : c.cld(); });
    const int src = in_buffer(), dst = in_buffer();
    g.insn("string setup", FlagEffect::none(), [&](CG& c) { c.lea(c.rsi, c.ptr[base + src]); });
    g.insn("string setup", FlagEffect::none(), [&](CG& c) { c.lea(c.rdi, c.ptr[base + dst]); });
    if (rep) g.insn("string setup", FlagEffect::none(), [&](CG& c) { c.mov(c.ecx, count); });
    const FlagEffect effect = compares && count > 0 ? FlagEffect::arith() : FlagEffect::none();
    const auto opcode = static_cast<uint8_t>(kOpcode[static_cast<int>(op)] + (width > 1 ? 1 : 0));
    g.insn(kNames[static_cast<int>(op)], effect, [&](CG& c) {
        if (rep == 1) c.db(0xF3);
        if (rep == 2) c.db(0xF2);
        if (width == 2) c.db(0x66);
        if (width == 8) c.db(0x48);
        c.db(opcode);
    });
}

constexpr Template kTemplates[] = {
    {"flagbits", 3, t_flag_bits}, {"lahfsahf", 3, t_lahf_sahf}, {"pushf", 2, t_pushf},
    {"popf", 2, t_popf},          {"push", 5, t_push},          {"pop", 5, t_pop},
    {"string", 8, t_string},
};

}  // namespace

std::span<const Template> misc_templates() { return kTemplates; }

}  // namespace popek::difftest
