#pragma once
/// `--accel bt`: the block translator of one vCPU. A Block that runs again after its first,
/// interpreted, run is translated to host code (BlockEmitter) kept in this vCPU's CodeBuffer;
/// later runs of the block call that code. The translation lives with its Block: re-decoding the
/// block (self-modifying code, DMA) drops it, and a full buffer is flushed as a whole.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "emu/bt/block_emitter.h"
#include "emu/bt/code_buffer.h"
#include "emu/decode/block_cache.h"

namespace popek::emu::bt {

struct TranslatorStats {
    uint64_t blocks = 0;         ///< translations made
    uint64_t native_insns = 0;   ///< instructions translated to native code
    uint64_t helper_insns = 0;   ///< instructions translated to handler calls
    uint64_t flushes = 0;        ///< code buffer flushes (buffer or chain slots full, block cache cleared)
    uint64_t links = 0;          ///< chain slots linked to their target block
    uint64_t failures = 0;       ///< blocks that could not be translated (they are interpreted)
    uint64_t chains_taken = 0;   ///< direct jumps from one translated block into the next
    uint64_t lookups_taken = 0;  ///< indirect / cross-page exits that found the next block's code
    uint64_t runs = 0;           ///< translated blocks entered from the dispatcher
    uint64_t cold_runs = 0;      ///< dispatcher runs of blocks with no translation (interpreted)
    uint64_t unlink_alls = 0;    ///< every slot unlinked at once (a VMM write to RAM)
    uint64_t warmed = 0;         ///< of `blocks`: translated while halted, from other vCPUs' (warm_one)
    uint64_t warm_skipped = 0;   ///< log entries passed over (had it, page written since, not decodable)
    uint64_t warm_ns = 0;        ///< host time spent in warm_while_idle
};

class Translator {
public:
    static constexpr size_t kBufferSize = 32u << 20;
    /// Room reserved per block: 64 instructions with their slow paths (a memory operand of a probe
    /// group carries its own probe as the fallback), with margin.
    static constexpr size_t kMaxBlockCode = 32u << 10;
    /// `hot_runs`: runs through the interpreter before a block is translated.
    Translator(Cpu& cpu, uint32_t hot_runs, size_t buffer_size = kBufferSize);

    /// Runs `b` (whole) as translated code, translating it first when it is hot. False: the caller
    /// interprets it this time.
    bool run(Block& b) {
        if (current(b)) [[likely]] {
            if (m_pending_slot) link(b);
            ++m_stats.runs;
            reinterpret_cast<void (*)(Cpu*)>(const_cast<void*>(b.bt_code))(&m_cpu);
            return true;
        }
        return run_cold(b);
    }
    /// `b` has translated code of the current code buffer (runs it without translating).
    bool current(const Block& b) const { return b.bt_code && b.bt_epoch == m_buffer.epoch(); }
    const TranslatorStats& stats() const { return m_stats; }
    size_t code_bytes() const { return m_buffer.used(); }
    size_t code_capacity() const { return m_buffer.capacity(); }
    /// Handler calls and slow paths taken by translated code, per Zydis mnemonic.
    uint64_t handler_exits(unsigned mnemonic) const { return m_handler_exits[mnemonic]; }
    /// The `--stats` lines (translator_report.cpp): translated share of `total` instructions
    /// (`interpreted` of them ran in the interpreter), blocks, chains, flushes, top handler exits.
    std::string report(uint64_t total, uint64_t interpreted) const;
    /// Drops every translation and chain (the block cache is being cleared, or space ran out).
    void flush();
    /// Unlinks every chain slot (the VMM wrote guest RAM: targets are revalidated on lookup
    /// before they are linked again). The dispatcher calls it when the DMA epoch moved.
    void unlink_all();
    /// Between two translated blocks without a chain (ChainContext::next_block): what the
    /// dispatch loop would check before running the next block, then its translated code's
    /// chain entry; nullptr when the dispatcher must run (a poll is due, a miss, not translated).
    static const void* next_block(Cpu* cpu);
    /// While this vCPU is halted (Cpu::warm_while_idle): translates the next block another vCPU
    /// translated (EngineShared::translations) that this one has no current translation of.
    /// False when there is nothing left to do, or no room without a flush (a halted vCPU never
    /// drops translations it may need for ones it may not).
    bool warm_one();
    /// The halted vCPU's loop of warm_one() until something would end its wait: an event (it
    /// raises Cpu::attention: VcpuInterrupts::notify/kick, the alarm clock), a stop, or the
    /// guest-clock `deadline` of its next timer. Costs the wake-up at most one translation.
    void warm_while_idle(uint64_t deadline);

private:
    bool run_cold(Block& b);
    /// The code every unlinked slot leads to (ChainContext::unlinked), in m_stub_buffer.
    void emit_unlinked_stub();
    /// `lip`: where the block runs (for --perf-map); `warm`: for warm_one (never flushes, not logged).
    const void* translate(Block& b, uint64_t lip, bool warm = false);
    /// The block that ran after an exit that could not chain: becomes that exit's target if it
    /// is the block the exit leads to.
    void link(Block& b);

    Cpu& m_cpu;
    uint32_t m_hot_runs;
    CpuLayout m_layout;
    CodeBuffer m_buffer;
    CodeBuffer m_stub_buffer{4096};   ///< the unlinked stub (never flushed)
    std::unique_ptr<ChainSlot[]> m_slots;
    size_t m_slot_capacity;
    size_t m_slots_used = 0;
    ChainSlot* m_pending_slot = nullptr;
    std::vector<ChainSlot*> m_linked;   ///< slots linked since the last unlink_all()
    static constexpr uint32_t kRelinkMisses = 8;
    /// Where every return-stack entry points while it predicts nothing (never linked).
    ChainSlot m_dead_slot{ChainSlot::kUnlinked, nullptr, ~0ULL, ~0u, 0, 0, 0, 0, &ChainSlot::kNoGeneration, 1, false, 0};
    std::unique_ptr<ReturnStack> m_returns = std::make_unique<ReturnStack>();
    void clear_returns();
    /// The shared indirect-target slots (ChainContext::targets).
    std::unique_ptr<ChainSlot[]> m_targets = std::make_unique<ChainSlot[]>(kIndirectTargets);
    void clear_targets();
    bool is_target_slot(const ChainSlot* s) const {
        return s >= m_targets.get() && s < m_targets.get() + kIndirectTargets;
    }
    ChainContext m_chain;
    uint64_t m_warm_cursor = 0;   ///< the next EngineShared::translations entry warm_one() reads
    TranslatorStats m_stats;
    std::unique_ptr<uint64_t[]> m_handler_exits;
};

}  // namespace popek::emu::bt
