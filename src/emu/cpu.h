#pragma once
/// The own engine's x86-64 CPU: its architectural state (emu/arch_state.h, a base class so that
/// handlers name registers directly), its MMU (emu/mmu/mmu.h: software TLB and page walk), its
/// exit port (emu/exit_port.h) and debug state (emu/debug_state.h), and the memory access paths,
/// event delivery and dispatch loop shared by the interpreter and the block translator.
///
/// Guest exceptions unwind the current instruction with longjmp back to the dispatch loop
/// (Cpu::execute): handler frames must not hold objects with non-trivial destructors while they
/// touch guest memory or raise. Instructions therefore do every check and read first and commit
/// registers last, so a faulting instruction leaves no trace (SDM Vol. 3A 6.5 "fault").
#include <atomic>
#include <chrono>
#include <csetjmp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_set>

#include "emu/arch_state.h"
#include "emu/cpu_hooks.h"
#include "emu/debug_state.h"
#include "emu/engine_shared.h"
#include "emu/exit_port.h"
#include "emu/mmu/mmu.h"
#include "hv/cpu_state.h"
#include "hv/vcpu_exit.h"
#include "hv/vcpu_stats.h"

namespace popek::emu {

class BlockCache;
struct Insn;
namespace bt { class Translator; }

/// A pending exception or interrupt (SDM Vol. 3A 6.4, 6.5).
struct Event {
    uint8_t vector = 0;
    bool has_error = false;
    uint32_t error = 0;
    bool software = false;   ///< INT n / INT3 / INTO: privilege check against the gate DPL
    bool external = false;   ///< hardware interrupt (EXT bit in error codes)
    uint64_t return_rip = 0; ///< RIP saved on the stack
};

/// Reasons for unwinding an instruction with longjmp.
enum Unwind : int { kUnwindNone = 0, kUnwindEvent = 1, kUnwindExit = 2 };

class Cpu : public ArchState {
public:
    Cpu(EngineShared& shared, int index, CpuInterrupts* interrupts);
    ~Cpu();
    Cpu(const Cpu&) = delete;
    Cpu& operator=(const Cpu&) = delete;

    /// The architectural state alone (a copy, e.g. to compare or snapshot it).
    const ArchState& arch() const { return *this; }

    // ---- per-instruction scratch used by handlers ----
    uint64_t next_rip = 0;
    bool brk = false;   ///< end the current block after this instruction

    int index() const { return m_index; }
    EngineShared& shared() { return m_shared; }
    CpuInterrupts* interrupts() { return m_ints; }

    void load_state(const hv::CpuState& st);
    hv::CpuState save_state() const;
    /// INIT (SDM Vol. 3A 9.1.1, table 9-1): real mode at f000:fff0, or at sipi<<12 after SIPI.
    void reset_to_init();
    void start_at_sipi(uint8_t vector);
    void update_mode();
    /// CPL, CR4.SMAP or EFLAGS.AC may have changed: selects the software TLB's privilege class
    /// (emu/mmu/mmu.h TlbClass). Every write of CPL or of RFLAGS.AC ends here (update_mode()
    /// calls it; so do STAC/CLAC, POPF/IRET's write_flags, SYSCALL's FMASK, task switches).
    void update_tlb_class() { m_mmu.set_class(tlb_class()); }
    /// The registers a page walk reads (SDM Vol. 3A 4.1.1, 4.6).
    PagingRegs paging_regs() const {
        return PagingRegs{cr0, cr3, cr4, efer, long_mode, cpl < 3 && (rflags & kAc) != 0, pkru, pkrs};
    }
    /// The TLB class of the current privilege, from CPL, CR4.SMAP and EFLAGS.AC as they are now:
    /// the slow path uses it, not the class last selected, because instruction handlers change
    /// CPL (interrupt delivery, task switches, far transfers) and reach memory before they call
    /// update_mode() (kTlbSup for a walk it does not apply to).
    TlbClass tlb_class() const {
        return cpl == 3 ? kTlbUser : ((cr4 & hv::kCr4Smap) && (rflags & kAc)) ? kTlbSupAc : kTlbSup;
    }

    // ---- memory: segmentation + paging + physical dispatch ----
    /// Linear address of seg:off for an access of `size` bytes, with the segment checks of the mode
    /// (SDM Vol. 3A 5.3 limit checks, 3.4.5 types; 64-bit: canonical check). Raises #GP/#SS.
    uint64_t linear(int s, uint64_t off, unsigned size, Access acc);
    template <class T> T read_la(uint64_t la);
    template <class T> void write_la(uint64_t la, T v);
    template <class T> T read(int s, uint64_t off) { return read_la<T>(linear(s, off, sizeof(T), Access::Read)); }
    template <class T> void write(int s, uint64_t off, T v) { write_la<T>(linear(s, off, sizeof(T), Access::Write), v); }
    /// Host pointer for an atomic read-modify-write of sizeof(T) bytes at seg:off (write permission
    /// checked, dirty bit set), or nullptr when the operand is MMIO or crosses a page. A page that
    /// holds decoded code is RAM too: its blocks are invalidated and the pointer returned, so LOCK
    /// stays a host atomic there (a plain read and write lost other vCPUs' updates).
    template <class T> T* rmw_ptr(int s, uint64_t off);
    /// The host address of [la, la + len) when it lies in one page that the software TLB maps
    /// for `acc` (Read or Write), else nullptr. What a TLB hit of read_la/write_la guarantees
    /// holds for the whole range: RAM, not watched, for a write not code. Bulk string
    /// instructions (emu/interp/string.cpp) copy through it.
    uint8_t* tlb_span(uint64_t la, uint64_t len, Access acc) { return m_mmu.span(la, len, acc); }
    /// Reads/writes with supervisor privilege regardless of CPL (descriptor tables, TSS, SDM 5.5).
    void read_sys(uint64_t la, void* out, unsigned size);
    void write_sys(uint64_t la, const void* in, unsigned size);
    void read_bytes_la(uint64_t la, void* out, unsigned size, Access acc, bool supervisor);
    void write_bytes_la(uint64_t la, const void* in, unsigned size, bool supervisor);
    /// Translates a linear address (walking the page tables on a TLB miss). Raises #PF.
    uint64_t translate(uint64_t la, Access acc, bool supervisor);
    /// The same walk without side effects (no #PF, no CR2, no A/D bits, no TLB fill), for the VMM
    /// (hv::Vcpu::translate_gva). nullopt when the access would fault; *pf_error gets the #PF code.
    std::optional<uint64_t> probe_translate(uint64_t la, Access acc, bool supervisor, uint32_t* pf_error) const;
    void flush_tlb();
    /// MOV to CR3: drops every non-global translation.
    void flush_tlb_non_global();
    /// INVLPG: drops the translations of the page holding `la`.
    void flush_tlb_page(uint64_t la);
    /// True when the cached instruction-fetch translation of `la` is global (after translate()).
    bool tlb_global(uint64_t la, TlbClass cls) const;
    /// Drops every fast write mapping (a page became code somewhere: writes must be seen).
    void drop_write_mappings();

    // ---- stack ----
    void push(uint64_t v, unsigned size);
    uint64_t pop(unsigned size);
    uint64_t peek(unsigned size, uint64_t offset = 0);

    // ---- physical ----
    void phys_read(uint64_t gpa, void* out, unsigned size);
    void phys_write(uint64_t gpa, const void* in, unsigned size);

    // ---- events ----
    [[noreturn]] void raise(uint8_t vector);
    [[noreturn]] void raise(uint8_t vector, uint32_t error);
    /// INT n / INT3 / INTO: a trap whose saved RIP is the next instruction.
    [[noreturn]] void raise_software(uint8_t vector);
    /// A trap without the gate DPL check (INT1/ICEBP: #DB, SDM Vol. 3A 17.3.1.2).
    [[noreturn]] void raise_trap(uint8_t vector);
    /// Delivers m_event through the IVT/IDT (SDM Vol. 3A 6.12, 6.14).
    void deliver_event();
    /// Leaves the current instruction to hand `exit` to the VMM; the instruction is re-executed
    /// on the next run() with the VMM's data (reads) or was already completed (writes).
    [[noreturn]] void unwind_exit();

    // ---- segments (segments.cpp) ----
    /// Reads the 8-byte descriptor for `selector` from the GDT/LDT; raises `vec`(sel) if outside.
    uint64_t read_descriptor(uint16_t selector, uint8_t vec);
    hv::Segment descriptor_to_segment(uint16_t selector, uint64_t d, uint64_t d_high = 0) const;
    /// MOV/POP to a data segment register or SS with every protected-mode check (SDM Vol. 2 MOV).
    void load_data_segment(int s, uint16_t selector);
    void load_real_segment(int s, uint16_t selector);
    void set_accessed(uint16_t selector, uint64_t d);
    bool is_system_access_allowed() const { return cpl == 0; }
    void require_cpl0() { if (cpl != 0) raise(kGp, 0); }

    // ---- control / MSR (system.cpp) ----
    void write_cr0(uint64_t v);
    void write_cr3(uint64_t v);
    void write_cr4(uint64_t v);
    void write_efer(uint64_t v);
    uint64_t read_msr(uint32_t msr);      ///< raises #GP for unknown MSRs
    void write_msr(uint32_t msr, uint64_t v);
    uint64_t tsc();

    // ---- debug registers and host debugging (debug_regs.cpp; SDM Vol. 3B 18.2, 18.3) ----
    /// DR7/DR0-DR3 or the host debugger changed: recomputes which checks are armed.
    void update_debug();
    /// B0-B3 of the enabled instruction breakpoints at linear address `lip` (SDM 18.3.1.1).
    uint32_t instruction_breakpoints(uint64_t lip) const;
    /// A data access of `size` bytes at `la`: records the watchpoints it hits (only when armed).
    void check_watch(uint64_t la, unsigned size, Access acc) {
        if (m_debug.watch_armed) [[unlikely]] watch_hit(la, size, acc);
    }
    /// True when the vCPU must run one instruction at a time through the interpreter: TF, a DR7
    /// breakpoint, a held MOV SS #DB or the host debugger (the one switch, see executor.cpp).
    bool debug_per_instruction() const { return (rflags & kTf) || m_debug.armed || m_debug.db_held; }
    /// The #DB and host-debugger bookkeeping (emu/debug_state.h): handlers note MOV SS, a task
    /// switch's T flag and SYSCALL/SYSRET's TF rule there; snapshots save it.
    DebugState& debug() { return m_debug; }
    const DebugState& debug() const { return m_debug; }

    // ---- execution (executor.cpp) ----
    /// Runs until the VMM is needed. Returns the exit; the I/O span points into this Cpu.
    hv::VcpuExit execute();
    /// Completes an I/O exit: the data the VMM filled into a read is replayed to the instruction.
    void complete_io();
    void request_stop();
    /// request_stop() was called: the vCPU's thread is leaving.
    bool stop_requested() const { return m_stop.load(); }
    void kick();
    /// STI (IF 0 -> 1), MOV SS, POP SS: interrupts and NMIs wait until the next instruction is
    /// done (SDM Vol. 3A 6.8.3; Vol. 3C 26.3.1.5 for NMIs).
    void begin_interrupt_shadow() {
        interrupt_shadow = true;
        m_shadow_from = m_stats.instructions;   // the shadowing instruction is counted before it runs
    }
    /// The shadow is over once the instruction after the shadowing one ran: in the same block as
    /// it (an STI in a block's middle) the dispatcher finds it over at the next boundary.
    void retire_interrupt_shadow() {
        if (interrupt_shadow && m_stats.instructions > m_shadow_from) interrupt_shadow = false;
    }
    /// A restored shadow (a snapshot): kept until the dispatcher runs the next instruction alone.
    void restore_interrupt_shadow(bool on) {
        interrupt_shadow = on;
        m_shadow_from = ~uint64_t{0};
    }
    /// What an observer (a snapshot) sees: the shadow still blocks the next boundary.
    bool in_interrupt_shadow() const { return interrupt_shadow && m_stats.instructions <= m_shadow_from; }
    /// hv::Vcpu::start_from: from any thread; taken between blocks (service) if still waiting
    /// for INIT/SIPI, else dropped.
    void request_start(const hv::CpuState& state);
    hv::VcpuStats stats() const { return m_stats; }
    hv::VcpuStats& mutable_stats() { return m_stats; }
    /// Selects the block translator (`--accel bt`) for this vCPU instead of interpreting.
    void enable_translation();
    /// Installs `t` as this vCPU's translator (tests that want their own thresholds); null: interpret.
    void set_translator(std::unique_ptr<bt::Translator> t);
    bt::Translator* translator() { return m_bt.get(); }
    const bt::Translator* translator() const { return m_bt.get(); }
    /// --accel bt: instructions the interpreter ran instead of translated code.
    uint64_t interpreted() const { return m_interpreted; }
    /// Where a vCPU's time goes besides running guest code (`--stats`): host sleeps while halted
    /// or waiting for SIPI, and spin-waits (PAUSE) with the host core given away.
    struct IdleStats {
        uint64_t waits = 0;         ///< host sleeps (HLT, wait-for-SIPI)
        uint64_t wait_ns = 0;       ///< host steady-clock time in them
        uint64_t pauses = 0;        ///< PAUSE instructions run
        uint64_t pause_yields = 0;  ///< of which gave the host core away
    };
    const IdleStats& idle_stats() const { return m_idle; }
    /// Halt polling (more than one vCPU): before a halted vCPU sleeps it spins for up to
    /// `window_ns` on its attention flag, so an IPI from another vCPU (a wake-up, a TLB
    /// shootdown, a completion the other side waits for) is taken without the host's sleep and
    /// wake-up (~60 us measured on a 2-core host). The window adapts as KVM's halt_poll_ns does:
    /// it doubles after a halt that ended within kHaltPollMaxNs and halves after a longer one, so a
    /// vCPU idling between timer ticks does not poll.
    struct HaltPoll {
        uint64_t window_ns = 0;
        uint64_t polls = 0;   ///< halts that polled
        uint64_t hits = 0;    ///< of which an event ended during the poll
        uint64_t poll_ns = 0; ///< host time spent polling
    };
    static constexpr uint64_t kHaltPollStartNs = 10'000, kHaltPollMaxNs = 200'000;
    const HaltPoll& halt_poll() const { return m_poll; }
    IdleStats& mutable_idle_stats() { return m_idle; }
    /// This vCPU's decoded-block cache (statistics for the VMM's reports).
    const BlockCache& block_cache() const { return *m_cache; }
    void set_runnable(bool r) { m_runnable = r; }
    bool runnable() const { return m_runnable; }
    /// An application processor after INIT, until its SIPI (SDM Vol. 3A 8.4.4.1).
    bool waiting_sipi() const { return m_waiting_sipi; }
    void set_waiting_sipi(bool w) { m_waiting_sipi = w; }

    // ---- I/O from handlers (io path) ----
    /// Port input of `size` bytes: platform first, else an exit (replayed on the next run()).
    uint32_t port_in(uint16_t port, unsigned size);
    /// Port output: platform first, else a pending exit returned after this instruction.
    void port_out(uint16_t port, unsigned size, uint32_t value);
    /// An exit waits for the end of this instruction, or this instruction's device accesses are
    /// being replayed: a REP string instruction ends its iterations here and restarts.
    bool exit_pending() const {
        return m_exits.posted() || m_exits.replaying() || m_debug.db_hits || m_debug.host_watch_hit;
    }
    /// The exit port: the exit run() returns next, the hypercall in flight and the I/O log of the
    /// current instruction (emu/exit_port.h). To end an instruction with an exit now, set() it
    /// and unwind_exit().
    ExitPort& exits() { return m_exits; }
    const ExitPort& exits() const { return m_exits; }

    // ---- personality hooks (emu/cpu_hooks.h; the Xen layer is hv/xen/xen_cpu_hooks.cpp) ----
    /// The hooks asked first for CPUID, RDMSR/WRMSR, OUT and VMCALL; null for a plain PC.
    CpuHooks* hooks() const { return m_shared.hooks; }
    /// Ends the current instruction with `call` as the exit after it (the block ends there); the
    /// result the VMM stores through call.result goes into RAX by complete_io(). For hooks.
    void exit_hypercall(hv::Hypercall call);
    /// A write of `size` bytes at `gpa` by other means than a guest store (e.g. a page the VMM
    /// fills for the guest): decoded code there is dropped.
    void check_code_write(uint64_t gpa, unsigned size);
    /// VMCALL / VMMCALL that no hook took: KVM's hypercall ABI (kvm_hypercall.cpp).
    void kvm_vmcall();
    void log_unimplemented(const uint8_t* bytes, unsigned len);
    void invalidate_code_all();

    /// Attention flag: checked at block boundaries (stop requests, kicks, mode changes).
    std::atomic<bool> attention{false};
    int32_t budget = 0;   ///< instructions until the next interrupt/timer poll

    // ---- deterministic scheduling (--record / --replay, emu/determinism.h) ----
    /// Under a Determinism the vCPU polls its timers and takes interrupts only at points that are
    /// a function of the instruction stream, whatever the granularity it runs at (blocks,
    /// translated chains, one instruction at a time under a debugger): every kDetPollInterval
    /// retired instructions (blocks are cut there), after an instruction in an interrupt
    /// shadow, while halted. An attention request (a debugger's kick, a VMM write) alone does nothing a
    /// guest can see. So a replay stays the recording's under gdb, and a re-execution from an
    /// in-memory snapshot (reverse execution, src/replay/history.h) retraces it exactly.
    struct Schedule {
        uint64_t next_poll = 0;   ///< instruction count of the next poll
        bool service = false;     ///< poll at the next boundary (after an interrupt shadow)
    };
    static constexpr uint64_t kNever = ~uint64_t{0};
    static constexpr uint64_t kDetPollInterval = 2048;
    Schedule schedule;
    bool deterministic = false;   ///< set by execute() from t_determinism
    /// EngineShared::serialized: this vCPU yielded at its poll point (the next run() polls
    /// there), or while halted (the next run() stays halted).
    bool yielded_at_poll = false;
    bool yielded_halted = false;
    /// The host debugger's seek (reverse execution): the vCPU stops (DebugHook::kSeek) at the
    /// first instruction boundary where its count reaches this. Deterministic runs only.
    uint64_t stop_at = kNever;
    /// With stop_at: the linear RIP to stop at (kNever: any). An interrupt is delivered without
    /// retiring an instruction, so the count alone does not tell the interrupted instruction
    /// from the handler's first one.
    uint64_t stop_lip = kNever;
    /// A snapshot was restored into this (parked) vCPU: leftovers of the instruction it stood
    /// in are dropped, decoded code is re-checked.
    void restored();

private:
    friend class bt::Translator;
    /// rmw_ptr below the write TLB: the RAM at `la` (code checked as for a write), or nullptr.
    uint8_t* rmw_ptr_slow(uint64_t la, unsigned size);
    template <class T> T read_slow(uint64_t la);
    template <class T> void write_slow(uint64_t la, T v);
    /// Host pointer of `size` bytes at `gpa` when they are plain RAM (not MMIO, not the APIC page).
    uint8_t* ram_ptr(uint64_t gpa, unsigned size) const;
    /// Caches a translation in the MMU as what the page may be mapped as here: not at all for
    /// the APIC page, MMIO or a watched page, not for writes when it holds code.
    void fill_tlb(uint64_t la, uint64_t gpa, TlbClass cls, bool readable, bool writable, bool executable,
                  bool global, unsigned page_shift);
    void mmio_access(uint64_t gpa, void* data, unsigned size, bool write);
    [[noreturn]] void page_fault(uint64_t la, uint32_t err);
    /// A device access the exit port's log does not hold yet (mmu/io_log.cpp): a write is queued
    /// (handed out after the instruction), a read unwinds the instruction to hand the queued
    /// writes and then the read out.
    void io_new(IoAccess::Kind kind, uint64_t addr, const void* data, unsigned size);

    // ---- the dispatch loop's steps (executor.cpp, debug_regs.cpp) ----
    /// Between blocks: stop requests, timers, INIT/SIPI, NMI, interrupts, HLT. True: return exits().exit().
    bool service();
    bool service_inner();
    /// Deterministic runs: the vCPU reached stop_at (and stop_lip): reports it, maybe
    /// repeatedly (the debugger may seek again). False: the VM is stopping.
    bool seek_stops();
    bool at_stop() const;
    /// Deterministic runs: budget = instructions to the next poll or seek target.
    void det_budget();
    /// Runs m_event through the IDT, escalating to #DF / triple fault when delivery itself
    /// faults. False: return exits().exit().
    bool deliver_pending();
    void watch_hit(uint64_t la, unsigned size, Access acc);
    bool watched_page(uint64_t la) const;
    /// Before an instruction in per-instruction mode: instruction breakpoints (guest: #DB fault;
    /// host: stop). Returns 0 to run it, 1 to restart the dispatch loop, 2 to return exits().exit().
    int debug_before_instruction();
    /// After an instruction (or event delivery): the #DB traps and host stops it produced.
    /// False: return exits().exit().
    bool debug_after_instruction(bool stepped);
    /// Delivers db_pending and reports a pending host stop. False: return exits().exit().
    bool finish_debug_traps();
    /// Hands host_stop to the debugger and waits for the resume. False: return exits().exit().
    bool report_host_stop();

    Event m_event;   ///< the exception or interrupt being raised or delivered
    EngineShared& m_shared;
    int m_index;
    ExitPort m_exits;
    CpuInterrupts* m_ints;
    Mmu m_mmu;
    uint64_t m_code_epoch_seen = 0;   ///< the code epoch when the write mappings were last dropped
    uint64_t m_dma_epoch_seen = 0;    ///< the DMA epoch when this vCPU's chained jumps were last unlinked

    // ---- executor state (executor.cpp) ----
    std::jmp_buf m_jmp;
    int m_delivering = -1;    ///< vector being delivered (double-fault detection), -1 none
    std::atomic<bool> m_stop{false};
    std::atomic<bool> m_start_pending{false};
    std::mutex m_start_lock;
    hv::CpuState m_start_state;   ///< request_start's, under m_start_lock
    bool m_runnable = true;
    bool m_waiting_sipi = false;
    hv::VcpuStats m_stats;
    BlockCache* m_cache = nullptr;
    std::unique_ptr<bt::Translator> m_bt;   ///< null: interpret every block
    uint64_t m_interpreted = 0;   ///< --accel bt: instructions run by the interpreter instead
    IdleStats m_idle;
    /// The instruction count with the shadowing instruction in it (begin_interrupt_shadow):
    /// once the count has passed it, the next instruction ran and the shadow is over.
    uint64_t m_shadow_from = ~uint64_t{0};
    /// Sleeps in m_ints->wait (counted in m_idle).
    void idle_wait(uint64_t deadline, WakeOn wake);
    bool m_flush_jump_cache = false;
    std::unordered_set<uint64_t> m_logged_ud;
    DebugState m_debug;
    // (Last: a field inserted before the hot ones shifted them and cost a boot ~40% CPU; README.)
    HaltPoll m_poll;
    /// Spins until attention is raised (true) or the poll window or the guest-clock `deadline` passes.
    bool poll_for_event(std::chrono::steady_clock::time_point t0, uint64_t deadline);
};

// ---- inline fast paths ----

template <class T>
inline T Cpu::read_la(uint64_t la) {
    if (const uint8_t* p = m_mmu.fast(la, Access::Read); p && (la & 0xfff) <= 4096 - sizeof(T)) [[likely]] {
        T v;
        std::memcpy(&v, p, sizeof(T));
        return v;
    }
    return read_slow<T>(la);
}

template <class T>
inline void Cpu::write_la(uint64_t la, T v) {
    if (uint8_t* p = m_mmu.fast(la, Access::Write); p && (la & 0xfff) <= 4096 - sizeof(T)) [[likely]] {
        std::memcpy(p, &v, sizeof(T));
        return;
    }
    write_slow<T>(la, v);
}

template <class T>
T Cpu::read_slow(uint64_t la) {
    T v;
    read_bytes_la(la, &v, sizeof(T), Access::Read, false);
    return v;
}

template <class T>
void Cpu::write_slow(uint64_t la, T v) {
    write_bytes_la(la, &v, sizeof(T), false);
}

template <class T>
T* Cpu::rmw_ptr(int s, uint64_t off) {
    uint64_t la = linear(s, off, sizeof(T), Access::Write);
    if ((la & 0xfff) > 4096 - sizeof(T)) return nullptr;
    if (uint8_t* p = m_mmu.fast(la, Access::Write)) [[likely]] return reinterpret_cast<T*>(p);
    return reinterpret_cast<T*>(rmw_ptr_slow(la, sizeof(T)));
}

}  // namespace popek::emu
