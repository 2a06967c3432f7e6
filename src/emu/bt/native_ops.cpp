/// The native whitelist of the block translator: instructions that touch only GPRs and RFLAGS and
/// cannot fault run as the same host instruction. Guest operand 0 is loaded whole into RAX (8-bit
/// high registers AH..BH then are host AH, SDM Vol. 1 3.4.1 "general-purpose registers"), operand 1
/// into RCX; the result is stored back whole, so 8/16-bit partial writes and the zero-extension of
/// 32-bit results (SDM Vol. 1 3.4.1.1) come out exactly as on the host. The arithmetic flags are
/// produced by the host instruction and merged into Cpu::rflags with the mask the interpreter's
/// handler uses; instructions that read flags get the guest's arithmetic flags loaded first.
#include <cpuid.h>

#include "emu/bt/block_emitter.h"
#include "emu/cpu.h"

namespace popek::emu::bt {
namespace {

using Gen = Xbyak::CodeGenerator;

constexpr bool has_gpr(const Insn& i, unsigned n) { return (i.gprs >> n) & 1u; }
constexpr bool is_high8(const Insn& i, unsigned r) { return i.osize == 1 && r >= 16; }

/// Masked shift count of an immediate shift (SDM Vol. 2B SAL/SAR/SHL/SHR: 5 bits, 6 with REX.W).
unsigned shift_count(const Insn& i) { return static_cast<unsigned>(i.imm) & (i.osize == 8 ? 0x3fu : 0x1fu); }

using SetFn = void (Gen::*)(const Xbyak::Operand&);
using CmovFn = void (Gen::*)(const Xbyak::Reg&, const Xbyak::Operand&);
// Condition codes in opcode order (SDM Vol. 1 appendix B, table B-1).
constexpr SetFn kSetcc[16] = {&Gen::seto, &Gen::setno, &Gen::setb, &Gen::setnb, &Gen::setz, &Gen::setnz,
                              &Gen::setbe, &Gen::setnbe, &Gen::sets, &Gen::setns, &Gen::setp, &Gen::setnp,
                              &Gen::setl, &Gen::setnl, &Gen::setle, &Gen::setnle};
constexpr CmovFn kCmovcc[16] = {&Gen::cmovo, &Gen::cmovno, &Gen::cmovb, &Gen::cmovnb, &Gen::cmovz,
                                &Gen::cmovnz, &Gen::cmovbe, &Gen::cmovnbe, &Gen::cmovs, &Gen::cmovns,
                                &Gen::cmovp, &Gen::cmovnp, &Gen::cmovl, &Gen::cmovnl, &Gen::cmovle,
                                &Gen::cmovnle};

}  // namespace

bool is_native(const Insn& i) {
    if (i.fn == nullptr || i.fn == handle_undefined || i.cls != 0 || (i.prefix & kPrefixLock)) return false;
    const bool reg0 = i.k0 == kOpReg && has_gpr(i, 0);
    const bool reg1 = i.k1 == kOpReg && has_gpr(i, 1);
    const bool reg_or_imm1 = reg1 || i.k1 == kOpImm;
    switch (static_cast<ZydisMnemonic>(i.mnemonic)) {
        case ZYDIS_MNEMONIC_NOP:
            return true;
        case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_ADC: case ZYDIS_MNEMONIC_SBB:
        case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_CMP:
        case ZYDIS_MNEMONIC_TEST: case ZYDIS_MNEMONIC_MOV:
            return reg0 && reg_or_imm1;
        case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC: case ZYDIS_MNEMONIC_NEG: case ZYDIS_MNEMONIC_NOT:
            return reg0;
        case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX:
            return reg0 && reg1 && i.size1 < i.osize && i.osize >= 2 && i.size1 <= 2;
        case ZYDIS_MNEMONIC_MOVSXD:
            return reg0 && reg1 && i.osize == 8 && i.size1 == 4;
        case ZYDIS_MNEMONIC_LEA:
            return reg0 && i.k1 == kOpMem && i.osize >= 2;
        case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR:
        case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR:
            if (reg0 && reg1 && i.r1 == 1 && i.size1 == 1) return true;   // by CL
            return reg0 && i.k1 == kOpImm && shift_count(i) != 0;
        case ZYDIS_MNEMONIC_IMUL:   // the two- and three-operand forms (the one-operand form has no k1)
            return reg0 && reg1 && i.osize >= 2 && (i.k2 == kOpNone || i.k2 == kOpImm);
        case ZYDIS_MNEMONIC_XCHG:
            // Two views of one register (XCHG AL, AH) would store two results: left to the handler.
            return reg0 && reg1 && base_of(i.r0) != base_of(i.r1);
        case ZYDIS_MNEMONIC_BSWAP:
            return reg0 && i.osize >= 4;   // 16-bit BSWAP is undefined: the handler's choice stands
        case ZYDIS_MNEMONIC_SETO: case ZYDIS_MNEMONIC_SETNO: case ZYDIS_MNEMONIC_SETB: case ZYDIS_MNEMONIC_SETNB:
        case ZYDIS_MNEMONIC_SETZ: case ZYDIS_MNEMONIC_SETNZ: case ZYDIS_MNEMONIC_SETBE: case ZYDIS_MNEMONIC_SETNBE:
        case ZYDIS_MNEMONIC_SETS: case ZYDIS_MNEMONIC_SETNS: case ZYDIS_MNEMONIC_SETP: case ZYDIS_MNEMONIC_SETNP:
        case ZYDIS_MNEMONIC_SETL: case ZYDIS_MNEMONIC_SETNL: case ZYDIS_MNEMONIC_SETLE: case ZYDIS_MNEMONIC_SETNLE:
            return reg0 && i.osize == 1 && i.extra < 16;
        case ZYDIS_MNEMONIC_CMOVO: case ZYDIS_MNEMONIC_CMOVNO: case ZYDIS_MNEMONIC_CMOVB: case ZYDIS_MNEMONIC_CMOVNB:
        case ZYDIS_MNEMONIC_CMOVZ: case ZYDIS_MNEMONIC_CMOVNZ: case ZYDIS_MNEMONIC_CMOVBE: case ZYDIS_MNEMONIC_CMOVNBE:
        case ZYDIS_MNEMONIC_CMOVS: case ZYDIS_MNEMONIC_CMOVNS: case ZYDIS_MNEMONIC_CMOVP: case ZYDIS_MNEMONIC_CMOVNP:
        case ZYDIS_MNEMONIC_CMOVL: case ZYDIS_MNEMONIC_CMOVNL: case ZYDIS_MNEMONIC_CMOVLE: case ZYDIS_MNEMONIC_CMOVNLE:
            return reg0 && reg1 && i.osize >= 2 && i.extra < 16;
        default:
            return false;
    }
}

// ---- operand access ----

namespace {

/// True when an operand of `i` is an 8-bit high register (AH..BH): those cannot be encoded with
/// a REX prefix, so the instruction works on RAX/RCX copies (the "legacy" path).
bool uses_high8(const Insn& i) {
    if (i.osize != 1 && i.size1 != 1) return false;
    return (has_gpr(i, 0) && i.r0 >= 16) || (has_gpr(i, 1) && i.r1 >= 16);
}

}  // namespace

const Xbyak::Reg64& BlockEmitter::greg(unsigned r) { return m_regs.read(base_of(r)); }

Xbyak::Reg BlockEmitter::sized(int host, unsigned size, unsigned guest_reg) {
    switch (size) {
        case 1: return Xbyak::Reg8(host + (guest_reg >= 16 ? 4 : 0));   // AH/CH are encodings 4/5
        case 2: return Xbyak::Reg16(host);
        case 4: return Xbyak::Reg32(host);
        default: return Xbyak::Reg64(host);
    }
}

Xbyak::Reg BlockEmitter::sized(const Xbyak::Reg64& host, unsigned size) {
    switch (size) {
        case 1: return host.cvt8();   // BPL, DIL, R11B..R15B: REX-encoded
        case 2: return host.cvt16();
        case 4: return host.cvt32();
        default: return host;
    }
}

void BlockEmitter::load_full(int host, unsigned guest_reg) { mov(Xbyak::Reg64(host), greg(guest_reg)); }
void BlockEmitter::store_full(int host, unsigned guest_reg) { mov(m_regs.write(base_of(guest_reg)), Xbyak::Reg64(host)); }

Xbyak::Reg BlockEmitter::load_source(const Insn& in, unsigned size) {
    if (in.k1 == kOpImm) {
        mov(rcx, in.imm);
    } else {
        load_full(1, in.r1);
        if (size == 1 && in.r1 >= 16) movzx(ecx, ch);   // flag-neutral (the guest flags may be live)
    }
    return sized(1, size, 0);
}

void BlockEmitter::load_guest_flags() {
    // Clobbers RDX only. Only the arithmetic flags: the host's TF/AC/DF must stay clear
    // (single-step, alignment checks, and the ABI of the handlers called later).
    observe_flags(kArithFlags);
    if (lahf_sahf()) {
        // OF (RFLAGS bit 11) first: 0x80 + 0x80 overflows, 0 + 0 does not. Then SAHF loads SF ZF
        // AF PF CF from AH, which has RFLAGS bits 7..0's layout (SDM Vol. 2B SAHF), and leaves
        // OF and DF alone. RAX waits in RDX.
        mov(rdx, rax);
        movzx(eax, byte[rbx + m_layout.rflags + 1]);
        and_(al, 8);
        shl(al, 4);
        add(al, al);
        mov(ah, byte[rbx + m_layout.rflags]);
        sahf();
        mov(rax, rdx);
        return;
    }
    mov(rdx, qword[rbx + m_layout.rflags]);
    and_(edx, static_cast<uint32_t>(kArithFlags));
    push(rdx);
    popf();
}

void BlockEmitter::emit_condition(unsigned cc, const Xbyak::Operand& dst) { (this->*kSetcc[cc & 15])(dst); }

bool BlockEmitter::lahf_sahf() {
    static const bool has = [] {
        unsigned a = 0, b = 0, c = 0, d = 0;
        return __get_cpuid(0x80000001u, &a, &b, &c, &d) != 0 && (c & 1u) != 0;
    }();
    return has;
}

void BlockEmitter::capture_host_flags() {
    if (!lahf_sahf()) {
        pushf();
        pop(rdx);
        and_(edx, static_cast<uint32_t>(kArithFlags));
        return;
    }
    // LAHF: AH = SF ZF 0 AF 0 PF 1 CF (RFLAGS bits 7..0); SETO: AL = OF. Swapped into AX, OF
    // lands on bit 11.
    mov(rdx, rax);
    lahf();
    seto(al);
    shl(al, 3);
    xchg(al, ah);
    movzx(eax, ax);
    and_(eax, static_cast<uint32_t>(kArithFlags));
    xchg(rax, rdx);
}

void BlockEmitter::merge_host_flags(uint64_t mask) {
    // rflags ^= (host ^ rflags) & mask; RDX and R10 only (RCX may hold an operand).
    if (lahf_sahf()) capture_host_flags();
    else {
        pushf();
        pop(rdx);
    }
    mov(r10, qword[rbx + m_layout.rflags]);
    xor_(rdx, r10);
    and_(edx, static_cast<uint32_t>(mask));
    xor_(r10, rdx);
    mov(qword[rbx + m_layout.rflags], r10);
}

void BlockEmitter::materialize_flags() {
    observe_flags(kArithFlags);   // whoever needs Cpu::rflags exact may read any flag
    if (!m_host_flags) return;
    merge_host_flags(m_host_flags);
    m_host_flags = 0;
}

void BlockEmitter::need_flags(uint64_t mask) {
    observe_flags(mask);
    if ((mask & ~m_host_flags) == 0) return;
    materialize_flags();
    load_guest_flags();
    m_host_flags = kArithFlags;
}

void BlockEmitter::produced(uint64_t mask) {
    // The host keeps the flags a partial producer (INC/DEC keep CF, ROL/ROR write CF and OF
    // only) does not write: those valid in the host before stay valid.
    m_host_flags |= mask;
    m_flags_killed |= mask;
}

uint64_t condition_flags(unsigned cc) {
    // SDM Vol. 1 appendix B, table B-1: the flags each condition (opcode order, pairs) tests.
    static constexpr uint64_t kTested[8] = {kOf, kCf, kZf, kCf | kZf, kSf, kPf, kSf | kOf, kZf | kSf | kOf};
    return kTested[(cc >> 1) & 7];
}

// ---- instruction classes ----

void BlockEmitter::emit_native(const Insn& in) {
    switch (static_cast<ZydisMnemonic>(in.mnemonic)) {
        case ZYDIS_MNEMONIC_NOP: return;
        case ZYDIS_MNEMONIC_MOV: return emit_mov(in);
        case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC: case ZYDIS_MNEMONIC_NEG: case ZYDIS_MNEMONIC_NOT:
            return emit_unary(in);
        case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX: case ZYDIS_MNEMONIC_MOVSXD: return emit_extend(in);
        case ZYDIS_MNEMONIC_LEA: return emit_lea(in);
        case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR:
        case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR:
            return emit_shift(in);
        case ZYDIS_MNEMONIC_IMUL: return emit_imul(in);
        case ZYDIS_MNEMONIC_XCHG: return emit_xchg(in);
        case ZYDIS_MNEMONIC_BSWAP: {
            const Xbyak::Reg64& r = greg(in.r0);
            if (in.osize == 8) bswap(r);
            else bswap(r.cvt32());
            m_regs.mark(base_of(in.r0));
            return;
        }
        default:
            break;
    }
    if (in.mnemonic >= ZYDIS_MNEMONIC_SETB && in.mnemonic <= ZYDIS_MNEMONIC_SETZ) return emit_setcc(in);
    if (in.mnemonic >= ZYDIS_MNEMONIC_CMOVB && in.mnemonic <= ZYDIS_MNEMONIC_CMOVZ) return emit_cmovcc(in);
    emit_binary(in);
}

void BlockEmitter::emit_alu(ZydisMnemonic m, const Xbyak::Operand& dst, const Xbyak::Operand& src, bool imm, uint32_t iv) {
    switch (m) {
        case ZYDIS_MNEMONIC_ADD: imm ? add(dst, iv) : add(dst, src); break;
        case ZYDIS_MNEMONIC_OR: imm ? or_(dst, iv) : or_(dst, src); break;
        case ZYDIS_MNEMONIC_ADC: imm ? adc(dst, iv) : adc(dst, src); break;
        case ZYDIS_MNEMONIC_SBB: imm ? sbb(dst, iv) : sbb(dst, src); break;
        case ZYDIS_MNEMONIC_AND: imm ? and_(dst, iv) : and_(dst, src); break;
        case ZYDIS_MNEMONIC_SUB: imm ? sub(dst, iv) : sub(dst, src); break;
        case ZYDIS_MNEMONIC_XOR: imm ? xor_(dst, iv) : xor_(dst, src); break;
        case ZYDIS_MNEMONIC_CMP: imm ? cmp(dst, iv) : cmp(dst, src); break;
        default: imm ? test(dst, iv) : test(dst, src.getReg()); break;   // TEST r/m, r: a register source
    }
}

void BlockEmitter::emit_binary(const Insn& in) {
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    const bool carry_in = m == ZYDIS_MNEMONIC_ADC || m == ZYDIS_MNEMONIC_SBB;
    Xbyak::Reg dst, src;
    const bool legacy = uses_high8(in);
    if (legacy) {
        load_full(0, in.r0);
        src = load_source(in, in.osize);
        dst = sized(0, in.osize, in.r0);
    } else {
        dst = sized(greg(in.r0), in.osize);
        if (in.k1 == kOpReg) src = sized(greg(in.r1), in.osize);
    }
    if (carry_in) need_flags(kCf);   // after the operand loads (MOVs: the flags stay put)
    const bool imm = !legacy && in.k1 == kOpImm;
    const bool writes = m != ZYDIS_MNEMONIC_CMP && m != ZYDIS_MNEMONIC_TEST;
    emit_alu(m, dst, src, imm, static_cast<uint32_t>(imm_sx(in.osize, in.imm)));
    if (writes) {
        if (legacy) store_full(0, in.r0);   // MOV does not touch the host flags
        else m_regs.mark(base_of(in.r0));
    }
    produced(kArithFlags);
}

void BlockEmitter::emit_unary(const Insn& in) {
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    const bool legacy = uses_high8(in);
    if (legacy) load_full(0, in.r0);
    const Xbyak::Reg dst = legacy ? sized(0, in.osize, in.r0) : sized(greg(in.r0), in.osize);
    switch (m) {
        case ZYDIS_MNEMONIC_INC: inc(dst); break;
        case ZYDIS_MNEMONIC_DEC: dec(dst); break;
        case ZYDIS_MNEMONIC_NEG: neg(dst); break;
        default: not_(dst); break;
    }
    if (legacy) store_full(0, in.r0);
    else m_regs.mark(base_of(in.r0));
    if (m == ZYDIS_MNEMONIC_INC || m == ZYDIS_MNEMONIC_DEC) produced(kArithFlags & ~kCf);
    else if (m == ZYDIS_MNEMONIC_NEG) produced(kArithFlags);
}

void BlockEmitter::emit_mov(const Insn& in) {
    if (uses_high8(in)) {
        load_full(0, in.r0);
        mov(sized(0, in.osize, in.r0), load_source(in, in.osize));
        store_full(0, in.r0);
        return;
    }
    if (in.osize >= 4) {   // a full write (32 bits zero-extend)
        if (in.k1 == kOpImm) {
            const Xbyak::Reg64& d = m_regs.write(base_of(in.r0));
            if (in.osize == 8) mov(d, in.imm);
            else mov(d.cvt32(), static_cast<uint32_t>(in.imm));
            return;
        }
        const Xbyak::Reg64& s = greg(in.r1);
        const Xbyak::Reg64& d = m_regs.write(base_of(in.r0));
        if (in.osize == 8) mov(d, s);
        else mov(d.cvt32(), s.cvt32());
        return;
    }
    const Xbyak::Reg dst = sized(greg(in.r0), in.osize);
    if (in.k1 == kOpImm) mov(dst, imm_sx(in.osize, in.imm));
    else mov(dst, sized(greg(in.r1), in.osize));
    m_regs.mark(base_of(in.r0));
}

void BlockEmitter::emit_extend(const Insn& in) {
    const bool sign = in.mnemonic != ZYDIS_MNEMONIC_MOVZX;
    if (uses_high8(in)) {   // the source is AH..BH
        const Xbyak::Reg src = load_source(in, in.size1);
        if (in.osize == 2) {
            load_full(0, in.r0);
            if (sign) movsx(dx, src);
            else movzx(dx, src);
            mov(ax, dx);
        } else if (sign) {
            movsx(in.osize == 8 ? Xbyak::Reg(rax) : Xbyak::Reg(eax), src);
        } else {
            movzx(eax, src);
        }
        store_full(0, in.r0);
        return;
    }
    const Xbyak::Reg src = sized(greg(in.r1), in.size1);
    if (in.osize == 2) {   // only bits 15:0 of the destination are written
        const Xbyak::Reg dst = greg(in.r0).cvt16();
        if (sign) movsx(dst, src);
        else movzx(dst, src);
        m_regs.mark(base_of(in.r0));
        return;
    }
    const Xbyak::Reg64& d = m_regs.write(base_of(in.r0));
    if (in.mnemonic == ZYDIS_MNEMONIC_MOVSXD) movsxd(d, src.cvt32());
    else if (sign) movsx(in.osize == 8 ? Xbyak::Reg(d) : Xbyak::Reg(d.cvt32()), src);
    else movzx(d.cvt32(), src);   // the 32-bit form zero-extends to 64 bits as well
}

void BlockEmitter::emit_lea(const Insn& in) {
    // Effective address (SDM Vol. 2A 2.1.5) truncated to the address size, then to the operand
    // size; no segment, no memory access, no flags (nor does this code touch the host's).
    const bool disp32 = in.disp >= INT32_MIN && in.disp <= INT32_MAX;
    if (in.base == kRegRip) {
        mov(rax, qword[rbx + m_layout.rip]);
        mov(rcx, static_cast<uint64_t>(in.disp) + m_rip_pending + in.len);
        lea(rax, ptr[rax + rcx]);
    } else if (in.asize >= 4 && disp32 && (in.base != kRegNone || in.index != kRegNone)) {
        // One host LEA on the registers holding the guest's (32-bit addressing: an 0x67 prefix).
        const auto disp = static_cast<int32_t>(in.disp);
        const bool a32 = in.asize == 4;
        auto r = [&](uint8_t g) { return a32 ? Xbyak::RegExp(greg(g).cvt32()) : Xbyak::RegExp(greg(g)); };
        Xbyak::RegExp e = in.base != kRegNone ? r(in.base) : Xbyak::RegExp(disp);
        if (in.index != kRegNone) {
            const Xbyak::Reg64& ix = greg(in.index);
            const Xbyak::Reg idx = a32 ? Xbyak::Reg(ix.cvt32()) : Xbyak::Reg(ix);
            e = in.base != kRegNone ? e + idx * (1 << in.scale_shift) : Xbyak::RegExp(idx * (1 << in.scale_shift));
        }
        if (in.base != kRegNone || in.index != kRegNone) e = e + disp;
        if (in.osize == 2) {   // a 16-bit destination keeps bits 63:16
            lea(eax, ptr[e]);
            mov(greg(in.r0).cvt16(), ax);
            m_regs.mark(base_of(in.r0));
            return;
        }
        const Xbyak::Reg64& d = m_regs.write(base_of(in.r0));
        lea(in.osize == 8 ? Xbyak::Reg(d) : Xbyak::Reg(d.cvt32()), ptr[e]);
        return;
    } else {
        mov(rax, static_cast<uint64_t>(in.disp));
        if (in.base != kRegNone) lea(rax, ptr[rax + greg(in.base)]);
        if (in.index != kRegNone) lea(rax, ptr[rax + greg(in.index) * (1 << in.scale_shift)]);
    }
    if (in.asize == 2) movzx(eax, ax);
    else if (in.asize == 4) mov(eax, eax);
    if (in.osize == 2) {   // a 16-bit destination keeps bits 63:16
        mov(greg(in.r0).cvt16(), ax);
        m_regs.mark(base_of(in.r0));
        return;
    }
    if (in.osize == 4) mov(eax, eax);
    store_full(0, in.r0);
}

void BlockEmitter::emit_shift(const Insn& in) {
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    const bool rotate = m == ZYDIS_MNEMONIC_ROL || m == ZYDIS_MNEMONIC_ROR || m == ZYDIS_MNEMONIC_RCL ||
                        m == ZYDIS_MNEMONIC_RCR;
    const bool by_cl = in.k1 == kOpReg;
    const bool legacy = uses_high8(in);
    if (legacy) load_full(0, in.r0);
    const Xbyak::Reg dst = legacy ? sized(0, in.osize, in.r0) : sized(greg(in.r0), in.osize);
    if (by_cl) {
        // A masked count of 0 leaves every flag alone (SDM Vol. 2B SAL/SAR/SHL/SHR, ROL/ROR): the
        // host's must then be the guest's, so they are all made valid in the host first.
        mov(rcx, greg(1));
        need_flags(kArithFlags);
    } else if (m == ZYDIS_MNEMONIC_RCL || m == ZYDIS_MNEMONIC_RCR) {
        need_flags(kCf);   // they rotate through CF
    }
    const int n = static_cast<int>(shift_count(in));
    switch (m) {
        case ZYDIS_MNEMONIC_SHR: by_cl ? shr(dst, cl) : shr(dst, n); break;
        case ZYDIS_MNEMONIC_SAR: by_cl ? sar(dst, cl) : sar(dst, n); break;
        case ZYDIS_MNEMONIC_ROL: by_cl ? rol(dst, cl) : rol(dst, n); break;
        case ZYDIS_MNEMONIC_ROR: by_cl ? ror(dst, cl) : ror(dst, n); break;
        case ZYDIS_MNEMONIC_RCL: by_cl ? rcl(dst, cl) : rcl(dst, n); break;
        case ZYDIS_MNEMONIC_RCR: by_cl ? rcr(dst, cl) : rcr(dst, n); break;
        default: by_cl ? shl(dst, cl) : shl(dst, n); break;
    }
    if (legacy) store_full(0, in.r0);
    else m_regs.mark(base_of(in.r0));
    produced(rotate ? (kCf | kOf) : kArithFlags);   // the masks of emu/interp/shift.cpp
}

void BlockEmitter::emit_imul(const Insn& in) {
    // IMUL r, r/m (r = r * r/m) and IMUL r, r/m, imm (r = r/m * imm), SDM Vol. 2A IMUL.
    const Xbyak::Reg src = sized(greg(in.r1), in.osize);
    if (in.k2 == kOpImm) {
        const Xbyak::Reg64& d = in.osize == 2 ? greg(in.r0) : m_regs.write(base_of(in.r0));
        imul(sized(d, in.osize), src, static_cast<int>(imm_sx(in.osize == 2 ? 2 : 4, in.imm)));
    } else {
        imul(sized(greg(in.r0), in.osize), src);
    }
    m_regs.mark(base_of(in.r0));   // a 16-bit destination keeps bits 63:16, as the host's
    produced(kArithFlags);
}

void BlockEmitter::emit_xchg(const Insn& in) {
    if (uses_high8(in)) {
        load_full(0, in.r0);
        load_full(1, in.r1);
        xchg(sized(0, in.osize, in.r0), sized(1, in.osize, in.r1));
        store_full(0, in.r0);
        store_full(1, in.r1);
        return;
    }
    xchg(sized(greg(in.r0), in.osize), sized(greg(in.r1), in.osize));
    m_regs.mark(base_of(in.r0));
    m_regs.mark(base_of(in.r1));
}

void BlockEmitter::emit_setcc(const Insn& in) {
    need_flags(condition_flags(in.extra));
    if (uses_high8(in)) {
        load_full(0, in.r0);
        emit_condition(in.extra, sized(0, 1, in.r0));
        store_full(0, in.r0);
        return;
    }
    emit_condition(in.extra, greg(in.r0).cvt8());
    m_regs.mark(base_of(in.r0));
}

void BlockEmitter::emit_cmovcc(const Insn& in) {
    const Xbyak::Reg src = sized(greg(in.r1), in.osize);
    const Xbyak::Reg dst = sized(greg(in.r0), in.osize);
    need_flags(condition_flags(in.extra));
    (this->*kCmovcc[in.extra])(dst, src);   // 32-bit: zero-extends either way, as the guest's
    m_regs.mark(base_of(in.r0));
}

}  // namespace popek::emu::bt
