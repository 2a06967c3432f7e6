#include "hv/interp/interp_vm.h"

#include "emu/bt/perf_map.h"

#include <cstdlib>

#include "hv/interp/interp_vcpu.h"

namespace popek::hv::interp {
namespace {

/// The engine's port to the interrupt platform: the PIC, ELCR, PIT and port 0x61, and the IOAPIC
/// page are served without an exit to the VMM.
class PlatformAdapter final : public emu::PlatformPort {
public:
    explicit PlatformAdapter(emu::InterruptPlatform& platform) : m_platform(platform) {}
    emu::CpuInterrupts& cpu(int index) override { return m_platform.cpu(index); }
    bool pio_read(uint16_t port, std::span<uint8_t> data) override { return m_platform.pio_read(port, data); }
    bool pio_write(uint16_t port, std::span<const uint8_t> data) override { return m_platform.pio_write(port, data); }
    bool mmio_read(uint64_t gpa, std::span<uint8_t> data) override { return m_platform.mmio_read(gpa, data); }
    bool mmio_write(uint64_t gpa, std::span<const uint8_t> data) override {
        return m_platform.mmio_write(gpa, data);
    }

private:
    emu::InterruptPlatform& m_platform;
};

}  // namespace

InterpVm::InterpVm(const VmConfig& config, bool translate)
    : m_config(config),
      m_translate(translate),
      m_interrupts(std::make_unique<emu::InterruptPlatform>(config.vcpus, kTscHz)),
      m_platform(std::make_unique<PlatformAdapter>(*m_interrupts)) {}

InterpVm::~InterpVm() = default;

Result<void> InterpVm::set_memory(const memory::GuestMemory& mem) {
    if (m_shared) return fail("interp: guest memory can be set only once");
    m_shared = std::make_unique<emu::EngineShared>(mem, m_config.vcpus, m_interrupts->clock());
    m_shared->xen = m_config.xen;
    m_shared->translate = m_translate;
    m_shared->count_stats = m_config.stats;
    m_shared->bt_cache_bytes = size_t{m_config.bt_cache_mib} << 20;
    if (m_config.perf_map && m_translate) m_shared->perf_map = emu::PerfMap::open_for_this_process();
    // POPEK_BT_TRANSLATE_AFTER=0 translates every block on its first run (the difftest runs each
    // sequence once); the default translates a block when it runs a second time.
    if (const char* after = std::getenv("POPEK_BT_TRANSLATE_AFTER"); after && *after)
        m_shared->translate_after = static_cast<uint32_t>(std::strtoul(after, nullptr, 10));
    m_shared->platform = m_platform.get();
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
    return std::unique_ptr<Vcpu>(new InterpVcpu(*m_shared, index, &m_platform->cpu(index)));
}

Result<void> InterpVm::set_irq_line(uint32_t gsi, bool level) {
    if (gsi >= emu::IoApic::kPins) return fail("interp: GSI {} does not exist (IOAPIC has {} pins)", gsi, emu::IoApic::kPins);
    // A device raising a line may have written guest RAM first (DMA): decoded code is re-verified.
    if (m_shared) m_shared->dma_epoch.fetch_add(1, std::memory_order_acq_rel);
    m_interrupts->set_irq_line(gsi, level);
    return {};
}

Result<void> InterpVm::inject_vector(int vcpu, uint8_t vector) {
    if (vcpu < 0 || vcpu >= m_config.vcpus) return fail("interp: vCPU index {} out of range", vcpu);
    if (!m_interrupts->inject_vector(vcpu, vector)) return fail("interp: vCPU {} cannot take vector {:#x}", vcpu, vector);
    return {};
}

std::optional<TscSample> InterpVm::sample_tsc() const {
    if (!m_shared) return std::nullopt;
    const emu::GuestClock& clock = m_shared->clock;
    uint64_t now = clock.now_ns();
    return TscSample{clock.tsc_hz(), clock.tsc_at(now), now};
}

}  // namespace popek::hv::interp
