/// Blocks whose last instruction branches back to their own first one (a loop that fits in one
/// block: `1: ...; dec %ecx; jnz 1b`). Chained through its slot such a block would, per
/// iteration, write every cached guest register and the lazy flags back to the Cpu, return
/// through the slot's guards into its own chain entry and load the registers again. Here the
/// back edge stays inside the block: after the same guards a chained jump has (this slot's DMA
/// epoch, this vCPU's write mappings, attention, budget: so interrupts, timers and a DMA write
/// to the code are seen exactly as with chaining), it jumps to a loop head placed after the
/// registers the block names were loaded, with those registers still in place.
///
/// What the head assumes and the back edge re-establishes:
/// - registers: the head's residency (RegCache::emit_transition; the head treats them as dirty,
///   so a slow path or an exit before the back edge writes them all back);
/// - Cpu::rip at the block's first instruction (a handler call in the body moved it);
/// - flags: exact in Cpu::rflags for every flag that can be read before the body writes it
///   again (observe_flags / produced track that while the body is emitted). Flags the body
///   always rewrites first stay in the host over the back edge and are merged (from RDX) only
///   when a guard fails and the block leaves.
#include "emu/bt/block_emitter.h"
#include "emu/cpu.h"
#include "emu/decode/block_cache.h"

#include <bit>

namespace popek::emu::bt {

bool BlockEmitter::is_self_loop(const Block& b) const {
    if (!m_chain.slots || !b.cached || b.insns.empty()) return false;
    const Insn& last = b.insns.back();
    // 16-bit operand size truncates the target to 16 bits: not the block's start in general.
    if (!is_chained_branch(last) || last.osize == 2) return false;
    int64_t length = 0;
    for (const Insn& in : b.insns) length += in.len;
    return length + static_cast<int64_t>(last.imm) == 0;
}

void BlockEmitter::emit_loop_head(const Block& b) {
    uint32_t used = 0;
    for (const Insn& in : b.insns) {
        for (unsigned n = 0; n < 3; ++n) {
            const uint8_t r = n == 0 ? in.r0 : n == 1 ? in.r1 : in.r2;
            if ((in.gprs >> n) & 1u) used |= 1u << base_of(r);
        }
        if (in.base < 16) used |= 1u << in.base;
        if (in.index < 16) used |= 1u << in.index;
        const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
        if (m == ZYDIS_MNEMONIC_PUSH || m == ZYDIS_MNEMONIC_POP) used |= 1u << hv::RSP;
        if (m == ZYDIS_MNEMONIC_CMPXCHG) used |= 1u;
    }
    // More than the pool holds: nothing preloaded (the back edge then writes back what it holds).
    if (std::popcount(used) <= RegCache::kPool) {
        for (unsigned g = 0; g < RegCache::kGuestRegs; ++g) {
            if (!((used >> g) & 1u)) continue;
            m_regs.read(g);
            m_regs.mark(g);
        }
    }
    // A register to spare: the budget lives there until the block leaves or calls a handler
    // (sync_count and the slow paths fold it back), so iterations do not wait on each other's
    // stores to Cpu::budget and the count.
    if (std::popcount(used) < RegCache::kPool && loop_keeps_budget(b)) {
        m_budget_reg = m_regs.reserve();
        // Sign-extended: the back edge's guard tests the sign of the whole register.
        if (m_budget_reg >= 0) movsxd(RegCache::host(m_budget_reg), dword[rbx + m_layout.budget]);
    }
    // With the budget in a register the back edge's guards leave the host flags alone, so the
    // guest's arithmetic flags can stay in the host from pass to pass: loaded once here, merged
    // into Cpu::rflags only where something observes them (a slow path, an exit).
    m_head_flags = m_budget_reg >= 0 ? kArithFlags : 0;
    if (m_head_flags) {
        load_guest_flags();
        m_host_flags = m_head_flags;
    }
    m_regs.next_insn();
    m_head_state = m_regs.state();
    L(m_loop_head);
    m_rip_moved = false;
    m_flags_killed = m_flags_live_in = 0;
}

void BlockEmitter::emit_jcc(unsigned cc, const Xbyak::Label& to) {
    switch (cc & 15) {
        case 0: jo(to, T_NEAR); break;
        case 1: jno(to, T_NEAR); break;
        case 2: jb(to, T_NEAR); break;
        case 3: jnb(to, T_NEAR); break;
        case 4: jz(to, T_NEAR); break;
        case 5: jnz(to, T_NEAR); break;
        case 6: jbe(to, T_NEAR); break;
        case 7: jnbe(to, T_NEAR); break;
        case 8: js(to, T_NEAR); break;
        case 9: jns(to, T_NEAR); break;
        case 10: jp(to, T_NEAR); break;
        case 11: jnp(to, T_NEAR); break;
        case 12: jl(to, T_NEAR); break;
        case 13: jnl(to, T_NEAR); break;
        case 14: jle(to, T_NEAR); break;
        default: jnle(to, T_NEAR); break;
    }
}

void BlockEmitter::emit_loop_tail(const Block& b, const Insn& in, uint32_t offset) {
    // SDM Vol. 2A Jcc / Vol. 2B JMP: taken, the next RIP plus the displacement, which is the
    // block's first instruction here (is_self_loop).
    const int64_t page_offset = static_cast<int64_t>(b.gpa & 0xfff) + offset + in.len;
    ChainSlot* self = make_slot(b, 0, page_offset + static_cast<int64_t>(in.imm));
    if (in.mnemonic == ZYDIS_MNEMONIC_JMP) {
        emit_back_edge(b, in, self);
        return;
    }
    // Taken falls through into the back edge (one taken branch per iteration, its jump back);
    // not taken leaves as any block does, emitted after it from the state at the Jcc.
    Xbyak::Label not_taken;
    need_flags(condition_flags(in.extra));
    emit_jcc(in.extra ^ 1u, not_taken);
    observe_flags(kArithFlags);   // what the exit below reads, before the back edge decides
    const PathState here = save_path();
    emit_back_edge(b, in, self);
    restore_path(here);
    L(not_taken);
    sync_state();
    sync_count(1);
    mov(rcx, qword[rbx + m_layout.rip]);
    lea(rcx, ptr[rcx + m_rip_pending + in.len]);
    emit_exit(rcx, make_slot(b, 1, page_offset), false);
}

bool BlockEmitter::loop_keeps_budget(const Block& b) const {
    if (!flag_free_probes()) return false;   // the register guards need SHRX
    for (size_t k = 0; k + 1 < b.insns.size(); ++k) {
        const Insn& in = b.insns[k];
        const bool side_branch = is_chained_branch(in) && in.mnemonic != ZYDIS_MNEMONIC_JMP && in.osize != 2;
        if (!side_branch && !runs_inline(in)) return false;   // a handler call: the count would be synced mid-pass
    }
    return true;
}

void BlockEmitter::emit_register_guards(const Xbyak::Label& fail, int32_t insns) {
    // LEA, MOVZX, RORX and JECXZ leave RFLAGS alone: the guest's flags stay in the host over
    // the back edge. The register holds the budget sign-extended to 64 bits, so budget - 1 has
    // its upper half 0 while the budget is positive and all ones once it is not; RORX brings
    // that half down and ECX = attention + 2 * it is zero exactly when the pass may go on
    // (attention is 0 or 1: 1 + 2 * 0xffffffff is not 0 modulo 2^32).
    const Xbyak::Reg64& budget = RegCache::host(m_budget_reg);
    lea(budget, ptr[budget - insns]);
    movzx(ecx, byte[rbx + m_layout.attention]);
    lea(r8, ptr[budget - 1]);
    rorx(r8, r8, 32);
    lea(ecx, ptr[rcx + r8 * 2]);
    if (m_chain.chains_taken) {   // `--stats`: the count before the jump, which must stay last
        mov(r8, reinterpret_cast<uint64_t>(m_chain.chains_taken));
        mov(r9, qword[r8]);
        lea(r9, ptr[r9 + 1]);
        mov(qword[r8], r9);
    }
    // JECXZ reaches 127 bytes back; a loop longer than that goes through a near jump.
    constexpr ptrdiff_t kJecxzReach = 120;
    if (getCurr() - m_loop_head.getAddress() <= kJecxzReach) {
        jecxz(m_loop_head);
        jmp(fail, T_NEAR);
        return;
    }
    Xbyak::Label stay;
    jecxz(stay);
    jmp(fail, T_NEAR);
    L(stay);
    jmp(m_loop_head, T_NEAR);
}

void BlockEmitter::emit_budget_fold() {
    // Cpu::budget was last written (or the register loaded) before the passes the register has
    // been charged for since; each pass counts as many instructions as it charges (the block's
    // length at its back edge, less what a side branch's merge stub gave back: no handler call
    // in between, loop_keeps_budget). So: count += budget - register, budget = register. The
    // difference is negative when the loop leaves in its first pass after a stub gave some
    // back: it is sign-extended before it reaches the 64-bit count, and the register is left
    // sign-extended as the guards expect.
    const Xbyak::Reg64& r = RegCache::host(m_budget_reg);
    neg(r.cvt32());
    add(r.cvt32(), dword[rbx + m_layout.budget]);
    movsxd(r, r.cvt32());
    add(qword[rbx + m_layout.instructions], r);
    neg(r.cvt32());
    add(r.cvt32(), dword[rbx + m_layout.budget]);
    mov(dword[rbx + m_layout.budget], r.cvt32());
    movsxd(r, r.cvt32());
}

void BlockEmitter::emit_back_edge(const Block& b, const Insn& in, ChainSlot* slot) {
    // Flags the head may read before the body writes them must be in Cpu::rflags; the others
    // only matter if the block leaves: kept in RDX (the guards below clobber the host's), or
    // in the host itself behind the flag-free guards of a budget held in a register.
    const bool in_register = m_budget_reg >= 0;
    const uint64_t live = m_flags_live_in | (kArithFlags & ~m_flags_killed);
    uint64_t kept = 0;
    if (m_head_flags) {   // the head holds them in the host (emit_loop_head): so must the edge
        if (m_host_flags != m_head_flags) {
            materialize_flags();
            load_guest_flags();
        }
        kept = m_head_flags;
        m_host_flags = 0;
    } else if (m_host_flags & live) {
        materialize_flags();
    } else if (m_host_flags) {
        if (!in_register) {
            pushf();
            pop(rdx);
        }
        kept = m_host_flags;
        m_host_flags = 0;
    }
    m_regs.emit_transition(m_head_state);
    if (in_register) {
        // This pass's instructions are counted by the budget register's move below.
        if (m_count_pending + 1 != b.insns.size()) throw Xbyak::Error(Xbyak::ERR_INTERNAL);
        m_count_pending = 0;
    } else {
        sync_count(1);
    }
    // Cpu::rip back at the block's start: unchanged unless a handler call in the body moved it.
    const int64_t rip_delta = static_cast<int64_t>(m_rip_pending) + in.len + static_cast<int64_t>(in.imm);
    if (m_rip_moved && rip_delta && in_register) {   // LEA: the kept flags stay in the host
        mov(r8, qword[rbx + m_layout.rip]);
        lea(r8, ptr[r8 + static_cast<int32_t>(rip_delta)]);
        mov(qword[rbx + m_layout.rip], r8);
    } else if (m_rip_moved && rip_delta) {
        add(qword[rbx + m_layout.rip], static_cast<int32_t>(rip_delta));
    } else if (!m_rip_moved && rip_delta) throw Xbyak::Error(Xbyak::ERR_INTERNAL);   // not a self-loop
    m_rip_pending = 0;

    // The guards of a chained jump through this block's own slot.
    Xbyak::Label leave;
    if (in_register) {
        emit_register_guards(leave, static_cast<int32_t>(b.insns.size()));
    } else {
        mov(rax, reinterpret_cast<uint64_t>(slot));
        emit_chain_guards(leave, static_cast<int32_t>(b.insns.size()));
        jmp(m_loop_head, T_NEAR);
    }

    // A guard failed: the state the dispatcher expects after a block, the slot pending (it is
    // linked when this block runs translated next, as an unlinked chain would be).
    L(leave);
    if (in_register) {
        mov(rax, reinterpret_cast<uint64_t>(slot));   // (MOV: the kept flags are still in the host)
        if (kept) {
            pushf();
            pop(rdx);
        }
        emit_budget_fold();
    }
    m_regs.emit_write_back(m_head_state);
    if (kept) {
        mov(r10, qword[rbx + m_layout.rflags]);
        xor_(rdx, r10);
        and_(edx, static_cast<uint32_t>(kept));
        xor_(r10, rdx);
        mov(qword[rbx + m_layout.rflags], r10);
    }
    mov(r8, reinterpret_cast<uint64_t>(m_chain.pending_slot));
    mov(qword[r8], rax);
    jmp(m_exit, T_NEAR);
}

}  // namespace popek::emu::bt
