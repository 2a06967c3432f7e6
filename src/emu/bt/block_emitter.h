#pragma once
/// Emits the host x86-64 code of one Block (xbyak). The generated function is
/// `void block(Cpu* cpu)`: RBX holds the Cpu for the whole block, RAX/RCX/RDX/RSI/R8-R10 are
/// scratch, and the guest registers the block uses live in host registers (emu/bt/reg_cache.h)
/// from their first use to the next handler call or exit, where they are written back to
/// Cpu::gpr. The guest's arithmetic flags stay in the host RFLAGS after a native instruction
/// produced them (lazy flags) and are merged into Cpu::rflags only where something can observe
/// them: before a handler call, before an inline memory access (its slow path may fault), and at
/// every exit. So a handler called from the block, and every exit, see exactly the state the
/// dispatch loop would give them.
///
/// Per instruction, either native code (emu/bt/native_ops.cpp: the same instruction on the host
/// registers holding the guest's) or a call of the interpreter's handler, set up as
/// emu/executor.cpp does (rip, next_rip, counted instruction) and followed by
/// `rip = next_rip; if (brk) return`. Native instructions cannot fault, so RIP and the
/// instruction count are brought up to date lazily, before each handler call and at the end.
#include <xbyak/xbyak.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <vector>

#include "emu/bt/reg_cache.h"
#include "emu/decode/insn.h"

namespace popek::emu {
class Cpu;
struct Block;
}  // namespace popek::emu

namespace popek::emu::bt {

/// Offsets (from the Cpu object) of the fields translated code touches.
struct CpuLayout {
    int32_t gpr = 0, rip = 0, rflags = 0, next_rip = 0, brk = 0, instructions = 0;
    int32_t attention = 0, budget = 0, replay_valid = 0;
    int32_t tlb_active = 0, fs_base = 0, gs_base = 0, map_gen = 0;
    int32_t cr0 = 0, cr4 = 0, xmm = 0;   ///< xmm: Cpu::fpu.xmm[0] (native SSE, emu/bt/sse_ops.cpp)
    static CpuLayout of(const Cpu& cpu);
};

/// A direct-chaining exit of a translated block: the guest-physical address and mode of the block
/// it leads to (same page, so the same linear-to-physical mapping), and, once the dispatcher has
/// run that block translated after this exit (Translator::link), its code. Slots die with the
/// code buffer. No default member initializers: the translator's slot array is allocated
/// uninitialised (its pages are touched only as slots are used), and make_slot() writes every
/// field.
///
/// Why a linked jump needs no check of the target's translation (TCG unlinks the same way):
/// the target lies on the source's own page, so a write to that page (self-modifying code, by
/// this vCPU: its handler ends the block; by another: it must serialize, SDM Vol. 3A 9.1.3,
/// which passes through the dispatcher) makes the source stale too, and the source is
/// revalidated before it runs again. What the page check cannot see, RAM written by the VMM
/// (DMA), moves the DMA epoch, and whoever moves it raises every vCPU's `attention`: a chained
/// jump checks attention, so the next one goes through the dispatcher, which unlinks every slot
/// of the vCPU when the epoch moved (Translator::unlink_all) and revalidates blocks on lookup.
/// A page newly turned into code by another vCPU is about this vCPU's write mappings, not the
/// slot: the vCPU that marks it raises the others' attention, and the dispatcher drops them.
/// An unlinked slot's `code` is the translator's unlinked stub, which returns to the dispatcher
/// with the slot pending.
///
/// A direct branch of 64-bit code to another page (`cross`; also every predicted return) is
/// linked to the block its linear target led to when it was linked, and holds that target
/// (`lip`), the vCPU's map generation (Mmu::map_gen(): TLB flushes, CR3 writes and INVLPGs that
/// may change where `lip` leads move it; `map_mask` keeps only its global half when `lip` was
/// reached through a global page) and the target page's write generation (a write to the
/// target's page no longer makes the source stale).
struct ChainSlot {
    uint64_t epoch;      ///< the target's dma_epoch when linked; kUnlinked until then
    const void* code;    ///< the target's chain entry (translated code + kChainEntry), or the unlinked stub
    uint64_t gpa;        ///< same page: the target's; cross: the block linked to
    uint32_t mode;
    int32_t insns;       ///< instruction count of the target (charged to the budget on the jump)
    uint64_t lip;        ///< cross: the linear target linked to
    uint64_t map_gen;    ///< cross: Mmu::map_gen() & map_mask when linked
    uint64_t map_mask;
    const std::atomic<uint32_t>* gen_ptr;   ///< cross: the target page's generation (never null; unlinked: kNoGeneration, gen 1)
    uint32_t gen;        ///< cross: its value when linked
    bool cross;          ///< the target is on another page (or is a predicted return)
    uint32_t misses;     ///< an indirect exit's slot: targets other than the linked one (next_block)
    static constexpr uint64_t kUnlinked = ~0ULL;
    /// What gen_ptr points at before a slot is linked.
    static const std::atomic<uint32_t> kNoGeneration;
};

/// Return prediction: a CALL emitted natively pushes its return address and a slot for the code
/// after it (a `cross` slot: the RET that uses it runs in another block, maybe on another page);
/// a RET whose target equals the top entry jumps through that slot (guarded as any cross-page
/// chain), else it looks the target up. Per vCPU, circular: deeper call chains only miss.
struct ReturnStack {
    static constexpr uint32_t kSize = 32;
    struct Entry {
        uint64_t lip;
        ChainSlot* slot;
    };
    uint32_t top;   ///< index of the newest entry (kept below kSize)
    uint32_t reserved;
    Entry entries[kSize];
};

/// Indirect-branch prediction shared by every indirect exit of a vCPU's translated code: a
/// direct-mapped table of `cross` slots indexed by a hash of the linear target. An exit whose own
/// slot (the target it led to last) misses looks there; a miss there makes the table's slot
/// pending, and the dispatcher links it to the target (it always relinks: the slot is keyed by
/// its target). A switch dispatching to 16 targets thus stays in translated code.
inline constexpr uint32_t kIndirectTargets = 1024;
inline constexpr uint32_t indirect_index(uint64_t lip) {
    const auto l = static_cast<uint32_t>(lip);
    return (l ^ (l >> 7)) & (kIndirectTargets - 1);
}

/// What chaining needs besides the Cpu: VM-wide epochs and the translator's bookkeeping.
struct ChainContext {
    ChainSlot** pending_slot = nullptr;   ///< set by an exit that could not chain
    /// Where an unlinked slot leads: stores RAX (the slot) as pending and returns to the dispatcher.
    const void* unlinked = nullptr;
    ChainSlot* slots = nullptr;           ///< two per block: branch taken, not taken / fall-through (after a CALL: its return)
    ReturnStack* returns = nullptr;       ///< null: no return prediction
    ChainSlot* targets = nullptr;         ///< kIndirectTargets slots (indirect_index); null: none
    /// Called by an exit with no chain slot (RET, indirect and cross-page branches): the next
    /// block's code entry when it is translated and may run now (Translator::next_block), else
    /// nullptr (back to the dispatcher).
    const void* (*next_block)(Cpu*) = nullptr;
    // `--stats` counters the emitted code bumps.
    uint64_t* handler_exits = nullptr;    ///< per Zydis mnemonic: handler calls and slow paths taken
    uint64_t* chains_taken = nullptr;
};

/// The operand-size frame (byte/word/dword/qword ptr) of a `size`-byte memory access.
inline Xbyak::AddressFrame frame_of(unsigned size) {
    switch (size) {
        case 1: return Xbyak::AddressFrame(8);
        case 2: return Xbyak::AddressFrame(16);
        case 4: return Xbyak::AddressFrame(32);
        default: return Xbyak::AddressFrame(64);
    }
}

/// Offset of a translated block's code at which a chained jump enters (past the prologue: six
/// pushes, `sub rsp, 8` and `mov rbx, rdi`).
inline constexpr int kChainEntry = 17;

/// The full register of GPR index r (8-bit high registers 16..19 are AH..BH: RAX..RBX).
constexpr unsigned base_of(unsigned r) { return r >= 16 ? r - 16 : r; }

/// An immediate as a host instruction of `size` bytes encodes it: sign-extended from its size
/// (xbyak picks the shortest encoding; the guest's imm8/imm16/imm32 forms extend the same way).
constexpr uint64_t imm_sx(unsigned size, uint64_t imm) {
    switch (size) {
        case 1: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(imm)));
        case 2: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(imm)));
        case 4: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(imm)));
        default: return imm;
    }
}

/// The arithmetic flags condition `cc` (opcode order) tests.
uint64_t condition_flags(unsigned cc);

/// True when `insn` is in the native whitelist (GPR/RFLAGS-only instructions that cannot fault).
bool is_native(const Insn& insn);


/// True when `insn`, in 64-bit code, has an inline memory fast path (emu/bt/memory_ops.cpp): MOV,
/// ALU, MOVZX/MOVSX, INC/DEC/NEG/NOT, XCHG/XADD/CMPXCHG with one memory operand, PUSH/POP of a
/// GPR. The access probes the software TLB in the emitted code; a miss runs the handler instead.
/// `flat32`: 32-bit code with flat DS/ES/SS (kModeFlat32): DS/ES/SS accesses and 32-bit
/// PUSH/POP qualify there; otherwise 64-bit code is assumed.
bool is_native_memory(const Insn& insn, bool flat32);

/// True when `insn` is an SSE/SSE2/SSSE3 integer, logic or move instruction emitted natively
/// (emu/bt/sse_ops.cpp). `memory_ok`: memory operands are allowed (64-bit or flat 32-bit code,
/// `flat32` as for is_native_memory).
bool is_native_sse(const Insn& insn, bool memory_ok, bool flat32);

/// AES-NI and PCLMULQDQ in native SSE (emu/bt/sse_crypto_ops.cpp), when the host has them:
/// AESENC/AESENCLAST/AESDEC/AESDECLAST/AESIMC ("xmm, xmm/m128"), AESKEYGENASSIST/PCLMULQDQ
/// ("xmm, xmm/m128, imm8"); emit_crypto_op emits one of them (`imm` for the latter two).
bool is_crypto_binary(unsigned mnemonic);
bool is_crypto_imm(unsigned mnemonic);
void emit_crypto_op(Xbyak::CodeGenerator& g, unsigned mnemonic, const Xbyak::Xmm& d, const Xbyak::Operand& s,
                    uint8_t imm);

/// True when `insn` is MUL/IMUL (one operand), DIV/IDIV, CBW/CWDE/CDQE or CWD/CDQ/CQO emitted
/// natively (emu/bt/muldiv_ops.cpp; a divide checks for #DE and leaves through a slow path).
/// `memory_ok`, `flat32`: a memory operand is allowed, as for is_native_sse.
bool is_native_muldiv(const Insn& insn, bool memory_ok, bool flat32);

/// True when `insn` is a register form of SHLD/SHRD, BT/BTS/BTR/BTC, BSF/BSR/TZCNT/LZCNT/POPCNT
/// or XADD emitted natively (emu/bt/bit_ops.cpp).
bool is_native_bits(const Insn& insn);

/// True when `insn` is SETcc m8, BT/BTS/BTR/BTC on memory, LEAVE (64-bit code) with an inline
/// memory path, or a hint with no code (PREFETCHh, ENDBR32/64) (emu/bt/memory_extra_ops.cpp).
/// `memory_ok`, `flat32` as for is_native_sse; `mode64`: 64-bit code.
bool is_native_memory_extra(const Insn& insn, bool memory_ok, bool flat32, bool mode64);

class BlockEmitter : public Xbyak::CodeGenerator {
public:
    /// Emits into [buffer, buffer + max) (xbyak throws Xbyak::Error when it does not fit).
    BlockEmitter(const CpuLayout& layout, const ChainContext& chain, uint8_t* buffer, size_t max);
    /// The whole block: prologue, every instruction, epilogue.
    void emit_block(const Block& b);
    /// Chain slots the block's code may use: the two of its end, one per Jcc in its middle.
    static unsigned slots_needed(const Block& b);
    /// Counts of the instructions emitted natively and as handler calls.
    /// The offset of the guard entry emit_block() emitted for a block spanning two pages, or 0.
    uint32_t span_guard() const { return m_span_guard; }
    unsigned native_count() const { return m_native; }
    unsigned helper_count() const { return m_helpers; }

private:
    void emit_helper_call(const Insn& in);
    void emit_prologue();
    void emit_epilogue();
    /// Native (register-only or inline memory) code rather than a handler call.
    bool runs_inline(const Insn& in) const;
    /// An inline memory fast path in this block's mode (64-bit, or flat 32-bit).
    bool memory_inline(const Insn& in) const;
    /// The call of `in`'s handler (counted per mnemonic for `--stats`).
    void emit_handler_call(const Insn& in);
    void emit_native(const Insn& in);
    void sync_rip();
    void sync_count(uint32_t extra);
    /// The emitter's lazy state at one point of the block (registers, host flags, pending RIP
    /// and count), to emit a path that leaves and then go on from the same point.
    struct PathState {
        RegCache::Snapshot regs;
        uint64_t host_flags;
        uint32_t rip_pending, count_pending;
    };
    PathState save_path() const { return {m_regs.save(), m_host_flags, m_rip_pending, m_count_pending}; }
    void restore_path(const PathState& p) {
        m_regs.restore(p.regs);
        m_host_flags = p.host_flags;
        m_rip_pending = p.rip_pending;
        m_count_pending = p.count_pending;
    }

    // Block ends and chaining (block_chain.cpp).
    /// True when `in` (the last instruction) is a JMP rel / Jcc rel emitted natively.
    static bool is_chained_branch(const Insn& in);
    void emit_branch_tail(const Block& b, const Insn& in, uint32_t offset);
    /// The target of JMP/Jcc rel `in` into RAX from the next RIP in RCX, truncated to the operand
    /// size; true when it was (R9 then holds it untruncated, for emit_exit's wrap check).
    bool emit_branch_target(const Insn& in);
    /// True when `in` (the last instruction, 64-bit code) is CALL rel, RET or an indirect JMP/CALL
    /// through a register or memory, emitted natively (stack and memory through the TLB probe).
    static bool is_native_tail(const Insn& in);
    void emit_native_tail(const Block& b, const Insn& in, uint32_t offset);
    void emit_fall_through(const Block& b, uint32_t end_offset);
    /// Leaves the block with `rip` as the guest RIP: a guarded jump into the translation of the
    /// slot's block, else a return to the dispatcher. `slot` null: always return.
    void emit_exit(const Xbyak::Reg64& new_rip, ChainSlot* slot, bool check_wrap);
    ChainSlot* make_slot(const Block& b, int index, int64_t target_offset, bool force_cross = false);
    /// The checks of a chained jump through the slot in RAX (`cross`: a slot linked across pages)
    /// and the jump; falls through to a return to the dispatcher with the slot pending.
    void emit_slot_jump(bool cross);
    /// CALL: pushes the return address (RCX) and its slot on the return stack (clobbers R8, R10, RAX).
    void emit_return_push(ChainSlot* slot);
    /// RET to the target in R9 (already stored as RIP): through the predicted slot when the
    /// return stack's top matches, else as an indirect exit.
    void emit_return_exit(ChainSlot* last);
    /// Indirect exit to the target in R9: through `last` (a cross slot caching the target it led
    /// to last) when the target is the same, else looked up (and `last` linked to it).
    void emit_indirect_exit(ChainSlot* last);
    /// What a chained jump through the slot in RAX checks before it goes (attention, budget:
    /// charged `insns`, or the slot's count when negative) and does (replay flag cleared,
    /// counted); jumps to `fail` when a check fails.
    void emit_chain_guards(const Xbyak::Label& fail, int32_t insns);

    // Conditional jumps in the middle of a block (side_branch.cpp).
    /// Jcc `k` of the block (not its last instruction) at block offset `offset`: taken, it jumps
    /// forward to a later instruction of the block (a merge point) or leaves through a chain slot.
    void emit_side_branch(const Block& b, size_t k, uint32_t offset);
    /// Before instruction `k`: binds the merge point of the side branches that jump to it, once
    /// the fall-through state is one both paths can reach (their stubs adapt theirs to it).
    void emit_merge_point(size_t k, uint32_t offset);
    /// The out-of-line stubs of the side branches: state made the merge point's, then the jump.
    void emit_merge_stubs();

    // Blocks that branch back to their own start (block_loop.cpp).
    /// The last instruction is a JMP/Jcc (not 16-bit) to the block's first instruction.
    bool is_self_loop(const Block& b) const;
    /// Loads the guest registers the block names (when they fit the pool), then the loop head.
    void emit_loop_head(const Block& b);
    /// The block's branch: not taken leaves as emit_branch_tail does; taken goes back to the
    /// loop head inside the block after the checks of a chained jump (emit_back_edge).
    void emit_loop_tail(const Block& b, const Insn& in, uint32_t offset);
    void emit_back_edge(const Block& b, const Insn& in, ChainSlot* slot);
    /// A self-loop whose body calls no handler keeps Cpu::budget in a pool register (so no
    /// iteration waits on a store to the Cpu); the count of its passes is then what that
    /// register moved since the last fold.
    bool loop_keeps_budget(const Block& b) const;
    /// The back edge's guards without touching the host flags: the budget register minus
    /// `insns`, attention (JECXZ on their sum), then the jump to the head, or to `fail` when
    /// either says leave.
    void emit_register_guards(const Xbyak::Label& fail, int32_t insns);
    /// The guards of emit_chain_guards (attention, then the budget in Cpu::budget charged
    /// `insns`) without touching the host flags (MOVZX/LEA/SHRX/JECXZ; needs BMI2).
    void emit_flag_free_guards(const Xbyak::Label& fail, int32_t insns);
    /// Cpu's instruction count plus `n` without touching the host flags.
    void emit_count_flag_free(uint32_t n);
    /// Makes Cpu::budget and the instruction count exact from the budget register (clobbers
    /// the host flags; the register keeps its value).
    void emit_budget_fold();
    /// A self-loop's memory operands whose address no instruction of the loop changes, grouped
    /// by address form (base, index, scale, address size, segment) within kMaxHoistSpan bytes:
    /// one TLB probe of each group's whole range runs before the loop head (and again after any
    /// slow path), its host address kept in a reserved pool register (or 0 when it missed or
    /// the range crosses a page: each member then probes on its own). Chosen (at most
    /// kMaxHoisted groups, those with the most members) and their registers reserved by
    /// emit_loop_head.
    /// Outside a self-loop (`loop` false) a group's members are the operands before the first
    /// write of their base or index and before the first handler call, at least two of them,
    /// probed once at the block's start (emit_block_groups).
    void choose_hoisted(const Block& b, uint32_t& used, bool loop);
    /// The groups of a block that is not a self-loop: chosen, registers reserved, probed.
    void emit_block_groups(const Block& b);
    /// The pool register holding the hoisted host address of `in`'s group, or -1; `offset`: how
    /// far `in`'s operand lies from the group's start.
    int hoisted_reg(const Insn& in, int32_t* offset = nullptr) const;
    /// Can `in`'s memory access be probed once per loop (emu/bt/memory_ops.cpp)?
    bool hoistable(const Insn& in) const;
    /// The bytes an inline memory operand accesses and whether it writes them.
    void memory_extent(const Insn& in, unsigned& size, bool& write) const;
    /// The probe of hoisted group `k` into its register, the address computed from Cpu::gpr
    /// (exact there: the loop never writes its base or index). Clobbers the host flags.
    void emit_hoisted_probe(int k);
    /// RAX = `in`'s linear address with displacement `disp`, its base and index read from
    /// Cpu::gpr (MOV/LEA only: the host flags are kept).
    void emit_address_from_gpr(const Insn& in, int32_t disp);
    struct SlowPath;
    /// A hoisted member's host address into RSI: its group's plus `offset`, or, when the group
    /// missed, its own probe (address from Cpu::gpr, flag-free), whose miss takes `slow`.
    void emit_hoisted_access(const Insn& in, int reg, int32_t offset, SlowPath& slow);
    /// A jump to `to` when condition `cc` (opcode order) holds on the host flags.
    void emit_jcc(unsigned cc, const Xbyak::Label& to);

    // Operand access (native_ops.cpp).
    /// The host register holding guest register `r` (8-bit high registers: their full register).
    const Xbyak::Reg64& greg(unsigned r);
    /// Guest register r (8-bit: 16..19 = AH..BH) as host register `host` (0 = RAX, 1 = RCX) of
    /// `size` bytes after the full guest register was loaded into it.
    static Xbyak::Reg sized(int host, unsigned size, unsigned guest_reg);
    /// `host` sized `size` bytes (a pool register: its 8-bit form needs a REX prefix).
    static Xbyak::Reg sized(const Xbyak::Reg64& host, unsigned size);
    void load_full(int host, unsigned guest_reg);
    /// Loads operand 1 (a GPR or the immediate) into RCX for reading only: an 8-bit high
    /// register is shifted down, so the result is CL/CX/ECX/RCX.
    Xbyak::Reg load_source(const Insn& in, unsigned size);
    void store_full(int host, unsigned guest_reg);
    /// Loads the guest's arithmetic flags from Cpu::rflags into the host RFLAGS (clobbers RDX).
    void load_guest_flags();
    /// Lazy flags: Cpu::rflags made exact (the host flags merged in when they are the guest's).
    void materialize_flags();
    /// The guest's flags in `mask` valid in the host RFLAGS, for an instruction that reads them.
    void need_flags(uint64_t mask);
    /// After a native instruction that wrote the flags in `mask` on the host.
    void produced(uint64_t mask);
    /// Something reads the guest flags in `mask` here (for the loop head's liveness).
    void observe_flags(uint64_t mask) { m_flags_live_in |= mask & ~m_flags_killed; }
    /// Writes the flags in `mask` from the host RFLAGS into Cpu::rflags (clobbers RDX/R10).
    void merge_host_flags(uint64_t mask);
    /// RDX = the host's arithmetic flags in RFLAGS layout, the other bits 0 (RAX kept; the host
    /// flags are clobbered after they are read).
    void capture_host_flags();
    /// The host has LAHF/SAHF in 64-bit mode (CPUID 80000001H:ECX[0]): flags move through AH,
    /// not through PUSHF/POPF (POPF is microcoded: ~12 ns here against ~1 ns).
    static bool lahf_sahf();
    /// Everything a handler or an exit observes made exact: flags, then dirty registers.
    void sync_state();
    /// SETcc of condition `cc` (opcode order) into `dst`.
    void emit_condition(unsigned cc, const Xbyak::Operand& dst);
    /// ADD OR ADC SBB AND SUB XOR CMP (TEST otherwise) of `dst` with `src`, or with `iv` when
    /// `imm` (then `src` is not used).
    void emit_alu(ZydisMnemonic m, const Xbyak::Operand& dst, const Xbyak::Operand& src, bool imm, uint32_t iv);
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

    // Multiply, divide and accumulator extensions (muldiv_ops.cpp), bit operations (bit_ops.cpp).
    /// is_native_muldiv, is_native_bits or is_native_memory_extra in this block's mode.
    bool arith_inline(const Insn& in) const;
    void emit_muldiv(const Insn& in);
    void emit_accumulator_extension(const Insn& in);
    void emit_bits(const Insn& in);
    void emit_bit_test(const Insn& in);
    void emit_bit_scan(const Insn& in);
    // More memory forms (memory_extra_ops.cpp).
    void emit_memory_extra(const Insn& in);
    void emit_bit_test_memory(const Insn& in);
    void emit_leave(const Insn& in);

    // Inline memory access (memory_ops.cpp).
    /// An instruction whose fast path jumps to `entry` on a TLB miss; the slow path runs the
    /// handler and comes back to `resume` with the lazy RIP/count state the fast path has.
    struct SlowPath {
        Xbyak::Label entry_label, resume_label;
        const Insn* in = nullptr;
        uint32_t rip_pending = 0, count_pending = 0;
        RegCache::State entry{}, resume{};   ///< register residency at the jump and at `resume`
        bool flags_host_resume = false;      ///< the fast path leaves the guest flags in the host
        uint64_t entry_host_flags = 0;       ///< guest flags still in the host at the jump (merged first)
        bool exit_after = false;   ///< a block-ending CALL/RET/JMP: leave after the handler
        uint16_t xmm_resume = 0;   ///< guest XMMs held in host XMMs at `resume` (reloaded after the handler)
    };
    /// A new slow path, its entry state taken now (call after every operand is resident).
    SlowPath& new_slow_path(const Insn& in);
    void emit_memory(const Insn& in);
    /// Linear address of the memory operand into RAX (64-bit mode: FS/GS base added).
    void emit_linear_address(const Insn& in);
    /// Probes the TLB for `size` bytes at the linear address in RAX (`write`: the write tag):
    /// the host address into RSI (no REX needed: AH..BH stay encodable), else a jump to the slow path.
    void emit_probe(bool write, unsigned size, SlowPath& slow);
    void emit_memory_alu(const Insn& in, SlowPath& slow);
    void emit_stack(const Insn& in, SlowPath& slow);
    void emit_slow_paths();
    void emit_way1_checks();
    /// For an access of `size` bytes at the linear address in RAX: RDX = its TLB set, R10 = the
    /// current class's TlbTable, RSI = the page number of its last byte (`flag_free`: RFLAGS
    /// untouched, clobbers RCX) or its tag (negated: clobbers RFLAGS).
    void emit_tlb_index(unsigned size, bool flag_free);
    /// `out` = the host address of RAX when either way of the current class's TLB holds its page
    /// for `size` bytes under the tag field at offset `tag` (TlbTable), else a jump to `miss`.
    /// Clobbers RCX, RDX, RSI, R10 and RFLAGS.
    void emit_tlb_both_ways(unsigned size, int32_t tag, const Xbyak::Reg64& out, const Xbyak::Label& miss);
    /// The host has BMI2 (SHRX/SHLX): probes can leave the guest's flags live in the host.
    static bool flag_free_probes();

    // Native SSE (sse_ops.cpp): guest XMMn lives in host XMMn between handler calls, written
    // through to Cpu::fpu.xmm on every write, so exits and handlers need no write-back.
    bool sse_inline(const Insn& in) const;
    void emit_sse(const Insn& in);
    /// Host XMMn holding guest XMMn (loaded from Cpu::fpu.xmm unless it already holds it).
    Xbyak::Xmm xmm_read(unsigned n);
    /// Guest XMMn was written in host XMMn: stored through to Cpu::fpu.xmm.
    void xmm_written(unsigned n);
    /// Forgets the guest XMMs in host XMMs and the CR0/CR4 check (after a handler call or at a
    /// merge point: host XMMs are caller-saved, and a handler may change CR0/CR4 or the XMMs).
    void sse_forget() { m_xmm_valid = 0; m_sse_checked = false; }
    /// Jumps to `slow` unless SSE may run: CR0.EM = 0, CR0.TS = 0, CR4.OSFXSR = 1.
    void emit_sse_guard(SlowPath& slow);
    /// Jumps to `slow` unless the linear address in RAX is 16-byte aligned.
    void emit_align_check(SlowPath& slow);
    void emit_sse_memory(const Insn& in, SlowPath& slow);
    void emit_sse_register(const Insn& in);
    /// Reloads the guest XMMs in `mask` into their host XMMs (a slow path's way back).
    void emit_xmm_reload(uint16_t mask);


    CpuLayout m_layout;
    ChainContext m_chain;
    RegCache m_regs;
    /// The guest's arithmetic flags whose value is in the host RFLAGS (Cpu::rflags' are stale);
    /// the others are in Cpu::rflags.
    uint64_t m_host_flags = 0;
    uint32_t m_rip_pending = 0;     ///< bytes executed since Cpu::rip was last written
    uint32_t m_count_pending = 0;   ///< instructions executed since the count was last written
    Xbyak::Label m_exit;
    Xbyak::Label m_entry;              ///< kChainEntry: after the prologue
    uint32_t m_span_guard = 0;
    /// For a block spanning two pages (64-bit code): the entry chained jumps take, which goes on
    /// at kChainEntry when way 0 or 1 of the TLB maps the page after Cpu::rip's to b.host2 for
    /// execution and the second page's generation holds, else leaves for the dispatcher.
    void emit_span_guard(const Block& b);
    uint32_t m_block_mode = 0;        ///< Block::mode of the block being emitted
    bool m_mode64 = false;            ///< the block is 64-bit code: memory fast paths allowed
    bool m_flat32 = false;            ///< 32-bit code with flat data segments: the same for DS/ES/SS
    std::deque<SlowPath> m_slow;
    /// A probe's check of way 1 (emu/mmu/mmu.h TlbTable), out of line: a way-0 miss compares way 1's
    /// tag there, and goes back to the probe's end on a hit or on to the slow path.
    struct Way1Check {
        Xbyak::Label entry, back;
        Xbyak::Label* slow;
        int32_t tag;
        bool flag_free;   ///< the probe kept the host's flags (BMI2): so must this check
    };
    std::deque<Way1Check> m_way1;
    // A self-loop (block_loop.cpp): the head's register residency, and what the body does to
    // state the head assumes (Cpu::rip at the block's start, the flags exact in Cpu::rflags).
    bool m_loop = false;
    int m_budget_reg = -1;   ///< pool index holding Cpu::budget in a self-loop, or -1 (in memory)
    /// The self-loop's head holds every guest flag in the host (loop_flags_live_in): the back
    /// edge then never merges them, only the leave path does.
    bool m_head_flags_host = false;
    Xbyak::Label m_loop_head;
    RegCache::State m_head_state{};
    bool m_rip_moved = false;        ///< Cpu::rip was written since the head
    uint64_t m_flags_killed = 0;     ///< flags a native instruction wrote since the head
    uint64_t m_flags_live_in = 0;    ///< flags read since the head before being written
    static constexpr int kMaxHoisted = 2;
    static constexpr int kMaxHoistMembers = 16;
    static constexpr int64_t kMaxHoistSpan = 256;
    struct Hoisted {
        const Insn* in = nullptr;   ///< the first member: the group's address form
        int64_t lo = 0, hi = 0;     ///< displacements: the lowest member's start, the highest end
        bool write = false;         ///< a member writes: the probe asks for the write tag
        int members = 0;
        int reg = -1;
        const Insn* last = nullptr;   ///< the last member in block order
    };
    struct HoistMember {
        const Insn* in = nullptr;
        int group = -1;
    };
    Hoisted m_hoisted[kMaxHoisted];
    HoistMember m_hoist_members[kMaxHoistMembers];
    int m_hoist_member_n = 0;
    int m_hoisted_n = 0;
    unsigned m_native = 0, m_helpers = 0;
    uint16_t m_xmm_valid = 0;     ///< guest XMMn is in host XMMn (bit n), equal to Cpu::fpu.xmm[n]
    uint16_t m_head_xmm = 0;      ///< a self-loop's XMMs held in host XMMs at its head (emit_loop_head)
    bool m_sse_checked = false;   ///< the CR0/CR4 check of SSE passed since the last handler call
    /// Block offsets of the instructions (emit_block), for side branch targets.
    std::vector<uint32_t> m_offsets;
    int m_next_slot = 2;   ///< the next chain slot of a side exit (0, 1: the block's end)
    /// A side branch into a later instruction of the block: the emitter's state at the jump,
    /// and once the merge point is bound what its stub must change to reach it.
    struct Merge {
        size_t target = 0;
        Xbyak::Label stub;
        Xbyak::Label* point = nullptr;
        RegCache::Snapshot regs{};
        RegCache::State to{};
        uint64_t host_flags = 0, killed = 0;
        uint32_t offset = 0, rip_pending = 0, count_pending = 0;   ///< offset: after the Jcc
        bool rip_moved = false, merge_flags = false;
        int64_t rip_delta = 0, count_delta = 0;
    };
    std::deque<Merge> m_merges;
    std::deque<Xbyak::Label> m_points;
};

}  // namespace popek::emu::bt
