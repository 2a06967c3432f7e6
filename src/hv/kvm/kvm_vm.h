#pragma once
#include <linux/kvm.h>

#include <memory>
#include <vector>

#include "hv/hypervisor.h"
#include "hv/kvm/kvm_pause.h"
#include "util/fd.h"

namespace popek::hv::kvm {

/// Shared facts about the /dev/kvm handle, read once at open.
struct KvmSystem {
    UniqueFd kvm;
    size_t run_mmap_size = 0;
    bool has_irqchip = false;
    int max_vcpus = 1;
    std::vector<kvm_cpuid_entry2> supported_cpuid;
};

class KvmVm final : public Vm {
public:
    static Result<std::unique_ptr<KvmVm>> create(std::shared_ptr<const KvmSystem> sys, const VmConfig& config);
    Result<void> set_memory(const memory::GuestMemory& mem) override;
    Result<std::unique_ptr<Vcpu>> create_vcpu(int index) override;
    Result<void> set_irq_line(uint32_t gsi, bool level) override;
    Result<void> inject_vector(int vcpu, uint8_t vector) override;
    Result<void> pause() override { return m_pause->pause(); }
    Result<void> resume() override {
        m_pause->resume();
        return {};
    }

private:
    KvmVm(std::shared_ptr<const KvmSystem> sys, UniqueFd fd, VmConfig config)
        : m_sys(std::move(sys)), m_fd(std::move(fd)), m_config(config) {}
    std::shared_ptr<const KvmSystem> m_sys;
    UniqueFd m_fd;
    VmConfig m_config;
    Result<void> enable_xen_msr_exits();
    bool m_irqchip = false;
    const memory::GuestMemory* m_mem = nullptr;
    std::shared_ptr<KvmPauseGate> m_pause = std::make_shared<KvmPauseGate>();
};

}  // namespace popek::hv::kvm
