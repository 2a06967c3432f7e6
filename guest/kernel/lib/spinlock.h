#pragma once
/// Spinlocks that also keep interrupts off while held, so an interrupt handler on the same CPU
/// can never spin on a lock its own CPU holds. Safe across vCPUs (xchg is a full barrier).
#include "arch/x86.h"

namespace pos {

class Spinlock {
public:
    /// Takes the lock; returns whether interrupts were on, for unlock().
    bool lock() {
        bool was_on = x86::interrupts_enabled();
        x86::cli();
        while (__atomic_exchange_n(&m_locked, 1, __ATOMIC_ACQUIRE) != 0) {
            while (__atomic_load_n(&m_locked, __ATOMIC_RELAXED) != 0) x86::pause();
        }
        return was_on;
    }
    void unlock(bool interrupts_were_on) {
        __atomic_store_n(&m_locked, 0, __ATOMIC_RELEASE);
        if (interrupts_were_on) x86::sti();
    }
    bool held() const { return __atomic_load_n(&m_locked, __ATOMIC_RELAXED) != 0; }

private:
    int m_locked = 0;
};

class LockGuard {
public:
    explicit LockGuard(Spinlock& l) : m_lock(l), m_irq(l.lock()) {}
    ~LockGuard() { m_lock.unlock(m_irq); }
    LockGuard(const LockGuard&) = delete;
    LockGuard& operator=(const LockGuard&) = delete;

private:
    Spinlock& m_lock;
    bool m_irq;
};

}  // namespace pos
