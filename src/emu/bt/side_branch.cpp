/// Conditional jumps in the middle of a block (BlockCache decodes past up to kMaxSideExits of
/// them). Not taken, the block goes on; taken (SDM Vol. 2A Jcc: the next RIP plus the
/// displacement), it either jumps forward to a later instruction of the same block, or leaves the
/// block as a block-ending branch does (a chained exit through its own slot).
///
/// A forward jump inside the block meets the fall-through path at a merge point. The emitter's
/// lazy state (register residency, guest flags in the host, RIP and instruction count not yet
/// written) differs between the two paths; the merge point takes the fall-through's, and the
/// jump goes through an out-of-line stub that makes its own state that one with MOV/LEA only:
/// - registers: RegCache::emit_transition (dirty ones leaving their place stored, the others
///   loaded); the merge point marks dirty what either path holds newer in the same place;
/// - flags: kept in the host when both paths hold the same ones there, else merged into
///   Cpu::rflags on both;
/// - Cpu::rip and the instruction count: the stub adds the difference, so that after the merge
///   point both are what the fall-through's pending counts assume.
/// Flags written on one path only are not "killed" after the merge point (the loop head's
/// liveness, block_loop.cpp, takes the intersection).
#include "emu/bt/block_emitter.h"
#include "emu/cpu.h"
#include "emu/decode/block_cache.h"

namespace popek::emu::bt {

unsigned BlockEmitter::slots_needed(const Block& b) {
    unsigned n = 2;
    for (size_t k = 0; k + 1 < b.insns.size(); ++k)
        if (is_jcc(b.insns[k].mnemonic) || b.insns[k].mnemonic == ZYDIS_MNEMONIC_JMP) ++n;
    return n;
}

void BlockEmitter::emit_side_branch(const Block& b, size_t k, uint32_t offset) {
    const Insn& in = b.insns[k];
    need_flags(condition_flags(in.extra));
    m_rip_pending += in.len;   // the Jcc has run on both paths
    ++m_count_pending;
    const uint32_t after = offset + in.len;
    const int64_t target = static_cast<int64_t>(after) + static_cast<int64_t>(in.imm);
    size_t t = k + 1;
    while (t < b.insns.size() && m_offsets[t] < target) ++t;
    if (t < b.insns.size() && m_offsets[t] == target) {
        Merge& mg = m_merges.emplace_back();
        mg.target = t;
        mg.regs = m_regs.save();
        mg.host_flags = m_host_flags;
        mg.killed = m_flags_killed;
        mg.offset = after;
        mg.rip_pending = m_rip_pending;
        mg.count_pending = m_count_pending;
        mg.rip_moved = m_rip_moved;
        emit_jcc(in.extra, mg.stub);
        return;
    }
    // Elsewhere: leave as a block-ending Jcc does when taken; not taken jumps over that.
    Xbyak::Label stay;
    emit_jcc(in.extra ^ 1u, stay);
    const PathState here = save_path();
    sync_state();
    sync_count(0);
    mov(rcx, qword[rbx + m_layout.rip]);
    lea(rcx, ptr[rcx + m_rip_pending]);   // the next instruction's RIP
    const bool truncated = emit_branch_target(in);
    const int64_t page_offset = static_cast<int64_t>(b.gpa & 0xfff) + after;
    emit_exit(rax, make_slot(b, m_next_slot++, page_offset + static_cast<int64_t>(in.imm)), truncated);
    restore_path(here);
    L(stay);
}

void BlockEmitter::emit_merge_point(size_t k, uint32_t offset) {
    bool any = false, same_flags = true;
    for (const Merge& mg : m_merges) {
        if (mg.target != k) continue;
        any = true;
        same_flags = same_flags && mg.host_flags == m_host_flags;
    }
    if (!any) return;
    if (!same_flags && m_host_flags) {   // nothing reads them here: no observe_flags
        merge_host_flags(m_host_flags);
        m_host_flags = 0;
    }
    const RegCache::State here = m_regs.state();
    for (const Merge& mg : m_merges) {
        if (mg.target != k) continue;
        const RegCache::State& there = mg.regs.state;
        for (unsigned g = 0; g < RegCache::kGuestRegs; ++g)
            if (there.host_of[g] >= 0 && there.host_of[g] == here.host_of[g] && ((there.dirty >> g) & 1u))
                m_regs.mark(g);
    }
    Xbyak::Label& point = m_points.emplace_back();
    for (Merge& mg : m_merges) {
        if (mg.target != k) continue;
        mg.point = &point;
        mg.to = m_regs.state();
        mg.merge_flags = !same_flags;
        // Cpu::rip is (offset - pending) past the block's start on the fall-through, (mg.offset -
        // mg.rip_pending) on the jump; the counts likewise.
        mg.rip_delta = (static_cast<int64_t>(offset) - m_rip_pending) -
                       (static_cast<int64_t>(mg.offset) - mg.rip_pending);
        mg.count_delta = static_cast<int64_t>(mg.count_pending) - m_count_pending;
        m_flags_killed &= mg.killed;
        m_rip_moved = m_rip_moved || mg.rip_moved || mg.rip_delta != 0;
    }
    L(point);
}

void BlockEmitter::emit_merge_stubs() {
    for (Merge& mg : m_merges) {
        L(mg.stub);
        m_regs.restore(mg.regs);
        if (mg.merge_flags && mg.host_flags) merge_host_flags(mg.host_flags);
        // LEA, not ADD: the guest's flags may stay in the host across the merge point. A
        // self-loop holding the budget in a register charges each pass the whole block at its
        // back edge: the instructions this path skipped are given back to the register (no
        // store to the Cpu, which the next pass would wait on).
        if (mg.count_delta && m_budget_reg >= 0) {
            const Xbyak::Reg64& budget = RegCache::host(m_budget_reg);
            lea(budget, ptr[budget - static_cast<int32_t>(mg.count_delta)]);
        } else if (mg.count_delta) {
            mov(rsi, qword[rbx + m_layout.instructions]);
            lea(rsi, ptr[rsi + static_cast<int32_t>(mg.count_delta)]);
            mov(qword[rbx + m_layout.instructions], rsi);
        }
        if (mg.rip_delta) {
            mov(rsi, qword[rbx + m_layout.rip]);
            lea(rsi, ptr[rsi + static_cast<int32_t>(mg.rip_delta)]);
            mov(qword[rbx + m_layout.rip], rsi);
        }
        m_regs.emit_transition(mg.to);
        jmp(*mg.point, T_NEAR);
    }
}

}  // namespace popek::emu::bt
