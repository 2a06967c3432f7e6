#include "emu/bt/block_emitter.h"
#include "emu/mmu/mmu.h"

#include "emu/cpu.h"
#include "emu/decode/block_cache.h"

namespace popek::emu::bt {
namespace {

int32_t offset_in(const Cpu& cpu, const void* field) {
    return static_cast<int32_t>(static_cast<const char*>(field) - reinterpret_cast<const char*>(&cpu));
}

}  // namespace

CpuLayout CpuLayout::of(const Cpu& c) {
    CpuLayout l;
    l.gpr = offset_in(c, &c.gpr[0]);
    l.rip = offset_in(c, &c.rip);
    l.rflags = offset_in(c, &c.rflags);
    l.next_rip = offset_in(c, &c.next_rip);
    l.brk = offset_in(c, &c.brk);
    l.attention = offset_in(c, &c.attention);
    l.budget = offset_in(c, &c.budget);
    l.replay_valid = offset_in(c, c.exits().replaying_flag());
    l.fs_base = offset_in(c, &c.seg[kFs].base);
    l.gs_base = offset_in(c, &c.seg[kGs].base);
    l.cr0 = offset_in(c, &c.cr0);
    l.cr4 = offset_in(c, &c.cr4);
    l.xmm = offset_in(c, &c.fpu.xmm[0][0]);
    return l;   // instructions, tlb_active, map_gen: private, the Translator (a friend) fills them
}

BlockEmitter::BlockEmitter(const CpuLayout& layout, const ChainContext& chain, uint8_t* buffer, size_t max)
    : Xbyak::CodeGenerator(max, buffer), m_layout(layout), m_chain(chain), m_regs(*this, layout.gpr) {}

void BlockEmitter::emit_prologue() {
    // RBX holds the Cpu; RBP and R12-R15 hold guest registers (all callee-saved in the SysV ABI).
    // Seven pushes with the return address leave RSP 16-byte aligned for the handler calls.
    push(rbx);
    push(rbp);
    push(r12);
    push(r13);
    push(r14);
    push(r15);
    sub(rsp, 8);
    mov(rbx, rdi);
    if (getSize() != kChainEntry) throw Xbyak::Error(Xbyak::ERR_INTERNAL);
    L(m_entry);
}

void BlockEmitter::emit_epilogue() {
    add(rsp, 8);
    pop(r15);
    pop(r14);
    pop(r13);
    pop(r12);
    pop(rbp);
    pop(rbx);
    ret();
}

void BlockEmitter::emit_block(const Block& b) {
    emit_prologue();
    m_block_mode = b.mode;
    m_mode64 = (b.mode & 0xff) == 64;
    m_flat32 = (b.mode & 0xff) == 32 && (b.mode & kModeFlat32);
    m_loop = is_self_loop(b);
    m_offsets.clear();
    for (uint32_t at = 0; const Insn& in : b.insns) {
        m_offsets.push_back(at);
        at += in.len;
    }
    if (m_loop) emit_loop_head(b);
    else emit_block_groups(b);
    uint32_t offset = 0;
    for (size_t k = 0; k < b.insns.size(); ++k) {
        const Insn& in = b.insns[k];
        for (const Merge& m : m_merges)
            if (m.target == k) sse_forget();   // the side branch's path may not have checked or loaded
        emit_merge_point(k, offset);
        m_regs.next_insn();
        if (k + 1 < b.insns.size() && is_chained_branch(in) && in.mnemonic != ZYDIS_MNEMONIC_JMP && in.osize != 2 &&
            m_chain.slots) {
            emit_side_branch(b, k, offset);   // (not counted, as the branches that end blocks)
            offset += in.len;
            continue;
        }
        if (k + 1 < b.insns.size() && in.mnemonic == ZYDIS_MNEMONIC_JMP && is_chained_branch(in) && m_chain.slots &&
            in.osize != 2) {
            // A JMP the block goes on after (BlockCache: an earlier Jcc jumps over it): it leaves
            // as a block-ending JMP does; the emitter's state goes on from before it, the next
            // instruction being reached only through that Jcc's merge point.
            const PathState here = save_path();
            sync_state();
            sync_count(1);
            mov(rcx, qword[rbx + m_layout.rip]);
            lea(rcx, ptr[rcx + m_rip_pending + in.len]);
            const bool truncated = emit_branch_target(in);
            const int64_t page_offset = static_cast<int64_t>(b.gpa & 0xfff) + offset + in.len;
            emit_exit(rax, make_slot(b, m_next_slot++, page_offset + static_cast<int64_t>(in.imm)), truncated);
            restore_path(here);
            offset += in.len;
            continue;
        }
        if (&in == &b.insns.back() && is_chained_branch(in)) {
            if (m_loop) emit_loop_tail(b, in, offset);
            else emit_branch_tail(b, in, offset);
            break;
        }
        if (&in == &b.insns.back() && m_mode64 && is_native_tail(in)) {
            emit_native_tail(b, in, offset);
            ++m_native;
            break;
        }
        offset += in.len;
        const bool native = is_native(in);
        if (native || memory_inline(in) || sse_inline(in) || arith_inline(in)) {
            if (native) emit_native(in);
            else if (sse_inline(in)) emit_sse(in);
            else if (is_native_bits(in)) emit_bits(in);
            else if (is_native_muldiv(in, m_mode64 || m_flat32, m_flat32)) emit_muldiv(in);
            else if (arith_inline(in)) emit_memory_extra(in);
            else emit_memory(in);
            m_rip_pending += in.len;
            ++m_count_pending;
            ++m_native;
        } else {
            emit_helper_call(in);
            ++m_helpers;
        }
        if (k + 1 == b.insns.size()) {
            if (runs_inline(b.insns.back())) {
                emit_fall_through(b, offset);
            } else {
                sync_rip();
                sync_count(0);
            }
        }
    }
    L(m_exit);
    emit_epilogue();
    emit_slow_paths();
    emit_merge_stubs();
    if (b.spans() && m_mode64 && m_chain.slots) emit_span_guard(b);
}

void BlockEmitter::emit_span_guard(const Block& b) {
    // Entered by a chained jump: the guest state is in the Cpu (flags included), RIP is the
    // block's, and the jump charged the budget for its instruction.
    m_span_guard = static_cast<uint32_t>(getSize());
    Xbyak::Label fail;
    mov(rax, qword[rbx + m_layout.rip]);
    or_(rax, 0xfff);
    add(rax, 1);   // the next linear page
    emit_tlb_both_ways(1, static_cast<int32_t>(offsetof(TlbTable, exec)), rcx, fail);
    mov(rsi, reinterpret_cast<uint64_t>(b.host2));
    cmp(rcx, rsi);
    jne(fail);
    mov(rcx, reinterpret_cast<uint64_t>(b.gen_ptr2));
    cmp(dword[rcx], b.gen2);
    je(m_entry, T_NEAR);
    L(fail);
    add(dword[rbx + m_layout.budget], static_cast<uint32_t>(b.insns.size()));
    jmp(m_exit, T_NEAR);
}

bool BlockEmitter::memory_inline(const Insn& in) const {
    return (m_mode64 || m_flat32) && is_native_memory(in, m_flat32);
}

bool BlockEmitter::arith_inline(const Insn& in) const {
    const bool memory_ok = m_mode64 || m_flat32;
    return is_native_bits(in) || is_native_muldiv(in, memory_ok, m_flat32) ||
           is_native_memory_extra(in, memory_ok, m_flat32, m_mode64);
}

bool BlockEmitter::runs_inline(const Insn& in) const {
    return is_native(in) || memory_inline(in) || sse_inline(in) || arith_inline(in);
}

void BlockEmitter::sync_state() {
    materialize_flags();
    m_regs.flush();
}

void BlockEmitter::sync_rip() {
    if (m_rip_pending) {
        add(qword[rbx + m_layout.rip], m_rip_pending);
        m_rip_moved = true;
    }
    m_rip_pending = 0;
}

void BlockEmitter::sync_count(uint32_t extra) {
    if (m_count_pending + extra) add(qword[rbx + m_layout.instructions], m_count_pending + extra);
    m_count_pending = 0;
    if (m_budget_reg >= 0) emit_budget_fold();   // the self-loop's passes (block_loop.cpp)
}

void BlockEmitter::emit_helper_call(const Insn& in) {
    // As the dispatch loop: rip exact, next_rip = rip + len, the instruction counted before it
    // runs (it may fault and unwind with longjmp straight out of this frame).
    sync_state();
    sync_rip();
    mov(rax, qword[rbx + m_layout.rip]);
    add(rax, in.len);
    mov(qword[rbx + m_layout.next_rip], rax);
    sync_count(1);
    emit_handler_call(in);
    m_regs.forget();   // the handler may have written any guest register
    sse_forget();
    mov(rax, qword[rbx + m_layout.next_rip]);
    mov(qword[rbx + m_layout.rip], rax);
    m_rip_moved = true;
    cmp(byte[rbx + m_layout.brk], 0);
    jne(m_exit, T_NEAR);
}

}  // namespace popek::emu::bt
