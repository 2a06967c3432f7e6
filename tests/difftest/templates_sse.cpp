// SSE/SSE2/SSSE3 integer, logic, shuffle and move instructions, AES-NI and PCLMULQDQ (SDM Vol. 2;
// emitted natively by the block translator, emu/bt/sse_ops.cpp). The runners compare GPRs, flags and the data buffer,
// not XMM registers, and the XMMs start undefined on the native side: each template defines the
// XMMs it uses from GPRs or memory, works on them, and moves a result back to a GPR or memory.
#include <xbyak/xbyak_util.h>

#include "templates.h"

namespace popek::difftest {
namespace {

using CG = Xbyak::CodeGenerator;
using Xbyak::Operand;
using Xbyak::Reg;
using Xbyak::Xmm;

using MmxOp = void (CG::*)(const Xbyak::Mmx&, const Operand&);
using XmmOp = void (CG::*)(const Xmm&, const Operand&);

const MmxOp kIntOps[] = {
    &CG::paddb, &CG::paddw, &CG::paddd, &CG::paddq, &CG::paddsb, &CG::paddusw, &CG::psubb, &CG::psubd,
    &CG::psubq, &CG::psubsw, &CG::psubusb, &CG::pmullw, &CG::pmulhw, &CG::pmulhuw, &CG::pmuludq,
    &CG::pmaddwd, &CG::pavgb, &CG::psadbw, &CG::pminub, &CG::pmaxsw, &CG::pcmpeqb, &CG::pcmpeqw,
    &CG::pcmpeqd, &CG::pcmpgtb, &CG::pcmpgtd, &CG::pand, &CG::pandn, &CG::por, &CG::pxor,
    &CG::punpcklbw, &CG::punpckhwd, &CG::punpckldq, &CG::packsswb, &CG::packuswb, &CG::psllw,
    &CG::pslld, &CG::psrlq, &CG::psraw, &CG::pshufb, &CG::phaddd, &CG::pmaddubsw, &CG::psignb,
    &CG::pabsd, &CG::pmulhrsw};
const XmmOp kXmmOps[] = {&CG::punpcklqdq, &CG::punpckhqdq, &CG::xorps, &CG::andps, &CG::andnpd,
                         &CG::orps, &CG::unpcklps, &CG::unpckhpd};

struct Pair {
    Xmm a, b;
};

/// Two XMM registers (maybe the same), each given a defined value: from a GPR (MOVQ/MOVD, then
/// maybe the upper half from memory or another GPR) or a 16-byte load.
Pair define_two(Gen& g) {
    const Xmm a(static_cast<int>(g.rng.below(16))), b(static_cast<int>(g.rng.below(16)));
    for (const Xmm& x : {a, b}) {
        OperandSet ops;
        switch (g.rng.below(4)) {
            case 0: {
                const auto m = g.mem(ops, 128, 0, 0, g.rng.chance(50) ? 16 : 1);
                g.insn("sse define", FlagEffect::none(), [&](CG& c) { c.movdqu(x, m); });
                break;
            }
            case 1: {
                const auto m = g.mem(ops, 128, 0, 0, 16);
                g.insn("sse define", FlagEffect::none(), [&](CG& c) { c.movdqa(x, m); });
                break;
            }
            case 2: {
                const Reg r = g.reg(ops, 64, false);
                g.insn("sse define", FlagEffect::none(), [&](CG& c) { c.movq(x, r.cvt64()); });
                OperandSet ops2;
                const auto m = g.mem(ops2, 64);
                g.insn("sse define", FlagEffect::none(), [&](CG& c) { c.movhps(x, m); });
                break;
            }
            default: {
                const Reg r = g.reg(ops, 32, false);
                g.insn("sse define", FlagEffect::none(), [&](CG& c) { c.movd(x, r.cvt32()); });
                const Reg r2 = g.reg(ops, 32, false);
                g.insn("sse define", FlagEffect::none(), [&](CG& c) { c.pinsrw(x, r2.cvt32(), 5); });
                break;
            }
        }
    }
    return {a, b};
}

/// One operation on defined registers: the result lands in `p.a`.
void operate(Gen& g, const Pair& p) {
    OperandSet ops;
    const bool memory = g.rng.chance(30);
    // A memory source: 16-byte aligned but 1 in 100, named "sse misaligned" (a #GP on both sides
    // then; runner_test allows it).
    bool misaligned = false;
    const auto src = [&]() -> Xbyak::Address {
        misaligned = g.rng.chance(1);
        return g.mem(ops, 128, 0, 0, misaligned ? 1 : 16);
    };
    switch (g.rng.below(7)) {
        case 0: case 1: {
            const MmxOp op = g.rng.pick(kIntOps);
            if (memory) {
                const auto m = src();
                g.insn(misaligned ? "sse misaligned" : "sse int", FlagEffect::none(), [&](CG& c) { (c.*op)(p.a, m); });
            } else {
                g.insn("sse int", FlagEffect::none(), [&](CG& c) { (c.*op)(p.a, p.b); });
            }
            return;
        }
        case 2: {
            const XmmOp op = g.rng.pick(kXmmOps);
            g.insn("sse logic", FlagEffect::none(), [&](CG& c) { (c.*op)(p.a, p.b); });
            return;
        }
        case 3: {
            const int n = static_cast<int>(g.rng.below(70));
            switch (g.rng.below(6)) {
                case 0: g.insn("sse shift", FlagEffect::none(), [&](CG& c) { c.pslld(p.a, n); }); return;
                case 1: g.insn("sse shift", FlagEffect::none(), [&](CG& c) { c.psrlq(p.a, n); }); return;
                case 2: g.insn("sse shift", FlagEffect::none(), [&](CG& c) { c.psraw(p.a, n); }); return;
                case 3: g.insn("sse shift", FlagEffect::none(), [&](CG& c) { c.psrldq(p.a, n & 31); }); return;
                case 4: g.insn("sse shift", FlagEffect::none(), [&](CG& c) { c.pslldq(p.a, n & 31); }); return;
                default: g.insn("sse shift", FlagEffect::none(), [&](CG& c) { c.psrad(p.a, n); }); return;
            }
        }
        case 4: {
            const auto imm = static_cast<uint8_t>(g.rng.next());
            if (memory) {
                const auto m = src();
                g.insn(misaligned ? "sse misaligned" : "sse shuffle", FlagEffect::none(), [&](CG& c) { c.pshufd(p.a, m, imm); });
                return;
            }
            switch (g.rng.below(4)) {
                case 0: g.insn("sse shuffle", FlagEffect::none(), [&](CG& c) { c.pshufd(p.a, p.b, imm); }); return;
                case 1: g.insn("sse shuffle", FlagEffect::none(), [&](CG& c) { c.pshuflw(p.a, p.b, imm); }); return;
                case 2: g.insn("sse shuffle", FlagEffect::none(), [&](CG& c) { c.shufps(p.a, p.b, imm); }); return;
                default: g.insn("sse shuffle", FlagEffect::none(), [&](CG& c) { c.palignr(p.a, p.b, imm & 31); }); return;
            }
        }
        case 5:
            switch (g.rng.below(6)) {
                case 5: g.insn("sse move", FlagEffect::none(), [&](CG& c) { c.movddup(p.a, p.b); }); return;
                case 0: g.insn("sse move", FlagEffect::none(), [&](CG& c) { c.movss(p.a, p.b); }); return;
                case 1: g.insn("sse move", FlagEffect::none(), [&](CG& c) { c.movsd(p.a, p.b); }); return;
                case 2: g.insn("sse move", FlagEffect::none(), [&](CG& c) { c.movhlps(p.a, p.b); }); return;
                case 3: g.insn("sse move", FlagEffect::none(), [&](CG& c) { c.movq(p.a, p.b); }); return;
                default: g.insn("sse move", FlagEffect::none(), [&](CG& c) { c.movdqa(p.a, p.b); }); return;
            }
        default: {
            const auto m = g.mem(ops, 64, 0);
            const uint64_t pick = g.rng.below(3);
            if (pick == 0) g.insn("sse move", FlagEffect::none(), [&](CG& c) { c.movlps(p.a, m); });
            else if (pick == 1) g.insn("sse move", FlagEffect::none(), [&](CG& c) { c.movsd(p.a, m); });
            else g.insn("sse move", FlagEffect::none(), [&](CG& c) { c.movddup(p.a, m); });   // m64, any alignment
            return;
        }
    }
}

/// The result of `x` back where the runners compare it.
void extract(Gen& g, const Xmm& x) {
    OperandSet ops;
    switch (g.rng.below(7)) {
        case 0: {
            const Reg r = g.reg(ops, 64, true);
            g.insn("sse result", FlagEffect::none(), [&](CG& c) { c.movq(r.cvt64(), x); });
            return;
        }
        case 1: {
            const Reg r = g.reg(ops, 32, true);
            g.insn("sse result", FlagEffect::none(), [&](CG& c) { c.movd(r.cvt32(), x); });
            return;
        }
        case 2: {
            const Reg r = g.reg(ops, 32, true);
            g.insn("sse result", FlagEffect::none(), [&](CG& c) { c.pmovmskb(r.cvt32(), x); });
            return;
        }
        case 3: {
            const Reg r = g.reg(ops, 32, true);
            const auto k = static_cast<uint8_t>(g.rng.below(8));
            g.insn("sse result", FlagEffect::none(), [&](CG& c) { c.pextrw(r.cvt32(), x, k); });
            return;
        }
        case 4: {
            const auto m = g.mem(ops, 128, 0, 0, 16);
            g.insn("sse result", FlagEffect::none(), [&](CG& c) { c.movdqa(m, x); });
            return;
        }
        case 5: {
            const auto m = g.mem(ops, 64);
            g.insn("sse result", FlagEffect::none(), [&](CG& c) { c.movhps(m, x); });
            return;
        }
        default: {
            const auto m = g.mem(ops, 128);
            g.insn("sse result", FlagEffect::none(), [&](CG& c) { c.movdqu(m, x); });
            return;
        }
    }
}

void t_sse(Gen& g) {
    const Pair p = define_two(g);
    const unsigned n = 1 + static_cast<unsigned>(g.rng.below(3));
    for (unsigned k = 0; k < n; ++k) operate(g, p);
    extract(g, p.a);
    if (g.rng.chance(30)) extract(g, p.b);
}

bool host_crypto() {
    static const bool has = [] {
        const Xbyak::util::Cpu host;
        return host.has(Xbyak::util::Cpu::tAESNI) && host.has(Xbyak::util::Cpu::tPCLMULQDQ);
    }();
    return has;
}

const XmmOp kAesOps[] = {&CG::aesenc, &CG::aesenclast, &CG::aesdec, &CG::aesdeclast, &CG::aesimc};

/// AES-NI and PCLMULQDQ (SDM Vol. 2A AESENC.., Vol. 2B PCLMULQDQ) on defined registers, mixed
/// with the plain SSE operations of t_sse; the runners see the results through `extract`.
/// Exceptions Type 4: a misaligned m128 source is a #GP(0), named "sse misaligned" as in operate.
void t_crypto(Gen& g) {
    if (!host_crypto()) return t_sse(g);
    const Pair p = define_two(g);
    const unsigned n = 1 + static_cast<unsigned>(g.rng.below(4));
    for (unsigned k = 0; k < n; ++k) {
        if (g.rng.chance(25)) {
            operate(g, p);
            continue;
        }
        const auto imm = static_cast<uint8_t>(g.rng.next());
        const uint64_t which = g.rng.below(3);
        const XmmOp aes = g.rng.pick(kAesOps);
        const auto emit = [&](const char* name, const Operand& src) {
            if (which == 0) g.insn(name, FlagEffect::none(), [&](CG& c) { (c.*aes)(p.a, src); });
            else if (which == 1) g.insn(name, FlagEffect::none(), [&](CG& c) { c.aeskeygenassist(p.a, src, imm); });
            else g.insn(name, FlagEffect::none(), [&](CG& c) { c.pclmulqdq(p.a, src, imm); });
        };
        if (!g.rng.chance(30)) {
            emit("sse crypto", p.b);
            continue;
        }
        OperandSet ops;
        const bool misaligned = g.rng.chance(1);
        const Xbyak::Address m = g.mem(ops, 128, 0, 0, misaligned ? 1 : 16);
        emit(misaligned ? "sse misaligned" : "sse crypto", m);
    }
    extract(g, p.a);
    if (g.rng.chance(30)) extract(g, p.b);
}

constexpr Template kTemplates[] = {
    {"sse", 8, t_sse},
    {"sse crypto", 4, t_crypto},
};

}  // namespace

std::span<const Template> sse_templates() { return kTemplates; }

}  // namespace popek::difftest
