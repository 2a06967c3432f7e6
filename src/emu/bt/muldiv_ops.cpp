/// Native multiply and divide of the block translator: MUL and one-operand IMUL, DIV and IDIV
/// (register or, where inline memory paths exist, memory operand), and the accumulator sign
/// extensions CBW/CWDE/CDQE and CWD/CDQ/CQO. The operation is the same host instruction on host
/// RAX/RDX copies of the guest's, so results and flags (the "undefined" ones included) are what
/// emu/interp/muldiv.cpp's host instruction gives.
///
/// A divide that would raise #DE never reaches the host DIV: the emitted code checks the divisor
/// and the dividend first and jumps to a slow path that runs the interpreter's handler with the
/// exact guest state (emu/bt/memory_ops.cpp SlowPath), which raises the fault at the right RIP with
/// no register changed. The signed check is conservative (a divisor of -1, or a dividend that is
/// not the sign extension of its low half, also take the slow path, which then computes the result).
#include "emu/bt/block_emitter.h"
#include "emu/cpu.h"

namespace popek::emu::bt {
namespace {

constexpr bool has_gpr(const Insn& i, unsigned n) { return (i.gprs >> n) & 1u; }

bool is_accumulator_extension(uint16_t m) {
    switch (static_cast<ZydisMnemonic>(m)) {
        case ZYDIS_MNEMONIC_CBW: case ZYDIS_MNEMONIC_CWDE: case ZYDIS_MNEMONIC_CDQE:
        case ZYDIS_MNEMONIC_CWD: case ZYDIS_MNEMONIC_CDQ: case ZYDIS_MNEMONIC_CQO:
            return true;
        default:
            return false;
    }
}

Xbyak::AddressFrame frame_of(unsigned size) {
    switch (size) {
        case 1: return Xbyak::AddressFrame(8);
        case 2: return Xbyak::AddressFrame(16);
        case 4: return Xbyak::AddressFrame(32);
        default: return Xbyak::AddressFrame(64);
    }
}

}  // namespace

bool is_native_muldiv(const Insn& i, bool memory_ok, bool flat32) {
    if (i.fn == nullptr || i.fn == handle_undefined || i.cls != 0 || (i.prefix & kPrefixLock)) return false;
    const auto m = static_cast<ZydisMnemonic>(i.mnemonic);
    if (is_accumulator_extension(m)) return i.osize >= 2;
    if (m != ZYDIS_MNEMONIC_MUL && m != ZYDIS_MNEMONIC_IMUL && m != ZYDIS_MNEMONIC_DIV && m != ZYDIS_MNEMONIC_IDIV)
        return false;
    if (i.k1 != kOpNone) return false;   // IMUL r, r/m (, imm): emu/bt/native_ops.cpp
    if (i.k0 == kOpReg) return has_gpr(i, 0);
    if (i.k0 != kOpMem || !memory_ok || i.asize < 4) return false;
    // Flat 32-bit code: only DS/ES/SS have the known zero base (as emu/bt/memory_ops.cpp).
    return !flat32 || i.seg == kDs || i.seg == kEs || i.seg == kSs;
}

void BlockEmitter::emit_muldiv(const Insn& in) {
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    if (is_accumulator_extension(m)) return emit_accumulator_extension(in);
    const bool divide = m == ZYDIS_MNEMONIC_DIV || m == ZYDIS_MNEMONIC_IDIV;
    const bool sign = m == ZYDIS_MNEMONIC_IMUL || m == ZYDIS_MNEMONIC_IDIV;
    const bool mem = in.k0 == kOpMem;
    const unsigned size = in.osize;
    // DIV leaves every flag as it was (SDM Vol. 2A DIV "Flags Affected": undefined; the
    // interpreter keeps them) but the host's DIV and the checks clobber the host's: the guest's
    // go to Cpu::rflags first. So they must for a slow path's handler (it may fault).
    if (divide || mem) materialize_flags();
    // Every register the instruction names resident before the slow path's entry state.
    const Xbyak::Reg64& acc = greg(hv::RAX);
    const Xbyak::Reg64* high = size > 1 ? &greg(hv::RDX) : nullptr;
    if (mem) {
        if (in.base < 16) greg(in.base);
        if (in.index < 16) greg(in.index);
    } else {
        greg(in.r0);
    }
    SlowPath* slow = divide || mem ? &new_slow_path(in) : nullptr;
    // The source operand into RCX (CL/CX/ECX/RCX).
    if (mem) {
        emit_linear_address(in);
        emit_probe(false, size, *slow);
        const Xbyak::Address src = frame_of(size)[rsi];
        if (size <= 2) movzx(ecx, src);
        else mov(size == 4 ? Xbyak::Reg(ecx) : Xbyak::Reg(rcx), src);
    } else {
        mov(rcx, greg(in.r0));
        if (size == 1 && in.r0 >= 16) movzx(ecx, ch);   // AH..BH
    }
    const Xbyak::Reg src = sized(1, size, 0);
    if (!divide) {
        // SDM Vol. 2B MUL, Vol. 2A IMUL (one operand): AX = AL * r/m8; rDX:rAX = rAX * r/m.
        mov(rax, acc);
        if (sign) imul(src);
        else mul(src);
    } else {
        // SDM Vol. 2A DIV/IDIV: #DE for a zero divisor and for a quotient that does not fit.
        Xbyak::Label& fault = slow->entry_label;
        test(src, src);
        jz(fault, T_NEAR);
        mov(rax, acc);
        if (!sign) {
            // The quotient fits exactly when the dividend's high half is below the divisor.
            if (size == 1) cmp(ah, cl);
            else cmp(sized(*high, size), src);
            jae(fault, T_NEAR);
            if (size > 1) mov(rdx, *high);
            div(src);
        } else {
            // |quotient| <= |dividend| fits when the dividend is its low half sign-extended and
            // the divisor is not -1 (MIN / -1 overflows); anything else is left to the handler.
            cmp(src, 0xffffffff);   // -1 (an imm8, sign-extended to the operand size)
            je(fault, T_NEAR);
            switch (size) {
                case 1: movsx(edx, al); cmp(dx, ax); break;
                case 2: cwd(); cmp(dx, high->cvt16()); break;
                case 4: cdq(); cmp(edx, high->cvt32()); break;
                default: cqo(); cmp(rdx, *high); break;
            }
            jne(fault, T_NEAR);
            idiv(src);
        }
    }
    // The results: AX for bytes (quotient AL, remainder AH), else rAX and rDX; a 32-bit result
    // zero-extends (SDM Vol. 1 3.4.1.1), as the host's did. MOVs: the host flags stay.
    if (size <= 2) {
        mov(acc.cvt16(), ax);
        m_regs.mark(hv::RAX);
        if (size == 2) {
            mov(high->cvt16(), dx);
            m_regs.mark(hv::RDX);
        }
    } else {
        mov(m_regs.write(hv::RAX), rax);
        mov(m_regs.write(hv::RDX), rdx);
    }
    if (!divide) produced(kArithFlags);   // the mask of emu/interp/muldiv.cpp
    if (slow) {
        slow->resume = m_regs.state();
        slow->flags_host_resume = m_host_flags != 0;
        L(slow->resume_label);
    }
}

void BlockEmitter::emit_accumulator_extension(const Insn& in) {
    // SDM Vol. 2A CBW/CWDE/CDQE and CWD/CDQ/CQO; none touches a flag, nor does this code.
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    const Xbyak::Reg64& acc = greg(hv::RAX);
    if (m == ZYDIS_MNEMONIC_CBW || m == ZYDIS_MNEMONIC_CWDE || m == ZYDIS_MNEMONIC_CDQE) {
        if (in.osize == 2) movsx(acc.cvt16(), acc.cvt8());
        else if (in.osize == 4) movsx(acc.cvt32(), acc.cvt16());   // zero-extends to 64 bits
        else movsxd(acc, acc.cvt32());
        m_regs.mark(hv::RAX);
        return;
    }
    if (in.osize == 2) {   // DX only: bits 63:16 of RDX stay
        const Xbyak::Reg64& high = greg(hv::RDX);
        mov(eax, acc.cvt32());
        cwd();
        mov(high.cvt16(), dx);
        m_regs.mark(hv::RDX);
    } else if (in.osize == 4) {
        mov(eax, acc.cvt32());
        cdq();
        mov(m_regs.write(hv::RDX).cvt32(), edx);   // zero-extends
    } else {
        mov(rax, acc);
        cqo();
        mov(m_regs.write(hv::RDX), rdx);
    }
}

}  // namespace popek::emu::bt
