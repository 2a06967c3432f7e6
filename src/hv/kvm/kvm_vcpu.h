#pragma once
#include <linux/kvm.h>
#include <pthread.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include "hv/hypervisor.h"
#include "hv/kvm/kvm_vm.h"
#include "util/fd.h"

namespace popek::hv::kvm {

class KvmVcpu final : public Vcpu {
public:
    static Result<std::unique_ptr<KvmVcpu>> create(const std::shared_ptr<const KvmSystem>& sys, int vm_fd,
                                                   int index, const VmConfig& config, bool irqchip,
                                                   const memory::GuestMemory* mem);
    int index() const override { return m_index; }
    Result<VcpuExit> run() override;
    Result<CpuState> get_state() override;
    Result<void> set_state(const CpuState& state) override;
    Result<void> start_from(const CpuState& state) override;
    void request_stop() override;
    VcpuStats stats() const override { return m_stats; }
    Result<uint64_t> translate_gva(uint64_t gva) override;
    ~KvmVcpu() override;
    /// PATCH /vm Paused: this vCPU parks at `gate` before KVM_RUN while the VM is paused.
    void join_pause_gate(std::shared_ptr<KvmPauseGate> gate);

private:
    /// Forces the thread out of KVM_RUN (immediate_exit, then the kick signal).
    void kick();
    KvmVcpu(int index, UniqueFd fd, UniqueMapping run, bool irqchip)
        : m_index(index), m_fd(std::move(fd)), m_run_map(std::move(run)),
          m_run(static_cast<kvm_run*>(m_run_map.get())), m_irqchip(irqchip) {}
    Result<void> set_cpuid(const std::vector<kvm_cpuid_entry2>& supported, const VmConfig& config);
    /// Xen personality: the hypercall-page MSR and the stubs' OUT (hv/xen/xen_personality.h).
    std::optional<VcpuExit> xen_exit();
    Result<void> finish_hypercall();
    void handle_xen_msr();
    /// On the vCPU's thread: a start_from state, if the vCPU still waits for INIT/SIPI.
    Result<void> take_start();

    int m_index;
    UniqueFd m_fd;
    UniqueMapping m_run_map;
    kvm_run* m_run;
    bool m_irqchip;
    std::atomic<bool> m_stop{false};
    std::atomic<pthread_t> m_thread{};
    std::atomic<bool> m_thread_known{false};
    VcpuStats m_stats;
    bool m_xen = false;
    const memory::GuestMemory* m_mem = nullptr;
    bool m_hypercall_pending = false;
    uint64_t m_hypercall_result = 0;
    std::shared_ptr<KvmPauseGate> m_pause_gate;
    std::atomic<bool> m_start_pending{false};
    std::mutex m_start_lock;
    std::optional<CpuState> m_start;   ///< start_from's, under m_start_lock
};

}  // namespace popek::hv::kvm
