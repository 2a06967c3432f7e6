#pragma once
#include <memory>

#include "emu/cpu.h"
#include "hv/hypervisor.h"

namespace popek::hv::interp {

class InterpVcpu final : public Vcpu {
public:
    InterpVcpu(emu::EngineShared& shared, int index, emu::CpuInterrupts* interrupts);
    ~InterpVcpu() override;
    InterpVcpu(const InterpVcpu&) = delete;
    InterpVcpu& operator=(const InterpVcpu&) = delete;
    int index() const override { return m_cpu->index(); }
    Result<VcpuExit> run() override;
    Result<CpuState> get_state() override;
    Result<void> set_state(const CpuState& state) override;
    Result<void> start_from(const CpuState& state) override;
    void request_stop() override { m_cpu->request_stop(); }
    VcpuStats stats() const override { return m_cpu->stats(); }
    std::string engine_report() const override;
    CodeCacheStats code_cache_stats() const override;
    /// A supervisor read walk of the current page tables without side effects (no #PF, no A/D).
    Result<uint64_t> translate_gva(uint64_t gva) override;
    void exit_wrote_no_ram() override { m_io_wrote_no_ram = true; }
    emu::Cpu& cpu() { return *m_cpu; }

private:
    std::unique_ptr<emu::Cpu> m_cpu;
    emu::CpuInterrupts* m_interrupts;
    bool m_io_outstanding = false;
    bool m_io_wrote_no_ram = false;   ///< the outstanding exit went to register-only devices
};

}  // namespace popek::hv::interp
