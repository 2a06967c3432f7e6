// VCPUOP_initialise and VCPUOP_up for an HVM/PVH guest (xen/vcpu.h; Xen's common do_vcpu_op and
// arch_initialise_vcpu): a context per vCPU, checked as Xen checks it (pv/vcpu_context.h), that
// the engine starts the vCPU in at VCPUOP_up.
#include "pv/hypercalls.h"
#include "pv/vcpu_context.h"

namespace popek::pv {

Hypercalls::Ret Hypercalls::vcpu_initialise(int vcpu, int target, uint64_t arg) {
    auto ctx = m_guest.read_obj<vcpu_hvm_context_t>(vcpu, arg);   // -EFAULT first, as Xen copies first
    if (!ctx) return -ctx.error();
    const auto t = static_cast<size_t>(target);
    std::lock_guard lock(m_vcpu_lock);
    // Initialised already: vCPU 0, one given a context, one up, one the engine runs (INIT/SIPI).
    const bool running = m_hooks.vcpu_running && m_hooks.vcpu_running(target);
    if (target == 0 || m_vcpu_up[t] || m_vcpu_context[t] || running) return -EEXIST;
    auto state = hvm_context_to_state(*ctx);
    if (!state) return -state.error();
    m_vcpu_context[t] = *state;
    return 0;
}

Hypercalls::Ret Hypercalls::vcpu_up(int target) {
    const auto t = static_cast<size_t>(target);
    std::lock_guard lock(m_vcpu_lock);
    const bool running = m_hooks.vcpu_running && m_hooks.vcpu_running(target);
    if (m_vcpu_up[t] || target == 0 || running) return 0;   // up already: nothing to do (Xen: not "down")
    if (!m_vcpu_context[t]) return -EINVAL;      // never initialised
    if (!m_hooks.start_vcpu || !m_hooks.start_vcpu(target, *m_vcpu_context[t])) return -ENOSYS;
    m_vcpu_up[t] = true;
    return 0;
}

}  // namespace popek::pv
