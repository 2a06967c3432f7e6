#pragma once
#include <memory>
#include <vector>

#include "emu/engine_shared.h"
#include "emu/irqchip/platform.h"
#include "hv/hypervisor.h"
#include "hv/interp/engine_pause.h"

namespace popek::hv::interp {

/// Guest TSC frequency of the own engine (a multiple of the 25 MHz crystal in CPUID 0x15).
inline constexpr uint64_t kTscHz = 2'000'000'000;

/// The own engine's VM: guest RAM shared by the vCPUs, and the interrupt controllers and timers
/// (emu::InterruptPlatform: local APICs, IOAPIC, PIC, PIT) that the engine handles itself, as KVM
/// does with its in-kernel irqchip.
class InterpVm final : public Vm {
public:
    /// `translate`: `--accel bt` (hot blocks run as translated host code, emu/bt/).
    InterpVm(const VmConfig& config, bool translate);
    ~InterpVm() override;
    Result<void> set_memory(const memory::GuestMemory& mem) override;
    Result<std::unique_ptr<Vcpu>> create_vcpu(int index) override;
    Result<void> set_irq_line(uint32_t gsi, bool level) override;
    Result<void> set_irq_line_no_dma(uint32_t gsi, bool level) override;
    void device_wrote_ram(uint64_t gpa, uint64_t len) override;
    Result<void> inject_vector(int vcpu, uint8_t vector) override;
    Result<void> signal_msi(uint32_t requester, const MsiMessage& msi, bool remap) override;
    Result<void> set_interrupt_remapper(std::shared_ptr<InterruptRemapper> remapper) override;
    std::optional<TscSample> sample_tsc() const override;
    emu::EngineShared* own_engine() override { return m_shared.get(); }
    Result<void> pause() override;
    Result<void> resume() override;

private:
    /// Sets GSI `gsi` to `level`; `dma`: the device may have written guest RAM first (set_irq_line).
    Result<void> set_line(uint32_t gsi, bool level, bool dma);
    VmConfig m_config;
    bool m_translate;
    /// Before m_interrupts, which calls it (also from the alarm thread): it outlives the platform.
    std::shared_ptr<InterruptRemapper> m_remapper;
    /// Held by the engine directly (EngineShared::platform) and driven by set_irq_line.
    std::unique_ptr<emu::InterruptPlatform> m_interrupts;
    /// A `--viridian` VM's own personality hooks (its Hyper-V state); before m_shared, which uses them.
    std::unique_ptr<emu::CpuHooks> m_hooks;
    std::unique_ptr<emu::EngineShared> m_shared;
    std::unique_ptr<EnginePause> m_pause;   ///< after m_shared: unhooks itself from it first
};

}  // namespace popek::hv::interp
