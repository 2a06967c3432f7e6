/// The native whitelist of the block translator: instructions that touch only GPRs and RFLAGS and
/// cannot fault run as the same host instruction. Guest operand 0 is loaded whole into RAX (8-bit
/// high registers AH..BH then are host AH, SDM Vol. 1 3.4.1 "general-purpose registers"), operand 1
/// into RCX; the result is stored back whole, so 8/16-bit partial writes and the zero-extension of
/// 32-bit results (SDM Vol. 1 3.4.1.1) come out exactly as on the host. The arithmetic flags are
/// produced by the host instruction and merged into Cpu::rflags with the mask the interpreter's
/// handler uses; instructions that read flags get the guest's arithmetic flags loaded first.
#include "emu/bt/block_emitter.h"
#include "emu/cpu.h"

namespace popek::emu::bt {
namespace {

using Gen = Xbyak::CodeGenerator;

constexpr bool has_gpr(const Insn& i, unsigned n) { return (i.gprs >> n) & 1u; }
constexpr unsigned base_of(unsigned r) { return r >= 16 ? r - 16 : r; }
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

NativeFlags native_flags(const Insn& i) {
    switch (static_cast<ZydisMnemonic>(i.mnemonic)) {
        case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_SUB:
        case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_CMP: case ZYDIS_MNEMONIC_TEST: case ZYDIS_MNEMONIC_NEG:
        case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_IMUL:
        case ZYDIS_MNEMONIC_XADD: case ZYDIS_MNEMONIC_CMPXCHG:
            return {kArithFlags, false};
        case ZYDIS_MNEMONIC_ADC: case ZYDIS_MNEMONIC_SBB:
            return {kArithFlags, true};
        case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC:
            return {kArithFlags & ~kCf, false};
        case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR:
            return {kCf | kOf, true};
        case ZYDIS_MNEMONIC_MOV: case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX: case ZYDIS_MNEMONIC_MOVSXD:
        case ZYDIS_MNEMONIC_LEA: case ZYDIS_MNEMONIC_XCHG: case ZYDIS_MNEMONIC_BSWAP: case ZYDIS_MNEMONIC_NOT:
        case ZYDIS_MNEMONIC_NOP: case ZYDIS_MNEMONIC_PUSH: case ZYDIS_MNEMONIC_POP:
            return {0, false};
        default:
            return {0, true};   // SETcc, CMOVcc
    }
}

// ---- operand access ----

Xbyak::Address BlockEmitter::gpr_slot(unsigned base_reg) { return qword[rbx + m_layout.gpr + static_cast<int32_t>(8 * base_reg)]; }

Xbyak::Reg BlockEmitter::sized(int host, unsigned size, unsigned guest_reg) {
    switch (size) {
        case 1: return Xbyak::Reg8(host + (guest_reg >= 16 ? 4 : 0));   // AH/CH are encodings 4/5
        case 2: return Xbyak::Reg16(host);
        case 4: return Xbyak::Reg32(host);
        default: return Xbyak::Reg64(host);
    }
}

void BlockEmitter::load_full(int host, unsigned guest_reg) { mov(Xbyak::Reg64(host), gpr_slot(base_of(guest_reg))); }
void BlockEmitter::store_full(int host, unsigned guest_reg) { mov(gpr_slot(base_of(guest_reg)), Xbyak::Reg64(host)); }

Xbyak::Reg BlockEmitter::load_source(const Insn& in, unsigned size) {
    if (in.k1 == kOpImm) {
        mov(rcx, in.imm);
    } else {
        load_full(1, in.r1);
        if (size == 1 && in.r1 >= 16) shr(rcx, 8);
    }
    return sized(1, size, 0);
}

void BlockEmitter::load_guest_flags() {
    // Clobbers RDX only, so operands are loaded first (their loads may shift). Only the arithmetic flags: the host's TF/AC/DF must stay clear (single-step, alignment
    // checks, and the ABI of the handlers called later).
    mov(rdx, qword[rbx + m_layout.rflags]);
    and_(edx, static_cast<uint32_t>(kArithFlags));
    push(rdx);
    popf();
}

void BlockEmitter::emit_condition(unsigned cc, const Xbyak::Operand& dst) { (this->*kSetcc[cc & 15])(dst); }

void BlockEmitter::merge_host_flags(uint64_t mask) {
    if (m_cc_capture >= 0) {   // the Jcc after this instruction tests these very flags
        emit_condition(static_cast<unsigned>(m_cc_capture), r8b);
        m_cc_captured = true;
    }
    if (m_skip_flags) return;
    pushf();
    pop(rdx);
    and_(edx, static_cast<uint32_t>(mask));
    mov(rcx, qword[rbx + m_layout.rflags]);
    and_(rcx, ~static_cast<uint32_t>(mask));   // sign-extended imm32: bits 63:32 kept
    or_(rcx, rdx);
    mov(qword[rbx + m_layout.rflags], rcx);
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
        case ZYDIS_MNEMONIC_BSWAP:
            load_full(0, in.r0);
            if (in.osize == 8) bswap(rax);
            else bswap(eax);
            store_full(0, in.r0);
            return;
        default:
            break;
    }
    if (in.mnemonic >= ZYDIS_MNEMONIC_SETB && in.mnemonic <= ZYDIS_MNEMONIC_SETZ) return emit_setcc(in);
    if (in.mnemonic >= ZYDIS_MNEMONIC_CMOVB && in.mnemonic <= ZYDIS_MNEMONIC_CMOVZ) return emit_cmovcc(in);
    emit_binary(in);
}

void BlockEmitter::emit_binary(const Insn& in) {
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    load_full(0, in.r0);
    const Xbyak::Reg src = load_source(in, in.osize);   // may shift: flags are loaded after it
    const Xbyak::Reg dst = sized(0, in.osize, in.r0);
    if (m == ZYDIS_MNEMONIC_ADC || m == ZYDIS_MNEMONIC_SBB) load_guest_flags();
    bool writes = true;
    switch (m) {
        case ZYDIS_MNEMONIC_ADD: add(dst, src); break;
        case ZYDIS_MNEMONIC_OR: or_(dst, src); break;
        case ZYDIS_MNEMONIC_ADC: adc(dst, src); break;
        case ZYDIS_MNEMONIC_SBB: sbb(dst, src); break;
        case ZYDIS_MNEMONIC_AND: and_(dst, src); break;
        case ZYDIS_MNEMONIC_SUB: sub(dst, src); break;
        case ZYDIS_MNEMONIC_XOR: xor_(dst, src); break;
        case ZYDIS_MNEMONIC_CMP: cmp(dst, src); writes = false; break;
        default: test(dst, src); writes = false; break;
    }
    if (writes) store_full(0, in.r0);   // MOV does not touch the host flags
    merge_host_flags(kArithFlags);
}

void BlockEmitter::emit_unary(const Insn& in) {
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    load_full(0, in.r0);
    const Xbyak::Reg dst = sized(0, in.osize, in.r0);
    switch (m) {
        case ZYDIS_MNEMONIC_INC: inc(dst); break;
        case ZYDIS_MNEMONIC_DEC: dec(dst); break;
        case ZYDIS_MNEMONIC_NEG: neg(dst); break;
        default: not_(dst); break;
    }
    store_full(0, in.r0);
    if (m == ZYDIS_MNEMONIC_INC || m == ZYDIS_MNEMONIC_DEC) merge_host_flags(kArithFlags & ~kCf);
    else if (m == ZYDIS_MNEMONIC_NEG) merge_host_flags(kArithFlags);
}

void BlockEmitter::emit_mov(const Insn& in) {
    if (in.osize >= 4) {
        load_source(in, in.osize);
        if (in.osize == 4) mov(ecx, ecx);   // zero-extends
        store_full(1, in.r0);
        return;
    }
    load_full(0, in.r0);
    mov(sized(0, in.osize, in.r0), load_source(in, in.osize));
    store_full(0, in.r0);
}

void BlockEmitter::emit_extend(const Insn& in) {
    const bool sign = in.mnemonic != ZYDIS_MNEMONIC_MOVZX;
    const Xbyak::Reg src = load_source(in, in.size1);
    if (in.osize == 2) {
        load_full(0, in.r0);
        if (sign) movsx(dx, src);
        else movzx(dx, src);
        mov(ax, dx);
    } else if (in.mnemonic == ZYDIS_MNEMONIC_MOVSXD) {
        movsxd(rax, ecx);
    } else if (sign) {
        movsx(in.osize == 8 ? Xbyak::Reg(rax) : Xbyak::Reg(eax), src);
    } else {
        movzx(eax, src);   // the 32-bit form zero-extends to 64 bits as well
    }
    store_full(0, in.r0);
}

void BlockEmitter::emit_lea(const Insn& in) {
    // Effective address (SDM Vol. 2A 2.1.5) truncated to the address size, then to the operand
    // size; no segment, no memory access, no flags.
    if (in.base == kRegRip) {
        mov(rax, qword[rbx + m_layout.rip]);
        mov(rcx, static_cast<uint64_t>(in.disp) + m_rip_pending + in.len);
        add(rax, rcx);
    } else {
        mov(rax, static_cast<uint64_t>(in.disp));
        if (in.base != kRegNone) add(rax, gpr_slot(in.base));
    }
    if (in.index != kRegNone) {
        mov(rcx, gpr_slot(in.index));
        if (in.scale_shift) shl(rcx, in.scale_shift);
        add(rax, rcx);
    }
    if (in.asize == 2) movzx(eax, ax);
    else if (in.asize == 4) mov(eax, eax);
    if (in.osize == 2) {   // a 16-bit destination keeps bits 63:16
        mov(rcx, gpr_slot(in.r0));
        mov(cx, ax);
        store_full(1, in.r0);
        return;
    }
    if (in.osize == 4) mov(eax, eax);
    store_full(0, in.r0);
}

void BlockEmitter::emit_shift(const Insn& in) {
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    const bool rotate = m == ZYDIS_MNEMONIC_ROL || m == ZYDIS_MNEMONIC_ROR || m == ZYDIS_MNEMONIC_RCL ||
                        m == ZYDIS_MNEMONIC_RCR;
    load_full(0, in.r0);
    mov(ecx, shift_count(in));   // by CL, as the interpreter's host::shift does
    if (rotate) load_guest_flags();   // RCL/RCR rotate through CF; ROL/ROR keep the other flags
    const Xbyak::Reg dst = sized(0, in.osize, in.r0);
    switch (m) {
        case ZYDIS_MNEMONIC_SHR: shr(dst, cl); break;
        case ZYDIS_MNEMONIC_SAR: sar(dst, cl); break;
        case ZYDIS_MNEMONIC_ROL: rol(dst, cl); break;
        case ZYDIS_MNEMONIC_ROR: ror(dst, cl); break;
        case ZYDIS_MNEMONIC_RCL: rcl(dst, cl); break;
        case ZYDIS_MNEMONIC_RCR: rcr(dst, cl); break;
        default: shl(dst, cl); break;
    }
    store_full(0, in.r0);
    merge_host_flags(rotate ? (kCf | kOf) : kArithFlags);   // the masks of emu/interp/shift.cpp
}

void BlockEmitter::emit_imul(const Insn& in) {
    // IMUL r, r/m (r = r * r/m) and IMUL r, r/m, imm (r = r/m * imm), SDM Vol. 2A IMUL.
    const Xbyak::Reg a = sized(0, in.osize, 0), b = sized(1, in.osize, 0);
    if (in.k2 == kOpImm) {
        load_full(0, in.r1);
        mov(rcx, in.imm);
    } else {
        load_full(0, in.r0);
        load_full(1, in.r1);
    }
    imul(a, b);
    if (in.osize == 2) {   // only bits 15:0 of the destination are written
        mov(rcx, gpr_slot(in.r0));
        mov(cx, ax);
        store_full(1, in.r0);
    } else {
        store_full(0, in.r0);
    }
    merge_host_flags(kArithFlags);
}

void BlockEmitter::emit_xchg(const Insn& in) {
    load_full(0, in.r0);
    load_full(1, in.r1);
    xchg(sized(0, in.osize, in.r0), sized(1, in.osize, in.r1));
    store_full(0, in.r0);
    store_full(1, in.r1);
}

void BlockEmitter::emit_setcc(const Insn& in) {
    load_full(0, in.r0);
    load_guest_flags();
    emit_condition(in.extra, sized(0, 1, in.r0));
    store_full(0, in.r0);
}

void BlockEmitter::emit_cmovcc(const Insn& in) {
    load_full(0, in.r0);
    const Xbyak::Reg src = load_source(in, in.osize);
    load_guest_flags();
    (this->*kCmovcc[in.extra])(sized(0, in.osize, in.r0), src);   // 32-bit: zero-extends either way
    store_full(0, in.r0);
}

}  // namespace popek::emu::bt
