#pragma once
/// The exit port of one own-engine vCPU: everything between the instruction that needs the VMM
/// and the next hv::Vcpu::run() (hv/vcpu_exit.h). It holds
/// - the exit run() returns next, either at once (the instruction unwinds, a stop, an error) or
///   posted for after the current instruction (OUT to a hypercall stub, VMCALL);
/// - the hypercall in flight, whose result the VMM writes and resume() hands back for RAX;
/// - the I/O log: the device accesses of the current instruction in program order, replayed
///   when the instruction runs again after a read (mmu/io_log.cpp says why and how).
/// The CPU and its handlers go through this interface; only translated code reads one flag of
/// it directly (replaying_flag(), emu/bt/block_emitter.cpp).
#include <cstdint>
#include <optional>

#include "hv/vcpu_exit.h"

namespace popek::emu {

/// One device access (MMIO outside the engine's own devices, or a port) of the current
/// instruction, as the VMM sees it.
struct IoAccess {
    enum Kind : uint8_t { MmioRead, MmioWrite, PioIn, PioOut };
    Kind kind = MmioRead;
    uint8_t size = 0;
    uint64_t addr = 0;
    alignas(8) uint8_t data[16]{};
};
/// Enough for the longest sequence one instruction makes: ENTER with nesting level 31 (31 reads
/// and 33 writes, SDM Vol. 2A ENTER).
inline constexpr unsigned kIoLogSize = 72;

class ExitPort {
public:
    // ---- the exit run() returns ----
    const hv::VcpuExit& exit() const { return m_exit; }
    /// The exit to return now (the caller unwinds or returns it).
    void set(hv::VcpuExit e) { m_exit = std::move(e); }
    /// `e` is returned once the current instruction completes (its handler also ends the block).
    void post(hv::VcpuExit e) {
        m_exit = std::move(e);
        m_posted = true;
    }
    bool posted() const { return m_posted; }
    /// The instruction that posted it did not complete (it faulted) or exit() is returned anyway.
    void cancel_posted() { m_posted = false; }
    /// Clears the posted mark; true when there was one (then exit() is to be returned).
    bool take_posted() {
        const bool p = m_posted;
        m_posted = false;
        return p;
    }
    /// A hypercall posted for after this instruction; the VMM's result goes to RAX on resume().
    void post_hypercall(hv::Hypercall call) {
        m_hypercall_result = 0;
        call.result = &m_hypercall_result;
        m_hypercall_pending = true;
        post(call);
    }
    /// The VMM answered exit() (the vCPU runs again): the hypercall's result for RAX when the
    /// exit was a hypercall. A read's data is already in its log entry (the exit's span).
    std::optional<uint64_t> resume() {
        std::optional<uint64_t> rax;
        if (m_hypercall_pending && std::holds_alternative<hv::Hypercall>(m_exit)) rax = m_hypercall_result;
        m_hypercall_pending = false;
        m_exit = hv::Halt{};
        return rax;
    }

    // ---- the I/O log of the current instruction (emu/exit_port.cpp) ----
    /// The log belongs to the instruction at RIP: it runs alone and consumes the log.
    bool replaying() const { return m_log.valid; }
    /// That instruction completed: what it queued is handed out, then the log is forgotten.
    bool retired() const { return m_log.valid && m_log.retired; }
    void forget() { m_log.valid = false; }
    /// The instruction runs again from its first access.
    void rewind() { m_log.cursor = 0; }
    /// True when the access at the cursor is this one: a read gets the logged data, a write was
    /// already handed to the VMM. Consumes the entry.
    bool replayed(IoAccess::Kind kind, uint64_t addr, void* data, unsigned size);
    enum class Logged { Write, Read, Full };
    /// Appends an access the log does not hold: Write (queued; handed out after the instruction),
    /// Read (exit() now holds the oldest access not handed out: the instruction must unwind),
    /// Full (no room or more than 16 bytes: nothing logged).
    Logged log(IoAccess::Kind kind, uint64_t addr, const void* data, unsigned size);
    /// Sets exit() to the oldest access not yet handed to the VMM; false when there is none.
    bool hand_out();
    /// End of an instruction (or event delivery): true when exit() holds an access of the
    /// instruction that just completed; otherwise its log is forgotten.
    bool retire();
    /// Accesses logged for the current instruction (error messages).
    unsigned logged() const { return m_log.count; }
    /// replaying()'s flag, for translated code that drops the log between blocks.
    const bool* replaying_flag() const { return &m_log.valid; }

private:
    hv::VcpuExit m_exit = hv::Halt{};
    bool m_posted = false;
    bool m_hypercall_pending = false;
    uint64_t m_hypercall_result = 0;
    /// A read the VMM has to answer unwinds the instruction, which is re-executed alone once every
    /// access before it and the read itself have been handed out: it consumes the log from the
    /// start, so each access reaches the VMM exactly once. Writes are queued and handed out one
    /// exit at a time after the instruction (or before a read that follows them).
    struct Log {
        bool valid = false;     ///< the log belongs to the instruction at rip (bt clears it between blocks)
        bool retired = false;   ///< that instruction completed: hand out the rest, then forget it
        uint8_t count = 0, cursor = 0, handed = 0;
        IoAccess acc[kIoLogSize];
    } m_log;
};

}  // namespace popek::emu
