#include "gdb/vcpu_control.h"

#include <algorithm>

#include "emu/cpu.h"
#include "emu/vmm_write.h"

namespace popek::gdb {

VcpuControl::VcpuControl(emu::EngineShared& shared, bool stopped_at_start) : m_shared(shared) {
    m_paused = stopped_at_start;
    m_shared.debug_pause.store(stopped_at_start);
    m_shared.debugger = this;
}

VcpuControl::~VcpuControl() {
    detach();
    m_shared.debugger = nullptr;
}

emu::Cpu* VcpuControl::cpu(int index) const {
    if (index < 0 || index >= vcpu_count()) return nullptr;
    return m_shared.cpus[static_cast<size_t>(index)];
}

void VcpuControl::wait_resumed(std::unique_lock<std::mutex>& lock, emu::Cpu& cpu) {
    ++m_parked;
    m_cv.notify_all();
    const uint64_t gen = m_generation;
    // Polled as well, so a VM that ends (request_stop) does not wait for the debugger.
    while (m_paused && m_step_cpu != cpu.index() && !cpu.stop_requested()) {
        m_cv.wait_for(lock, std::chrono::milliseconds(50));
        if (m_generation != gen && !m_paused) break;
    }
    --m_parked;
}

bool VcpuControl::stopped(emu::Cpu& cpu, Reason why, uint64_t watch_addr, uint8_t watch_kind) {
    std::unique_lock lock(m_mutex);
    if (m_seeking && why != kSeek) {
        // Re-executing for reverse execution: a hit is noted (reverse-continue) and passed.
        if (m_hits && (why == kBreakpoint || why == kWatch) && m_hits->size() < (1u << 20))
            m_hits->push_back(Hit{cpu.stats().instructions, why, watch_addr, watch_kind,
                                  why == kBreakpoint ? cpu.linear_rip() : emu::Cpu::kNever});
        return true;
    }
    if (m_paused && m_step_cpu != cpu.index()) {
        // The world is stopping for another vCPU: this stop is not reported.
        wait_resumed(lock, cpu);
        return false;
    }
    m_step_cpu = -1;
    m_pending = StopInfo{cpu.index(), 5, why, watch_addr, watch_kind};
    m_pending->history_end = (why == kSeek || why == kStep) && m_at_end && !m_seeking;
    pause_locked();
    wait_resumed(lock, cpu);
    return true;
}

void VcpuControl::park(emu::Cpu& cpu) {
    std::unique_lock lock(m_mutex);
    if (!m_paused || m_step_cpu == cpu.index()) return;
    wait_resumed(lock, cpu);
}

void VcpuControl::pause_locked() {
    m_paused = true;
    m_shared.debug_pause.store(true, std::memory_order_release);
    for (emu::Cpu* c : m_shared.cpus)
        if (c) c->kick();
}

void VcpuControl::wait_parked(std::unique_lock<std::mutex>& lock) {
    // Bounded: a vCPU whose thread has ended (the VM is shutting down) never parks.
    int live = 0;
    for (emu::Cpu* c : m_shared.cpus)
        if (c && !c->stop_requested()) ++live;
    m_cv.wait_for(lock, std::chrono::seconds(2), [&] { return m_parked >= live; });
}

StopInfo VcpuControl::stop_all(int signal) {
    std::unique_lock lock(m_mutex);
    if (m_pending) {   // a vCPU stopped first: report that
        StopInfo s = *m_pending;
        m_pending.reset();
        wait_parked(lock);
        return s;
    }
    int at = m_step_cpu >= 0 ? m_step_cpu : 0;
    m_step_cpu = -1;
    pause_locked();
    wait_parked(lock);
    return StopInfo{at, signal, kNone, 0, 0};
}

std::optional<StopInfo> VcpuControl::take_stop(std::chrono::milliseconds wait) {
    std::unique_lock lock(m_mutex);
    if (!m_pending) m_cv.wait_for(lock, wait, [&] { return m_pending.has_value(); });
    if (!m_pending) return std::nullopt;
    StopInfo s = *m_pending;
    m_pending.reset();
    wait_parked(lock);
    return s;
}

bool VcpuControl::is_stopped() const {
    std::lock_guard lock(m_mutex);
    return m_paused && m_step_cpu < 0;
}

void VcpuControl::resume(int step_cpu) {
    std::function<void()> finish;
    {
        std::lock_guard lock(m_mutex);
        if (m_at_end && !m_seeking) {
            m_at_end = false;
            finish = std::move(m_finish);
        }
    }
    // Forward from the end of the recording: the VM ends as recorded. First, so that the vCPU
    // leaves its stop with the stop request set, not to run one more instruction.
    if (finish) finish();
    std::lock_guard lock(m_mutex);
    for (emu::Cpu* c : m_shared.cpus)
        if (c) c->debug().host_step = c->index() == step_cpu;
    m_pending.reset();
    ++m_generation;
    if (step_cpu >= 0 && cpu(step_cpu)) {
        m_step_cpu = step_cpu;   // the others stay parked
    } else {
        m_step_cpu = -1;
        m_paused = false;
        m_shared.debug_pause.store(false, std::memory_order_release);
    }
    m_cv.notify_all();
}

bool VcpuControl::hold_end(std::function<void()> finish) {
    std::lock_guard lock(m_mutex);
    emu::Cpu* c = cpu(0);
    if (!m_history || !m_client || vcpu_count() != 1 || !c) return false;
    m_at_end = true;
    m_finish = std::move(finish);
    // (The calling vCPU's own thread: it stops at its next instruction boundary, at this count.)
    c->stop_at = c->stats().instructions;
    c->stop_lip = emu::Cpu::kNever;
    return true;
}

void VcpuControl::set_client(bool attached) {
    std::lock_guard lock(m_mutex);
    m_client = attached;
}

void VcpuControl::left_end() {
    std::lock_guard lock(m_mutex);
    m_at_end = false;
    m_finish = nullptr;
}

void VcpuControl::detach() {
    {
        std::lock_guard lock(m_mutex);
        m_shared.host_debug = emu::HostDebug{};
    }
    resume(-1);
}

std::optional<StopInfo> VcpuControl::run_to(int index, uint64_t count, std::vector<Hit>* hits, uint64_t lip) {
    emu::Cpu* c = cpu(index);
    if (!c) return std::nullopt;
    emu::HostDebug saved;
    {
        std::lock_guard lock(m_mutex);
        m_seeking = true;
        m_hits = hits;
        if (!hits) std::swap(saved, m_shared.host_debug);   // nothing to look for: full speed
        c->stop_at = count;
        c->stop_lip = lip;
    }
    resume(-1);
    std::optional<StopInfo> stop;
    while (!stop) {
        stop = take_stop(std::chrono::milliseconds(100));
        if (!stop && c->stop_requested()) break;
    }
    std::lock_guard lock(m_mutex);
    m_seeking = false;
    m_hits = nullptr;
    if (!hits) std::swap(saved, m_shared.host_debug);
    c->stop_at = c->stop_lip = emu::Cpu::kNever;
    return stop;
}

uint8_t* VcpuControl::guest_ptr(int index, uint64_t va, size_t len) {
    emu::Cpu* c = cpu(index);
    if (!c) return nullptr;
    // Canonical check in long mode; the walk is the MMU's own, without side effects.
    if (c->long_mode && static_cast<uint64_t>(static_cast<int64_t>(va << 16) >> 16) != va) return nullptr;
    auto gpa = c->probe_translate(va, emu::Access::Read, true, nullptr);
    if (!gpa) return nullptr;
    return m_shared.mem.host_ptr(*gpa, len);   // null for MMIO or outside guest RAM
}

size_t VcpuControl::read_memory(int index, uint64_t va, uint8_t* out, size_t len) {
    size_t done = 0;
    while (done < len) {
        const uint64_t at = va + done;
        const size_t chunk = std::min<size_t>(len - done, 4096 - (at & 0xfff));
        const uint8_t* p = guest_ptr(index, at, chunk);
        if (!p) break;
        std::copy(p, p + chunk, out + done);
        done += chunk;
    }
    return done;
}

size_t VcpuControl::write_memory(int index, uint64_t va, const uint8_t* in, size_t len) {
    size_t done = 0;
    while (done < len) {
        const uint64_t at = va + done;
        const size_t chunk = std::min<size_t>(len - done, 4096 - (at & 0xfff));
        uint8_t* p = guest_ptr(index, at, chunk);
        if (!p) break;
        std::copy(in + done, in + done + chunk, p);
        done += chunk;
    }
    // Like a device's DMA: decoded code is re-verified against the bytes before its next use.
    if (done) emu::note_vmm_write(m_shared);
    return done;
}

}  // namespace popek::gdb
