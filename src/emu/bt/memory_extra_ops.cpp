/// More inline memory forms of the block translator, on the TLB probe of emu/bt/memory_ops.cpp
/// (same slow paths: a miss, a fault, MMIO or a code page runs the handler with exact state):
/// SETcc m8, BT/BTS/BTR/BTC on memory (LOCK kept as a host atomic on guest RAM), LEAVE in 64-bit
/// code; and the hints that access nothing (PREFETCHh, ENDBR32/64: no code at all).
#include "emu/bt/block_emitter.h"
#include "emu/cpu.h"

namespace popek::emu::bt {
namespace {

constexpr bool has_gpr(const Insn& i, unsigned n) { return (i.gprs >> n) & 1u; }

bool is_setcc(uint16_t m) {
    switch (static_cast<ZydisMnemonic>(m)) {
        case ZYDIS_MNEMONIC_SETO: case ZYDIS_MNEMONIC_SETNO: case ZYDIS_MNEMONIC_SETB: case ZYDIS_MNEMONIC_SETNB:
        case ZYDIS_MNEMONIC_SETZ: case ZYDIS_MNEMONIC_SETNZ: case ZYDIS_MNEMONIC_SETBE: case ZYDIS_MNEMONIC_SETNBE:
        case ZYDIS_MNEMONIC_SETS: case ZYDIS_MNEMONIC_SETNS: case ZYDIS_MNEMONIC_SETP: case ZYDIS_MNEMONIC_SETNP:
        case ZYDIS_MNEMONIC_SETL: case ZYDIS_MNEMONIC_SETNL: case ZYDIS_MNEMONIC_SETLE: case ZYDIS_MNEMONIC_SETNLE:
            return true;
        default:
            return false;
    }
}

bool is_hint(uint16_t m) {
    switch (static_cast<ZydisMnemonic>(m)) {
        case ZYDIS_MNEMONIC_PREFETCH: case ZYDIS_MNEMONIC_PREFETCHNTA: case ZYDIS_MNEMONIC_PREFETCHT0:
        case ZYDIS_MNEMONIC_PREFETCHT1: case ZYDIS_MNEMONIC_PREFETCHT2: case ZYDIS_MNEMONIC_PREFETCHW:
        case ZYDIS_MNEMONIC_ENDBR32: case ZYDIS_MNEMONIC_ENDBR64:
            return true;
        default:
            return false;
    }
}

bool is_bit_test(uint16_t m) {
    return m == ZYDIS_MNEMONIC_BT || m == ZYDIS_MNEMONIC_BTS || m == ZYDIS_MNEMONIC_BTR || m == ZYDIS_MNEMONIC_BTC;
}

Xbyak::AddressFrame frame_of(unsigned size) {
    switch (size) {
        case 2: return Xbyak::AddressFrame(16);
        case 4: return Xbyak::AddressFrame(32);
        case 8: return Xbyak::AddressFrame(64);
        default: return Xbyak::AddressFrame(8);
    }
}

}  // namespace

bool is_native_memory_extra(const Insn& i, bool memory_ok, bool flat32, bool mode64) {
    if (i.fn == nullptr || i.fn == handle_undefined || i.cls != 0) return false;
    const bool lock = (i.prefix & kPrefixLock) != 0;
    // PREFETCHh never faults nor changes state (SDM Vol. 2B PREFETCHh); ENDBR is a NOP here (no CET).
    if (is_hint(i.mnemonic)) return !lock;
    if (!memory_ok || (i.prefix & (kPrefixRep | kPrefixRepne))) return false;
    if (i.mnemonic == ZYDIS_MNEMONIC_LEAVE) return mode64 && !lock && i.osize == 8;
    if (i.k0 != kOpMem || i.asize < 4) return false;
    if (flat32 && i.seg != kDs && i.seg != kEs && i.seg != kSs) return false;   // as memory_ops.cpp
    if (is_setcc(i.mnemonic)) return !lock && i.extra < 16;
    if (!is_bit_test(i.mnemonic) || i.osize < 2) return false;
    if (lock && i.mnemonic == ZYDIS_MNEMONIC_BT) return false;
    if (i.k1 == kOpImm) return true;
    // A register bit offset moves the address (bit string): with 32-bit addresses the sum wraps
    // at 4 GiB before an FS/GS base is added, which the fast path does not do.
    return i.k1 == kOpReg && has_gpr(i, 1) && (i.asize == 8 || (i.seg != kFs && i.seg != kGs));
}

void BlockEmitter::emit_memory_extra(const Insn& in) {
    if (is_hint(in.mnemonic)) return;
    if (in.mnemonic == ZYDIS_MNEMONIC_LEAVE) return emit_leave(in);
    // Registers resident before the slow path's entry state; the flags as emit_memory keeps them
    // (live in the host across a flag-free probe, else merged first).
    if (in.base < 16) greg(in.base);
    if (in.index < 16) greg(in.index);
    if (is_setcc(in.mnemonic)) {
        // SDM Vol. 2B SETcc: the byte is 1 when the condition holds, else 0; no flag changes.
        if (flag_free_probes()) need_flags(condition_flags(in.extra));
        else materialize_flags();
        SlowPath& slow = new_slow_path(in);
        emit_linear_address(in);
        emit_probe(true, 1, slow);
        need_flags(condition_flags(in.extra));   // no code when the probe kept them
        emit_condition(in.extra, byte[rsi]);
        slow.resume = m_regs.state();
        slow.flags_host_resume = m_host_flags != 0;
        L(slow.resume_label);
        return;
    }
    emit_bit_test_memory(in);
}

void BlockEmitter::emit_bit_test_memory(const Insn& in) {
    // SDM Vol. 2A BT/BTS/BTR/BTC with a memory operand: an immediate offset is taken modulo the
    // operand size; a register offset is signed and selects the operand-sized word at
    // EA + (offset >> log2(bits)) * bytes (bit string), then its bit offset mod bits. Only CF
    // changes (the interpreter keeps OF SF AF PF): the guest's flags go to Cpu::rflags first.
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    const unsigned size = in.osize, bits = size * 8;
    const bool by_reg = in.k1 == kOpReg;
    Xbyak::Reg offset;
    if (by_reg) offset = sized(greg(in.r1), size);
    materialize_flags();
    SlowPath& slow = new_slow_path(in);
    emit_linear_address(in);
    if (by_reg) {
        if (size == 2) movsx(rdx, offset);
        else if (size == 4) movsxd(rdx, offset);
        else mov(rdx, offset);
        sar(rdx, 3);   // the byte offset, rounded down to whole operands
        and_(rdx, static_cast<uint32_t>(-static_cast<int32_t>(size)));
        add(rax, rdx);
        if (in.asize == 4) mov(eax, eax);   // the effective address wraps (no FS/GS base here)
    }
    emit_probe(m != ZYDIS_MNEMONIC_BT, size, slow);
    const Xbyak::Address mem = frame_of(size)[rsi];
    const auto imm = static_cast<uint8_t>(in.imm & (bits - 1));
    Xbyak::Reg index;
    if (by_reg) {
        mov(ecx, offset.cvt32());
        and_(ecx, bits - 1);
        index = sized(1, size, 0);
    }
    if (in.prefix & kPrefixLock) lock();
    switch (m) {
        case ZYDIS_MNEMONIC_BTS: by_reg ? bts(mem, index) : bts(mem, imm); break;
        case ZYDIS_MNEMONIC_BTR: by_reg ? btr(mem, index) : btr(mem, imm); break;
        case ZYDIS_MNEMONIC_BTC: by_reg ? btc(mem, index) : btc(mem, imm); break;
        default: by_reg ? bt(mem, index) : bt(mem, imm); break;
    }
    produced(kCf);
    slow.resume = m_regs.state();
    slow.flags_host_resume = true;
    L(slow.resume_label);
}

void BlockEmitter::emit_leave(const Insn& in) {
    // SDM Vol. 2A LEAVE, 64-bit code: RSP = RBP, then RBP = the qword popped (SS has no base).
    // Nothing is written before the load has passed the probe, so a fault changes nothing.
    const Xbyak::Reg64& gsp = greg(hv::RSP);
    const Xbyak::Reg64& gbp = greg(hv::RBP);
    if (flag_free_probes()) observe_flags(kArithFlags);
    else materialize_flags();
    SlowPath& slow = new_slow_path(in);
    mov(rax, gbp);
    emit_probe(false, 8, slow);
    lea(gsp, ptr[rax + 8]);   // LEA and MOV: the host flags stay
    mov(gbp, qword[rsi]);
    m_regs.mark(hv::RSP);
    m_regs.mark(hv::RBP);
    slow.resume = m_regs.state();
    slow.flags_host_resume = m_host_flags != 0;
    L(slow.resume_label);
}

}  // namespace popek::emu::bt
