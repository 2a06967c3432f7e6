#include "hv/interp/engine_pause.h"

#include <chrono>

#include "emu/cpu.h"

namespace popek::hv::interp {

EnginePause::EnginePause(emu::EngineShared& shared) : m_shared(shared) {
    if (!m_shared.debugger) m_shared.debugger = this;
}

EnginePause::~EnginePause() {
    if (m_shared.debugger == this) m_shared.debugger = nullptr;
}

int EnginePause::live_vcpus() const {
    int live = 0;
    for (emu::Cpu* c : m_shared.cpus)
        if (c && !c->stop_requested()) ++live;
    return live;
}

Result<void> EnginePause::pause() {
    if (m_shared.debugger != this) return fail("the vCPUs are under the gdb stub's control (--gdb): pause from gdb");
    std::unique_lock lock(m_mutex);
    if (m_paused) return {};
    m_paused = true;
    m_shared.debug_pause.store(true, std::memory_order_release);
    for (emu::Cpu* c : m_shared.cpus)
        if (c) c->kick();
    // Bounded: a vCPU thread that has ended (the VM is stopping) never parks.
    const bool all = m_cv.wait_for(lock, std::chrono::seconds(5), [&] { return m_parked >= live_vcpus(); });
    m_shared.clock.pause();
    if (!all) return fail("not every vCPU reached an instruction boundary within 5 s (they will stop when they do)");
    return {};
}

Result<void> EnginePause::resume() {
    if (m_shared.debugger != this) return fail("the vCPUs are under the gdb stub's control (--gdb): resume from gdb");
    {
        std::lock_guard lock(m_mutex);
        if (!m_paused) return {};
        m_shared.clock.resume();   // before any vCPU runs again: none reads the clock mid-resume
        m_paused = false;
        m_shared.debug_pause.store(false, std::memory_order_release);
    }
    m_cv.notify_all();
    return {};
}

bool EnginePause::paused() const {
    std::lock_guard lock(m_mutex);
    return m_paused;
}

bool EnginePause::stopped(emu::Cpu& cpu, Reason, uint64_t, uint8_t) {
    // Host breakpoints exist only under the gdb stub, which then is the hook; nothing to report.
    park(cpu);
    return false;
}

void EnginePause::park(emu::Cpu& cpu) {
    std::unique_lock lock(m_mutex);
    ++m_parked;
    m_cv.notify_all();
    // Polled as well, so a VM that ends while paused (request_stop) does not wait for a resume.
    while (m_paused && !cpu.stop_requested()) m_cv.wait_for(lock, std::chrono::milliseconds(50));
    --m_parked;
}

}  // namespace popek::hv::interp
