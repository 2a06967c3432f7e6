#pragma once
/// Emits the host x86-64 code of one Block (xbyak). The generated function is
/// `void block(Cpu* cpu)`: RBX holds the Cpu for the whole block, RAX/RCX/RDX are scratch. Guest
/// registers stay in Cpu::gpr between instructions and the guest RFLAGS in Cpu::rflags, so a
/// handler called from the block sees exactly the state the dispatch loop would give it.
///
/// Per instruction, either native code (emu/bt/native_ops.cpp: the same instruction on host
/// registers loaded from and stored to Cpu::gpr, flags captured like emu/interp/host_ops.h) or a
/// call of the interpreter's handler, set up as emu/executor.cpp does (rip, next_rip, counted
/// instruction) and followed by `rip = next_rip; if (brk) return`. Native instructions cannot
/// fault, so RIP and the instruction count are brought up to date lazily, before each handler call
/// and at the end of the block.
#include <xbyak/xbyak.h>

#include <atomic>
#include <cstdint>
#include <deque>

#include "emu/decode/insn.h"

namespace popek::emu {
class Cpu;
struct Block;
}  // namespace popek::emu

namespace popek::emu::bt {

/// Offsets (from the Cpu object) of the fields translated code touches.
struct CpuLayout {
    int32_t gpr = 0, rip = 0, rflags = 0, next_rip = 0, brk = 0, instructions = 0;
    int32_t attention = 0, budget = 0, interrupt_shadow = 0, replay_valid = 0, code_epoch_seen = 0;
    int32_t tlb_active = 0, fs_base = 0, gs_base = 0;
    static CpuLayout of(const Cpu& cpu);
};

/// Offsets of the Block fields the chaining guard reads.
struct BlockLayout {
    int32_t bt_code = 0, bt_epoch = 0, gen_ptr = 0, gen = 0, dma_epoch = 0;
    static BlockLayout of(const Block& b);
};

/// A direct-chaining exit of a translated block: the guest-physical address and mode of the block
/// it leads to (same page, so the same linear-to-physical mapping), and that Block once the
/// dispatcher has run it after this exit (Translator::link). Slots die with the code buffer.
/// No default member initializers: the translator's slot array is allocated uninitialised (its
/// pages are touched only as slots are used), and make_slot() writes every field.
struct ChainSlot {
    Block* block;   ///< unlinked_block() until linked
    uint64_t gpa;
    uint32_t mode;
    int32_t insns;   ///< instruction count of `block` (charged to the budget on the jump)
};

/// What chaining needs besides the Cpu: VM-wide epochs and the translator's bookkeeping.
struct ChainContext {
    const uint32_t* buffer_epoch = nullptr;
    ChainSlot** pending_slot = nullptr;   ///< set by an exit that could not chain
    const std::atomic<uint64_t>* dma_epoch = nullptr;
    const std::atomic<uint64_t>* code_epoch = nullptr;
    BlockLayout block;
    ChainSlot* slots = nullptr;           ///< two per block: branch taken, not taken / fall-through
    /// Called by an exit with no chain slot (RET, indirect and cross-page branches): the next
    /// block's code entry when it is translated and may run now (Translator::next_block), else
    /// nullptr (back to the dispatcher).
    const void* (*next_block)(Cpu*) = nullptr;
    // `--stats` counters the emitted code bumps.
    uint64_t* handler_exits = nullptr;    ///< per Zydis mnemonic: handler calls and slow paths taken
    uint64_t* chains_taken = nullptr;
};

/// The target of every unlinked chain slot: a block that is never translated.
Block& unlinked_block();

/// Offset of a translated block's code at which a chained jump enters (past the prologue).
inline constexpr int kChainEntry = 4;

/// True when `insn` is in the native whitelist (GPR/RFLAGS-only instructions that cannot fault).
bool is_native(const Insn& insn);

/// For a native instruction: the RFLAGS bits it writes (merged from the host), and whether it
/// reads the guest's arithmetic flags.
struct NativeFlags {
    uint64_t writes = 0;
    bool reads = false;
};
NativeFlags native_flags(const Insn& insn);

/// True when `insn`, in 64-bit code, has an inline memory fast path (emu/bt/memory_ops.cpp): MOV,
/// ALU, MOVZX/MOVSX, INC/DEC/NEG/NOT, XCHG/XADD/CMPXCHG with one memory operand, PUSH/POP of a
/// GPR. The access probes the software TLB in the emitted code; a miss runs the handler instead.
bool is_native_memory(const Insn& insn);

class BlockEmitter : public Xbyak::CodeGenerator {
public:
    /// Emits into [buffer, buffer + max) (xbyak throws Xbyak::Error when it does not fit).
    BlockEmitter(const CpuLayout& layout, const ChainContext& chain, uint8_t* buffer, size_t max);
    /// The whole block: prologue, every instruction, epilogue.
    void emit_block(const Block& b);
    /// Counts of the instructions emitted natively and as handler calls.
    unsigned native_count() const { return m_native; }
    unsigned helper_count() const { return m_helpers; }

private:
    void emit_helper_call(const Insn& in);
    /// Native (register-only or inline memory) code rather than a handler call.
    bool runs_inline(const Insn& in) const;
    /// The call of `in`'s handler (counted per mnemonic for `--stats`).
    void emit_handler_call(const Insn& in);
    void emit_native(const Insn& in);
    void sync_rip();
    void sync_count(uint32_t extra);

    // Block ends and chaining (block_chain.cpp).
    /// True when `in` (the last instruction) is a JMP rel / Jcc rel emitted natively.
    static bool is_chained_branch(const Insn& in);
    void emit_branch_tail(const Block& b, const Insn& in, uint32_t offset);
    /// True when `in` (the last instruction, 64-bit code) is CALL rel, RET or an indirect JMP/CALL
    /// through a register or memory, emitted natively (stack and memory through the TLB probe).
    static bool is_native_tail(const Insn& in);
    void emit_native_tail(const Block& b, const Insn& in, uint32_t offset);
    void emit_fall_through(const Block& b, uint32_t end_offset);
    /// Leaves the block with `rip` as the guest RIP: a guarded jump into the translation of the
    /// slot's block, else a return to the dispatcher. `slot` null: always return.
    void emit_exit(const Xbyak::Reg64& new_rip, ChainSlot* slot, bool check_wrap);
    ChainSlot* make_slot(const Block& b, int index, int64_t target_offset);

    // Operand access (native_ops.cpp).
    Xbyak::Address gpr_slot(unsigned base_reg);
    /// Guest register r (8-bit: 16..19 = AH..BH) as host register `host` (0 = RAX, 1 = RCX) of
    /// `size` bytes after the full guest register was loaded into it.
    static Xbyak::Reg sized(int host, unsigned size, unsigned guest_reg);
    void load_full(int host, unsigned guest_reg);
    /// Loads operand 1 (a GPR or the immediate) into RCX for reading only: an 8-bit high
    /// register is shifted down, so the result is CL/CX/ECX/RCX.
    Xbyak::Reg load_source(const Insn& in, unsigned size);
    void store_full(int host, unsigned guest_reg);
    void load_guest_flags();
    void merge_host_flags(uint64_t mask);
    /// SETcc of condition `cc` (opcode order) into `dst`.
    void emit_condition(unsigned cc, const Xbyak::Operand& dst);
    void emit_binary(const Insn& in);
    void emit_unary(const Insn& in);
    void emit_mov(const Insn& in);
    void emit_extend(const Insn& in);
    void emit_lea(const Insn& in);
    void emit_shift(const Insn& in);
    void emit_imul(const Insn& in);
    void emit_xchg(const Insn& in);
    void emit_setcc(const Insn& in);
    void emit_cmovcc(const Insn& in);

    // Inline memory access (memory_ops.cpp).
    /// An instruction whose fast path jumps to `entry` on a TLB miss; the slow path runs the
    /// handler and comes back to `resume` with the lazy RIP/count state the fast path has.
    struct SlowPath {
        Xbyak::Label entry, resume;
        const Insn* in = nullptr;
        uint32_t rip_pending = 0, count_pending = 0;
        int cc_capture = -1;
        bool exit_after = false;   ///< a block-ending CALL/RET/JMP: leave after the handler
    };
    void emit_memory(const Insn& in);
    /// Linear address of the memory operand into RAX (64-bit mode: FS/GS base added).
    void emit_linear_address(const Insn& in);
    /// Probes the TLB for `size` bytes at the linear address in RAX (`write`: the write tag):
    /// the host address into RSI (no REX needed: AH..BH stay encodable), else a jump to the slow path.
    void emit_probe(bool write, unsigned size, SlowPath& slow);
    void emit_memory_alu(const Insn& in, SlowPath& slow);
    void emit_stack(const Insn& in, SlowPath& slow);
    void emit_slow_paths();

    /// True when the flags the current native instruction produces are overwritten by a later
    /// native instruction of the block before anything can read them (no merge is emitted).
    static bool flags_dead(const Block& b, size_t index);
    /// True when instruction `index` is native, writes every flag the block-ending Jcc after it
    /// tests, and so can hand it the condition (m_cc_capture).
    static bool captures_condition(const Block& b, size_t index);

    CpuLayout m_layout;
    ChainContext m_chain;
    bool m_skip_flags = false;
    /// Condition of the block-ending Jcc, evaluated on the host flags of the native instruction
    /// before it (into R8B) while they are still live: -1 none; m_cc_captured once emitted.
    int m_cc_capture = -1;
    bool m_cc_captured = false;
    uint32_t m_rip_pending = 0;     ///< bytes executed since Cpu::rip was last written
    uint32_t m_count_pending = 0;   ///< instructions executed since the count was last written
    Xbyak::Label m_exit;
    bool m_mode64 = false;            ///< the block is 64-bit code: memory fast paths allowed
    std::deque<SlowPath> m_slow;
    unsigned m_native = 0, m_helpers = 0;
};

}  // namespace popek::emu::bt
