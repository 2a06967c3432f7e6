#include "emu/bt/translator.h"

#include "emu/cpu.h"
#include "emu/decode/block_cache.h"

namespace popek::emu::bt {

Translator::Translator(Cpu& cpu, uint32_t hot_runs, size_t buffer_size)
    : m_cpu(cpu), m_hot_runs(hot_runs), m_layout(CpuLayout::of(cpu)), m_buffer(buffer_size) {}

bool Translator::run_cold(Block& b) {
    if (!b.cached || b.insns.empty()) return false;   // a page-crossing instruction, decoded for one use
    if (b.bt_runs < m_hot_runs) {
        ++b.bt_runs;
        return false;
    }
    if (!translate(b)) {
        b.bt_runs = 0;   // try again after m_hot_runs more runs
        return false;
    }
    return run(b);
}

const void* Translator::translate(Block& b) {
    uint8_t* at = m_buffer.begin_write(kMaxBlockCode);
    if (!at) {
        m_buffer.flush();   // every older translation is dropped (their epoch no longer matches)
        ++m_stats.flushes;
        at = m_buffer.begin_write(kMaxBlockCode);
    }
    if (!at) {
        ++m_stats.failures;
        return nullptr;
    }
    size_t used = 0;
    bool ok = false;
    try {
        // Emitting does not touch guest state; nothing here can longjmp.
        BlockEmitter e(m_layout, at, kMaxBlockCode);
        e.emit_block(b);
        used = e.getSize();
        m_stats.native_insns += e.native_count();
        m_stats.helper_insns += e.helper_count();
        ok = true;
    } catch (const Xbyak::Error&) {
        used = 0;
    }
    if (!m_buffer.end_write(used) || !ok) {
        ++m_stats.failures;
        return nullptr;
    }
    ++m_stats.blocks;
    b.bt_code = at;
    b.bt_epoch = m_buffer.epoch();
    return at;
}

}  // namespace popek::emu::bt
