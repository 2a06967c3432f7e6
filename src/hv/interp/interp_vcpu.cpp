#include "hv/interp/interp_vcpu.h"

#include "emu/bt/translator.h"
#include "emu/decode/block_cache.h"
#include "emu/vmm_write.h"

#include <fmt/core.h>

namespace popek::hv::interp {

InterpVcpu::InterpVcpu(emu::EngineShared& shared, int index, emu::CpuInterrupts* interrupts)
    : m_cpu(std::make_unique<emu::Cpu>(shared, index, interrupts)), m_interrupts(interrupts) {
    if (m_interrupts) m_interrupts->set_attention(&m_cpu->attention);
}

InterpVcpu::~InterpVcpu() {
    // The interrupt controllers outlive the vCPU (devices may still raise lines): detach first.
    if (m_interrupts) m_interrupts->set_attention(nullptr);
}

Result<VcpuExit> InterpVcpu::run() {
    emu::Cpu& c = *m_cpu;
    if (m_io_outstanding) {
        // The VMM has handled the previous exit (and may have written guest RAM: DMA), unless
        // only register-only devices took part (exit_wrote_no_ram: a UART byte, an RTC read).
        c.complete_io();
        if (!m_io_wrote_no_ram) emu::note_vmm_write(c.shared());
        m_io_outstanding = false;
        // The exit may have raised an interrupt line (a device, or pc-testdev's IRQ ports): look
        // at the interrupt controllers before the next instruction, as a CPU does on KVM's entry.
        c.attention.store(true, std::memory_order_relaxed);
    }
    m_io_wrote_no_ram = false;
    VcpuExit exit = c.execute();
    if (std::holds_alternative<PioIn>(exit) || std::holds_alternative<PioOut>(exit) ||
        std::holds_alternative<MmioRead>(exit) || std::holds_alternative<MmioWrite>(exit) ||
        std::holds_alternative<Hypercall>(exit)) {
        ++c.mutable_stats().exits;
        m_io_outstanding = true;
    }
    return exit;
}

std::string InterpVcpu::engine_report() const {
    const emu::Cpu& c = *m_cpu;
    const emu::bt::Translator* bt = c.translator();
    if (!bt) return {};
    const emu::BlockCache::MissCounts& m = c.block_cache().misses();
    const emu::Cpu::IdleStats& idle = c.idle_stats();
    return bt->report(c.stats().instructions, c.interpreted()) +
           fmt::format("idle: {} halts ({:.3f} s host time); {} PAUSE, {} host yields\n", idle.waits,
                       static_cast<double>(idle.wait_ns) / 1e9, idle.pauses, idle.pause_yields) +
           (c.halt_poll().polls ? fmt::format("halt polling: {} of {} polls ended by an event ({:.3f} s host time)\n",
                                               c.halt_poll().hits, c.halt_poll().polls,
                                               static_cast<double>(c.halt_poll().poll_ns) / 1e9)
                                : std::string()) +
           fmt::format("block cache {} blocks; jump cache misses: empty slot {}, after CR3/flush {} (revalidated {}), stale {}; page-crossing {}; {} flushes; full: {} evictions of untranslated blocks, {} clears\n",
                       c.block_cache().size(), m.empty, m.address_space, m.revalidated, m.stale, m.crossing, m.flushes,
                       m.evictions, m.clears);
}

CodeCacheStats InterpVcpu::code_cache_stats() const {
    const emu::Cpu& c = *m_cpu;
    const emu::bt::Translator* bt = c.translator();
    if (!bt) return {};
    const emu::bt::TranslatorStats& s = bt->stats();
    return {true, s.blocks, bt->code_bytes(), bt->code_capacity(), s.flushes,
            s.runs + s.chains_taken + s.lookups_taken, s.cold_runs};
}

Result<uint64_t> InterpVcpu::translate_gva(uint64_t gva) {
    const emu::Cpu& c = *m_cpu;
    if (c.long_mode && static_cast<uint64_t>(static_cast<int64_t>(gva << 16) >> 16) != gva)
        return fail("guest address {:#x} is not canonical", gva);
    uint32_t pf_error = 0;
    if (auto gpa = c.probe_translate(gva, emu::Access::Read, true, &pf_error)) return *gpa;
    return fail("guest address {:#x} is not mapped (#PF error code {:#x})", gva, pf_error);
}

Result<CpuState> InterpVcpu::get_state() { return m_cpu->save_state(); }

Result<void> InterpVcpu::set_state(const CpuState& state) {
    m_cpu->load_state(state);
    return {};
}

Result<void> InterpVcpu::start_from(const CpuState& state) {
    m_cpu->request_start(state);
    return {};
}

}  // namespace popek::hv::interp
