#include "host/thread_confinement.h"
#include "hv/interp/interp_vm.h"

#include "emu/bt/perf_map.h"

#include <cstdlib>

#include "hv/interp/interp_vcpu.h"
#include "hv/xen/xen_cpu_hooks.h"
#include "emu/cpu.h"
#include "emu/determinism.h"
#include "emu/vmm_write.h"

namespace popek::hv::interp {
namespace {
constexpr uint32_t kTranslateAfter = 32;   ///< interpreted runs of a block before it is translated
}  // namespace

InterpVm::InterpVm(const VmConfig& config, bool translate)
    : m_config(config),
      m_translate(translate),
      m_interrupts(config.determinism
                       // --record / --replay: the guest clock reads virtual time (emu/determinism.h).
                       ? std::make_unique<emu::InterruptPlatform>(config.vcpus, kTscHz,
                                                                  [d = config.determinism] { return d->now_ns(); })
                       : std::make_unique<emu::InterruptPlatform>(config.vcpus, kTscHz)) {}

InterpVm::~InterpVm() = default;

Result<void> InterpVm::set_memory(const memory::GuestMemory& mem) {
    if (m_shared) return fail("interp: guest memory can be set only once");
    m_shared = std::make_unique<emu::EngineShared>(mem, m_config.vcpus, m_interrupts->clock());
    if (m_config.xen && m_config.viridian) {
        m_hooks = xen::make_viridian_engine_hooks(m_config.vcpus);
        m_shared->hooks = m_hooks.get();
    } else if (m_config.xen) {
        m_shared->hooks = &xen::engine_hooks();
    }
    m_shared->translate = m_translate;
    // --record / --replay with several vCPUs: they take turns on one thread (emu/determinism.h).
    m_shared->serialized = m_config.determinism && m_config.vcpus > 1;
    // The timer alarm thread (emu/alarm_clock.h) confines itself as an I/O thread (docs/seccomp.md).
    m_shared->alarms.start([] { host::confine_this_thread(host::ThreadKind::Device); });
    m_shared->count_stats = m_config.stats;
    m_shared->bt_cache_bytes = size_t{m_config.bt_cache_mib} << 20;
    // Not in --record/--replay runs: there the vCPUs take turns on one thread.
    m_shared->bt_warm = m_translate && m_config.bt_warm && m_config.vcpus > 1 && !m_config.determinism;
    if (m_config.perf_map && m_translate) m_shared->perf_map = emu::PerfMap::open_for_this_process();
    // A block is translated after kTranslateAfter interpreted runs: translating one costs about
    // as much CPU as interpreting it a few hundred times, and most of a kernel boot's blocks run
    // only a handful of times (Debian kernel to /init: 33 k blocks translated at 1, 13 k at 32,
    // ~35% less CPU). POPEK_BT_TRANSLATE_AFTER overrides it (0: every block on its first run,
    // as the difftest runs each sequence once).
    m_shared->translate_after = kTranslateAfter;
    if (const char* after = std::getenv("POPEK_BT_TRANSLATE_AFTER"); after && *after)
        m_shared->translate_after = static_cast<uint32_t>(std::strtoul(after, nullptr, 10));
    m_shared->platform = m_interrupts.get();
    m_pause = std::make_unique<EnginePause>(*m_shared);
    return {};
}

Result<void> InterpVm::pause() {
    if (!m_pause) return fail("interp: pause before set_memory");
    return m_pause->pause();
}

Result<void> InterpVm::resume() {
    if (!m_pause) return fail("interp: resume before set_memory");
    return m_pause->resume();
}

Result<std::unique_ptr<Vcpu>> InterpVm::create_vcpu(int index) {
    if (!m_shared) return fail("interp: create_vcpu before set_memory");
    if (index < 0 || index >= m_config.vcpus) return fail("interp: vCPU index {} out of range", index);
    auto* vcpu = new InterpVcpu(*m_shared, index, &m_interrupts->cpu(index));
    // Every vCPU's count: the virtual clock is their sum (emu/determinism.h).
    const auto at = static_cast<size_t>(index);
    if (m_config.determinism && at < m_shared->cpus.size() && m_shared->cpus[at])
        m_config.determinism->attach_instructions(&m_shared->cpus[at]->mutable_stats().instructions);
    return std::unique_ptr<Vcpu>(vcpu);
}

Result<void> InterpVm::set_line(uint32_t gsi, bool level, bool dma) {
    if (gsi >= emu::IoApic::kPins) return fail("interp: GSI {} does not exist (IOAPIC has {} pins)", gsi, emu::IoApic::kPins);
    // A device raising a line may have written guest RAM first (DMA): decoded code is re-verified.
    if (dma && m_shared) emu::note_vmm_write(*m_shared);
    m_interrupts->set_irq_line(gsi, level);
    return {};
}

Result<void> InterpVm::set_irq_line(uint32_t gsi, bool level) { return set_line(gsi, level, true); }

Result<void> InterpVm::set_irq_line_no_dma(uint32_t gsi, bool level) { return set_line(gsi, level, false); }

void InterpVm::device_wrote_ram(uint64_t gpa, uint64_t len) {
    // As a write by another vCPU would (emu/mmu/access.cpp check_code_write): each code page in
    // the range is invalidated, and every vCPU leaves its chained code for the dispatcher, which
    // re-decodes what it runs from there. Other pages cost nothing.
    if (m_config.determinism) m_config.determinism->wrote_ram(gpa, len);   // --record / --replay
    if (!m_shared || len == 0) return;
    // The device's stores before the page checks (store-load order): a vCPU marking a page as
    // code (an atomic exchange) then reads either the new bytes or is seen as code here.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    bool hit = false;
    const uint64_t last = gpa + (len - 1) < gpa ? ~0ULL : gpa + (len - 1);
    for (uint64_t page = gpa & ~0xfffULL; page <= (last & ~0xfffULL); page += 4096) {
        if (m_shared->code.is_code(page)) {
            m_shared->code.invalidate(page);
            hit = true;
        }
        if (page == (~0ULL & ~0xfffULL)) break;
    }
    if (hit)
        for (emu::Cpu* c : m_shared->cpus)
            if (c) c->attention.store(true, std::memory_order_release);
}

Result<void> InterpVm::inject_vector(int vcpu, uint8_t vector) {
    if (vcpu < 0 || vcpu >= m_config.vcpus) return fail("interp: vCPU index {} out of range", vcpu);
    // No re-verification of decoded code here: the Xen back ends whose events this announces
    // report every guest RAM write they make (pv::RamWrites -> device_wrote_ram), as virtio does.
    if (!m_interrupts->inject_vector(vcpu, vector)) return fail("interp: vCPU {} cannot take vector {:#x}", vcpu, vector);
    return {};
}

Result<void> InterpVm::signal_msi(uint32_t requester, const MsiMessage& msi, bool remap) {
    // No re-verification of decoded code: the devices that send MSIs report their RAM writes
    // (device_wrote_ram), as virtio does.
    if (!m_interrupts->deliver_device_msi(requester, msi, remap))
        return fail("interp: MSI address {:#x} is not in the interrupt range", msi.address);
    return {};
}

Result<void> InterpVm::set_interrupt_remapper(std::shared_ptr<InterruptRemapper> remapper) {
    m_remapper = std::move(remapper);
    m_interrupts->set_interrupt_remapper(m_remapper.get());
    return {};
}

std::optional<TscSample> InterpVm::sample_tsc() const {
    if (!m_shared) return std::nullopt;
    const emu::GuestClock& clock = m_shared->clock;
    uint64_t now = clock.now_ns();
    return TscSample{clock.tsc_hz(), clock.tsc_at(now), now};
}

}  // namespace popek::hv::interp
