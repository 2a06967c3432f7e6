#pragma once
/// Wakes running vCPUs at their timers' deadlines. A vCPU checks Cpu::attention at every block
/// boundary (translated code at every chained jump), so rather than reading the host clock every
/// few thousand instructions to see whether a timer (local APIC, TSC deadline, PIT) is due, the
/// executor arms an alarm here for the next deadline that poll_timers() returns, and one host
/// thread per VM raises the vCPU's attention flag when that time comes (what QEMU's timer thread
/// does with TCG's exit request). Started on the first alarm; idle VMs cost nothing.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace popek::emu {

class AlarmClock {
public:
    AlarmClock() = default;
    ~AlarmClock();
    AlarmClock(const AlarmClock&) = delete;
    AlarmClock& operator=(const AlarmClock&) = delete;

    /// Starts the thread now (a VM does so at set-up; otherwise the first arm() starts it), which
    /// first calls `on_start` (the VMM confines it: host/thread_confinement.h, device kind).
    void start(std::function<void()> on_start = {});
    /// Sets `*flag` once the host steady clock reads `when_ns` (replacing the slot's alarm; the
    /// same alarm again costs only the lock).
    void arm(int slot, uint64_t when_ns, std::atomic<bool>* flag);
    /// Drops the slot's alarm (its flag is about to go away).
    void disarm(int slot);
    /// Alarms that went off so far (tests).
    uint64_t fired() const { return m_fired.load(std::memory_order_relaxed); }

private:
    struct Alarm {
        uint64_t when = 0;   ///< 0: none
        std::atomic<bool>* flag = nullptr;
    };
    void run();

    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::vector<Alarm> m_alarms;      ///< by slot (vCPU index), under m_mutex
    uint64_t m_waiting_until = 0;     ///< what the thread sleeps until (0: no alarm), under m_mutex
    bool m_stop = false;
    std::atomic<uint64_t> m_fired{0};
    std::thread m_thread;
};

}  // namespace popek::emu
