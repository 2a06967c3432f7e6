#pragma once
/// The own engine's side of a host debugger (the gdb stub, src/gdb/): breakpoints and watchpoints
/// the engine enforces without patching guest memory, and the hook through which a vCPU reports a
/// stop and waits, on its own thread, until the debugger resumes it.
///
/// Stop the world: the debugger sets EngineShared::debug_pause and kicks every vCPU (the
/// `attention` flag); each vCPU then calls DebugHook::park() from Cpu::service() at its next
/// instruction boundary (a halted vCPU is woken by the kick) and stays there until resumed.
#include <cstdint>
#include <vector>

namespace popek::emu {

class Cpu;

/// Breakpoints and watchpoints set by the host debugger (gdb Z0-Z4). Changed only while every
/// vCPU is parked; each vCPU re-reads them (Cpu::update_debug) when it leaves park() or stopped().
struct HostDebug {
    /// Linear addresses of instruction breakpoints (gdb Z0 software and Z1 hardware alike).
    std::vector<uint64_t> breakpoints;
    struct Watch {
        uint64_t addr = 0;
        uint64_t len = 1;
        uint8_t kind = 2;   ///< gdb Z type: 2 write, 3 read, 4 access
    };
    std::vector<Watch> watches;
};

class DebugHook {
public:
    /// kSeek: the vCPU reached Cpu::stop_at (reverse execution's re-execution to a count).
    enum Reason : int { kNone = 0, kBreakpoint = 1, kStep = 2, kWatch = 3, kSeek = 4 };
    virtual ~DebugHook() = default;
    /// `cpu` hit a host breakpoint, finished a host single-step or hit a host watchpoint (the
    /// instruction completed; `watch_addr`/`watch_kind` name it). Blocks until resumed. Returns
    /// false when the stop was not reported because the world was already stopping for another
    /// vCPU: a breakpoint is then met again after the resume.
    virtual bool stopped(Cpu& cpu, Reason why, uint64_t watch_addr, uint8_t watch_kind) = 0;
    /// The world is stopped (EngineShared::debug_pause): waits until this vCPU may run again.
    virtual void park(Cpu& cpu) = 0;
};

}  // namespace popek::emu
