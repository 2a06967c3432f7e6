#include "emu/bt/translator.h"

#include <chrono>

#include "emu/bt/perf_map.h"

#include "emu/cpu.h"
#include "emu/decode/block_cache.h"

namespace popek::emu::bt {

namespace {

/// Two chain slots per block; a block's code is rarely under 256 bytes.
constexpr size_t kBytesPerSlotPair = 256;

}  // namespace

Translator::Translator(Cpu& cpu, uint32_t hot_runs, size_t buffer_size)
    : m_cpu(cpu), m_hot_runs(hot_runs), m_layout(CpuLayout::of(cpu)), m_buffer(buffer_size),
      m_slot_capacity(2 * (buffer_size / kBytesPerSlotPair + 1)) {
    m_slots = std::make_unique_for_overwrite<ChainSlot[]>(m_slot_capacity);
    // The private fields translated code touches (CpuLayout::of sees only the public ones).
    const auto offset = [&cpu](const void* field) {
        return static_cast<int32_t>(static_cast<const char*>(field) - reinterpret_cast<const char*>(&cpu));
    };
    m_layout.tlb_active = offset(cpu.m_mmu.active_field());
    m_layout.map_gen = offset(cpu.m_mmu.map_gen_field());
    m_layout.instructions = offset(&cpu.m_stats.instructions);
    m_chain.pending_slot = &m_pending_slot;
    emit_unlinked_stub();
    m_handler_exits = std::make_unique<uint64_t[]>(ZYDIS_MNEMONIC_MAX_VALUE + 1);   // zeroed
    if (cpu.shared().count_stats) {   // a memory increment on every chain: only when asked
        m_chain.handler_exits = m_handler_exits.get();
        m_chain.chains_taken = &m_stats.chains_taken;
    }
    m_chain.next_block = &Translator::next_block;
    m_chain.returns = m_returns.get();
    clear_returns();
    m_chain.targets = m_targets.get();
    clear_targets();
}

void Translator::clear_targets() {
    for (uint32_t k = 0; k < kIndirectTargets; ++k)
        m_targets[k] = ChainSlot{ChainSlot::kUnlinked, m_chain.unlinked, ~0ULL, ~0u, 0, ~0ULL, 0, 0,
                                 &ChainSlot::kNoGeneration, 1, true, 0};
}

void Translator::clear_returns() {
    m_returns->top = 0;
    for (auto& e : m_returns->entries) e = ReturnStack::Entry{~0ULL, &m_dead_slot};
}

void Translator::emit_unlinked_stub() {
    // The state an exit leaves is the dispatcher's already; the slot in RAX becomes pending and
    // the block frame (a chained jump keeps the first block's, BlockEmitter::emit_prologue) ends.
    constexpr size_t kMax = 64;
    uint8_t* at = m_stub_buffer.begin_write(kMax);
    if (!at) return;   // no executable memory: no translation will be made either
    Xbyak::CodeGenerator g(kMax, at);
    g.mov(g.r8, reinterpret_cast<uint64_t>(&m_pending_slot));
    g.mov(g.qword[g.r8], g.rax);
    g.add(g.rsp, 8);
    for (const Xbyak::Reg64& r : {g.r15, g.r14, g.r13, g.r12, g.rbp, g.rbx}) g.pop(r);
    g.ret();
    m_chain.unlinked = m_stub_buffer.end_write(g.getSize());
    m_dead_slot.code = m_chain.unlinked;
}

void Translator::unlink_all() {
    // Only the slots linked since the last time (every exit may move the DMA epoch: walking all
    // slots each time would cost more than the chains save); all of them when that list grew
    // past the slots in use (relinked slots appear in it more than once).
    const auto unlink = [this](ChainSlot& s) {
        s.epoch = ChainSlot::kUnlinked;
        s.code = m_chain.unlinked;
        s.insns = 0;
    };
    if (m_linked.size() <= m_slots_used) {
        for (ChainSlot* s : m_linked) unlink(*s);
    } else {
        for (size_t k = 0; k < m_slots_used; ++k) unlink(m_slots[k]);
        for (uint32_t k = 0; k < kIndirectTargets; ++k) unlink(m_targets[k]);
    }
    m_linked.clear();
    m_pending_slot = nullptr;
    ++m_stats.unlink_alls;
}

void Translator::flush() {
    m_buffer.flush();   // every older translation is dropped (their epoch no longer matches)
    m_slots_used = 0;
    m_linked.clear();
    m_pending_slot = nullptr;
    clear_returns();   // its entries point at slots that are reused from now on
    clear_targets();   // they point at dropped code
    ++m_stats.flushes;
}

const void* Translator::next_block(Cpu* cpu) {
    // The checks of emu/executor.cpp's loop before it looks a block up and runs it.
    Cpu& c = *cpu;
    c.retire_interrupt_shadow();
    if (c.attention.load(std::memory_order_relaxed) || c.budget <= 0 || c.halted || c.interrupt_shadow ||
        c.m_waiting_sipi || c.m_shared.code.code_epoch() != c.m_code_epoch_seen ||
        c.m_shared.dma_epoch.load(std::memory_order_acquire) != c.m_dma_epoch_seen)
        return nullptr;
    Block* b = c.m_cache->probe();
    Translator& t = *c.m_bt;
    if (!b || !b->bt_code || b->bt_epoch != t.m_buffer.epoch()) return nullptr;
    // A deterministic run never runs past its poll point (Cpu::schedule): the dispatcher cuts.
    if (c.deterministic && static_cast<int64_t>(b->insns.size()) > c.budget) return nullptr;
    if (ChainSlot* s = t.m_pending_slot) {
        // An indirect exit's slot missed: it caches this target from now on if it had none, or
        // after every kRelinkMisses-th miss (a site with many targets would relink every time).
        // A slot of the shared target table is keyed by its target: it always relinks.
        if (s->epoch == ChainSlot::kUnlinked || t.is_target_slot(s) || ++s->misses % kRelinkMisses == 0) t.link(*b);
        else t.m_pending_slot = nullptr;
    }
    c.budget -= static_cast<int32_t>(b->insns.size());
    c.m_exits.forget();
    ++t.m_stats.lookups_taken;
    return static_cast<const uint8_t*>(b->bt_code) + kChainEntry;
}

void Translator::link(Block& b) {
    ChainSlot* s = m_pending_slot;
    m_pending_slot = nullptr;
    // A block spanning two pages is entered through its guard, which checks that the second
    // page still maps where it did and was not written (as BlockCache::probe and lookup_slow
    // do for the dispatcher).
    // A slot of the shared target table is keyed by its target and takes the target's mode.
    const bool any_mode = is_target_slot(s);
    if (!b.cached || (b.spans() && !b.bt_guard) || (!any_mode && s->mode != b.mode)) return;
    if (s->cross) {
        // Whatever block the target leads to now (the exit stored the target as RIP; if anything
        // ran in between, RIP differs and the slot's `lip` never matches), under this map
        // generation, while the target's page keeps the generation `b` was decoded at.
        if (!m_cpu.mode64) return;
        s->lip = m_cpu.rip;
        s->map_mask = m_cpu.m_mmu.note_linked(s->lip, m_cpu.tlb_class(), m_cpu.m_shared.mem, m_cpu.paging_regs()) ? ~(Mmu::kMapGenGlobal - 1) : ~0ULL;
        s->map_gen = m_cpu.m_mmu.map_gen() & s->map_mask;
        s->gen_ptr = b.gen_ptr;
        s->gen = b.gen;
        s->gpa = b.gpa;
    } else if (s->gpa != b.gpa) {
        return;   // e.g. an interrupt came first
    }
    // The DMA epoch `b` was validated at: a VMM write to RAM since makes the jump go through the
    // dispatcher (which compares the block's bytes) again.
    // A slot linked since the last unlink_all() is in m_linked already: an indirect exit's
    // slot relinks again and again (next_block), and exits that leave the code trusted no
    // longer unlink, so listing it each time grew the list without bound.
    const bool listed = s->epoch != ChainSlot::kUnlinked;
    s->code = static_cast<const uint8_t*>(b.bt_code) + (b.spans() ? b.bt_guard : kChainEntry);
    s->insns = static_cast<int32_t>(b.insns.size());
    s->epoch = b.dma_epoch;
    s->mode = b.mode;
    if (!listed) m_linked.push_back(s);
    ++m_stats.links;
}

bool Translator::run_cold(Block& b) {
    ++m_stats.cold_runs;
    if (!b.cached || b.insns.empty()) {   // a page-crossing instruction, decoded for one use
        m_pending_slot = nullptr;
        return false;
    }
    if (b.bt_runs < m_hot_runs) {
        ++b.bt_runs;
        m_pending_slot = nullptr;   // a slot is linked only to translated code
        return false;
    }
    if (!translate(b, m_cpu.linear_rip())) {
        b.bt_runs = 0;   // try again after m_hot_runs more runs
        m_pending_slot = nullptr;
        return false;
    }
    return run(b);
}

bool Translator::warm_one() {
    EngineShared& sh = m_cpu.shared();
    TranslationLogEntry e;
    while (sh.translations.next(m_warm_cursor, e)) {
        Block* b = e.vcpu == m_cpu.index() ? nullptr : m_cpu.m_cache->prepare(e.gpa, e.mode, e.gen);
        if (!b || current(*b)) {
            ++m_stats.warm_skipped;
            continue;
        }
        if (m_slots_used + BlockEmitter::slots_needed(*b) > m_slot_capacity ||
            m_buffer.used() + kMaxBlockCode > m_buffer.capacity()) {
            --m_warm_cursor;   // no room: this entry waits for the flush that running code makes
            return false;
        }
        if (translate(*b, e.lip, true)) ++m_stats.warmed;
        else ++m_stats.warm_skipped;
        return true;
    }
    return false;
}

void Translator::warm_while_idle(uint64_t deadline) {
    const auto t0 = std::chrono::steady_clock::now();
    Cpu& c = m_cpu;
    while (!c.attention.load(std::memory_order_acquire) && !c.m_stop.load() && c.m_shared.clock.now_ns() < deadline &&
           warm_one()) {
    }
    m_stats.warm_ns += static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
}

const void* Translator::translate(Block& b, uint64_t lip, bool warm) {
    const unsigned slots = BlockEmitter::slots_needed(b);
    uint8_t* at = m_slots_used + slots <= m_slot_capacity ? m_buffer.begin_write(kMaxBlockCode) : nullptr;
    if (!at && warm) return nullptr;
    if (!at) {
        flush();
        at = m_buffer.begin_write(kMaxBlockCode);
    }
    if (!at) {
        ++m_stats.failures;
        return nullptr;
    }
    size_t used = 0;
    uint32_t e_guard = 0;
    bool ok = false;
    try {
        // Emitting does not touch guest state; nothing here can longjmp.
        m_chain.slots = &m_slots[m_slots_used];
        m_slots_used += slots;
        BlockEmitter e(m_layout, m_chain, at, kMaxBlockCode);
        e.emit_block(b);
        used = e.getSize();
        m_stats.native_insns += e.native_count();
        m_stats.helper_insns += e.helper_count();
        e_guard = e.span_guard();
        ok = true;
    } catch (const Xbyak::Error&) {
        used = 0;
    }
    const uint8_t* code = m_buffer.end_write(used);
    if (!ok) {
        ++m_stats.failures;
        return nullptr;
    }
    ++m_stats.blocks;
    b.bt_code = code;
    b.bt_epoch = m_buffer.epoch();
    b.bt_guard = e_guard;
    EngineShared& sh = m_cpu.shared();
    if (PerfMap* map = sh.perf_map.get()) map->add_block(code, used, m_cpu.index(), lip, b.gpa, b.mode);
    if (sh.bt_warm && !warm && !b.spans())
        sh.translations.add(TranslationLogEntry{b.gpa, lip, b.mode, b.gen, m_cpu.index()});
    return code;
}

}  // namespace popek::emu::bt
