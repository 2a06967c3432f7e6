/// Inline memory fast paths of the block translator (64-bit code only). The emitted code does
/// what Cpu::read<T>/write<T> do on their hot path: the linear address (SDM Vol. 3A 3.3.7.1: in
/// 64-bit mode only FS and GS have a base), then the software TLB of the current privilege class
/// (emu/mmu/mmu.h TlbTable) probed for the page of the access's first and last byte, and the access
/// made through the host pointer. Whatever the probe does not prove plain, resident RAM — a TLB
/// miss, a page-crossing access, MMIO, the APIC page, a page holding code (never has a write tag)
/// — jumps to an out-of-line slow path that runs the interpreter's handler for the whole
/// instruction, exactly as a handler call would, and comes back with the same lazy RIP/count
/// state. So a non-canonical address (never in the TLB), #PF, an MMIO exit and self-modifying
/// code all behave as in the interpreter.
///
/// The operation itself is the same host instruction on the host pointer (LOCK kept: a locked
/// guest RMW is a host atomic on guest RAM, as emu/interp/alu.cpp does through Cpu::rmw_ptr).
#include <xbyak/xbyak_util.h>

#include "emu/bt/block_emitter.h"
#include "emu/cpu.h"

namespace popek::emu::bt {
namespace {

constexpr bool has_gpr(const Insn& i, unsigned n) { return (i.gprs >> n) & 1u; }

enum class Form : uint8_t { None, LoadOp, StoreOp, Extend, Unary, Exchange, Push, Pop };

Form form_of(const Insn& i, bool flat32) {
    if (i.fn == nullptr || i.fn == handle_undefined || i.cls != 0) return Form::None;
    // 32-bit code: DS/ES/SS accesses only (flat, kModeFlat32); CS, FS and GS keep their checks.
    if (flat32 && (i.k0 == kOpMem || i.k1 == kOpMem) && i.seg != kDs && i.seg != kEs && i.seg != kSs)
        return Form::None;
    const unsigned stack_size = flat32 ? 4 : 8;
    if (i.prefix & (kPrefixRep | kPrefixRepne)) return Form::None;
    const bool lock = (i.prefix & kPrefixLock) != 0;
    const bool reg0 = i.k0 == kOpReg && has_gpr(i, 0);
    const bool reg1 = i.k1 == kOpReg && has_gpr(i, 1);
    const bool mem0 = i.k0 == kOpMem, mem1 = i.k1 == kOpMem;
    const bool src1 = reg1 || i.k1 == kOpImm;
    const bool high8_src = i.osize == 1 && i.r1 >= 16;
    if ((mem0 || mem1) && i.asize < 4) return Form::None;   // no 16-bit addressing in 64-bit code
    switch (static_cast<ZydisMnemonic>(i.mnemonic)) {
        case ZYDIS_MNEMONIC_MOV:
            if (lock) return Form::None;
            if (mem0 && src1) return Form::StoreOp;
            return reg0 && mem1 ? Form::LoadOp : Form::None;
        case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_ADC: case ZYDIS_MNEMONIC_SBB:
        case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_XOR:
            if (mem0 && src1) return Form::StoreOp;
            return !lock && reg0 && mem1 ? Form::LoadOp : Form::None;
        case ZYDIS_MNEMONIC_CMP:
            if (lock) return Form::None;
            if (mem0 && src1) return Form::StoreOp;   // read only: see is_write()
            return reg0 && mem1 ? Form::LoadOp : Form::None;
        case ZYDIS_MNEMONIC_TEST:
            return !lock && mem0 && src1 ? Form::StoreOp : Form::None;
        case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX:
            return !lock && reg0 && mem1 && i.size1 < i.osize && i.osize >= 2 && i.size1 <= 2 ? Form::Extend
                                                                                               : Form::None;
        case ZYDIS_MNEMONIC_MOVSXD:
            return !lock && reg0 && mem1 && i.osize == 8 && i.size1 == 4 ? Form::Extend : Form::None;
        case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC: case ZYDIS_MNEMONIC_NEG: case ZYDIS_MNEMONIC_NOT:
            return mem0 ? Form::Unary : Form::None;
        case ZYDIS_MNEMONIC_XCHG: case ZYDIS_MNEMONIC_XADD: case ZYDIS_MNEMONIC_CMPXCHG:
            return mem0 && reg1 && !high8_src ? Form::Exchange : Form::None;
        case ZYDIS_MNEMONIC_PUSH:
            return !lock && i.osize == stack_size && (reg0 || i.k0 == kOpImm) ? Form::Push : Form::None;
        case ZYDIS_MNEMONIC_POP:
            return !lock && i.osize == stack_size && reg0 ? Form::Pop : Form::None;
        default:
            return Form::None;
    }
}

/// Bytes of memory the instruction accesses.
unsigned access_size(Form f, const Insn& i) { return f == Form::Extend ? i.size1 : i.osize; }

/// True when the memory operand is written (a write tag is needed).
bool is_write(Form f, const Insn& i) {
    switch (f) {
        case Form::StoreOp:
            return i.mnemonic != ZYDIS_MNEMONIC_CMP && i.mnemonic != ZYDIS_MNEMONIC_TEST;
        case Form::Unary: case Form::Exchange: case Form::Push:
            return true;
        default:
            return false;
    }
}

}  // namespace

bool is_native_memory(const Insn& insn, bool flat32) { return form_of(insn, flat32) != Form::None; }

BlockEmitter::SlowPath& BlockEmitter::new_slow_path(const Insn& in) {
    SlowPath& slow = m_slow.emplace_back();
    slow.in = &in;
    slow.rip_pending = m_rip_pending;
    slow.count_pending = m_count_pending;
    slow.entry = m_regs.state();
    slow.entry_host_flags = m_host_flags;
    slow.xmm_resume = m_xmm_valid;   // a GPR access keeps them; emit_sse sets its own
    return slow;
}

void BlockEmitter::emit_linear_address(const Insn& in) {
    // Effective address (SDM Vol. 2A 2.1.5, 2.2.1.6 RIP-relative), truncated to the address size.
    // The registers are resident already (emit_memory): nothing here changes the cache.
    const bool disp32 = in.disp >= INT32_MIN && in.disp <= INT32_MAX;
    if (in.base == kRegRip) {
        mov(rax, qword[rbx + m_layout.rip]);
        const int64_t rel = in.disp + m_rip_pending + in.len;   // from the next instruction
        if (rel >= INT32_MIN && rel <= INT32_MAX) {
            lea(rax, ptr[rax + static_cast<int32_t>(rel)]);
        } else {
            mov(rcx, static_cast<uint64_t>(rel));
            lea(rax, ptr[rax + rcx]);
        }
    } else if (disp32 && (in.base != kRegNone || in.index != kRegNone)) {
        const bool a32 = in.asize == 4;
        auto r = [&](uint8_t g) { return a32 ? Xbyak::Reg(greg(g).cvt32()) : Xbyak::Reg(greg(g)); };
        const auto disp = static_cast<int32_t>(in.disp);
        const Xbyak::Reg dst = a32 ? Xbyak::Reg(eax) : Xbyak::Reg(rax);   // 32-bit: zero-extended
        if (in.base != kRegNone && in.index != kRegNone) lea(dst, ptr[r(in.base) + r(in.index) * (1 << in.scale_shift) + disp]);
        else if (in.base != kRegNone) lea(dst, ptr[r(in.base) + disp]);
        else lea(dst, ptr[r(in.index) * (1 << in.scale_shift) + disp]);
    } else {
        mov(rax, static_cast<uint64_t>(in.disp));
        if (in.base != kRegNone) lea(rax, ptr[rax + greg(in.base)]);
        if (in.index != kRegNone) lea(rax, ptr[rax + greg(in.index) * (1 << in.scale_shift)]);
        if (in.asize == 4) mov(eax, eax);
    }
    if (in.seg == kFs || in.seg == kGs) {   // LEA, not ADD: the host may hold the guest's flags
        mov(rcx, qword[rbx + (in.seg == kFs ? m_layout.fs_base : m_layout.gs_base)]);
        lea(rax, ptr[rax + rcx]);
    }
}

bool BlockEmitter::flag_free_probes() {
    static const bool bmi2 = Xbyak::util::Cpu().has(Xbyak::util::Cpu::tBMI2);
    return bmi2;
}

namespace {
constexpr auto kTlbAddend = static_cast<int32_t>(offsetof(TlbTable, addend));
constexpr int32_t tlb_tag_field(bool write) {
    return static_cast<int32_t>(write ? offsetof(TlbTable, write) : offsetof(TlbTable, read));
}
}  // namespace

void BlockEmitter::emit_tlb_index(unsigned size, bool flag_free) {
    // The set is that of the first byte's page, the tag compared that of the last byte's: a
    // page-crossing access looks for the next page in this page's set, where it never is.
    if (flag_free) {   // MOV, LEA, MOVZX and BMI2 shifts: RFLAGS untouched
        mov(ecx, 12);
        if (size > 1) {
            lea(rsi, ptr[rax + static_cast<int32_t>(size - 1)]);
            shrx(rsi, rsi, rcx);
            shrx(rdx, rax, rcx);
            movzx(edx, dl);
        } else {
            shrx(rsi, rax, rcx);
            movzx(edx, sil);
        }
    } else {
        if (size > 1) {
            lea(rsi, ptr[rax + static_cast<int32_t>(size - 1)]);
            shr(rsi, 12);
            mov(rdx, rax);
            shr(rdx, 12);
            movzx(edx, dl);
        } else {
            mov(rsi, rax);
            shr(rsi, 12);
            movzx(edx, sil);
        }
        neg(rsi);   // the tag itself (tlb_tag)
    }
    mov(r10, qword[rbx + m_layout.tlb_active]);
}

void BlockEmitter::emit_probe(bool write, unsigned size, SlowPath& slow) {
    // A hit when way 0's tag (way 1's, checked out of line) is that of the page of the access's
    // last byte (emu/mmu/mmu.h tlb_tag); the host address is then the entry's addend + RAX.
    static_assert(kTlbSize == 256 && kTlbWay1 == 2048);
    const int32_t tag = tlb_tag_field(write);
    Way1Check& w = m_way1.emplace_back();
    w.slow = &slow.entry_label;
    w.tag = tag;
    w.flag_free = m_host_flags != 0 && flag_free_probes();
    emit_tlb_index(size, w.flag_free);
    if (w.flag_free) {
        // The guest's flags are live in the host: RCX = page number + tag, zero on a hit.
        mov(rcx, qword[r10 + rdx * 8 + tag]);
        lea(rcx, ptr[rsi + rcx]);
        Xbyak::Label hit;
        jrcxz(hit);
        jmp(w.entry, T_NEAR);
        L(hit);
        L(w.back);
        mov(rsi, qword[r10 + rdx * 8 + kTlbAddend]);
        lea(rsi, ptr[rsi + rax]);
        return;
    }
    cmp(rsi, qword[r10 + rdx * 8 + tag]);
    jne(w.entry, T_NEAR);
    L(w.back);
    mov(rsi, qword[r10 + rdx * 8 + kTlbAddend]);
    add(rsi, rax);
}

void BlockEmitter::emit_way1_checks() {
    for (Way1Check& w : m_way1) {
        L(w.entry);
        if (w.flag_free) {   // RSI: the page number of the last byte
            mov(rcx, qword[r10 + rdx * 8 + kTlbWay1 + w.tag]);
            lea(rcx, ptr[rsi + rcx]);
            Xbyak::Label hit;
            jrcxz(hit);
            jmp(*w.slow, T_NEAR);
            L(hit);
            lea(r10, ptr[r10 + kTlbWay1]);
            jmp(w.back, T_NEAR);
            continue;
        }
        cmp(rsi, qword[r10 + rdx * 8 + kTlbWay1 + w.tag]);   // RSI: the tag of the last byte's page
        jne(*w.slow, T_NEAR);
        add(r10, kTlbWay1);
        jmp(w.back, T_NEAR);
    }
}

void BlockEmitter::emit_memory(const Insn& in) {
    // The slow path may fault, so it needs the guest flags exact in Cpu::rflags: with BMI2 the
    // probe (and a flat 32-bit PUSH/POP's ESP update) leaves the host's flags alone and the slow
    // path merges them; otherwise they are merged here (the probe clobbers them). Every register the instruction names is
    // made resident before the slow path's entry state is taken, so the fast path changes no
    // residency.
    if (flag_free_probes()) observe_flags(kArithFlags);
    else materialize_flags();
    if (hoisted_reg(in) < 0) {   // a hoisted address needs neither resident
        if (in.base < 16) greg(in.base);
        if (in.index < 16) greg(in.index);
    }
    if (has_gpr(in, 0)) greg(in.r0);
    if (has_gpr(in, 1)) greg(in.r1);
    const Form f = form_of(in, m_flat32);
    if (f == Form::Push || f == Form::Pop) greg(hv::RSP);
    if (in.mnemonic == ZYDIS_MNEMONIC_CMPXCHG) greg(0);
    SlowPath& slow = new_slow_path(in);
    if (f == Form::Push || f == Form::Pop) emit_stack(in, slow);
    else emit_memory_alu(in, slow);
    slow.resume = m_regs.state();
    slow.flags_host_resume = m_host_flags != 0;
    L(slow.resume_label);
}

bool BlockEmitter::hoistable(const Insn& in) const {
    if (!memory_inline(in) || in.base == kRegRip || in.disp < INT32_MIN || in.disp > INT32_MAX) return false;
    const Form f = form_of(in, m_flat32);
    return f != Form::None && f != Form::Push && f != Form::Pop;
}

void BlockEmitter::memory_extent(const Insn& in, unsigned& size, bool& write) const {
    const Form f = form_of(in, m_flat32);
    size = access_size(f, in);
    write = is_write(f, in);
}

void BlockEmitter::emit_address_from_gpr(const Insn& in, int32_t disp) {
    // RAX = the linear address with displacement `disp`, as emit_linear_address computes it, from
    // the registers in Cpu::gpr; MOV and LEA only (the host flags may hold the guest's).
    const auto gpr = [&](uint8_t g) { return qword[rbx + m_layout.gpr + 8 * g]; };
    if (in.base < 16 && in.index < 16) {
        mov(rax, gpr(in.base));
        mov(rcx, gpr(in.index));
        lea(rax, ptr[rax + rcx * (1 << in.scale_shift) + disp]);
    } else if (in.base < 16) {
        mov(rax, gpr(in.base));
        lea(rax, ptr[rax + disp]);
    } else if (in.index < 16) {
        mov(rcx, gpr(in.index));
        lea(rax, ptr[rcx * (1 << in.scale_shift) + disp]);
    } else {
        mov(rax, static_cast<uint64_t>(static_cast<int64_t>(disp)));
    }
    if (in.asize == 4) mov(eax, eax);
    if (in.seg == kFs || in.seg == kGs) {
        mov(rcx, qword[rbx + (in.seg == kFs ? m_layout.fs_base : m_layout.gs_base)]);
        lea(rax, ptr[rax + rcx]);
    }
}

void BlockEmitter::emit_hoisted_probe(int k) {
    // The group's first byte as emit_linear_address computes an address, from the registers in
    // Cpu::gpr; the probe covers the group's whole range (a range crossing a page misses).
    const Hoisted& h = m_hoisted[k];
    const Insn& in = *h.in;
    emit_address_from_gpr(in, static_cast<int32_t>(h.lo));
    // The host address of a TLB hit (either way), else 0 (the members then probe on their own).
    const auto size = static_cast<unsigned>(h.hi - h.lo);
    const Xbyak::Reg64& host = RegCache::host(h.reg);
    xor_(host.cvt32(), host.cvt32());
    Xbyak::Label done;
    emit_tlb_both_ways(size, tlb_tag_field(h.write), host, done);
    L(done);
}

void BlockEmitter::emit_tlb_both_ways(unsigned size, int32_t tag, const Xbyak::Reg64& out, const Xbyak::Label& miss) {
    emit_tlb_index(size, false);
    Xbyak::Label way0;
    cmp(rsi, qword[r10 + rdx * 8 + tag]);
    je(way0);
    cmp(rsi, qword[r10 + rdx * 8 + kTlbWay1 + tag]);
    jne(miss, T_NEAR);
    add(r10, kTlbWay1);
    L(way0);
    mov(out, qword[r10 + rdx * 8 + kTlbAddend]);
    add(out, rax);
}

void BlockEmitter::emit_hoisted_access(const Insn& in, int reg, int32_t offset, SlowPath& slow) {
    // MOV, LEA and JRCXZ only: the host flags may hold the guest's.
    const Xbyak::Reg64& host = RegCache::host(reg);
    Xbyak::Label own, done;
    mov(rcx, host);
    jrcxz(own);
    lea(rsi, ptr[host + offset]);   // RSI: no REX prefix needed (AH..BH stay encodable)
    jmp(done, T_NEAR);
    L(own);
    // The group missed (or straddles a page): this operand's own probe. Its base and index are
    // not resident (the loop never writes them): their values are exact in Cpu::gpr.
    emit_address_from_gpr(in, static_cast<int32_t>(in.disp));
    unsigned size = 0;
    bool write = false;
    memory_extent(in, size, write);
    emit_probe(write, size, slow);
    L(done);
}

void BlockEmitter::emit_memory_alu(const Insn& in, SlowPath& slow) {
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    const Form f = form_of(in, m_flat32);
    const unsigned size = access_size(f, in);
    const Xbyak::AddressFrame sz = frame_of(size);
    int32_t offset = 0;
    if (const int h = hoisted_reg(in, &offset); h >= 0) {
        emit_hoisted_access(in, h, offset, slow);
    } else {
        emit_linear_address(in);
        emit_probe(is_write(f, in), size, slow);
    }
    const Xbyak::Address mem = sz[rsi];
    const bool lock = (in.prefix & kPrefixLock) != 0;
    const bool high_dst = size == 1 && has_gpr(in, 0) && in.r0 >= 16;
    const bool high_src = size == 1 && has_gpr(in, 1) && in.r1 >= 16;
    switch (f) {
        case Form::LoadOp: {
            if (m == ZYDIS_MNEMONIC_MOV && size >= 4) {
                const Xbyak::Reg64& d = m_regs.write(base_of(in.r0));
                mov(size == 8 ? Xbyak::Reg(d) : Xbyak::Reg(d.cvt32()), mem);   // 32-bit zero-extends
                return;
            }
            if (high_dst) load_full(0, in.r0);
            const Xbyak::Reg dst = high_dst ? sized(0, size, in.r0) : sized(greg(in.r0), size);
            if (m == ZYDIS_MNEMONIC_ADC || m == ZYDIS_MNEMONIC_SBB) need_flags(kCf);
            if (m == ZYDIS_MNEMONIC_MOV) {
                mov(dst, mem);
            } else {
                emit_alu(m, dst, mem, false, 0);
                produced(kArithFlags);
                if (m == ZYDIS_MNEMONIC_CMP) return;
            }
            if (high_dst) store_full(0, in.r0);
            else m_regs.mark(base_of(in.r0));
            return;
        }
        case Form::StoreOp: {
            Xbyak::Reg src;
            const bool imm = in.k1 == kOpImm;
            if (high_src) src = load_source(in, size);
            else if (!imm) src = sized(greg(in.r1), size);
            const uint64_t iv = imm_sx(size, in.imm);
            if (m == ZYDIS_MNEMONIC_MOV) {
                if (imm) mov(mem, iv);
                else mov(mem, src);
                return;
            }
            if (m == ZYDIS_MNEMONIC_ADC || m == ZYDIS_MNEMONIC_SBB) need_flags(kCf);
            if (lock) this->lock();
            emit_alu(m, mem, imm ? Xbyak::Operand(mem) : Xbyak::Operand(src), imm, static_cast<uint32_t>(iv));
            produced(kArithFlags);
            return;
        }
        case Form::Extend: {
            const bool sign = m != ZYDIS_MNEMONIC_MOVZX;
            if (in.osize == 2) {   // only bits 15:0 of the destination are written
                const Xbyak::Reg dst = greg(in.r0).cvt16();
                if (sign) movsx(dst, mem);
                else movzx(dst, mem);
                m_regs.mark(base_of(in.r0));
                return;
            }
            const Xbyak::Reg64& d = m_regs.write(base_of(in.r0));
            if (m == ZYDIS_MNEMONIC_MOVSXD) movsxd(d, mem);
            else if (sign) movsx(in.osize == 8 ? Xbyak::Reg(d) : Xbyak::Reg(d.cvt32()), mem);
            else movzx(d.cvt32(), mem);   // zero-extends to 64 bits as well
            return;
        }
        case Form::Unary: {
            if (lock) this->lock();
            switch (m) {
                case ZYDIS_MNEMONIC_INC: inc(mem); produced(kArithFlags & ~kCf); return;
                case ZYDIS_MNEMONIC_DEC: dec(mem); produced(kArithFlags & ~kCf); return;
                case ZYDIS_MNEMONIC_NEG: neg(mem); produced(kArithFlags); return;
                default: not_(mem); return;
            }
        }
        case Form::Exchange: {
            const Xbyak::Reg src = sized(greg(in.r1), size);
            m_regs.mark(base_of(in.r1));
            if (m == ZYDIS_MNEMONIC_XCHG) {
                xchg(mem, src);   // implicitly locked, as the guest's
                return;
            }
            if (m == ZYDIS_MNEMONIC_XADD) {
                if (lock) this->lock();
                xadd(mem, src);
                produced(kArithFlags);
                return;
            }
            // CMPXCHG: the accumulator is written only when the comparison fails (then, at 32
            // bits, zero-extended), as emu/interp/alu.cpp does (SDM Vol. 2A CMPXCHG operation).
            // Host CMPXCHG works on RAX: the guest's accumulator is copied in and out.
            const Xbyak::Reg64& acc = greg(0);
            mov(rax, acc);
            if (lock) this->lock();
            cmpxchg(mem, src);
            Xbyak::Label equal;
            jz(equal);
            mov(acc, rax);   // MOV keeps the flags
            L(equal);
            m_regs.mark(0);
            produced(kArithFlags);
            return;
        }
        default:
            return;
    }
}

void BlockEmitter::emit_stack(const Insn& in, SlowPath& slow) {
    // PUSH r/imm and POP r (SDM Vol. 2B PUSH, POP). 64-bit: SS has no base, RSP is 64 bits wide.
    // Flat 32-bit code: SS base 0 and SS.B set (kModeFlat32), ESP wraps at 4 GiB and the upper
    // half of RSP is kept, as Cpu::push/pop do.
    const Xbyak::Reg64& gsp = greg(hv::RSP);
    const int n = m_flat32 ? 4 : 8;
    const Xbyak::AddressFrame& frame = m_flat32 ? dword : qword;
    auto set_sp = [&](int delta) {
        if (!m_flat32) {
            lea(gsp, ptr[gsp + delta]);
        } else if (flag_free_probes()) {   // rsp = (rsp >> 32 << 32) + (esp + delta), flags kept
            lea(ecx, ptr[gsp.cvt32() + delta]);
            mov(edx, 32);
            shrx(gsp, gsp, rdx);
            shlx(gsp, gsp, rdx);
            lea(gsp, ptr[gsp + rcx]);
        } else {   // rsp ^= (rsp ^ (esp + delta)) & 0xffffffff (flags: materialized by emit_memory)
            lea(ecx, ptr[gsp.cvt32() + delta]);
            xor_(rcx, gsp);
            mov(ecx, ecx);
            xor_(gsp, rcx);
        }
        m_regs.mark(hv::RSP);
    };
    if (in.mnemonic == ZYDIS_MNEMONIC_PUSH) {
        if (m_flat32) lea(eax, ptr[gsp.cvt32() - n]);
        else lea(rax, ptr[gsp - n]);
        emit_probe(true, static_cast<unsigned>(n), slow);
        if (in.k0 == kOpImm) mov(frame[rsi], imm_sx(static_cast<unsigned>(n), in.imm));
        else mov(frame[rsi], sized(greg(in.r0), static_cast<unsigned>(n)));   // PUSH rSP: the value before
        set_sp(-n);
        return;
    }
    if (m_flat32) mov(eax, gsp.cvt32());
    else mov(rax, gsp);
    emit_probe(false, static_cast<unsigned>(n), slow);
    set_sp(n);
    const Xbyak::Reg64& d = m_regs.write(base_of(in.r0));   // POP rSP: the popped value wins
    mov(sized(d, static_cast<unsigned>(n)), frame[rsi]);      // 32-bit: zero-extends
}

void BlockEmitter::emit_handler_call(const Insn& in) {
    if (m_chain.handler_exits) {
        mov(rax, reinterpret_cast<uint64_t>(&m_chain.handler_exits[in.mnemonic]));
        inc(qword[rax]);
    }
    mov(rdi, rbx);
    mov(rsi, reinterpret_cast<uint64_t>(&in));
    mov(rax, reinterpret_cast<uint64_t>(in.fn));
    call(rax);
}

void BlockEmitter::emit_slow_paths() {
    emit_way1_checks();
    for (SlowPath& s : m_slow) {
        L(s.entry_label);
        // Exact state for the handler (it may fault): the flags, registers, RIP, next RIP, the
        // instruction counted.
        if (s.entry_host_flags) merge_host_flags(s.entry_host_flags);
        m_regs.emit_write_back(s.entry);
        const uint32_t rip_after = s.rip_pending + s.in->len;
        if (s.rip_pending) add(qword[rbx + m_layout.rip], s.rip_pending);
        mov(rax, qword[rbx + m_layout.rip]);
        add(rax, s.in->len);
        mov(qword[rbx + m_layout.next_rip], rax);
        add(qword[rbx + m_layout.instructions], s.count_pending + 1);
        if (m_budget_reg >= 0) emit_budget_fold();   // exact for the handler (it may fault)
        emit_handler_call(*s.in);
        mov(rax, qword[rbx + m_layout.next_rip]);
        mov(qword[rbx + m_layout.rip], rax);
        if (s.exit_after) {   // the block's last instruction: RIP and the count are exact
            jmp(m_exit, T_NEAR);
            continue;
        }
        cmp(byte[rbx + m_layout.brk], 0);   // an MMIO write exit or a write into this block's code
        jne(m_exit, T_NEAR);
        // The instruction retired: its I/O log is done with (a chained jump clears it; a
        // self-loop's back edge does not, slow paths being the only handlers its passes call).
        if (m_budget_reg >= 0) mov(byte[rbx + m_layout.replay_valid], 0);
        // Back to the fast path's lazy state: RIP and the count not yet advanced by this block,
        // the registers it holds reloaded, the guest flags in the host if it left them there.
        sub(qword[rbx + m_layout.rip], rip_after);
        sub(qword[rbx + m_layout.instructions], s.count_pending + 1);
        m_regs.emit_reload(s.resume);
        // The handler may have cleared the budget (an interrupt made deliverable).
        if (m_budget_reg >= 0) movsxd(RegCache::host(m_budget_reg), dword[rbx + m_layout.budget]);
        // It may have filled the TLB (a hoisted probe that missed hits now), and RDI/R11 are
        // not preserved by the call: probe the hoisted operands again.
        // Outside a loop only a group with members still ahead needs it.
        for (int k = 0; k < m_hoisted_n; ++k)
            if (m_loop || s.in < m_hoisted[k].last) emit_hoisted_probe(k);
        emit_xmm_reload(s.xmm_resume);   // host XMMs are caller-saved
        if (s.flags_host_resume) load_guest_flags();
        jmp(s.resume_label, T_NEAR);
    }
}

}  // namespace popek::emu::bt
