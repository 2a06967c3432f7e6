/// Debug registers and host debugging on the own engine (SDM Vol. 3B 18.2 "Debug Registers",
/// 18.3 "Debug Exceptions"): DR0-DR3 instruction breakpoints (fault-class #DB, suppressed by
/// RFLAGS.RF) and data watchpoints (trap-class #DB after the access's instruction), DR6 B0-B3/BS,
/// the MOV SS / POP SS hold of #DB for one instruction (SDM Vol. 3A 6.8.3), and the breakpoints,
/// watchpoints and single-steps of the host debugger (emu/debug_hook.h), which stop the vCPU
/// instead of raising #DB.
///
/// While any of these is armed (Cpu::debug_per_instruction), the dispatch loop runs one
/// instruction at a time through the interpreter (never translated code), calling
/// debug_before_instruction() and debug_after_instruction() around it. Watchpoints are checked
/// in the MMU's slow access path (Cpu::check_watch): a watched page is never put in the software
/// TLB, so every access to it takes that path; when nothing is watched the cost is one flag test.
#include "emu/cpu.h"

namespace popek::emu {

namespace {

/// DR7 LENn (SDM Vol. 3B 18.2.5): 00 = 1 byte, 01 = 2, 10 = 8, 11 = 4.
uint64_t watch_length(uint64_t dr7, unsigned n) {
    static constexpr uint64_t kLen[4] = {1, 2, 8, 4};
    return kLen[(dr7 >> (18 + 4 * n)) & 3];
}

unsigned rw_bits(uint64_t dr7, unsigned n) { return static_cast<unsigned>((dr7 >> (16 + 4 * n)) & 3); }
bool enabled(uint64_t dr7, unsigned n) { return (dr7 >> (2 * n)) & 3; }

}  // namespace

void Cpu::update_debug() {
    m_debug.watch_count = 0;
    bool instruction_bp = false;
    const uint64_t dr7 = dr[7];
    for (unsigned n = 0; n < 4; ++n) {
        if (!enabled(dr7, n)) continue;
        const unsigned rw = rw_bits(dr7, n);
        if (rw == 0) {
            instruction_bp = true;
        } else if (rw == 1 || rw == 3) {
            // The address is aligned down to the length (SDM 18.2.5: the low bits are ignored).
            const uint64_t len = watch_length(dr7, n);
            const uint64_t lo = dr[n] & ~(len - 1);
            m_debug.watches[m_debug.watch_count++] =
                DebugState::Watch{lo, lo + len - 1, rw == 1, false, static_cast<int8_t>(n), 0};
        }
        // R/W = 10 (I/O breakpoints with CR4.DE) is not implemented: never triggers.
    }
    bool host = false;
    if (m_shared.debugger) {
        const HostDebug& hd = m_shared.host_debug;
        host = !hd.breakpoints.empty() || m_debug.host_step;
        for (const HostDebug::Watch& w : hd.watches) {
            if (m_debug.watch_count == DebugState::kMaxWatches || w.len == 0) break;
            m_debug.watches[m_debug.watch_count++] =
                DebugState::Watch{w.addr, w.addr + w.len - 1, w.kind == 2, w.kind == 3, -1, w.kind};
        }
    }
    m_debug.watch_armed = m_debug.watch_count > 0;
    m_debug.armed = instruction_bp || m_debug.watch_armed || host;
    // A watched page must not stay in the TLB (fill_tlb leaves it out from now on).
    if (m_debug.watch_armed) flush_tlb();
}

uint32_t Cpu::instruction_breakpoints(uint64_t lip) const {
    uint32_t hits = 0;
    const uint64_t dr7 = dr[7];
    for (unsigned n = 0; n < 4; ++n)
        if (enabled(dr7, n) && rw_bits(dr7, n) == 0 && dr[n] == lip) hits |= 1u << n;
    return hits;
}

void Cpu::watch_hit(uint64_t la, unsigned size, Access acc) {
    if (acc == Access::Exec || size == 0) return;
    const uint64_t last = la + size - 1;
    for (unsigned k = 0; k < m_debug.watch_count; ++k) {
        const DebugState::Watch& w = m_debug.watches[k];
        if (la > w.hi || last < w.lo) continue;
        if (acc == Access::Write ? w.reads_only : w.writes_only) continue;
        if (w.guest_bit >= 0) {
            m_debug.db_hits |= 1u << w.guest_bit;
        } else if (!m_debug.host_watch_hit) {
            m_debug.host_watch_hit = true;
            m_debug.host_watch_addr = w.lo;
            m_debug.host_watch_kind = w.host_kind;
        }
    }
}

bool Cpu::watched_page(uint64_t la) const {
    const uint64_t page = la >> 12;
    for (unsigned k = 0; k < m_debug.watch_count; ++k)
        if (page >= (m_debug.watches[k].lo >> 12) && page <= (m_debug.watches[k].hi >> 12)) return true;
    return false;
}

int Cpu::debug_before_instruction() {
    // Hits left over here were made by an event delivery (the frame pushed for an interrupt or
    // exception): not reported to the guest, but a host watchpoint stops at the handler.
    m_debug.db_hits = 0;
    m_debug.movss_shadow = false;
    const bool after_movss = m_debug.after_movss;
    m_debug.after_movss = false;
    if (m_debug.host_watch_hit) {
        m_debug.host_watch_hit = false;
        m_debug.host_stop = DebugHook::kWatch;
        return report_host_stop() ? 1 : 2;
    }
    const uint64_t lip = linear_rip();
    if (m_shared.debugger && !(m_debug.host_skip_bp && lip == m_debug.host_skip_lip)) {
        for (uint64_t bp : m_shared.host_debug.breakpoints) {
            if (bp != lip) continue;
            m_debug.host_stop = DebugHook::kBreakpoint;
            return report_host_stop() ? 1 : 2;
        }
    }
    m_debug.host_skip_bp = false;
    // RF suppresses instruction breakpoints for one instruction and is cleared as it starts,
    // after the breakpoint check (SDM Vol. 3B 18.3.1.1).
    const bool rf = rflags & kRf;
    rflags &= ~kRf;
    if (rf || after_movss) return 0;
    if (uint32_t hits = instruction_breakpoints(lip)) {
        // Fault-class #DB before the instruction; the pushed RF is the current one, 0.
        dr[6] = (dr[6] & ~0xfULL) | hits;
        m_debug.db_held = 0;
        m_event = Event{kDb, false, 0, false, false, rip};
        return deliver_pending() ? 1 : 2;
    }
    return 0;
}

bool Cpu::debug_after_instruction(bool stepped) {
    const uint32_t bits = (stepped ? static_cast<uint32_t>(kDr6Bs) : 0u) | m_debug.db_hits;
    m_debug.db_hits = 0;
    if (m_debug.movss_shadow) {
        // MOV SS / POP SS: single-step and data breakpoint #DBs wait until after the next
        // instruction (SDM Vol. 3A 6.8.3), then arrive as one #DB.
        m_debug.movss_shadow = false;
        m_debug.after_movss = true;
        m_debug.db_held |= bits;
    } else {
        m_debug.db_pending |= bits | m_debug.db_held;
        m_debug.db_held = 0;
    }
    if (m_debug.host_watch_hit) {
        m_debug.host_watch_hit = false;
        m_debug.host_stop = DebugHook::kWatch;
    } else if (m_debug.host_step) {
        m_debug.host_stop = DebugHook::kStep;
    }
    return true;
}

bool Cpu::finish_debug_traps() {
    if (m_debug.db_pending) {
        const uint32_t bits = m_debug.db_pending;
        m_debug.db_pending = 0;
        // B0-B3 report this #DB's breakpoints; BS, BD and the rest stay as they are (SDM 18.2.3).
        dr[6] = (dr[6] & ~0xfULL) | bits;
        m_event = Event{kDb, false, 0, false, false, rip};
        if (!deliver_pending()) return false;
    }
    if (m_debug.host_stop) return report_host_stop();
    return true;
}

bool Cpu::report_host_stop() {
    const auto why = static_cast<DebugHook::Reason>(m_debug.host_stop);
    m_debug.host_stop = 0;
    if (!m_shared.debugger) return true;
    const bool reported = m_shared.debugger->stopped(*this, why, m_debug.host_watch_addr, m_debug.host_watch_kind);
    update_debug();
    // A vCPU resumed at a breakpoint runs that instruction; one whose stop was not reported
    // meets its breakpoint again.
    m_debug.host_skip_bp = reported;
    m_debug.host_skip_lip = linear_rip();
    return true;
}

}  // namespace popek::emu
