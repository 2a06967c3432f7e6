#include "emu/irqchip/vcpu_interrupts.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace popek::emu {

VcpuInterrupts::VcpuInterrupts(int index, const GuestClock& clock, ApicBusSink& bus, PicPair* pic, Pit* pit)
    : m_pic(pic), m_pit(pit), m_clock(clock), m_apic(index, clock, bus, [this] { notify(); }) {}

std::optional<uint8_t> VcpuInterrupts::acknowledge_interrupt() {
    LocalApic::Ack ack = m_apic.acknowledge();
    switch (ack.kind) {
    case LocalApic::Ack::Kind::Vector: return ack.vector;
    case LocalApic::Ack::Kind::ExtInt:
        // The APIC lock is released: the PIC may call back into set_extint_line.
        if (m_pic) return m_pic->acknowledge();
        return std::nullopt;
    case LocalApic::Ack::Kind::None: break;
    }
    return std::nullopt;
}

uint64_t VcpuInterrupts::poll_timers(uint64_t now_ns) {
    uint64_t next = m_apic.poll_timer(now_ns);
    if (m_pit) next = std::min(next, m_pit->poll(now_ns));
    return next;
}

void VcpuInterrupts::notify() {
    // Taking the mutex orders this with a waiter between its check and its sleep.
    {
        std::lock_guard lock(m_wait_mutex);
        if (m_attention) m_attention->store(true, std::memory_order_relaxed);
    }
    m_wake.notify_all();
}

void VcpuInterrupts::set_attention(std::atomic<bool>* flag) {
    std::lock_guard lock(m_wait_mutex);
    m_attention = flag;
}

void VcpuInterrupts::kick() {
    {
        std::lock_guard lock(m_wait_mutex);
        m_kicked = true;
        // A running vCPU polls its timers again too (the PIT was reprogrammed, emu/alarm_clock.h).
        if (m_attention) m_attention->store(true, std::memory_order_relaxed);
    }
    m_wake.notify_all();
}

void VcpuInterrupts::wait(uint64_t deadline_ns, WakeOn wake) {
    // The deadline is guest-clock time; the host sleeps until the host time that reads it.
    deadline_ns = m_clock.host_ns(deadline_ns);
    std::unique_lock lock(m_wait_mutex);
    auto ready = [this, wake] { return m_kicked || m_apic.event_pending(wake); };
    constexpr auto kMaxNs = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
    if (deadline_ns >= kMaxNs) {
        m_wake.wait(lock, ready);
    } else {
        auto until = std::chrono::steady_clock::time_point(
            std::chrono::nanoseconds(static_cast<int64_t>(deadline_ns)));
        m_wake.wait_until(lock, until, ready);
    }
    m_kicked = false;
}

}  // namespace popek::emu
