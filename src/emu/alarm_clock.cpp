#include "emu/alarm_clock.h"

#include <chrono>
#include <limits>

namespace popek::emu {
namespace {

uint64_t steady_ns() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count());
}

}  // namespace

AlarmClock::~AlarmClock() {
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_cv.notify_all();
    if (m_thread.joinable()) m_thread.join();
}

void AlarmClock::start(std::function<void()> on_start) {
    std::lock_guard lock(m_mutex);
    if (m_thread.joinable()) return;
    m_thread = std::thread([this, on_start = std::move(on_start)] {
        if (on_start) on_start();
        run();
    });
}

void AlarmClock::arm(int slot, uint64_t when_ns, std::atomic<bool>* flag) {
    if (slot < 0 || when_ns == 0 || flag == nullptr) return;
    bool wake = false;
    {
        std::lock_guard lock(m_mutex);
        const auto i = static_cast<size_t>(slot);
        if (m_alarms.size() <= i) m_alarms.resize(i + 1);
        Alarm& a = m_alarms[i];
        if (a.when == when_ns && a.flag == flag) return;
        a = Alarm{when_ns, flag};
        if (!m_thread.joinable()) m_thread = std::thread([this] { run(); });
        wake = m_waiting_until == 0 || when_ns < m_waiting_until;
    }
    if (wake) m_cv.notify_one();
}

void AlarmClock::disarm(int slot) {
    std::lock_guard lock(m_mutex);
    if (slot >= 0 && static_cast<size_t>(slot) < m_alarms.size()) m_alarms[static_cast<size_t>(slot)] = Alarm{};
}

void AlarmClock::run() {
    std::unique_lock lock(m_mutex);
    while (!m_stop) {
        const uint64_t now = steady_ns();
        uint64_t next = 0;
        for (Alarm& a : m_alarms) {
            if (a.when == 0) continue;
            if (a.when <= now) {
                a.flag->store(true, std::memory_order_relaxed);
                a = Alarm{};
                m_fired.fetch_add(1, std::memory_order_relaxed);
            } else if (next == 0 || a.when < next) {
                next = a.when;
            }
        }
        m_waiting_until = next;
        if (next == 0) {
            m_cv.wait(lock);
        } else {
            const auto until = std::chrono::steady_clock::time_point(std::chrono::nanoseconds(next));
            m_cv.wait_until(lock, until);
        }
    }
}

}  // namespace popek::emu
