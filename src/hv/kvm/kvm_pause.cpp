#include "hv/kvm/kvm_pause.h"

#include <algorithm>
#include <chrono>

namespace popek::hv::kvm {

void KvmPauseGate::add(Member m) {
    std::lock_guard lock(m_mutex);
    m_members.push_back(std::move(m));
}

void KvmPauseGate::remove(const void* id) {
    std::lock_guard lock(m_mutex);
    std::erase_if(m_members, [id](const Member& m) { return m.id == id; });
}

Result<void> KvmPauseGate::pause() {
    std::unique_lock lock(m_mutex);
    if (m_paused) return {};
    m_paused = true;
    for (const Member& m : m_members) m.kick();
    auto live = [&] {
        return static_cast<int>(std::count_if(m_members.begin(), m_members.end(), [](const Member& m) { return !m.stopping(); }));
    };
    if (!m_cv.wait_for(lock, std::chrono::seconds(5), [&] { return m_parked >= live(); }))
        return fail("not every vCPU left KVM_RUN within 5 s (they will stop when they do)");
    return {};
}

void KvmPauseGate::resume() {
    {
        std::lock_guard lock(m_mutex);
        m_paused = false;
    }
    m_cv.notify_all();
}

bool KvmPauseGate::park_if_paused(const std::function<bool()>& stopping) {
    std::unique_lock lock(m_mutex);
    if (!m_paused) return false;
    ++m_parked;
    m_cv.notify_all();
    // Polled as well, so a VM that ends while paused does not wait for a resume.
    while (m_paused && !stopping()) m_cv.wait_for(lock, std::chrono::milliseconds(50));
    --m_parked;
    return true;
}

}  // namespace popek::hv::kvm
