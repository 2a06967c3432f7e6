#pragma once
/// The end of a VM: the first exit request (debug-exit, reset, vCPU error, Ctrl-A x) wins, every
/// vCPU is told to stop, and the main thread wakes up to join them.
#include <chrono>
#include <condition_variable>
#include <functional>
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
    /// A replay under gdb (docs/debugging.md "Reverse debugging"): the end of the recording
    /// stops in gdb instead of ending the VM. The hook is asked first; true: it holds the
    /// request (and ends the VM later with end_now()). Set before the vCPU threads start.
    using Defer = std::function<bool(devices::ExitCause, int, const std::string&)>;
    void set_defer(Defer defer) { m_defer = std::move(defer); }
    /// request_exit() without asking the hook. False: the hook held it.
    bool request_exit_or_defer(devices::ExitCause cause, int status, std::string reason);
    void end_now(devices::ExitCause cause, int status, std::string reason);
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
    Defer m_defer;                   // likewise
};

}  // namespace popek::vmm
