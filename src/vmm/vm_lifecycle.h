#pragma once
/// The end of a VM: the first exit request (debug-exit, reset, vCPU error, Ctrl-A x) wins, every
/// vCPU is told to stop, and the main thread wakes up to join them.
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "devices/irq.h"
#include "hv/hypervisor.h"

namespace popek::vmm {

class VmLifecycle final : public devices::VmControl {
public:
    void add_vcpu(hv::Vcpu* vcpu) { m_vcpus.push_back(vcpu); }
    void request_exit(devices::ExitCause cause, int status, std::string reason) override;
    /// Blocks until some request_exit() happened.
    void wait();
    /// Blocks until request_exit() or `timeout`; returns whether the VM is exiting.
    bool wait_for(std::chrono::milliseconds timeout);
    bool exiting() const;
    int status() const;
    devices::ExitCause cause() const;
    std::string reason() const;

private:
    mutable std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_exiting = false;
    int m_status = 0;
    devices::ExitCause m_cause = devices::ExitCause::Poweroff;
    std::string m_reason;
    std::vector<hv::Vcpu*> m_vcpus;  // set before vCPU threads start, read-only afterwards
};

}  // namespace popek::vmm
