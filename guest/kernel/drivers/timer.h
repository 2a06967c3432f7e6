#pragma once
/// The periodic tick that drives preemption and sleep(). Phase 1: the local APIC timer
/// (lapic_timer.cpp); phase 2: VCPUOP_set_singleshot_timer + VIRQ_TIMER, same interface.
#include <stdint.h>

namespace pos {

class Timer {
public:
    virtual ~Timer() = default;
    /// Starts ticking at `hz`; each tick calls the handler given to set_tick_handler.
    virtual bool start(uint32_t hz) = 0;
    /// Called by the interrupt dispatcher (acknowledges the interrupt source).
    virtual void handle_interrupt() = 0;
    virtual const char* describe() const = 0;

    using TickHandler = void (*)();
    void set_tick_handler(TickHandler h) { m_tick = h; }

protected:
    void tick() {
        if (m_tick != nullptr) m_tick();
    }

private:
    TickHandler m_tick = nullptr;
};

}  // namespace pos
