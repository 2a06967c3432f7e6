#pragma once
/// Pausing a KVM VM (PATCH /vm Paused, docs/api.md): each vCPU thread is kicked out of KVM_RUN
/// (kvm_run.immediate_exit and the kick signal, as request_stop does; KVM API doc 5. "immediate_exit")
/// and parks before its next KVM_RUN until resume. The guest TSC is KVM's and keeps counting
/// while paused (as under Firecracker); only the own engine stops the guest clock.
#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

#include "util/result.h"

namespace popek::hv::kvm {

class KvmPauseGate {
public:
    /// A vCPU: `kick` forces it out of KVM_RUN; `stopping` tells whether its VM is ending.
    struct Member {
        const void* id;
        std::function<void()> kick;
        std::function<bool()> stopping;
    };
    void add(Member m);
    void remove(const void* id);

    /// Returns once every vCPU that is not stopping has parked (bounded wait).
    Result<void> pause();
    void resume();
    /// On a vCPU thread before KVM_RUN: waits while paused (or until `stopping`). True if it waited.
    bool park_if_paused(const std::function<bool()>& stopping);

private:
    std::mutex m_mutex;
    std::condition_variable m_cv;
    bool m_paused = false;
    int m_parked = 0;
    std::vector<Member> m_members;
};

}  // namespace popek::hv::kvm
