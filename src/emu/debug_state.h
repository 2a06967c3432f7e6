#pragma once
/// The debug bookkeeping of one vCPU of the own engine (emu/debug_regs.cpp): the data watchpoints
/// armed from DR7 and the host debugger, the #DB conditions of the current and next instruction
/// (SDM Vol. 3B 18.2.3 DR6, 18.3 "Debug Exceptions"; Vol. 3A 6.8.3 the MOV SS hold) and the
/// host debugger's stop in progress. The DRn registers themselves are ArchState::dr.
#include <cstdint>

namespace popek::emu {

struct DebugState {
    /// One data watchpoint (guest DRn or host), as a linear range.
    struct Watch {
        uint64_t lo, hi;    ///< [lo, hi]
        bool writes_only;   ///< R/W = 01 (else 11: reads and writes; host Z3 = reads only)
        bool reads_only;
        int8_t guest_bit;   ///< DR6 bit for DR0-DR3, -1 for a host watchpoint
        uint8_t host_kind;  ///< gdb Z type of a host watchpoint
    };
    /// DR0-DR3 plus 16 host watchpoints (gdb/gdb_session.cpp refuses a 17th).
    static constexpr unsigned kMaxWatches = 4 + 16;
    Watch watches[kMaxWatches]{};
    unsigned watch_count = 0;
    bool watch_armed = false;   ///< watch_count > 0: the slow access path checks every access
    bool armed = false;         ///< a DR7 breakpoint or host debugging is armed

    // ---- guest #DB (SDM Vol. 3B 18.2.3, 18.3; Vol. 3A 6.8.3) ----
    /// DR6 bits (BS, B0-B3, BT) of a trap-class #DB that follows the instruction just completed
    /// (delivered after its exits to the VMM); 0: none.
    uint32_t db_pending = 0;
    uint32_t db_hits = 0;       ///< B0-B3 of guest watchpoints hit by the current instruction
    uint32_t db_held = 0;       ///< #DB conditions of a MOV SS / POP SS held for one instruction
    bool movss_shadow = false;  ///< the instruction just run loaded SS (MOV SS / POP SS)
    /// The previous instruction loaded SS: an Intel CPU reports no instruction breakpoint on this
    /// one (SDM Vol. 3A 6.8.3; kvm-unit-tests emulator "#DB suppressed after MOV SS").
    bool after_movss = false;
    /// The instruction just run traps on TF as it left it, not as it found it: SYSCALL and SYSRET
    /// on an Intel CPU (SYSCALL clearing TF through IA32_FMASK does not trap, SYSRET loading TF
    /// from R11 traps at once, in the user context; kvm-unit-tests syscall "TF handling").
    bool step_at_end = false;

    // ---- host debugger (emu/debug_hook.h) ----
    bool host_watch_hit = false;   ///< a host (gdb) watchpoint was hit by the current instruction
    uint64_t host_watch_addr = 0;
    uint8_t host_watch_kind = 0;   ///< 2 write, 3 read, 4 access (gdb Z type)
    bool host_step = false;        ///< the host debugger single-steps this vCPU
    bool host_skip_bp = false;     ///< resume over a host breakpoint at the current RIP
    int host_stop = 0;             ///< pending host stop reason (DebugHook::Reason), 0: none
    uint64_t host_skip_lip = 0;    ///< the linear RIP a resumed vCPU stopped at (see host_skip_bp)
};

}  // namespace popek::emu
