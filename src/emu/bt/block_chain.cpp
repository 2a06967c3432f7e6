/// Block ends of the translator: JMP rel / Jcc rel computed natively (SDM Vol. 2A Jcc, JMP: the
/// target is next RIP + displacement, truncated to the operand size), and direct chaining to the
/// next translated block, on the same guest page or (64-bit code) another one, and for RET
/// through the return stack. A chained jump checks what the dispatch loop (emu/executor.cpp)
/// would between the two blocks and the link itself cannot know: no attention request (which
/// also covers VMM writes to RAM and pages turned into code, see ChainSlot) and budget left
/// (charged as the dispatcher does, so timers and interrupts are still polled), and for a
/// cross-page slot its linear target, map generation and target page generation (see ChainSlot). An interrupt shadow never reaches a chained exit: STI, MOV SS and POP SS end their
/// block and leave through the dispatcher.
#include "emu/bt/block_emitter.h"
#include "emu/cpu.h"
#include "emu/decode/block_cache.h"

namespace popek::emu::bt {

const std::atomic<uint32_t> ChainSlot::kNoGeneration{0};

bool BlockEmitter::is_chained_branch(const Insn& in) {
    if (!in.rel_branch || in.k0 != kOpImm || in.cls != 0 || in.fn == nullptr || in.fn == handle_undefined) return false;
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    return m == ZYDIS_MNEMONIC_JMP || (is_jcc(in.mnemonic) && in.extra < 16);
}

ChainSlot* BlockEmitter::make_slot(const Block& b, int index, int64_t target_offset, bool force_cross) {
    // Only a target on the block's own page is known to map to (page | offset): the block was
    // entered through that page's translation, which no instruction of the block changed (those
    // that could end the block first).
    // Another page (64-bit code, where the linear target is RIP): linked to whatever the target
    // leads to, under a map generation (ChainSlot).
    if (!m_chain.slots || !b.cached) return nullptr;
    const bool cross = force_cross || target_offset < 0 || target_offset >= 4096;
    if (cross && !m_mode64) return nullptr;
    ChainSlot* s = &m_chain.slots[index];
    const uint64_t gpa = cross ? ~0ULL : (b.gpa & ~0xfffULL) | static_cast<uint64_t>(target_offset);
    *s = ChainSlot{ChainSlot::kUnlinked, m_chain.unlinked, gpa, b.mode, 0, 0, 0, 0, &ChainSlot::kNoGeneration, 1, cross, 0};
    return s;
}

void BlockEmitter::emit_branch_tail(const Block& b, const Insn& in, uint32_t offset) {
    const bool conditional = in.mnemonic != ZYDIS_MNEMONIC_JMP;
    // The condition on the guest flags (live in the host after a native producer) into SIL
    // (scratch: R8 may hold a guest register until sync_state), then the state every exit
    // leaves: Cpu::rflags, Cpu::gpr, the count.
    if (conditional) {
        need_flags(condition_flags(in.extra));
        emit_condition(in.extra, sil);
    }
    sync_state();
    sync_count(1);
    const uint32_t next = m_rip_pending + in.len;
    m_rip_pending = 0;
    mov(rcx, qword[rbx + m_layout.rip]);
    lea(rcx, ptr[rcx + next]);                         // not taken: RIP + length, as the dispatcher
    const auto disp = static_cast<int64_t>(in.imm);
    const bool truncated = emit_branch_target(in);
    const int64_t page_offset = static_cast<int64_t>(b.gpa & 0xfff) + offset + in.len;
    ChainSlot* taken = make_slot(b, 0, page_offset + disp);
    if (conditional) {
        Xbyak::Label is_taken;
        test(sil, sil);
        jnz(is_taken, T_NEAR);
        emit_exit(rcx, make_slot(b, 1, page_offset), false);
        L(is_taken);
    }
    emit_exit(rax, taken, truncated);
}

bool BlockEmitter::emit_branch_target(const Insn& in) {
    const auto disp = static_cast<int64_t>(in.imm);
    if (disp >= INT32_MIN && disp <= INT32_MAX) {
        lea(rax, ptr[rcx + static_cast<int32_t>(disp)]);
    } else {
        mov(rax, in.imm);
        lea(rax, ptr[rcx + rax]);
    }
    const bool truncated = in.osize != 8;
    if (truncated) mov(r9, rax);                       // to detect a wrapped target at run time
    if (in.osize == 4) mov(eax, eax);
    else if (in.osize == 2) movzx(eax, ax);
    return truncated;
}

void BlockEmitter::emit_fall_through(const Block& b, uint32_t end_offset) {
    sync_state();
    sync_count(0);
    mov(rcx, qword[rbx + m_layout.rip]);
    lea(rcx, ptr[rcx + m_rip_pending]);
    m_rip_pending = 0;
    emit_exit(rcx, make_slot(b, 1, static_cast<int64_t>(b.gpa & 0xfff) + end_offset), false);
}

bool BlockEmitter::is_native_tail(const Insn& in) {
    if (in.cls != 0 || in.fn == nullptr || in.fn == handle_undefined || in.osize != 8 || in.far_branch) return false;
    if (in.prefix & (kPrefixRep | kPrefixRepne | kPrefixLock)) return false;
    switch (static_cast<ZydisMnemonic>(in.mnemonic)) {
        case ZYDIS_MNEMONIC_CALL:
            if (in.rel_branch) return in.k0 == kOpImm;
            [[fallthrough]];
        case ZYDIS_MNEMONIC_JMP:
            if (in.rel_branch) return false;   // JMP rel: emit_branch_tail
            return (in.k0 == kOpReg && (in.gprs & 1)) || (in.k0 == kOpMem && in.asize >= 4);
        case ZYDIS_MNEMONIC_RET:
            return in.k0 == kOpNone || in.k0 == kOpImm;
        default:
            return false;
    }
}

void BlockEmitter::emit_native_tail(const Block& b, const Insn& in, uint32_t offset) {
    // SDM Vol. 2A CALL, Vol. 2B JMP, RET (near, 64-bit operand size): every read and the push
    // are probed before anything is committed; a miss runs the handler and leaves the block.
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    const bool indirect = m != ZYDIS_MNEMONIC_RET && !in.rel_branch;
    materialize_flags();
    if (indirect && in.k0 == kOpReg) greg(in.r0);
    if (in.base < 16) greg(in.base);
    if (in.index < 16) greg(in.index);
    const Xbyak::Reg64& gsp = greg(hv::RSP);
    SlowPath& slow = new_slow_path(in);
    slow.exit_after = true;
    const uint32_t next = m_rip_pending + in.len;
    if (indirect) {   // the target into the frame's slot (read before the push; R9 is the pool's)
        if (in.k0 == kOpReg) {
            mov(qword[rsp], greg(in.r0));
        } else {
            emit_linear_address(in);
            emit_probe(false, 8, slow);
            mov(rcx, qword[rsi]);
            mov(qword[rsp], rcx);
        }
    }
    if (m == ZYDIS_MNEMONIC_CALL) {
        lea(rax, ptr[gsp - 8]);
        emit_probe(true, 8, slow);
        mov(rcx, qword[rbx + m_layout.rip]);
        lea(rcx, ptr[rcx + next]);   // the return address
        mov(qword[rsi], rcx);
        lea(gsp, ptr[gsp - 8]);
        m_regs.mark(hv::RSP);
        emit_return_push(make_slot(b, 1, static_cast<int64_t>(b.gpa & 0xfff) + offset + in.len, true));
    } else if (m == ZYDIS_MNEMONIC_RET) {
        mov(rax, gsp);
        emit_probe(false, 8, slow);
        mov(rdx, qword[rsi]);   // the return address: kept in RDX over the write-back below
        lea(gsp, ptr[gsp + static_cast<int32_t>(8 + (in.k0 == kOpImm ? (in.imm & 0xffff) : 0))]);
        m_regs.mark(hv::RSP);
    }
    m_regs.flush();   // the flags are in Cpu::rflags already
    sync_count(1);
    m_rip_pending = 0;
    // Written back: R8 and R9 are scratch from here to the exit.
    if (m == ZYDIS_MNEMONIC_RET) mov(r9, rdx);
    else if (indirect) mov(r9, qword[rsp]);
    if (m == ZYDIS_MNEMONIC_CALL && in.rel_branch) {
        const auto disp = static_cast<int64_t>(in.imm);
        if (disp >= INT32_MIN && disp <= INT32_MAX) {
            lea(rax, ptr[rcx + static_cast<int32_t>(disp)]);
        } else {
            mov(rax, in.imm);
            add(rax, rcx);
        }
        const int64_t page_offset = static_cast<int64_t>(b.gpa & 0xfff) + offset + in.len;
        emit_exit(rax, make_slot(b, 0, page_offset + disp), false);
        return;
    }
    // Slot 0 (no direct target in such a block) caches the target this exit last led to.
    ChainSlot* last = make_slot(b, 0, -1);
    if (m == ZYDIS_MNEMONIC_RET) emit_return_exit(last);
    else emit_indirect_exit(last);
}

void BlockEmitter::emit_exit(const Xbyak::Reg64& new_rip, ChainSlot* slot, bool check_wrap) {
    mov(qword[rbx + m_layout.rip], new_rip);
    if (!slot) {
        if (!m_chain.next_block) {
            jmp(m_exit, T_NEAR);
            return;
        }
        // No slot (RET, indirect or cross-page target): ask for the next block's code.
        mov(rdi, rbx);
        mov(rax, reinterpret_cast<uint64_t>(m_chain.next_block));
        call(rax);
        test(rax, rax);
        jz(m_exit, T_NEAR);
        jmp(rax);
        return;
    }
    if (check_wrap) {   // RIP wrapped at the operand size: the target is not page | offset
        cmp(rax, r9);
        jne(m_exit, T_NEAR);
    }
    mov(rax, reinterpret_cast<uint64_t>(slot));
    emit_slot_jump(slot->cross);
}

void BlockEmitter::emit_slot_jump(bool cross) {
    Xbyak::Label unlinked;
    if (cross) {   // the same linear target, under the same map generation
        mov(r9, qword[rax + static_cast<int32_t>(offsetof(ChainSlot, lip))]);
        cmp(r9, qword[rbx + m_layout.rip]);
        jne(unlinked, T_NEAR);
        mov(r9, qword[rbx + m_layout.map_gen]);
        and_(r9, qword[rax + static_cast<int32_t>(offsetof(ChainSlot, map_mask))]);
        cmp(r9, qword[rax + static_cast<int32_t>(offsetof(ChainSlot, map_gen))]);
        jne(unlinked, T_NEAR);
        mov(r9, qword[rax + static_cast<int32_t>(offsetof(ChainSlot, gen_ptr))]);
        mov(r9d, dword[r9]);
        cmp(r9d, dword[rax + static_cast<int32_t>(offsetof(ChainSlot, gen))]);
        jne(unlinked, T_NEAR);
    }
    emit_chain_guards(unlinked, -1);
    jmp(qword[rax + static_cast<int32_t>(offsetof(ChainSlot, code))]);
    L(unlinked);
    mov(r8, reinterpret_cast<uint64_t>(m_chain.pending_slot));
    mov(qword[r8], rax);
    jmp(m_exit, T_NEAR);
}

void BlockEmitter::emit_chain_guards(const Xbyak::Label& fail, int32_t insns) {
    // What a VMM write to RAM (DMA) or a page turned into code by another vCPU means for chained
    // code is handled through `attention`: whoever moves the DMA or code epoch raises every
    // vCPU's, and the dispatcher unlinks this vCPU's slots (Translator::unlink_all) or drops its
    // write mappings before chained code runs on (ChainSlot).
    cmp(byte[rbx + m_layout.attention], 0);
    jne(fail, T_NEAR);
    if (insns < 0) {
        mov(esi, dword[rax + static_cast<int32_t>(offsetof(ChainSlot, insns))]);
        sub(dword[rbx + m_layout.budget], esi);
    } else {
        sub(dword[rbx + m_layout.budget], static_cast<uint32_t>(insns));
    }
    jle(fail, T_NEAR);   // out of budget: the dispatcher polls (and refills it)
    mov(byte[rbx + m_layout.replay_valid], 0);
    if (m_chain.chains_taken) {
        mov(rsi, reinterpret_cast<uint64_t>(m_chain.chains_taken));
        inc(qword[rsi]);
    }
}

void BlockEmitter::emit_return_push(ChainSlot* slot) {
    if (!m_chain.returns || !slot) return;
    mov(r10, reinterpret_cast<uint64_t>(m_chain.returns));
    mov(edx, dword[r10 + static_cast<int32_t>(offsetof(ReturnStack, top))]);
    add(edx, 1);
    and_(edx, ReturnStack::kSize - 1);
    mov(dword[r10 + static_cast<int32_t>(offsetof(ReturnStack, top))], edx);
    shl(edx, 4);
    const auto entries = static_cast<int32_t>(offsetof(ReturnStack, entries));
    mov(qword[r10 + rdx + entries + static_cast<int32_t>(offsetof(ReturnStack::Entry, lip))], rcx);
    mov(rax, reinterpret_cast<uint64_t>(slot));
    mov(qword[r10 + rdx + entries + static_cast<int32_t>(offsetof(ReturnStack::Entry, slot))], rax);
}

void BlockEmitter::emit_indirect_exit(ChainSlot* last) {
    mov(qword[rbx + m_layout.rip], r9);
    if (!last) {
        emit_exit(r9, nullptr, false);
        return;
    }
    // The target this exit led to last time: jump through the slot; another target: look it up,
    // and the slot is linked to it (Translator::next_block links the pending slot).
    Xbyak::Label other;
    mov(rax, reinterpret_cast<uint64_t>(last));
    cmp(r9, qword[rax + static_cast<int32_t>(offsetof(ChainSlot, lip))]);
    jne(other, T_NEAR);
    emit_slot_jump(true);
    L(other);
    if (m_chain.targets) {
        // Another target: the shared table's slot for it (the flags are in Cpu::rflags already).
        Xbyak::Label miss;
        mov(eax, r9d);
        mov(ecx, eax);
        shr(ecx, 7);
        xor_(eax, ecx);
        and_(eax, kIndirectTargets - 1);
        imul(eax, eax, static_cast<int>(sizeof(ChainSlot)));
        mov(r8, reinterpret_cast<uint64_t>(m_chain.targets));
        add(rax, r8);
        cmp(r9, qword[rax + static_cast<int32_t>(offsetof(ChainSlot, lip))]);
        jne(miss, T_NEAR);
        cmp(dword[rax + static_cast<int32_t>(offsetof(ChainSlot, mode))], m_block_mode);   // and CPL, code size
        jne(miss, T_NEAR);
        emit_slot_jump(true);
        L(miss);
        // The exit's own slot is linked first (its first target), the table's after that.
        mov(r8, reinterpret_cast<uint64_t>(last));
        cmp(qword[r8 + static_cast<int32_t>(offsetof(ChainSlot, epoch))], static_cast<int32_t>(-1));
        cmove(rax, r8);
    }
    mov(r8, reinterpret_cast<uint64_t>(m_chain.pending_slot));
    mov(qword[r8], rax);
    emit_exit(r9, nullptr, false);
}

void BlockEmitter::emit_return_exit(ChainSlot* last) {
    if (!m_chain.returns) {
        emit_indirect_exit(last);
        return;
    }
    Xbyak::Label miss;
    mov(qword[rbx + m_layout.rip], r9);
    mov(r10, reinterpret_cast<uint64_t>(m_chain.returns));
    mov(r8d, dword[r10 + static_cast<int32_t>(offsetof(ReturnStack, top))]);
    mov(eax, r8d);
    shl(eax, 4);
    const auto entries = static_cast<int32_t>(offsetof(ReturnStack, entries));
    cmp(r9, qword[r10 + rax + entries + static_cast<int32_t>(offsetof(ReturnStack::Entry, lip))]);
    jne(miss, T_NEAR);
    mov(rax, qword[r10 + rax + entries + static_cast<int32_t>(offsetof(ReturnStack::Entry, slot))]);
    sub(r8d, 1);   // popped

    and_(r8d, ReturnStack::kSize - 1);
    mov(dword[r10 + static_cast<int32_t>(offsetof(ReturnStack, top))], r8d);
    emit_slot_jump(true);
    L(miss);   // deeper than the return stack, or a changed return address
    emit_indirect_exit(last);
}

}  // namespace popek::emu::bt
