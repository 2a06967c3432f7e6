/// The dispatch loop: looks up decoded blocks, runs their handlers, and between blocks services
/// stop requests, timers, NMI/INIT/SIPI and external interrupts (SDM Vol. 3A 6.9 priorities:
/// interrupts are taken on instruction boundaries, after the STI/MOV SS shadow, when RFLAGS.IF=1).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>

#include "emu/cpu.h"
#include "emu/bt/translator.h"
#include "emu/decode/block_cache.h"
#include "emu/decode/insn.h"
#include "emu/determinism.h"

namespace popek::emu {
namespace {

constexpr int32_t kPollInterval = 2048;   ///< instructions between interrupt/timer polls
/// The same when the next timer deadline is on an alarm (emu/alarm_clock.h): only a backstop for an
/// event source that forgot to raise the attention flag (~1 ms of translated code, ~6 ms interpreted).
constexpr int32_t kAlarmPollInterval = 1 << 20;

bool contributory(int v) { return v == kDe || (v >= kTs && v <= kGp); }

}  // namespace

void handle_undefined(Cpu& cpu, const Insn& insn) {
    uint8_t bytes[16];
    unsigned len = insn.len ? insn.len : 1;
    uint64_t lip = cpu.mode64 ? cpu.rip : ((cpu.seg[kCs].base + cpu.rip) & 0xffffffffULL);
    cpu.read_bytes_la(lip, bytes, len, Access::Exec, false);
    cpu.log_unimplemented(bytes, len);
    cpu.raise(kUd);
}

/// Runs the event in m_event through the IDT, escalating to #DF / triple fault when delivery
/// itself faults (SDM Vol. 3A 6.15 table 6-5). Returns false when exits().exit() is to be returned: a
/// triple fault, or the first write of a frame pushed onto a stack in MMIO.
bool Cpu::deliver_pending() {
    if (m_delivering >= 0) {
        int prev = m_delivering;
        int now = m_event.vector;
        if (prev == kDfv) {
            m_delivering = -1;
            m_exits.set(hv::Shutdown{hv::Shutdown::TripleFault});
            return false;
        }
        if ((contributory(prev) && contributory(now)) || (prev == kPfv && (contributory(now) || now == kPfv)))
            m_event = Event{kDfv, true, 0, false, false, m_event.return_rip};
    }
    // INT n and external interrupts are benign (SDM Vol. 3A table 6-4): a fault while delivering
    // them is delivered on its own, whatever their vector number.
    m_delivering = (m_event.software || m_event.external) ? 256 : m_event.vector;
    deliver_event();
    m_delivering = -1;
    halted = false;
    brk = false;
    // The frame went to a stack in MMIO: its writes are handed out before the handler runs.
    return !m_exits.retire();
}

hv::VcpuExit Cpu::execute() {
    // run() after a Halt exit resumes after the HLT, like KVM_RUN; after a Yield of a halted
    // vCPU (serialized deterministic runs) it is still halted.
    if (!yielded_halted) halted = false;
    yielded_halted = false;
    const int why = setjmp(m_jmp);
    if (why == kUnwindExit) {
        brk = false;
        m_delivering = -1;
        m_exits.cancel_posted();
        return m_exits.exit();
    }
    if (why == kUnwindEvent) {
        brk = false;
        m_exits.cancel_posted();   // the faulting instruction will run again after the handler
        m_exits.forget();          // (and make its device accesses again, as a restarted one does)
        // The instruction did not complete: its watchpoint hits are void. A #DB held by MOV SS
        // follows an INT n / INT3 / INTO it ran into (delivered at the handler's first
        // instruction, SDM Vol. 3A 6.8.3) and is dropped with any other event.
        const bool software = m_event.software;
        const uint32_t held = m_debug.db_held;
        m_debug.db_hits = m_debug.db_held = 0;
        m_debug.host_watch_hit = m_debug.movss_shadow = m_debug.after_movss = m_debug.step_at_end = false;
        if (!deliver_pending()) return m_exits.exit();
        if (software) m_debug.db_pending |= held;
        if (m_debug.host_step) m_debug.host_stop = DebugHook::kStep;   // a host single-step ends at the handler
        if ((m_debug.db_pending || m_debug.host_stop) && !finish_debug_traps()) return m_exits.exit();
    }
    if (why == kUnwindNone && m_exits.replaying()) {
        // Between the exits of one instruction's device accesses (mmu/io_log.cpp).
        if (m_exits.hand_out()) return m_exits.exit();
        if (m_exits.retired()) m_exits.forget();
    }
    // A single-stepped instruction's trap waits for its exits (e.g. OUT) to complete.
    if (why == kUnwindNone && (m_debug.db_pending || m_debug.host_stop) && !m_exits.replaying() && !finish_debug_traps())
        return m_exits.exit();
    deterministic = t_determinism != nullptr;
    for (;;) {
        if (deterministic) det_budget();
        retire_interrupt_shadow();
        if (attention.load(std::memory_order_relaxed) || budget <= 0 || halted || interrupt_shadow ||
            m_waiting_sipi) {
            if (service()) return m_exits.exit();
            if (halted || m_waiting_sipi) continue;
            if (deterministic) det_budget();
        }
        if (m_shared.code.code_epoch() != m_code_epoch_seen) drop_write_mappings();
        if (const uint64_t dma = m_shared.dma_epoch.load(std::memory_order_acquire); dma != m_dma_epoch_seen) {
            // The VMM wrote guest RAM: no chained jump may skip the revalidation of its target.
            m_dma_epoch_seen = dma;
            if (m_bt) m_bt->unlink_all();
        }
        Block* b = m_cache->lookup();
        size_t n = b->insns.size();
        if (interrupt_shadow) {
            n = 1;   // the shadowed instruction runs alone; interrupts are checked right after it
            interrupt_shadow = false;
            budget = 0;
            schedule.service = true;
        } else if (deterministic && n > static_cast<size_t>(std::max<int32_t>(budget, 1))) {
            n = static_cast<size_t>(std::max<int32_t>(budget, 1));   // cut at the poll point or seek target
        }
        if (m_exits.replaying()) {
            n = 1;   // re-executed with its logged device accesses, alone (mmu/io_log.cpp)
            m_exits.rewind();
        }
        // The one switch to per-instruction execution (emu/debug_regs.cpp): single-step (TF),
        // DR7 breakpoints and watchpoints, a #DB held by MOV SS, or the host debugger. Such
        // an instruction runs alone in the interpreter, never as translated code.
        const bool step = rflags & kTf;
        const bool debug = debug_per_instruction();
        if (debug) {
            n = 1;
            if (const int d = debug_before_instruction()) {
                if (d == 2) return m_exits.exit();
                continue;   // a #DB fault was delivered or the host debugger stopped here
            }
        } else {
            rflags &= ~kRf;   // RF lasts one instruction (SDM Vol. 3B 18.3.1.1)
        }
        budget -= static_cast<int32_t>(n);
        // --accel bt: the whole block as translated host code (same effects as the loop below).
        if (!m_bt || debug || n != b->insns.size() || !m_bt->run(*b)) {
            const uint64_t counted = m_stats.instructions;
            // Privileged/sensitive instructions count themselves (Insn::counted).
            for (const Insn *in = b->insns.data(), *end = in + n; in != end; ++in) {
                next_rip = rip + in->len;
                ++m_stats.instructions;
                in->fn(*this, *in);
                rip = next_rip;
                if (brk) break;
            }
            if (m_bt) m_interpreted += m_stats.instructions - counted;   // (a fault's instruction is not)
        }
        if (m_debug.step_at_end) [[unlikely]] {
            // SYSCALL / SYSRET (Cpu::m_debug.step_at_end): TF after the instruction decides the trap.
            m_debug.step_at_end = false;
            const bool tf_now = rflags & kTf;
            if (debug) debug_after_instruction(tf_now);
            else if (tf_now) m_debug.db_pending |= kDr6Bs;
        } else if (debug) {
            debug_after_instruction(step);
        }
        if (m_exits.retire()) {
            brk = false;
            m_exits.cancel_posted();
            return m_exits.exit();
        }
        if (brk) {
            brk = false;
            if (m_exits.take_posted()) return m_exits.exit();
        }
        if ((m_debug.db_pending || m_debug.host_stop) && !finish_debug_traps()) return m_exits.exit();
    }
}

bool Cpu::at_stop() const {
    if (stop_at == kNever || m_exits.replaying()) return false;
    const uint64_t count = m_stats.instructions;
    return count > stop_at || (count == stop_at && (stop_lip == kNever || linear_rip() == stop_lip));
}

bool Cpu::seek_stops() {
    // (A loop: the debugger may restore a snapshot and seek again while this vCPU waits.)
    while (at_stop()) {
        stop_at = stop_lip = kNever;
        if (m_shared.debugger) {
            m_shared.debugger->stopped(*this, DebugHook::kSeek, 0, 0);
            update_debug();
            m_debug.host_skip_bp = true;   // a breakpoint here is not met again on resume
            m_debug.host_skip_lip = linear_rip();
        }
        if (m_stop.load()) {
            m_exits.set(hv::Shutdown{hv::Shutdown::Stopped});
            return false;
        }
    }
    return true;
}

bool Cpu::service() {
    if (service_inner()) return true;
    // A seek to the first instruction of a handler the poll just entered.
    return deterministic && stop_at != kNever && !seek_stops();
}

bool Cpu::service_inner() {
    if (m_stop.load()) {
        m_exits.set(hv::Shutdown{hv::Shutdown::Stopped});
        return true;
    }
    attention.store(false, std::memory_order_relaxed);
    if (m_shared.debugger && m_shared.debug_pause.load(std::memory_order_acquire)) {
        // The host debugger stopped the world (emu/debug_hook.h): wait here until resumed.
        m_shared.debugger->park(*this);
        update_debug();
        if (m_stop.load()) {
            m_exits.set(hv::Shutdown{hv::Shutdown::Stopped});
            return true;
        }
    }
    if (m_flush_jump_cache) {
        m_cache->invalidate_all();
        m_flush_jump_cache = false;
    }
    if (deterministic) {
        // Cpu::schedule: only a point the instruction stream defines polls. (A snapshot may have
        // been restored while parked above: everything is read again here.)
        if (!seek_stops()) return true;
        const uint64_t count = m_stats.instructions;
        if (!(schedule.service || count >= schedule.next_poll || halted || m_waiting_sipi || interrupt_shadow)) return false;
        if (count >= schedule.next_poll) {
            if (m_shared.serialized && !yielded_at_poll && !m_exits.replaying() && !m_exits.posted() && m_delivering < 0) {
                // The vCPUs take turns on one thread (EngineShared::serialized): this one's
                // quantum ends here; its next run() polls at this same point.
                yielded_at_poll = true;
                m_exits.set(hv::Yield{});
                return true;
            }
            yielded_at_poll = false;
            if (t_determinism && !m_exits.replaying() && !m_exits.posted() && m_delivering < 0) t_determinism->poll_point(*this);
            schedule.next_poll = (count / kDetPollInterval + 1) * kDetPollInterval;
        }
        schedule.service = false;
    }
    budget = kPollInterval;
    if (!m_ints) {
        if (halted || m_waiting_sipi) {
            // Nothing can ever wake this vCPU: no interrupt platform.
            m_exits.set(hv::Halt{});
            return true;
        }
        return false;
    }
    uint64_t deadline = m_ints->poll_timers(m_shared.clock.now_ns());
    if (m_shared.clock.host_steady()) {
        // The timers are polled again when the alarm raises `attention`, not every few thousand
        // instructions. A guest that reprograms a timer raises it too (budget = 0 after an APIC
        // write, VcpuInterrupts::kick for the PIT), so the new deadline gets its alarm.
        budget = kAlarmPollInterval;
        if (deadline != std::numeric_limits<uint64_t>::max())
            m_shared.alarms.arm(m_index, m_shared.clock.host_ns(deadline), &attention);
    }
    if (m_ints->take_init()) {
        reset_to_init();
        m_waiting_sipi = true;
        halted = false;
        m_shared.vcpus_up.set(m_index, false);
    }
    if (m_start_pending.exchange(false, std::memory_order_acquire)) {
        // hv::Vcpu::start_from (Xen's VCPUOP_up): only a vCPU not started yet takes it.
        std::lock_guard lock(m_start_lock);
        if (m_waiting_sipi) {
            hv::CpuState st = m_start_state;
            st.apic_base = apic_base;   // the local APIC stays this vCPU's
            st.cr8 = m_ints->cr8();
            load_state(st);
            return false;
        }
    }
    if (m_waiting_sipi) {
        if (auto v = m_ints->take_sipi()) {
            start_at_sipi(*v);
            return false;
        }
        if (deterministic && m_shared.serialized) {
            // Another vCPU's turn: the SIPI can only come from one of them.
            m_exits.set(hv::Yield{true, deadline});
            return true;
        }
        idle_wait(deadline, WakeOn::Startup);
        return false;
    }
    if (m_exits.replaying()) return false;   // an I/O instruction must complete before any interrupt
    // An NMI waits while an earlier one's handler runs: blocked until the next IRET (SDM Vol. 3A
    // 6.7.1); the local APIC holds one pending. It also waits out the STI / MOV SS interrupt
    // shadow, as a VMM injecting it must (SDM Vol. 3C 26.3.1.5 "blocking by STI ... may also
    // block NMIs"; KVM does; kvm-unit-tests apic "nmi-after-sti" checks it).
    if (!nmi_blocked && !interrupt_shadow && m_ints->take_nmi()) {
        nmi_blocked = true;
        m_event = Event{kNmi, false, 0, false, true, rip};
        if (!deliver_pending()) return true;
        return false;
    }
    if (!interrupt_shadow && (rflags & kIf) && m_ints->interrupt_pending()) {
        if (auto v = m_ints->acknowledge_interrupt()) {
            m_event = Event{*v, false, 0, false, true, rip};
            if (!deliver_pending()) return true;
            return false;
        }
    }
    if (halted) {
        if (!(rflags & kIf) && m_shared.hooks && m_shared.hooks->hlt_with_if0_downs_vcpu()) {
            // The personality's rule (Xen's hvm_hlt / hvm_vcpu_down: XTF's crash path ends in
            // `cli; hlt`): this vCPU is down for good, and a VM with no vCPU up is over.
            m_shared.vcpus_up.set(m_index, false);
            if (m_shared.vcpus_up.any()) m_exits.set(hv::Halt{});
            else m_exits.set(hv::Shutdown{hv::Shutdown::AllVcpusDown});
            return true;
        }
        if (!(rflags & kIf) && m_shared.vcpus == 1) {
            // IF=0 on the only vCPU: only an NMI could wake it, and no device raises one.
            m_exits.set(hv::Halt{});
            return true;
        }
        if (t_determinism && m_shared.serialized) {
            // More than one vCPU: the others take their turns; the VMM idles (virtual time
            // jumps to the earliest deadline) only when every vCPU yielded idle.
            yielded_halted = true;
            m_exits.set(hv::Yield{true, deadline});
            return true;
        }
        if (t_determinism) {
            // --record / --replay: virtual time jumps to the deadline (or console input arrives)
            // instead of the host sleeping; the loop then polls the timers again.
            t_determinism->idle(deadline);
            return false;
        }
        // A blocked NMI (SDM Vol. 3A 6.7.1) stays pending without ending the wait.
        const WakeOn wake = (rflags & kIf) ? (nmi_blocked ? WakeOn::Maskable : WakeOn::AnyEvent)
                                           : (nmi_blocked ? WakeOn::Startup : WakeOn::NonMaskable);
        // Its host core idles: it translates what the other vCPUs did (emu/translation_log.h).
        if (m_bt && m_shared.bt_warm) m_bt->warm_while_idle(deadline);
        idle_wait(deadline, wake);
    }
    return false;
}

void Cpu::idle_wait(uint64_t deadline, WakeOn wake) {
    const auto t0 = std::chrono::steady_clock::now();
    const bool poll = m_shared.vcpus > 1 && m_shared.clock.host_steady();
    if (poll && m_poll.window_ns) {
        ++m_poll.polls;
        const bool hit = poll_for_event(t0, deadline);   // then the wait below returns at once
        if (hit) ++m_poll.hits;
        m_poll.poll_ns += static_cast<uint64_t>(
            std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
    }
    m_ints->wait(deadline, wake);
    ++m_idle.waits;
    const auto ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
    m_idle.wait_ns += ns;
    if (!poll) return;
    if (ns <= kHaltPollMaxNs) m_poll.window_ns = std::min(kHaltPollMaxNs, std::max(kHaltPollStartNs, 2 * m_poll.window_ns));
    else if ((m_poll.window_ns /= 2) < kHaltPollStartNs) m_poll.window_ns = 0;
}

bool Cpu::poll_for_event(std::chrono::steady_clock::time_point t0, uint64_t deadline) {
    const auto until = t0 + std::chrono::nanoseconds(m_poll.window_ns);
    for (unsigned k = 1;; ++k) {
        if (attention.load(std::memory_order_acquire) || m_stop.load(std::memory_order_relaxed)) return true;
        if (k % 64 == 0 && (std::chrono::steady_clock::now() >= until || m_shared.clock.now_ns() >= deadline)) return false;
        __builtin_ia32_pause();
    }
}

void Cpu::det_budget() {
    const uint64_t count = m_stats.instructions;
    const uint64_t until = std::min(schedule.next_poll, stop_at);
    if (schedule.service) {
        budget = 0;
    } else if (until > count) {
        budget = static_cast<int32_t>(std::min<uint64_t>(until - count, INT32_MAX));
    } else {
        // At the seek count but not its RIP (an interrupt's handler is the target, and no poll
        // is due here): on, one instruction at a time.
        budget = stop_at == count && stop_lip != kNever && linear_rip() != stop_lip && schedule.next_poll > count ? 1 : 0;
    }
}

void Cpu::restored() {
    m_exits.forget();
    m_exits.cancel_posted();
    brk = false;
    m_delivering = -1;
    m_debug.host_skip_bp = false;
    m_debug.host_stop = 0;
    m_debug.host_watch_hit = false;
    m_cache->invalidate_all();   // (the vCPU is parked: its cache is not in use)
    m_flush_jump_cache = false;
}

void Cpu::log_unimplemented(const uint8_t* bytes, unsigned len) {
    if (!m_logged_ud.insert(rip).second || m_logged_ud.size() > 1024) return;
    std::string hex;
    for (unsigned k = 0; k < len; ++k) hex += fmt::format("{:02x} ", bytes[k]);
    fmt::print(stderr, "popek interp: vCPU {} #UD for unimplemented instruction at rip {:#x}: {}\n", m_index, rip, hex);
}

}  // namespace popek::emu
