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
/// - the guest XMMs the body's native SSE instructions name, in host XMMs (m_head_xmm: loaded
///   before the head, reloaded at the back edge if a handler call or a merge point dropped one);
/// - flags: exact in Cpu::rflags for every flag that can be read before the body writes it
///   again (observe_flags / produced track that while the body is emitted). Flags the body
///   always rewrites first stay in the host over the back edge and are merged (from RDX) only
///   when a guard fails and the block leaves.
#include "emu/bt/block_emitter.h"
#include "emu/cpu.h"
#include "emu/decode/block_cache.h"

#include <algorithm>
#include <bit>

namespace popek::emu::bt {
namespace {

/// True when the guest flags at the loop head may be observed before the body rewrites all of
/// them (a conservative scan: a flag reader, a side branch, a memory access whose slow path may
/// fault, a handler, or the end of the body first). Only full writers of every arithmetic flag
/// end the scan; MOV-like instructions and partial writers are stepped over.
bool loop_flags_live_in(const Block& b) {
    for (size_t k = 0; k + 1 < b.insns.size(); ++k) {
        const Insn& in = b.insns[k];
        if (!is_native(in)) return true;
        switch (static_cast<ZydisMnemonic>(in.mnemonic)) {
            case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_SUB:
            case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_CMP: case ZYDIS_MNEMONIC_TEST: case ZYDIS_MNEMONIC_NEG:
            case ZYDIS_MNEMONIC_IMUL:
                return false;
            case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR:
                if (in.k1 == kOpImm) return false;   // a nonzero immediate count (is_native)
                return true;                          // by CL: a zero count keeps them
            case ZYDIS_MNEMONIC_MOV: case ZYDIS_MNEMONIC_LEA: case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX:
            case ZYDIS_MNEMONIC_MOVSXD: case ZYDIS_MNEMONIC_NOT: case ZYDIS_MNEMONIC_XCHG: case ZYDIS_MNEMONIC_BSWAP:
            case ZYDIS_MNEMONIC_NOP: case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC:
                continue;
            case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR:
                if (in.k1 == kOpImm) continue;
                return true;
            default:
                return true;   // SETcc, CMOVcc, ADC, SBB, RCL, RCR: readers
        }
    }
    return true;
}

/// Every guest register the block's instructions name (bit per full register), implicit ones
/// (RSP of PUSH/POP, RAX of CMPXCHG) included.
uint32_t regs_named(const Block& b) {
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
    return used;
}

}  // namespace

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
    uint32_t used = regs_named(b);
    choose_hoisted(b, used, true);   // reserves their registers first: `used` loses their address registers
    // More than the pool holds: nothing preloaded (the back edge then writes back what it holds).
    if (std::popcount(used) + m_hoisted_n <= RegCache::kPool) {
        for (unsigned g = 0; g < RegCache::kGuestRegs; ++g) {
            if (!((used >> g) & 1u)) continue;
            m_regs.read(g);
            m_regs.mark(g);
        }
    }
    // A register to spare: the budget lives there until the block leaves or calls a handler
    // (sync_count and the slow paths fold it back), so iterations do not wait on each other's
    // stores to Cpu::budget and the count.
    if (std::popcount(used) + m_hoisted_n < RegCache::kPool && loop_keeps_budget(b)) {
        m_budget_reg = m_regs.reserve();
        // Sign-extended: the back edge's guard tests the sign of the whole register.
        if (m_budget_reg >= 0) movsxd(RegCache::host(m_budget_reg), dword[rbx + m_layout.budget]);
    }
    // Before the flags are loaded: the probes clobber the host's.
    for (int k = 0; k < m_hoisted_n; ++k) emit_hoisted_probe(k);
    // The guest XMMs the body's native SSE instructions name stay in host XMMs from pass to
    // pass (the back edge reloads any that a handler call or a merge point dropped) instead of
    // being loaded from Cpu::fpu.xmm again in every pass: writes are stored through, so
    // Cpu::fpu.xmm is exact at any exit. Loading one the body only writes costs one load here.
    m_head_xmm = 0;
    for (const Insn& in : b.insns) {
        if (!sse_inline(in)) continue;
        if (in.xmms & 1u) m_head_xmm = static_cast<uint16_t>(m_head_xmm | 1u << (in.r0 & 15));
        if (in.xmms & 2u) m_head_xmm = static_cast<uint16_t>(m_head_xmm | 1u << (in.r1 & 15));
    }
    for (unsigned n = 0; n < 16; ++n)
        if ((m_head_xmm >> n) & 1u) (void)xmm_read(n);
    m_regs.next_insn();
    m_head_state = m_regs.state();
    // Flags the body may observe before rewriting them (a probe's slow path, a reader) would
    // have to be merged into Cpu::rflags on every back edge (PUSHF and a read-modify-write of
    // Cpu::rflags per pass): instead the head holds all of them in the host (loaded once here),
    // the back edge leaves them there behind flag-free guards, and only a leave merges them.
    m_head_flags_host = flag_free_probes() && loop_flags_live_in(b);
    if (m_head_flags_host) {
        load_guest_flags();
        m_host_flags = kArithFlags;
    }
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

namespace {

/// The guest GPRs `in` may write (a bit per full register), for the native instructions a
/// register-budget loop can hold; `known` false for any other (then nothing is hoisted).
uint32_t gprs_written(const Insn& in, bool& known) {
    const auto m = static_cast<ZydisMnemonic>(in.mnemonic);
    const uint32_t r0 = (in.gprs & 1u) ? 1u << base_of(in.r0) : 0u;
    const uint32_t r1 = (in.gprs & 2u) ? 1u << base_of(in.r1) : 0u;
    constexpr uint32_t kAxDx = (1u << hv::RAX) | (1u << hv::RDX);
    if (is_jcc(in.mnemonic)) return 0;
    switch (m) {
        case ZYDIS_MNEMONIC_NOP: case ZYDIS_MNEMONIC_JMP: case ZYDIS_MNEMONIC_CMP: case ZYDIS_MNEMONIC_TEST:
        case ZYDIS_MNEMONIC_BT:
            return 0;
        case ZYDIS_MNEMONIC_MOV: case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX: case ZYDIS_MNEMONIC_MOVSXD:
        case ZYDIS_MNEMONIC_LEA: case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_ADC:
        case ZYDIS_MNEMONIC_SBB: case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_XOR:
        case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC: case ZYDIS_MNEMONIC_NEG: case ZYDIS_MNEMONIC_NOT:
        case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_ROL:
        case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR: case ZYDIS_MNEMONIC_SHLD:
        case ZYDIS_MNEMONIC_SHRD: case ZYDIS_MNEMONIC_BTS: case ZYDIS_MNEMONIC_BTR: case ZYDIS_MNEMONIC_BTC:
        case ZYDIS_MNEMONIC_BSF: case ZYDIS_MNEMONIC_BSR: case ZYDIS_MNEMONIC_TZCNT: case ZYDIS_MNEMONIC_LZCNT:
        case ZYDIS_MNEMONIC_POPCNT: case ZYDIS_MNEMONIC_BSWAP:
            return r0;
        case ZYDIS_MNEMONIC_XCHG: case ZYDIS_MNEMONIC_XADD:
            return r0 | r1;
        case ZYDIS_MNEMONIC_PUSH:
            return 1u << hv::RSP;
        case ZYDIS_MNEMONIC_POP:
            return r0 | (1u << hv::RSP);
        case ZYDIS_MNEMONIC_CMPXCHG:
            return r0 | 1u;
        case ZYDIS_MNEMONIC_IMUL: case ZYDIS_MNEMONIC_MUL: case ZYDIS_MNEMONIC_DIV: case ZYDIS_MNEMONIC_IDIV:
        case ZYDIS_MNEMONIC_CBW: case ZYDIS_MNEMONIC_CWDE: case ZYDIS_MNEMONIC_CDQE: case ZYDIS_MNEMONIC_CWD:
        case ZYDIS_MNEMONIC_CDQ: case ZYDIS_MNEMONIC_CQO:
            return r0 | kAxDx;
        default:
            if (in.mnemonic >= ZYDIS_MNEMONIC_CMOVB && in.mnemonic <= ZYDIS_MNEMONIC_CMOVZ) return r0;
            if (in.mnemonic >= ZYDIS_MNEMONIC_SETB && in.mnemonic <= ZYDIS_MNEMONIC_SETZ) return r0;
            known = false;
            return ~0u;
    }
}

uint32_t address_gprs(const Insn& in) {
    uint32_t a = 0;
    if (in.base < 16) a |= 1u << in.base;
    if (in.index < 16) a |= 1u << in.index;
    return a;
}

bool same_address_form(const Insn& a, const Insn& b) {
    return a.base == b.base && a.index == b.index && a.scale_shift == b.scale_shift && a.asize == b.asize &&
           a.seg == b.seg;
}

}  // namespace

void BlockEmitter::choose_hoisted(const Block& b, uint32_t& used, bool loop) {
    m_hoisted_n = 0;
    m_hoist_member_n = 0;
    if (loop && !loop_keeps_budget(b)) return;
    // A loop: registers any instruction writes. Otherwise: those written so far (the scan below).
    bool known = true;
    uint32_t written = 0;
    if (loop)
        for (const Insn& in : b.insns) written |= gprs_written(in, known);
    if (!known) return;
    // Candidate groups in program order, each operand joining the first of its form whose range
    // stays within kMaxHoistSpan with it.
    constexpr int kCandidates = 8;
    Hoisted cand[kCandidates];
    HoistMember members[kMaxHoistMembers];
    int nc = 0, nm = 0;
    for (const Insn& in : b.insns) {
        if (nm == kMaxHoistMembers) break;
        // A handler call may clobber the caller-saved pool registers (and any guest register).
        if (!loop && !runs_inline(in)) break;
        const bool member = hoistable(in) && !(address_gprs(in) & written);
        if (!loop) {
            written |= gprs_written(in, known);
            if (!known) written = ~0u;
        }
        if (!member) continue;
        unsigned size = 0;
        bool write = false;
        memory_extent(in, size, write);
        const int64_t lo = in.disp, hi = in.disp + size;
        int g = 0;
        while (g < nc && !(same_address_form(*cand[g].in, in) &&
                           std::max(hi, cand[g].hi) - std::min(lo, cand[g].lo) <= kMaxHoistSpan))
            ++g;
        if (g == nc) {
            if (nc == kCandidates) continue;
            cand[nc++] = Hoisted{&in, lo, hi, false, 0, -1, &in};
        }
        cand[g].lo = std::min(lo, cand[g].lo);
        cand[g].hi = std::max(hi, cand[g].hi);
        cand[g].write = cand[g].write || write;
        cand[g].last = &in;
        ++cand[g].members;
        members[nm++] = HoistMember{&in, g};
    }
    // A group of one saves nothing outside a loop (its probe only moves to the block's start).
    if (!loop)
        for (int k = 0; k < nc; ++k)
            if (cand[k].members < 2) cand[k].members = 0;
    // The groups with the most members first (the earlier on a tie), as many as registers allow:
    // each needs one beside the resident guest registers and (a loop) the budget's.
    int order[kCandidates];
    for (int k = 0; k < nc; ++k) order[k] = k;
    std::stable_sort(order, order + nc, [&](int x, int y) { return cand[x].members > cand[y].members; });
    int chosen = 0;
    while (chosen < std::min(nc, kMaxHoisted) && cand[order[chosen]].members > 0) ++chosen;
    uint32_t need = 0;
    for (; chosen > 0; --chosen) {
        // The guest registers the loop needs resident: not those only hoisted addresses read.
        uint32_t other = 0;
        for (const Insn& in : b.insns) {
            bool hoisted = false;
            for (int m = 0; m < nm; ++m)
                for (int k = 0; k < chosen; ++k) hoisted = hoisted || (members[m].in == &in && members[m].group == order[k]);
            for (unsigned n = 0; n < 3; ++n) {
                const uint8_t r = n == 0 ? in.r0 : n == 1 ? in.r1 : in.r2;
                if ((in.gprs >> n) & 1u) other |= 1u << base_of(r);
            }
            if (!hoisted) other |= address_gprs(in);
        }
        need = used & (other | (1u << hv::RSP) | 1u);   // as emit_loop_head counted them
        if (std::popcount(need) + chosen + (loop ? 1 : 0) <= RegCache::kPool) break;
    }
    if (chosen == 0) return;
    for (int k = 0; k < chosen; ++k) {
        m_hoisted[k] = cand[order[k]];
        m_hoisted[k].reg = m_regs.reserve();
        for (int m = 0; m < nm; ++m)
            if (members[m].group == order[k]) m_hoist_members[m_hoist_member_n++] = HoistMember{members[m].in, k};
    }
    m_hoisted_n = chosen;
    used = need;
}

void BlockEmitter::emit_block_groups(const Block& b) {
    // At the block's start every guest register is exact in Cpu::gpr and the flags in
    // Cpu::rflags: the probes may clobber the host's.
    uint32_t used = regs_named(b);
    choose_hoisted(b, used, false);
    for (int k = 0; k < m_hoisted_n; ++k) emit_hoisted_probe(k);
}

int BlockEmitter::hoisted_reg(const Insn& in, int32_t* offset) const {
    for (int m = 0; m < m_hoist_member_n; ++m) {
        if (m_hoist_members[m].in != &in) continue;
        const Hoisted& h = m_hoisted[m_hoist_members[m].group];
        if (offset) *offset = static_cast<int32_t>(in.disp - h.lo);
        return h.reg;
    }
    return -1;
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
    lea(rsi, ptr[budget - 1]);
    rorx(rsi, rsi, 32);
    lea(ecx, ptr[rcx + rsi * 2]);
    if (m_chain.chains_taken) {   // `--stats`: the count before the jump, which must stay last
        mov(rsi, reinterpret_cast<uint64_t>(m_chain.chains_taken));
        mov(r10, qword[rsi]);
        lea(r10, ptr[r10 + 1]);
        mov(qword[rsi], r10);
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

void BlockEmitter::emit_flag_free_guards(const Xbyak::Label& fail, int32_t insns) {
    // As emit_chain_guards: attention first (the budget is not charged when it is raised), then
    // budget -= insns, leaving when the result is <= 0 (the sign of result - 1).
    Xbyak::Label calm, stay;
    movzx(ecx, byte[rbx + m_layout.attention]);
    jecxz(calm);
    jmp(fail, T_NEAR);
    L(calm);
    mov(ecx, dword[rbx + m_layout.budget]);
    lea(ecx, ptr[rcx - insns]);
    mov(dword[rbx + m_layout.budget], ecx);
    lea(ecx, ptr[rcx - 1]);
    mov(esi, 31);
    shrx(ecx, ecx, esi);
    jecxz(stay);
    jmp(fail, T_NEAR);
    L(stay);
    mov(byte[rbx + m_layout.replay_valid], 0);
    if (m_chain.chains_taken) {
        mov(rsi, reinterpret_cast<uint64_t>(m_chain.chains_taken));
        mov(r10, qword[rsi]);
        lea(r10, ptr[r10 + 1]);
        mov(qword[rsi], r10);
    }
}

void BlockEmitter::emit_count_flag_free(uint32_t n) {
    if (!n) return;
    mov(rsi, qword[rbx + m_layout.instructions]);
    lea(rsi, ptr[rsi + static_cast<int32_t>(n)]);
    mov(qword[rbx + m_layout.instructions], rsi);
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
    // Without a budget register the guards can still leave the host's flags alone (BMI2).
    const bool flag_free = in_register || flag_free_probes();
    const uint64_t live = m_flags_live_in | (kArithFlags & ~m_flags_killed);
    uint64_t kept = 0;
    if (m_head_flags_host) {
        // The head holds every flag in the host: whatever the body merged is loaded back.
        need_flags(kArithFlags);
        kept = kArithFlags;
        m_host_flags = 0;
    } else if (m_host_flags & live) {
        materialize_flags();
    } else if (m_host_flags) {
        if (!flag_free) capture_host_flags();
        kept = m_host_flags;
        m_host_flags = 0;
    }
    m_regs.emit_transition(m_head_state);
    // The head's XMMs back in host XMMs (MOVDQU leaves the flags alone); m_xmm_valid is left as
    // it is: the exit emitted after the back edge does not pass through these loads.
    emit_xmm_reload(static_cast<uint16_t>(m_head_xmm & ~m_xmm_valid));
    if (in_register) {
        // This pass's instructions are counted by the budget register's move below.
        if (m_count_pending + 1 != b.insns.size()) throw Xbyak::Error(Xbyak::ERR_INTERNAL);
        m_count_pending = 0;
    } else if (flag_free) {
        emit_count_flag_free(m_count_pending + 1);
        m_count_pending = 0;
    } else {
        sync_count(1);
    }
    // Cpu::rip back at the block's start: unchanged unless a handler call in the body moved it.
    const int64_t rip_delta = static_cast<int64_t>(m_rip_pending) + in.len + static_cast<int64_t>(in.imm);
    if (m_rip_moved && rip_delta && flag_free) {   // LEA: the kept flags stay in the host
        mov(rsi, qword[rbx + m_layout.rip]);
        lea(rsi, ptr[rsi + static_cast<int32_t>(rip_delta)]);
        mov(qword[rbx + m_layout.rip], rsi);
    } else if (m_rip_moved && rip_delta) {
        add(qword[rbx + m_layout.rip], static_cast<int32_t>(rip_delta));
    } else if (!m_rip_moved && rip_delta) throw Xbyak::Error(Xbyak::ERR_INTERNAL);   // not a self-loop
    m_rip_pending = 0;

    // The guards of a chained jump through this block's own slot.
    Xbyak::Label leave;
    if (in_register) {
        emit_register_guards(leave, static_cast<int32_t>(b.insns.size()));
    } else if (flag_free) {
        mov(rax, reinterpret_cast<uint64_t>(slot));
        emit_flag_free_guards(leave, static_cast<int32_t>(b.insns.size()));
        jmp(m_loop_head, T_NEAR);
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
        if (kept) capture_host_flags();
        emit_budget_fold();
    } else if (flag_free && kept) {
        capture_host_flags();
    }
    m_regs.emit_write_back(m_head_state);
    if (kept) {
        mov(r10, qword[rbx + m_layout.rflags]);
        xor_(rdx, r10);
        and_(edx, static_cast<uint32_t>(kept));
        xor_(r10, rdx);
        mov(qword[rbx + m_layout.rflags], r10);
    }
    mov(rsi, reinterpret_cast<uint64_t>(m_chain.pending_slot));
    mov(qword[rsi], rax);
    jmp(m_exit, T_NEAR);
}

}  // namespace popek::emu::bt
