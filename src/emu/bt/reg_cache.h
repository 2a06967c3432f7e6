#pragma once
/// Guest general-purpose registers held in host registers within one translated block (what
/// QEMU's TCG does with its globals between spills). A guest register is loaded from Cpu::gpr on
/// its first use in the block, written back when evicted, before every handler call and at every
/// exit; a handler may change any guest register, so nothing stays resident across one.
///
/// The pool is the host registers the block code does not use as scratch: RBP, R12-R15 (saved by
/// the block prologue, emu/bt/block_emitter.cpp) and RDI, R11, R8, R9 (free between handler
/// calls, which run after a write-back). Scratch is RAX, RCX, RDX, RSI and R10; the block frame's
/// slot at [RSP] holds a value across a probe (an indirect CALL's target). Every emitted load and store is a MOV: host flags are never touched,
/// so the guest flags can stay live in the host RFLAGS across a cache operation.
#include <xbyak/xbyak.h>

#include <cstdint>

namespace popek::emu::bt {

class RegCache {
public:
    static constexpr int kPool = 9;
    static constexpr int kGuestRegs = 16;

    /// Residency of every guest register: what a slow path writes back and reloads.
    struct State {
        int8_t host_of[kGuestRegs];   ///< pool index, or -1
        uint16_t dirty = 0;           ///< bit g: the host copy is newer than Cpu::gpr[g]
    };

    /// `gpr` is the offset of Cpu::gpr[0] from RBX (the Cpu pointer of block code).
    RegCache(Xbyak::CodeGenerator& gen, int32_t gpr);

    /// Host register holding guest register `g` (0..15), loaded if not resident.
    const Xbyak::Reg64& read(unsigned g);
    /// Host register for a write of all 64 bits (or 32, which zero-extends): allocated without a
    /// load when not resident; marked dirty.
    const Xbyak::Reg64& write(unsigned g);
    /// Marks a resident register written (8/16-bit writes go through read() then mark()).
    void mark(unsigned g) { m_state.dirty = static_cast<uint16_t>(m_state.dirty | (1u << g)); }
    bool resident(unsigned g) const { return m_state.host_of[g] >= 0; }
    /// A new guest instruction: the registers it pinned may be evicted again.
    void next_insn() { m_pinned = 0; }

    /// Stores every dirty register; all stay resident (clean).
    void flush();
    /// Nothing resident any more (after a handler call; the host registers may be clobbered).
    void forget();
    const State& state() const { return m_state; }
    /// Out-of-line code of a slow path: the stores of `s`'s dirty registers, and the reloads of
    /// every register resident in `s` (after a handler changed Cpu::gpr).
    void emit_write_back(const State& s);
    void emit_reload(const State& s);

    /// Takes a free pool register out of the allocator for the rest of the block (a self-loop's
    /// budget, emu/bt/block_loop.cpp): its index, or -1 when every register holds a guest one.
    int reserve();
    static const Xbyak::Reg64& host(int index);

    /// Everything the allocator knows, to emit one path and then another from the same point.
    struct Snapshot {
        State state;
        int8_t guest_of[kPool];
        uint32_t last_use[kPool];
        uint32_t clock, pinned;
    };
    Snapshot save() const;
    void restore(const Snapshot& s);
    /// Code that makes the host registers hold what `head` says (a loop head's residency, all
    /// of it treated as dirty): registers that leave their place or the cache are written back
    /// when dirty, those of `head` not in place are loaded. MOVs only. The cache's own state is
    /// not changed (the path that emits this jumps away).
    void emit_transition(const State& head) const;

private:
    static constexpr int8_t kReserved = -2;   ///< m_guest_of: taken by reserve()
    int allocate(unsigned g);
    Xbyak::Address slot(unsigned g) const;

    Xbyak::CodeGenerator& m_gen;
    int32_t m_gpr;
    State m_state;
    int8_t m_guest_of[kPool];
    uint32_t m_last_use[kPool] = {};
    uint32_t m_clock = 0;
    uint32_t m_pinned = 0;   ///< pool bits used by the current instruction
};

}  // namespace popek::emu::bt
