#include "vmm/vm_lifecycle.h"

namespace popek::vmm {

void VmLifecycle::request_exit(devices::ExitCause cause, int status, std::string reason) {
    (void)request_exit_or_defer(cause, status, std::move(reason));
}

bool VmLifecycle::request_exit_or_defer(devices::ExitCause cause, int status, std::string reason) {
    if (m_defer && m_defer(cause, status, reason)) return false;
    end_now(cause, status, std::move(reason));
    return true;
}

void VmLifecycle::end_now(devices::ExitCause cause, int status, std::string reason) {
    {
        std::lock_guard lock(m_mutex);
        if (m_exiting) return;
        m_exiting = true;
        m_status = status;
        m_cause = cause;
        m_reason = std::move(reason);
    }
    for (hv::Vcpu* v : m_vcpus) v->request_stop();
    m_cv.notify_all();
}

void VmLifecycle::wait() {
    std::unique_lock lock(m_mutex);
    m_cv.wait(lock, [this] { return m_exiting; });
}

bool VmLifecycle::wait_for(std::chrono::milliseconds timeout) {
    std::unique_lock lock(m_mutex);
    return m_cv.wait_for(lock, timeout, [this] { return m_exiting; });
}

bool VmLifecycle::exiting() const {
    std::lock_guard lock(m_mutex);
    return m_exiting;
}

int VmLifecycle::status() const {
    std::lock_guard lock(m_mutex);
    return m_status;
}

devices::ExitCause VmLifecycle::cause() const {
    std::lock_guard lock(m_mutex);
    return m_cause;
}

std::string VmLifecycle::reason() const {
    std::lock_guard lock(m_mutex);
    return m_reason;
}

}  // namespace popek::vmm
